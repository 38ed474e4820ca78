"""Selecting, running and judging obligations and faulty variants.

The runner turns a selection (``T4.2``, ``T4.2/redundancy-increasing``) into
obligations, runs each under a profile, and records whether it reached its
expected verdict. A check that raises is a broken check, not a pass: the
runner records it as UNKNOWN with the exception as the reason.

Faulty variants are judged the other way round: a variant is *caught* by every
obligation of its subject that, run on the variant, misses its expected
verdict. A variant no obligation catches is reported as uncaught.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from proofs.catalogue import ENTRIES, UnknownEntryError, get_entry
from proofs.obligation import (
    MissingDataError,
    Mutant,
    Obligation,
    all_mutants,
    all_obligations,
    is_entry_id,
)
from proofs.profiles import Profile
from proofs.verdict import Verdict


class SelectionError(ValueError):
    """A selection named nothing that exists."""


@dataclass(frozen=True)
class Result:
    obligation: Obligation
    verdict: Verdict
    #: Wall-clock seconds the check took; shown on the terminal, never reported.
    seconds: float

    @property
    def met(self) -> bool:
        return self.obligation.met_by(self.verdict)


@dataclass(frozen=True)
class MutantResult:
    mutant: Mutant
    #: Outcome of every obligation of the variant's subject, run on the variant.
    verdicts: dict[str, Verdict]
    caught_by: tuple[str, ...]


class Progress(Protocol):
    def begin(self, phase: str, total: int) -> None: ...
    def advance(self, label: str, outcome: str, seconds: float) -> None: ...
    def end(self) -> None: ...


class NoProgress:
    def begin(self, phase: str, total: int) -> None:
        pass

    def advance(self, label: str, outcome: str, seconds: float) -> None:
        pass

    def end(self) -> None:
        pass


def select(only: Sequence[str] | None = None) -> tuple[list[Obligation], list[str]]:
    """Obligations matching ``only`` (all when empty), and notes for the user.

    Each item of ``only`` is an entry id (``T4.2``: all its obligations) or an
    obligation id (``T4.2/redundancy-increasing``). An id that names nothing is
    an error; an entry that exists but has no obligation yet produces a note.
    """
    obligations = all_obligations()
    if not only:
        return obligations, []

    by_id = {ob.id: ob for ob in obligations}
    chosen: dict[str, Obligation] = {}
    notes: list[str] = []
    for item in only:
        if "/" in item:
            if item not in by_id:
                entry_id = item.split("/", 1)[0]
                get_entry(entry_id)  # raises for an unknown entry
                known = [ob.id for ob in obligations if ob.entry == entry_id]
                hint = f"; {entry_id} has: {', '.join(known)}" if known else ""
                raise SelectionError(f"no obligation {item!r}{hint}")
            chosen.setdefault(item, by_id[item])
            continue
        if not is_entry_id(item):
            raise UnknownEntryError(item)
        get_entry(item)
        matched = [ob for ob in obligations if ob.entry == item]
        if not matched:
            notes.append(f"{item} is not yet covered: it has no obligations")
        for ob in matched:
            chosen.setdefault(ob.id, ob)
    if not chosen:
        raise SelectionError(
            "the selection contains no obligations: " + "; ".join(notes)
        )
    order = {ob.id: i for i, ob in enumerate(obligations)}
    return sorted(chosen.values(), key=lambda ob: order[ob.id]), notes


def run_one(ob: Obligation, profile: Profile, subject: object = None) -> Verdict:
    """Run one obligation, turning a crash or missing data into UNKNOWN."""
    try:
        return ob.run(profile, subject)
    except MissingDataError as exc:
        return Verdict.unknown(str(ob.method), f"reference data missing: {exc}")
    except Exception as exc:  # a broken check must not look like a pass
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        where = f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}"
        return Verdict.unknown(
            str(ob.method), f"the check raised {type(exc).__name__}: {exc} ({where})"
        )


def run_obligations(
    obligations: Iterable[Obligation],
    profile: Profile,
    progress: Progress | None = None,
) -> list[Result]:
    obligations = list(obligations)
    progress = progress or NoProgress()
    progress.begin("obligations", len(obligations))
    results = []
    for ob in obligations:
        started = time.perf_counter()
        verdict = run_one(ob, profile)
        seconds = time.perf_counter() - started
        results.append(Result(ob, verdict, seconds))
        mark = "" if ob.met_by(verdict) else f" (expected {ob.expected})"
        progress.advance(ob.id, f"{verdict.outcome}{mark}", seconds)
    progress.end()
    return results


def run_mutants(
    profile: Profile,
    obligations: Sequence[Obligation] | None = None,
    progress: Progress | None = None,
) -> list[MutantResult]:
    """Run every faulty variant against the obligations of its subject.

    When ``obligations`` is given, only those are tried (and only variants of
    their subjects are run).
    """
    pool = list(obligations) if obligations is not None else all_obligations()
    subjects = {ob.subject for ob in pool}
    variants = [m for m in all_mutants() if m.subject in subjects]
    progress = progress or NoProgress()
    progress.begin("faulty variants", len(variants))
    results = []
    for variant in variants:
        started = time.perf_counter()
        subject = variant.build()
        verdicts: dict[str, Verdict] = {}
        for ob in pool:
            if ob.subject == variant.subject:
                verdicts[ob.id] = run_one(ob, profile, subject)
        caught = tuple(
            i for i, v in verdicts.items() if v.outcome is not _expected(pool, i)
        )
        results.append(MutantResult(variant, verdicts, caught))
        progress.advance(
            variant.id,
            f"caught by {len(caught)}" if caught else "NOT CAUGHT",
            time.perf_counter() - started,
        )
    progress.end()
    return results


def _expected(pool: Sequence[Obligation], ob_id: str) -> object:
    return next(ob.expected for ob in pool if ob.id == ob_id)


def coverage() -> dict[str, list[Obligation]]:
    """Each catalogue entry with its obligations (empty: not yet covered)."""
    table: dict[str, list[Obligation]] = {entry.id: [] for entry in ENTRIES}
    for ob in all_obligations():
        table[ob.entry].append(ob)
    return table
