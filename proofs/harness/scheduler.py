"""Controlled interleavings: which ready callback runs next, and all the others.

A race in asyncio code lives between two ``await`` points: one task reads a
counter, awaits, and writes it back while another task did the same in
between. Whether the bad order happens depends on which ready callback the
event loop runs first, and a plain loop always answers "the oldest". This
module hands that answer to a *chooser* and runs a *scenario* (a coroutine
function returning ``None`` when all was well, or a complaint) under it:

``RandomChooser(seed)``
    A seeded pseudo-random pick at every choice: cheap, and good at finding
    races that many orders expose.
``DrawChooser(data)``
    Each pick is a Hypothesis draw from ``st.data()``. A failing interleaving
    then shrinks like any other input, towards "the oldest ready callback"
    at every point, so the schedule left over names the few choices that
    matter. :func:`search_schedules` runs this under a profile, and
    :func:`search_inputs_and_schedules` draws the scenario's input with it.
``ReplayChooser(schedule)``
    Follows a recorded :class:`Schedule` and takes the oldest callback once it
    runs out. :func:`replay` reruns a failure from its printed form.
:func:`explore`
    Every schedule up to a *delay bound*, cheapest first: picking the
    callback at position ``i`` of the ready list costs ``i`` delays (the
    oldest costs nothing), and a schedule's cost is the sum. This is the
    delay-bounded scheduling of Emmi, Qadeer and Rakamarić (POPL 2011), a
    cousin of the preemption bounding of Microsoft's CHESS: most concurrency
    bugs need only a few deviations from the default order, and bounding the
    deviations keeps the search finite and complete for that bound. Since
    schedules are run in order of cost, the first failure found is one of
    least cost.

A schedule records only the choices where at least two callbacks were ready,
and prints as ``"3:1,17:2"``: at the fourth such choice take the second ready
callback, at the eighteenth the third, everywhere else the oldest. The
default order prints as ``"fifo"``. The string is all it takes to reproduce a
failure: ``replay(scenario, "3:1,17:2")``.

What a schedule does not capture: anything outside the loop's ready queue.
Timers due at the same virtual instant fire in the order they were set, and
real socket I/O arrives when the kernel delivers it, so scenarios explored
here should talk through in-memory objects (or the in-memory transport) and
the virtual clock. Two runs of such a scenario under one schedule go through
the same callbacks in the same order.
"""

from __future__ import annotations

import asyncio
import heapq
import random
import re
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeAlias, TypeVar

from hypothesis import strategies as st

from proofs.harness.vtime import VirtualTimeLoop, then_release_chooser
from proofs.profiles import Profile
from proofs.search import search

T = TypeVar("T")

#: A scenario: build fresh objects, run concurrent work, and return ``None``
#: when every property held or a short complaint when one did not.
Scenario: TypeAlias = Callable[[], Coroutine[Any, Any, str | None]]


class ScheduleError(ValueError):
    """A schedule string is malformed, or does not fit the scenario it drives."""


# Schedules -------------------------------------------------------------------

_ITEM = re.compile(r"^(\d+):(\d+)$")


@dataclass(frozen=True)
class Schedule:
    """The picks made at each choice among two or more ready callbacks.

    ``choices[k]`` is the index, in arrival order, of the callback run at the
    k-th such choice. Trailing oldest-first picks carry no information and are
    dropped, so equal schedules print equally.

    >>> s = Schedule((0, 0, 1, 0, 2, 0))
    >>> str(s), s.cost
    ('2:1,4:2', 3)
    >>> Schedule.parse("2:1,4:2") == s
    True
    >>> str(Schedule.parse("fifo"))
    'fifo'
    """

    choices: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        trimmed = list(self.choices)
        while trimmed and trimmed[-1] == 0:
            trimmed.pop()
        if any(c < 0 for c in trimmed):
            raise ScheduleError(f"a schedule picks indices >= 0, not {trimmed}")
        object.__setattr__(self, "choices", tuple(trimmed))

    @property
    def cost(self) -> int:
        """Delays taken: the sum of the picked indices (0 for ``fifo``)."""
        return sum(self.choices)

    def __str__(self) -> str:
        picks = [f"{k}:{c}" for k, c in enumerate(self.choices) if c]
        return ",".join(picks) if picks else "fifo"

    @classmethod
    def parse(cls, text: str) -> Schedule:
        """Read the printed form back (``"fifo"`` or ``"k:i,k:i,..."``)."""
        text = text.strip()
        if text in ("fifo", ""):
            return cls()
        picks: dict[int, int] = {}
        for item in text.split(","):
            m = _ITEM.match(item.strip())
            if not m:
                raise ScheduleError(
                    f"schedule {text!r}: {item!r} is not 'choice:index' "
                    "(two non-negative integers, as in '3:1')"
                )
            k, c = int(m.group(1)), int(m.group(2))
            if k in picks:
                raise ScheduleError(f"schedule {text!r} sets choice {k} twice")
            picks[k] = c
        length = max(picks) + 1
        return cls(tuple(picks.get(k, 0) for k in range(length)))


# Choosers --------------------------------------------------------------------


@dataclass
class Chooser:
    """Base of the choosers: records every pick it makes as a schedule.

    A chooser is called by :class:`~proofs.harness.vtime.VirtualTimeLoop` with
    the held ready callbacks (two or more, oldest first) and returns the index
    of the one to run. Subclasses implement :meth:`pick`.
    """

    #: ``(picked index, callbacks ready)`` for every choice made so far.
    decisions: list[tuple[int, int]] = field(default_factory=list, init=False)

    def __call__(self, ready: Sequence[Any]) -> int:
        n = len(ready)
        index = self.pick(len(self.decisions), n)
        self.decisions.append((index, n))
        return index

    def pick(self, position: int, ready: int) -> int:
        """The index, below ``ready``, to run at the ``position``-th choice."""
        raise NotImplementedError

    @property
    def schedule(self) -> Schedule:
        return Schedule(tuple(c for c, _ in self.decisions))


class FifoChooser(Chooser):
    """Always the oldest ready callback: the standard loop's order."""

    def pick(self, position: int, ready: int) -> int:
        return 0


class RandomChooser(Chooser):
    """A uniformly random ready callback, from a seeded generator."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        self.random = random.Random(seed)

    def pick(self, position: int, ready: int) -> int:
        return self.random.randrange(ready)


class DrawChooser(Chooser):
    """Each pick drawn by Hypothesis from ``st.data()``; shrinks towards 0."""

    def __init__(self, data: st.DataObject) -> None:
        super().__init__()
        self.data = data

    def pick(self, position: int, ready: int) -> int:
        return self.data.draw(st.integers(0, ready - 1))


class ReplayChooser(Chooser):
    """Follows ``schedule``, then the oldest callback once it runs out.

    A pick the scenario cannot honour (index 3 with two callbacks ready)
    raises :class:`ScheduleError`: the schedule belongs to another scenario.
    """

    def __init__(self, schedule: Schedule | str) -> None:
        super().__init__()
        self.script = (
            Schedule.parse(schedule) if isinstance(schedule, str) else schedule
        )

    def pick(self, position: int, ready: int) -> int:
        choices = self.script.choices
        index = choices[position] if position < len(choices) else 0
        if index >= ready:
            raise ScheduleError(
                f"schedule {self.script} picks callback {index} at choice "
                f"{position}, where only {ready} are ready: it was recorded on "
                "another scenario"
            )
        return index


# Running ---------------------------------------------------------------------


def run_scheduled(
    main: Callable[[], Coroutine[Any, Any, T]], chooser: Chooser, *, start: float = 0
) -> T:
    """Run ``main()`` on a fresh virtual-time loop whose order ``chooser`` picks.

    Lighter than :func:`proofs.harness.vtime.run` (no signal handling, no
    executor shutdown), since explorations run thousands of short scenarios:
    tasks still pending when ``main`` returns are cancelled and awaited, first
    in, first out, and the loop is closed.
    """
    loop = VirtualTimeLoop(start=start, chooser=chooser)
    try:
        return loop.run_until_complete(then_release_chooser(main()))
    finally:
        loop.chooser = None
        try:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(
                    asyncio.gather(*pending, return_exceptions=True)
                )
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()


@dataclass(frozen=True)
class Failure:
    """A schedule under which a scenario complained, and the complaint."""

    schedule: Schedule
    complaint: str

    def __str__(self) -> str:
        return f"{self.complaint} (schedule {self.schedule})"


def replay(scenario: Scenario, schedule: Schedule | str) -> str | None:
    """Run ``scenario`` under ``schedule``: its complaint, or ``None``."""
    return run_scheduled(scenario, ReplayChooser(schedule))


@dataclass(frozen=True)
class Exploration:
    """What :func:`explore` ran and what it found."""

    #: Schedules run.
    schedules: int
    #: The delay bound.
    bound: int
    #: Whether every schedule within the bound was run (False when the
    #: ``max_schedules`` cap, or a failure, stopped the search first).
    complete: bool
    #: The largest number of choices one run made.
    longest: int
    failure: Failure | None = None

    def searched(self) -> dict[str, int | bool]:
        """How much was explored, for a verdict's ``searched``."""
        return {
            "schedules": self.schedules,
            "delay_bound": self.bound,
            "complete_for_bound": self.complete,
            "choices_per_run_max": self.longest,
        }


def explore(
    scenario: Scenario, *, bound: int, max_schedules: int = 10_000
) -> Exploration:
    """Run ``scenario`` under every schedule of cost at most ``bound``.

    Schedules run cheapest first (ties in a fixed order), and the search stops
    at the first complaint, which is therefore one of least cost. The
    ``max_schedules`` cap keeps a large bound from running away; the result
    says whether the bound was covered.
    """
    frontier: list[tuple[int, tuple[int, ...]]] = [(0, ())]
    runs = 0
    longest = 0
    while frontier:
        if runs >= max_schedules:
            return Exploration(runs, bound, False, longest)
        cost, prefix = heapq.heappop(frontier)
        chooser = ReplayChooser(Schedule(prefix))
        complaint = run_scheduled(scenario, chooser)
        runs += 1
        decisions = chooser.decisions
        longest = max(longest, len(decisions))
        if complaint is not None:
            return Exploration(
                runs, bound, False, longest, Failure(chooser.schedule, complaint)
            )

        # Branch only after the forced prefix, so each schedule is run once.
        spent = cost
        for k in range(len(prefix), len(decisions)):
            _, ready = decisions[k]
            for alternative in range(1, min(ready, bound - spent + 1)):
                taken = tuple(c for c, _ in decisions[:k])
                heapq.heappush(frontier, (spent + alternative, (*taken, alternative)))
    return Exploration(runs, bound, True, longest)


@dataclass(frozen=True)
class ScheduleSearch(Generic[T]):
    """What :func:`search_schedules` or :func:`random_schedules` found.

    ``example`` is the scenario's input when the search drew one
    (:func:`search_schedules` with ``inputs``), shrunk with the schedule.
    """

    #: Scenario runs, shrinking included.
    runs: int
    failure: Failure | None = None
    example: T | None = None


def search_schedules(
    scenario: Scenario, profile: Profile, **overrides: Any
) -> ScheduleSearch[None]:
    """Let Hypothesis draw the schedules, ``profile.examples`` of them.

    On a failure the schedule returned is the shrunk one, replayed once more
    by Hypothesis at the end of its search.
    """
    found = search_inputs_and_schedules(
        lambda _: scenario, st.none(), profile, **overrides
    )
    return ScheduleSearch(found.runs, found.failure)


def search_inputs_and_schedules(
    build: Callable[[T], Scenario],
    inputs: st.SearchStrategy[T],
    profile: Profile,
    **overrides: Any,
) -> ScheduleSearch[T]:
    """Draw an input and a schedule together; shrink both on a failure.

    ``build(example)`` gives the scenario for one drawn input (what each
    client does, say); Hypothesis then draws that scenario's schedule. The
    result's ``example`` and ``failure.schedule`` replay the failure:
    ``replay(build(example), failure.schedule)``.
    """
    last: list[tuple[T, Failure]] = []

    def prop(case: tuple[T, st.DataObject]) -> str | None:
        example, data = case
        chooser = DrawChooser(data)
        complaint = run_scheduled(build(example), chooser)
        if complaint is not None:
            last.append((example, Failure(chooser.schedule, complaint)))
        return complaint

    found = search(st.tuples(inputs, st.data()), prop, profile, **overrides)
    if not found.found:
        return ScheduleSearch(found.calls)
    example, failure = last[-1]
    return ScheduleSearch(found.calls, failure, example)


def random_schedules(scenario: Scenario, seeds: Sequence[int]) -> ScheduleSearch[None]:
    """Run ``scenario`` once per seed under :class:`RandomChooser`."""
    for n, seed in enumerate(seeds, start=1):
        chooser = RandomChooser(seed)
        complaint = run_scheduled(scenario, chooser)
        if complaint is not None:
            return ScheduleSearch(n, Failure(chooser.schedule, complaint))
    return ScheduleSearch(len(seeds))
