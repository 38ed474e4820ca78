"""Verdicts: what a check concluded, with the evidence and its limits.

A verdict has one of four outcomes:

``PROVED``
    A solver or a symbolic derivation closed the claim. ``method`` says which,
    ``bounds`` says for which sizes (``"all n >= 1"``, ``"n <= 8"``).
``REFUTED``
    A concrete counterexample was found; it is kept in ``counterexample``
    (JSON-serialisable, so the report can print it as a table or as steps).
``CHECKED``
    No counterexample within a stated search. ``searched`` records how much
    was searched (examples, steps, bounds); a CHECKED verdict without it is
    refused at construction, since "we looked" means nothing without "how far".
``UNKNOWN``
    The check could not decide (a solver answered ``unknown``, a budget ran out,
    reference data is missing). ``reason`` says why. UNKNOWN is never a pass:
    an obligation expected to reach any other outcome fails when it gets this.

Verdicts are values. They are compared by outcome only when deciding whether an
obligation met its expectation; everything else is evidence for the reader.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

#: Plain JSON data (None, bool, numbers, strings, lists, string-keyed dicts);
#: checked when a verdict is built, since the type system cannot say it simply.
JSONValue: TypeAlias = Any


class Outcome(enum.Enum):
    PROVED = "PROVED"
    REFUTED = "REFUTED"
    CHECKED = "CHECKED"
    UNKNOWN = "UNKNOWN"

    def __str__(self) -> str:
        return self.value


class VerdictError(ValueError):
    """A verdict was built without the evidence its outcome requires."""


def _json_checked(name: str, value: object) -> None:
    try:
        json.dumps(value, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise VerdictError(f"verdict {name} must be plain JSON data: {exc}") from exc


@dataclass(frozen=True)
class Verdict:
    """The result of running one obligation.

    Build verdicts with the class methods :meth:`proved`, :meth:`refuted`,
    :meth:`checked` and :meth:`unknown`; each insists on the evidence its
    outcome needs.

    >>> Verdict.checked("Hypothesis", searched={"examples": 200}).outcome
    <Outcome.CHECKED: 'CHECKED'>
    >>> Verdict.checked("Hypothesis", searched={})
    Traceback (most recent call last):
    ...
    proofs.verdict.VerdictError: a CHECKED verdict must say what was searched
    """

    outcome: Outcome
    method: str
    bounds: str = ""
    searched: Mapping[str, JSONValue] = field(default_factory=dict)
    counterexample: JSONValue = None
    reason: str = ""
    assumptions: tuple[str, ...] = ()
    detail: str = ""

    def __post_init__(self) -> None:
        if not self.method:
            raise VerdictError("a verdict must name the method that reached it")
        if self.outcome is Outcome.REFUTED and self.counterexample in (None, {}, []):
            raise VerdictError("a REFUTED verdict must carry its counterexample")
        if self.outcome is Outcome.CHECKED and not self.searched:
            raise VerdictError("a CHECKED verdict must say what was searched")
        if self.outcome is Outcome.UNKNOWN and not self.reason:
            raise VerdictError("an UNKNOWN verdict must give its reason")
        _json_checked("counterexample", self.counterexample)
        _json_checked("searched", dict(self.searched))

    # Constructors, one per outcome -------------------------------------------

    @classmethod
    def proved(
        cls,
        method: str,
        *,
        bounds: str = "",
        assumptions: tuple[str, ...] = (),
        detail: str = "",
    ) -> Verdict:
        return cls(
            Outcome.PROVED,
            method,
            bounds=bounds,
            assumptions=assumptions,
            detail=detail,
        )

    @classmethod
    def refuted(
        cls,
        method: str,
        counterexample: JSONValue,
        *,
        bounds: str = "",
        searched: Mapping[str, JSONValue] | None = None,
        assumptions: tuple[str, ...] = (),
        detail: str = "",
    ) -> Verdict:
        return cls(
            Outcome.REFUTED,
            method,
            bounds=bounds,
            searched=dict(searched or {}),
            counterexample=counterexample,
            assumptions=assumptions,
            detail=detail,
        )

    @classmethod
    def checked(
        cls,
        method: str,
        *,
        searched: Mapping[str, JSONValue],
        bounds: str = "",
        assumptions: tuple[str, ...] = (),
        detail: str = "",
    ) -> Verdict:
        return cls(
            Outcome.CHECKED,
            method,
            bounds=bounds,
            searched=dict(searched),
            assumptions=assumptions,
            detail=detail,
        )

    @classmethod
    def unknown(
        cls,
        method: str,
        reason: str,
        *,
        bounds: str = "",
        searched: Mapping[str, JSONValue] | None = None,
        assumptions: tuple[str, ...] = (),
        detail: str = "",
    ) -> Verdict:
        return cls(
            Outcome.UNKNOWN,
            method,
            bounds=bounds,
            searched=dict(searched or {}),
            reason=reason,
            assumptions=assumptions,
            detail=detail,
        )

    # Presentation -------------------------------------------------------------

    def summary(self) -> str:
        """One line for a terminal: outcome, method and the search or reason."""
        parts = [str(self.outcome), self.method]
        if self.bounds:
            parts.append(self.bounds)
        if self.searched and self.outcome is not Outcome.PROVED:
            parts.append(
                ", ".join(f"{k}={v}" for k, v in sorted(self.searched.items()))
            )
        if self.reason:
            parts.append(self.reason)
        return " | ".join(parts)

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "outcome": self.outcome.value,
            "method": self.method,
            "bounds": self.bounds,
            "searched": dict(self.searched),
            "counterexample": self.counterexample,
            "reason": self.reason,
            "assumptions": list(self.assumptions),
            "detail": self.detail,
        }
