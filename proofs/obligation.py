"""Obligations and faulty variants.

An *obligation* is one decidable claim about one reading of a definition or
theorem of the catalogue: it has an id such as
``T4.2/redundancy-above-single``, the entry it belongs to, the reading it
decides (in words and, where useful, in LaTeX), the method that decides it, and
the verdict it is expected to reach. Its ``check`` is a function of a *subject*
and a :class:`~proofs.profiles.Profile` returning a
:class:`~proofs.verdict.Verdict`.

The subject is the code the claim is about: normally a module of ``spec`` or
``impl`` (named by ``subject``, imported on demand). A *faulty variant*
(:class:`Mutant`) replaces some of that module's names with a known-defective
rendering. Running an obligation on a variant's subject must reach a verdict
other than the expected one, or the obligation is not shown to bite. Which
obligations catch which variants is computed by running them, never declared.

Obligations and variants are registered by decorators in the modules of
``proofs.obligations`` and ``proofs.mutants``; :func:`load_all` imports every
module of both packages, so adding a module is all it takes to add content.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import pkgutil
import re
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from proofs.profiles import Profile
from proofs.verdict import Outcome, Verdict

#: The code an obligation examines: a module, or a namespace standing in for one.
Subject: TypeAlias = Any
Check: TypeAlias = Callable[[Subject, Profile], Verdict]

_ID = re.compile(r"^[DT][1-4]\.[1-9]/[a-z0-9][a-z0-9-]*$")
_ENTRY = re.compile(r"^[DT][1-4]\.[1-9]$")


class Method(enum.Enum):
    """How an obligation is decided."""

    Z3 = "Z3"
    SYMPY = "SymPy"
    SYMPY_Z3 = "SymPy + Z3"
    HYPOTHESIS = "Hypothesis"
    STATEFUL = "Hypothesis stateful"
    SIMULATION = "simulation"
    EXHAUSTIVE = "exhaustive enumeration"
    INTERLEAVINGS = "controlled interleavings"
    LINEARIZABILITY = "linearizability check"
    REFERENCE_DATA = "reference data"
    EXACT = "exact arithmetic"

    def __str__(self) -> str:
        return self.value


class RegistrationError(ValueError):
    """An obligation or variant was declared wrongly (bad id, duplicate...)."""


class MissingDataError(RuntimeError):
    """Reference data the obligation needs is not present on this machine."""


@dataclass(frozen=True)
class Obligation:
    id: str
    entry: str
    reading: str
    method: Method
    expected: Outcome
    check: Check = field(repr=False)
    subject: str
    formal: str = ""
    assumptions: tuple[str, ...] = ()
    needs_data: bool = False

    def run(self, profile: Profile, subject: Subject | None = None) -> Verdict:
        """Decide the obligation on ``subject`` (default: the real module).

        Exceptions from the check propagate; the runner turns them into
        UNKNOWN verdicts, tests show them as errors.
        """
        verdict = self.check(
            resolve_subject(self.subject) if subject is None else subject, profile
        )
        if not isinstance(verdict, Verdict):
            raise TypeError(
                f"obligation {self.id} returned {type(verdict).__name__}, not a Verdict"
            )
        if self.assumptions:
            extra = tuple(a for a in self.assumptions if a not in verdict.assumptions)
            verdict = _with_assumptions(verdict, extra)
        return verdict

    def met_by(self, verdict: Verdict) -> bool:
        return verdict.outcome is self.expected


def _with_assumptions(verdict: Verdict, extra: tuple[str, ...]) -> Verdict:
    return dataclasses.replace(verdict, assumptions=verdict.assumptions + extra)


@dataclass(frozen=True)
class Mutant:
    """A faulty variant: a module with some names replaced by defective ones.

    The replacement is seen by whoever looks the names up *through the
    subject*; functions of the real module that call each other directly still
    see the originals. Obligations therefore reach every name they examine
    through their ``subject`` argument, and a variant replaces each name an
    obligation examines.
    """

    id: str
    defect: str
    subject: str
    overrides: Mapping[str, Any] = field(repr=False)

    def build(self) -> types.SimpleNamespace:
        """The subject with this variant's replacements applied."""
        module = resolve_subject(self.subject)
        names = {k: v for k, v in vars(module).items() if not k.startswith("__")}
        missing = sorted(set(self.overrides) - set(names))
        if missing:
            raise RegistrationError(
                f"faulty variant {self.id} replaces {', '.join(missing)}, "
                f"which {self.subject} does not define"
            )
        names.update(self.overrides)
        return types.SimpleNamespace(**names)


def resolve_subject(name: str) -> types.ModuleType:
    return importlib.import_module(name)


# The registries -------------------------------------------------------------

_OBLIGATIONS: dict[str, Obligation] = {}
_MUTANTS: dict[str, Mutant] = {}


def obligation(
    id: str,
    *,
    reading: str,
    method: Method,
    expected: Outcome,
    subject: str,
    formal: str = "",
    assumptions: Iterable[str] = (),
    needs_data: bool = False,
) -> Callable[[Check], Check]:
    """Register the decorated ``check(subject, profile) -> Verdict``.

    ``id`` is ``<entry>/<slug>``, for example ``T4.2/redundancy-increasing``.
    """
    if not _ID.match(id):
        raise RegistrationError(
            f"obligation id {id!r} must look like 'T4.2/some-slug' "
            "(entry id, slash, lower-case words joined by hyphens)"
        )
    entry = id.split("/", 1)[0]

    def register(check: Check) -> Check:
        if id in _OBLIGATIONS:
            raise RegistrationError(f"obligation {id} is registered twice")
        _OBLIGATIONS[id] = Obligation(
            id=id,
            entry=entry,
            reading=reading,
            method=method,
            expected=expected,
            check=check,
            subject=subject,
            formal=formal,
            assumptions=tuple(assumptions),
            needs_data=needs_data,
        )
        return check

    return register


def mutant(id: str, *, defect: str, subject: str, **overrides: Any) -> Mutant:
    """Register a faulty variant of ``subject`` replacing ``overrides``."""
    if not re.match(r"^[a-z0-9][a-z0-9-]*$", id):
        raise RegistrationError(
            f"faulty variant id {id!r} must be lower-case-hyphenated"
        )
    if id in _MUTANTS:
        raise RegistrationError(f"faulty variant {id} is registered twice")
    if not overrides:
        raise RegistrationError(f"faulty variant {id} replaces nothing")
    variant = Mutant(id=id, defect=defect, subject=subject, overrides=overrides)
    _MUTANTS[id] = variant
    return variant


_loaded = False


def load_all() -> None:
    """Import every module of ``proofs.obligations`` and ``proofs.mutants``."""
    global _loaded
    if _loaded:
        return
    for package_name in ("proofs.obligations", "proofs.mutants"):
        package = importlib.import_module(package_name)
        for info in sorted(
            pkgutil.iter_modules(package.__path__), key=lambda i: i.name
        ):
            importlib.import_module(f"{package_name}.{info.name}")
    _loaded = True


def all_obligations() -> list[Obligation]:
    """Every registered obligation, in catalogue order, then by id."""
    from proofs.catalogue import entry_order

    load_all()
    order = entry_order()
    for ob in _OBLIGATIONS.values():
        if ob.entry not in order:
            raise RegistrationError(
                f"obligation {ob.id} belongs to {ob.entry}, "
                "which is not in the catalogue"
            )
    return sorted(_OBLIGATIONS.values(), key=lambda o: (order[o.entry], o.id))


def all_mutants() -> list[Mutant]:
    load_all()
    return sorted(_MUTANTS.values(), key=lambda m: m.id)


def is_entry_id(text: str) -> bool:
    return bool(_ENTRY.match(text))
