"""Counterexamples and evidence as blocks a page can show.

A verdict's ``counterexample`` and ``evidence`` are plain JSON. :func:`present`
turns one into a few neutral blocks (a table, numbered steps, a timeline, a
paragraph, a JSON listing) that the Markdown and the HTML renderers each draw
in their own way. The forms with a ``"kind"`` are defined, with their
constructors, in :mod:`proofs.verdict`; plain values are shown as well as
their shape allows:

- a dict of scalars: a name/value table; a list of scalars inside it (a
  history, a trace) as numbered items under its name;
- a list of dicts with scalar values: a table, one row per dict;
- a list of scalars: numbered items;
- anything else: the JSON itself, indented.

>>> [type(b).__name__ for b in present({"A": "1/2", "n": 3})]
['Table']
>>> present([1, 2])[0].items[1].text
'2'
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Paragraph:
    #: Prose; may contain ``$...$`` inline formulas.
    text: str
    #: ``"note"`` (what to look at) or ``"failure"`` (what went wrong).
    role: str = "note"


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str = ""


@dataclass(frozen=True)
class Step:
    text: str
    #: Further facts about the step, as (name, value) pairs.
    facts: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Steps:
    items: tuple[Step, ...]
    #: The state before the first step, when the run starts from one.
    initial: str = ""


@dataclass(frozen=True)
class Operation:
    process: str
    op: str
    start: float
    #: None: the operation never returned.
    end: float | None
    result: str = ""


@dataclass(frozen=True)
class Timeline:
    """Operations of several processes on one clock."""

    processes: tuple[str, ...]
    operations: tuple[Operation, ...]
    #: Every distinct instant at which something was invoked or returned.
    instants: tuple[float, ...] = field(default=())


@dataclass(frozen=True)
class Listing:
    text: str


Block = Paragraph | Table | Steps | Timeline | Listing


def cell(value: Any) -> str:
    """A JSON value as the text of one table cell."""
    if isinstance(value, str):
        return value
    if value is None:
        return "none"
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _scalar(value: Any) -> bool:
    return not isinstance(value, (dict, list))


def _short(value: Any) -> bool:
    return _scalar(value) or len(cell(value)) <= 80


def present(value: Any) -> list[Block]:
    """Blocks showing ``value``; an empty list for None."""
    if value is None:
        return []
    if isinstance(value, Mapping) and isinstance(value.get("kind"), str):
        shown = _FORMS.get(value["kind"])
        if shown is not None:
            try:
                blocks = shown(value)
            except (AttributeError, KeyError, TypeError, ValueError):
                blocks = None  # malformed: fall back to the plain JSON below
            if blocks is not None:
                note = value.get("note")
                return [Paragraph(note), *blocks] if note else blocks
    if _is_interleaved_run(value):
        return _interleaved_run(value)
    if isinstance(value, Mapping) and value and all(_short(v) for v in value.values()):
        return [
            Table(("name", "value"), tuple((str(k), cell(v)) for k, v in value.items()))
        ]
    if (
        isinstance(value, Mapping)
        and value
        and all(
            _scalar(v) or (isinstance(v, list) and all(_scalar(x) for x in v))
            for v in value.values()
        )
    ):
        # In key order: runs of scalars as tables, each list of scalars (a
        # history, a trace) as numbered items under its name.
        parts: list[Block] = []
        run: list[tuple[str, str]] = []
        for k, v in value.items():
            if _short(v):
                run.append((str(k), cell(v)))
                continue
            if run:
                parts.append(Table(("name", "value"), tuple(run)))
                run = []
            parts.append(Paragraph(f"{k}:"))
            parts.append(Steps(tuple(Step(cell(x)) for x in v)))
        if run:
            parts.append(Table(("name", "value"), tuple(run)))
        return parts
    if (
        isinstance(value, list)
        and value
        and all(
            isinstance(v, Mapping) and all(_short(x) for x in v.values()) for v in value
        )
    ):
        columns: list[str] = []
        for row in value:
            columns += [str(k) for k in row if str(k) not in columns]
        return [
            Table(
                tuple(columns),
                tuple(tuple(cell(row.get(c, "")) for c in columns) for row in value),
            )
        ]
    if isinstance(value, list) and value and all(_scalar(v) for v in value):
        return [Steps(tuple(Step(cell(v)) for v in value))]
    if _scalar(value):
        return [Paragraph(cell(value))]
    return [Listing(json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True))]


def _is_interleaved_run(value: Any) -> bool:
    """Concurrent clients' scripts, with the complaint (and the schedule) found."""
    if not isinstance(value, Mapping) or "clients" not in value:
        return False
    clients = value["clients"]
    return (
        isinstance(clients, list)
        and bool(clients)
        and all(isinstance(c, list) and all(_scalar(x) for x in c) for c in clients)
        and all(_scalar(v) for k, v in value.items() if k != "clients")
    )


def _interleaved_run(value: Mapping[str, Any]) -> list[Block]:
    """A run of concurrent clients: each client's calls, then how to replay it."""
    calls = tuple(
        Step("; ".join(cell(x) for x in c) or f"client {n}: no calls")
        for n, c in enumerate(value["clients"])
    )
    blocks: list[Block] = [
        Paragraph("The clients run at once, each making its calls in this order:"),
        Steps(calls),
    ]
    if isinstance(value.get("schedule"), str):
        again = " The failure replays from it." if value.get("replays") else ""
        blocks.append(
            Paragraph(
                f'The interleaving that fails is the schedule "{value["schedule"]}": '
                "at each numbered choice among ready callbacks the scheduler took "
                "the one at the given position, both counted from 0 (the oldest "
                "everywhere else)." + again
            )
        )
    rest = tuple(
        (str(k), cell(v))
        for k, v in value.items()
        if k not in ("clients", "schedule", "replays", "problem")
    )
    if rest:
        blocks.append(Table(("name", "value"), rest))
    if value.get("problem"):
        blocks.append(Paragraph(cell(value["problem"]), role="failure"))
    return blocks


# The forms -------------------------------------------------------------------


def _model(form: Mapping[str, Any]) -> list[Block]:
    values = form["values"]
    rows = tuple((str(k), cell(v)) for k, v in values.items())
    return [Table(("variable", "value"), rows)]


def _steps(form: Mapping[str, Any]) -> list[Block]:
    items = []
    for step in form["steps"]:
        if isinstance(step, Mapping):
            facts = tuple((str(k), cell(v)) for k, v in step.items() if k != "action")
            items.append(Step(cell(step["action"]), facts))
        else:
            items.append(Step(cell(step)))
    initial = form.get("initial")
    blocks: list[Block] = [
        Steps(tuple(items), "" if initial is None else cell(initial))
    ]
    if form.get("failure"):
        blocks.append(Paragraph(str(form["failure"]), role="failure"))
    return blocks


def _history(form: Mapping[str, Any]) -> list[Block]:
    ops = []
    for op in form["operations"]:
        end = op.get("end")
        ops.append(
            Operation(
                process=cell(op["process"]),
                op=cell(op["op"]),
                start=float(op["start"]),
                end=None if end is None else float(end),
                result=cell(op["result"]) if "result" in op else "",
            )
        )
    processes: list[str] = []
    for o in ops:
        if o.process not in processes:
            processes.append(o.process)
    instants = sorted(
        {o.start for o in ops} | {o.end for o in ops if o.end is not None}
    )
    return [Timeline(tuple(processes), tuple(ops), tuple(instants))]


def _table(form: Mapping[str, Any]) -> list[Block]:
    columns = tuple(str(c) for c in form["columns"])
    rows = tuple(tuple(cell(v) for v in row) for row in form["rows"])
    if any(len(r) != len(columns) for r in rows):
        raise ValueError("ragged table")
    caption = str(form.get("confidence", ""))
    return [Table(columns, rows, f"Intervals: {caption}." if caption else "")]


_FORMS = {
    "model": _model,
    "steps": _steps,
    "history": _history,
    "table": _table,
    "measurements": _table,
}


def steps_of(items: Sequence[str]) -> Steps:
    """Numbered items from sentences."""
    return Steps(tuple(Step(i) for i in items))
