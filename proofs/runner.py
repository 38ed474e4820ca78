"""Selecting, running and judging obligations and faulty variants.

The runner turns a selection (``T4.2``, ``T4.2/redundancy-increasing``) into
obligations, runs each under a profile, and records whether it reached its
expected verdict. A check that raises is a broken check, not a pass: the
runner records it as UNKNOWN with the exception as the reason.

Faulty variants are judged the other way round: a variant is *caught* by every
obligation of its subject that, run on the variant, misses its expected
verdict. A variant no obligation catches is reported as uncaught.

Running every variant against every obligation of its subject is the costly
part, and most pairs cannot differ: a check sees its subject only through
attribute lookups, so while it runs on the real subject the runner records
which names it looked up (:class:`Recorder`). A variant that replaces none of
those names hands the check exactly what the real run saw; under a
derandomized profile it would reach exactly the real verdict. Such pairs are
not run again, and are reported as *unaffected* rather than as outcomes.
"""

from __future__ import annotations

import functools
import multiprocessing
import signal
import time
import traceback
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Protocol

from proofs.catalogue import ENTRIES, UnknownEntryError, get_entry
from proofs.data import have_reference_data
from proofs.obligation import (
    MissingDataError,
    Mutant,
    Obligation,
    all_mutants,
    all_obligations,
    is_entry_id,
    reach,
    resolve_subject,
)
from proofs.profiles import Profile, get_profile
from proofs.verdict import Verdict


class SelectionError(ValueError):
    """A selection named nothing that exists."""


@dataclass(frozen=True)
class Result:
    obligation: Obligation
    verdict: Verdict
    #: Wall-clock seconds the check took; shown on the terminal, never reported.
    seconds: float
    #: Names the check looked up on its subject (``None``: not recorded).
    touched: frozenset[str] | None = None

    @property
    def met(self) -> bool:
        return self.obligation.met_by(self.verdict)


@dataclass(frozen=True)
class MutantResult:
    mutant: Mutant
    #: Outcome of every obligation of the variant's subject, run on the variant.
    verdicts: dict[str, Verdict]
    caught_by: tuple[str, ...]
    #: Obligations not run on the variant: they look up none of its replacements.
    unaffected: tuple[str, ...] = ()


class Recorder:
    """A stand-in for a subject module that notes every name looked up on it."""

    _target: object
    _touched: set[str]

    def __init__(self, target: object, touched: set[str]) -> None:
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_touched", touched)

    def __getattr__(self, name: str) -> object:
        self._touched.add(name)
        return getattr(self._target, name)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"obligations may not change their subject ({name})")


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
                entry_id, _, slug = item.partition("/")
                if not entry_id or not slug or "/" in slug:
                    raise SelectionError(
                        f"malformed obligation id {item!r}: write ENTRY/SLUG, "
                        "such as T4.2/redundancy-increasing, or an entry id "
                        "alone, such as T4.2"
                    )
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


def run_one(
    ob: Obligation,
    profile: Profile,
    subject: object = None,
    touched: set[str] | None = None,
) -> Verdict:
    """Run one obligation, turning a crash or missing data into UNKNOWN.

    With ``touched`` (and the real subject), the names the check looks up on
    its subject are added to that set.
    """
    if subject is None and touched is not None:
        subject = Recorder(resolve_subject(ob.subject), touched)
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


TaskOutcome = tuple[Verdict, float, frozenset[str] | None]


def _run_by_id(task: tuple[str, str | None, str]) -> TaskOutcome:
    """Worker entry point: run obligation ``ob_id`` (on variant ``mutant_id``)."""
    ob_id, mutant_id, profile_name = task
    ob = next(o for o in all_obligations() if o.id == ob_id)
    variant = None
    if mutant_id is not None:
        variant = next(m for m in all_mutants() if m.id == mutant_id)
    return _timed(ob, variant, get_profile(profile_name))


def _timed(ob: Obligation, variant: Mutant | None, profile: Profile) -> TaskOutcome:
    touched: set[str] | None = None if variant else set()
    started = time.perf_counter()
    verdict = run_one(ob, profile, variant.build() if variant else None, touched)
    seconds = time.perf_counter() - started
    return verdict, seconds, None if touched is None else frozenset(touched)


Task = tuple[Obligation, Mutant | None]


def _run_tasks(
    tasks: Sequence[Task],
    labels: Sequence[str],
    profile: Profile,
    jobs: int,
    progress: Progress,
) -> list[TaskOutcome]:
    """Run tasks, in worker processes when ``jobs > 1``; results in task order.

    Workers are spawned afresh and look obligations and variants up by id, so
    only registered ones can run in parallel.
    """
    out: dict[int, TaskOutcome] = {}
    if jobs <= 1 or len(tasks) <= 1:
        for i, (ob, variant) in enumerate(tasks):
            out[i] = _timed(ob, variant, profile)
            progress.advance(labels[i], str(out[i][0].outcome), out[i][1])
        return [out[i] for i in range(len(tasks))]

    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(
        max_workers=jobs, mp_context=context, initializer=_ignore_interrupts
    )
    try:
        futures = {}
        for i, (ob, variant) in enumerate(tasks):
            key = (ob.id, variant.id if variant else None, profile.name)
            futures[pool.submit(_run_by_id, key)] = i
        for future in as_completed(futures):
            i = futures[future]
            out[i] = future.result()
            progress.advance(labels[i], str(out[i][0].outcome), out[i][1])
    except BaseException:
        # Interrupted (Ctrl-C) or broken: stop the workers now rather than
        # wait for the checks they are running.
        for process in list(getattr(pool, "_processes", {}).values()):
            process.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return [out[i] for i in range(len(tasks))]


def _ignore_interrupts() -> None:
    """Workers leave Ctrl-C to the parent, which stops them."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_obligations(
    obligations: Iterable[Obligation],
    profile: Profile,
    progress: Progress | None = None,
    jobs: int = 1,
) -> list[Result]:
    """Run each obligation once; ``jobs > 1`` runs them in worker processes.

    The results come back in the order given, whatever the order of
    completion, so output does not depend on ``jobs``.
    """
    obligations = list(obligations)
    progress = progress or NoProgress()
    progress.begin("obligations", len(obligations))
    tasks: list[Task] = [(ob, None) for ob in obligations]
    done = _run_tasks(tasks, [ob.id for ob in obligations], profile, jobs, progress)
    progress.end()
    return [
        Result(ob, verdict, seconds, touched)
        for ob, (verdict, seconds, touched) in zip(obligations, done, strict=True)
    ]


def run_mutants(
    profile: Profile,
    obligations: Sequence[Obligation] | None = None,
    progress: Progress | None = None,
    jobs: int = 1,
    baseline: Mapping[str, Result] | None = None,
) -> list[MutantResult]:
    """Run every faulty variant against the obligations of its subject.

    When ``obligations`` is given, only those are tried (and only variants of
    their subjects are run). Obligations that cannot run here (reference data
    absent) are left out: an undecided check catches nothing. ``baseline``
    holds the real run's results: then only obligations that met their
    expectation can count as catching, and pairs whose obligation looked up
    none of the variant's replacements are not run (see the module notes).
    """
    pool = list(obligations) if obligations is not None else all_obligations()
    if not have_reference_data():
        pool = [ob for ob in pool if not ob.needs_data]
    if baseline is not None:
        pool = [ob for ob in pool if ob.id in baseline and baseline[ob.id].met]
    subjects = {ob.subject for ob in pool}
    variants = [m for m in all_mutants() if m.subject in subjects]
    pairs = []
    unaffected: dict[str, list[str]] = {m.id: [] for m in variants}
    for m in variants:
        for ob in pool:
            if ob.subject != m.subject:
                continue
            touched = baseline[ob.id].touched if baseline is not None else None
            if touched is not None and reached(ob.subject, touched).isdisjoint(
                m.overrides
            ):
                unaffected[m.id].append(ob.id)
            else:
                pairs.append((m, ob))
    progress = progress or NoProgress()
    progress.begin("faulty variants", len(pairs))
    tasks: list[Task] = [(ob, m) for m, ob in pairs]
    labels = [f"{m.id} on {ob.id}" for m, ob in pairs]
    done = _run_tasks(tasks, labels, profile, jobs, progress)
    progress.end()

    by_id = {ob.id: ob for ob in pool}
    results = []
    for variant in variants:
        verdicts = {
            ob.id: verdict
            for (m, ob), (verdict, _, _) in zip(pairs, done, strict=True)
            if m is variant
        }
        caught = tuple(i for i, v in verdicts.items() if by_id[i].bites(v))
        results.append(
            MutantResult(variant, verdicts, caught, tuple(unaffected[variant.id]))
        )
    return results


@functools.cache
def reached(subject: str, touched: frozenset[str]) -> frozenset[str]:
    """The names of ``subject`` a check that looked up ``touched`` can reach."""
    return reach(resolve_subject(subject), touched)


def coverage() -> dict[str, list[Obligation]]:
    """Each catalogue entry with its obligations (empty: not yet covered)."""
    table: dict[str, list[Obligation]] = {entry.id: [] for entry in ENTRIES}
    for ob in all_obligations():
        table[ob.entry].append(ob)
    return table
