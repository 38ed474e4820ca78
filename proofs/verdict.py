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

Counterexamples and evidence a reader can follow
-------------------------------------------------

``counterexample`` (on REFUTED) and ``evidence`` (on any outcome: measured
points, a recorded run) are plain JSON. The report renders a plain dict of
scalars as a name/value table, a list of such dicts as a table, a list of
scalars as a numbered list, and anything else as JSON. For a clearer page,
build one of these forms (each a dict with a ``"kind"``):

:func:`model_form`
    A solver's model: ``{"kind": "model", "values": {name: value}}``, shown as
    a table of assignments.
:func:`steps_form`
    A shrunk run: ``{"kind": "steps", "initial": ..., "steps": [...],
    "failure": "..."}``; each step is a sentence or a dict whose ``"action"``
    is the sentence and whose other keys (``"result"``, ``"state"``...) become
    columns. Shown as numbered steps ending with the failure.
:func:`history_form`
    A concurrent history: ``{"kind": "history", "operations": [{"process",
    "op", "start", "end", "result"}]}`` with ``end`` None for an operation
    that never returned. Shown as a timeline with one lane per process.
:func:`table_form`
    Any table: ``{"kind": "table", "columns": [...], "rows": [[...]]}``.
:func:`measurements_form`
    A table of measured values with a stated confidence, optionally feeding
    a figure of the report (``figure="availability-redundancy"`` needs the
    columns ``A``, ``n``, ``measured``, ``low``, ``high``).

Every form takes an optional ``note``: one sentence that says what to look at.
Prose fields (``detail``, notes) may contain inline formulas as ``$...$``.
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
    #: Data for the reader that is not a counterexample: measurements, a
    #: recorded run (see the forms in the module docstring).
    evidence: JSONValue = None

    def __post_init__(self) -> None:
        if not self.method:
            raise VerdictError("a verdict must name the method that reached it")
        if self.outcome is Outcome.REFUTED and self.counterexample in (None, {}, []):
            raise VerdictError("a REFUTED verdict must carry its counterexample")
        if self.outcome is Outcome.PROVED and not self.bounds:
            raise VerdictError(
                "a PROVED verdict must state its bounds (for which values it holds)"
            )
        if self.outcome is Outcome.CHECKED and not self.searched:
            raise VerdictError("a CHECKED verdict must say what was searched")
        counts = [
            v
            for v in self.searched.values()
            if isinstance(v, int | float) and not isinstance(v, bool)
        ]
        if self.outcome is Outcome.CHECKED and counts and not any(counts):
            raise VerdictError(
                "a CHECKED verdict must have searched something, "
                f"got {dict(self.searched)}"
            )
        if self.outcome is Outcome.UNKNOWN and not self.reason:
            raise VerdictError("an UNKNOWN verdict must give its reason")
        _json_checked("counterexample", self.counterexample)
        _json_checked("evidence", self.evidence)
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
        evidence: JSONValue = None,
    ) -> Verdict:
        return cls(
            Outcome.PROVED,
            method,
            bounds=bounds,
            assumptions=assumptions,
            detail=detail,
            evidence=evidence,
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
        evidence: JSONValue = None,
    ) -> Verdict:
        return cls(
            Outcome.REFUTED,
            method,
            bounds=bounds,
            searched=dict(searched or {}),
            counterexample=counterexample,
            assumptions=assumptions,
            detail=detail,
            evidence=evidence,
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
        evidence: JSONValue = None,
    ) -> Verdict:
        return cls(
            Outcome.CHECKED,
            method,
            bounds=bounds,
            searched=dict(searched),
            assumptions=assumptions,
            detail=detail,
            evidence=evidence,
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
        evidence: JSONValue = None,
    ) -> Verdict:
        return cls(
            Outcome.UNKNOWN,
            method,
            bounds=bounds,
            searched=dict(searched or {}),
            reason=reason,
            assumptions=assumptions,
            detail=detail,
            evidence=evidence,
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
            "evidence": self.evidence,
        }


# Forms a reader can follow ---------------------------------------------------


def _form(kind: str, note: str, **fields: JSONValue) -> dict[str, JSONValue]:
    form: dict[str, JSONValue] = {"kind": kind, **fields}
    if note:
        form["note"] = note
    _json_checked(f"{kind} form", form)
    return form


def model_form(values: Mapping[str, JSONValue], *, note: str = "") -> JSONValue:
    """A solver's satisfying assignment, shown as a table.

    >>> model_form({"A": "1/2", "n": 3})
    {'kind': 'model', 'values': {'A': '1/2', 'n': 3}}
    """
    return _form("model", note, values=dict(values))


def steps_form(
    steps: list[JSONValue],
    *,
    failure: str,
    initial: JSONValue = None,
    note: str = "",
) -> JSONValue:
    """A run that ends in a failure, shown as numbered steps.

    Each step is a sentence, or a dict with an ``"action"`` sentence and other
    keys shown beside it. ``failure`` says what was wrong after the last step.

    >>> steps_form(["register a", {"action": "discover", "result": []}],
    ...            failure="a is missing")["steps"][1]
    {'action': 'discover', 'result': []}
    """
    for i, step in enumerate(steps, 1):
        if not isinstance(step, (str, dict)) or (
            isinstance(step, dict) and "action" not in step
        ):
            raise VerdictError(
                f"step {i} must be a sentence or a dict with an 'action', got {step!r}"
            )
    fields: dict[str, JSONValue] = {"steps": list(steps), "failure": failure}
    if initial is not None:
        fields["initial"] = initial
    return _form("steps", note, **fields)


def history_form(
    operations: list[Mapping[str, JSONValue]], *, note: str = ""
) -> JSONValue:
    """Overlapping operations of several processes, shown as a timeline.

    Each operation has ``process``, ``op`` (what was called), ``start`` and
    ``end`` (numbers on one clock; ``end`` None if it never returned) and an
    optional ``result``.
    """
    ops = []
    for i, op in enumerate(operations, 1):
        missing = [k for k in ("process", "op", "start") if k not in op]
        if missing:
            raise VerdictError(
                f"history operation {i} lacks {', '.join(missing)}: {dict(op)!r}"
            )
        ops.append({"end": None, **op})
    return _form("history", note, operations=ops)


def table_form(
    columns: list[str], rows: list[list[JSONValue]], *, note: str = ""
) -> JSONValue:
    """A table; every row has one value per column."""
    _check_rows(columns, rows)
    return _form("table", note, columns=list(columns), rows=[list(r) for r in rows])


def measurements_form(
    columns: list[str],
    rows: list[list[JSONValue]],
    *,
    confidence: str,
    figure: str = "",
    note: str = "",
) -> JSONValue:
    """Measured values with their confidence (``"95% Wilson interval"``).

    ``figure`` names a figure of the report that plots these rows beside its
    curves; the figure's caption says which columns it reads.
    """
    _check_rows(columns, rows)
    fields: dict[str, JSONValue] = {
        "columns": list(columns),
        "rows": [list(r) for r in rows],
        "confidence": confidence,
    }
    if figure:
        fields["figure"] = figure
    return _form("measurements", note, **fields)


def _check_rows(columns: list[str], rows: list[list[JSONValue]]) -> None:
    for i, row in enumerate(rows, 1):
        if len(row) != len(columns):
            raise VerdictError(
                f"row {i} has {len(row)} values for {len(columns)} columns "
                f"({', '.join(columns)})"
            )
