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
import functools
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

    def bites(self, verdict: Verdict) -> bool:
        """Whether ``verdict``, reached on a faulty variant, catches it.

        Only a decided verdict other than the expected one does: a check that
        crashed or ran out of budget (UNKNOWN) has shown nothing.
        """
        return verdict.outcome is not Outcome.UNKNOWN and not self.met_by(verdict)


def _with_assumptions(verdict: Verdict, extra: tuple[str, ...]) -> Verdict:
    return dataclasses.replace(verdict, assumptions=verdict.assumptions + extra)


@dataclass(frozen=True)
class Mutant:
    """A faulty variant: a module with some names replaced by defective ones.

    :meth:`build` runs the subject module's code afresh into a new module and
    then puts the replacements into that module's globals, so the defect is
    seen everywhere: by an obligation that looks a name up on its subject, and
    by every function of the module that calls the replaced one internally.
    Everything else (classes whose code mentions no replaced name, data,
    imported names) is the real module's own object, so values built by the
    real module and by the copy compare equal.
    """

    id: str
    defect: str
    subject: str
    overrides: Mapping[str, Any] = field(repr=False)

    def build(self) -> types.ModuleType:
        """A fresh copy of the subject module with this variant's replacements.

        Functions of the copy are new objects, and so are classes whose code
        mentions a replaced name; everything else is the real module's.
        """
        real = resolve_subject(self.subject)
        missing = sorted(set(self.overrides) - set(vars(real)))
        if missing:
            raise RegistrationError(
                f"faulty variant {self.id} replaces {', '.join(missing)}, "
                f"which {self.subject} does not define"
            )
        copy = types.ModuleType(real.__name__, real.__doc__)
        copy.__dict__.update(
            __file__=getattr(real, "__file__", None),
            __spec__=real.__spec__,
            __loader__=real.__loader__,
            __package__=real.__package__,
        )
        exec(_module_code(real), copy.__dict__)
        replaced = set(self.overrides)
        for key, original in vars(real).items():
            fresh = copy.__dict__.get(key)
            if not _keep_fresh(fresh, real.__name__, replaced):
                # Data, imported names and classes that mention no replaced
                # name are the real module's own objects, so tables built
                # from the module's classes and values built by other modules
                # are interchangeable with the copy's.
                copy.__dict__[key] = original
        copy.__dict__.update(self.overrides)
        return copy


def _keep_fresh(value: object, module: str, replaced: set[str]) -> bool:
    """Whether the copy needs its own ``value`` rather than the real one.

    Functions of the module do (their globals are the copy's, so they call the
    replacements), and so do classes whose code mentions a replaced name.
    """
    if isinstance(value, type):
        return value.__module__ == module and not _mentions(value).isdisjoint(replaced)
    while not isinstance(value, types.FunctionType):
        value = getattr(value, "__wrapped__", None)
        if value is None:
            return False
    return value.__module__ == module


def resolve_subject(name: str) -> types.ModuleType:
    return importlib.import_module(name)


@functools.cache
def _module_code(module: types.ModuleType) -> types.CodeType:
    loader: Any = module.__loader__
    code = loader.get_code(module.__name__) if loader is not None else None
    if code is None:
        raise RegistrationError(f"cannot read the code of {module.__name__}")
    return code  # type: ignore[no-any-return]


def reach(module: types.ModuleType, names: Iterable[str]) -> frozenset[str]:
    """``names`` and every global of ``module`` reachable from them.

    A function reaches the globals its code (nested functions included)
    mentions; a class reaches those of its methods and properties. This is
    what a variant replacing one of the module's names can change for a check
    that looked up only ``names``: internal calls included, dynamic lookups
    (``getattr`` with a computed name, ``globals()``) not.
    """
    space = vars(module)
    seen: set[str] = set()
    todo = [n for n in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in space:
            todo.extend(n for n in _mentions(space[name]) if n in space)
    return frozenset(seen)


def _mentions(value: object) -> set[str]:
    if isinstance(value, type):
        found: set[str] = set()
        for member in vars(value).values():
            found |= _mentions(member)
        return found
    if isinstance(value, (staticmethod, classmethod)):
        return _mentions(value.__func__)
    if isinstance(value, property):
        return set().union(*(_mentions(f) for f in (value.fget, value.fset) if f))
    code = getattr(value, "__code__", None)
    if not isinstance(code, types.CodeType):
        wrapped = getattr(value, "__wrapped__", None)
        return _mentions(wrapped) if wrapped is not None else set()
    return _code_names(code)


def _code_names(code: types.CodeType) -> set[str]:
    found = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found |= _code_names(const)
    return found


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
