"""The scheduler: choosers, replayable schedules, bounded exhaustive exploration."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proofs.harness.scheduler import (
    Chooser,
    FifoChooser,
    RandomChooser,
    ReplayChooser,
    Schedule,
    ScheduleError,
    explore,
    random_schedules,
    replay,
    run_scheduled,
    search_schedules,
)
from proofs.harness.vtime import run
from proofs.profiles import Profile


def lost_update(locked: bool = False) -> Callable[[], Coroutine[Any, Any, str | None]]:
    """Two increments of a shared counter, each a read and a write across awaits.

    In the loop's default order the second increment only starts after the
    first has written, so the race needs the scheduler to run the second
    early: three deviations from the oldest-first order.
    """

    async def scenario() -> str | None:
        value = 0
        lock = asyncio.Lock()

        async def first() -> None:
            nonlocal value
            async with lock if locked else _nothing():
                seen = value
                await asyncio.sleep(0)
                value = seen + 1

        async def second() -> None:
            nonlocal value
            for _ in range(3):
                await asyncio.sleep(0)
            async with lock if locked else _nothing():
                seen = value
                await asyncio.sleep(0)
                value = seen + 1

        await asyncio.gather(first(), second())
        return None if value == 2 else f"lost update: counter is {value} after 2"

    return scenario


class _nothing:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


async def _trace(log: list[str]) -> None:
    async def worker(name: str, steps: int) -> None:
        for i in range(steps):
            log.append(f"{name}{i}@{asyncio.get_running_loop().time():g}")
            await asyncio.sleep(0 if i % 2 else 1)

    await asyncio.gather(worker("a", 4), worker("b", 3), worker("c", 2))


# Schedules -----------------------------------------------------------------------


@given(st.lists(st.integers(0, 50), max_size=30))
def test_schedule_strings_round_trip(choices: list[int]) -> None:
    schedule = Schedule(tuple(choices))
    assert Schedule.parse(str(schedule)) == schedule
    assert schedule.cost == sum(choices)


@pytest.mark.parametrize("text", ["1", "a:1", "1:2:3", "-1:2", "1:1,1:2"])
def test_malformed_schedules_are_refused(text: str) -> None:
    with pytest.raises(ScheduleError):
        Schedule.parse(text)


# Choosers ---------------------------------------------------------------------------


def test_fifo_chooser_keeps_the_standard_order() -> None:
    plain: list[str] = []
    run(_trace(plain))
    fifo: list[str] = []
    chooser = FifoChooser()
    run_scheduled(lambda: _trace(fifo), chooser)
    assert fifo == plain
    assert chooser.decisions and str(chooser.schedule) == "fifo"


def test_a_schedule_changes_the_order_but_not_the_clock() -> None:
    chooser = RandomChooser(7)
    shuffled: list[str] = []
    run_scheduled(lambda: _trace(shuffled), chooser)
    plain: list[str] = []
    run(_trace(plain))
    assert shuffled != plain
    assert sorted(shuffled) == sorted(plain)

    again: list[str] = []
    run_scheduled(lambda: _trace(again), ReplayChooser(str(chooser.schedule)))
    assert again == shuffled


def test_a_schedule_from_another_scenario_is_refused() -> None:
    with pytest.raises(ScheduleError, match="only 2 are ready"):
        replay(lost_update(), "0:5")


def test_a_chooser_that_raises_stops_the_run_and_cleans_up() -> None:
    class Gives_up(Chooser):
        def pick(self, position: int, ready: int) -> int:
            if position == 2:
                raise LookupError("no more choices")
            return ready - 1

    with pytest.raises(LookupError, match="no more choices"):
        run_scheduled(lost_update(), Gives_up())


def test_an_index_out_of_range_is_an_error() -> None:
    class TooFar(Chooser):
        def pick(self, position: int, ready: int) -> int:
            return ready

    with pytest.raises(IndexError, match="picked callback 2 of 2"):
        run_scheduled(lost_update(), TooFar())


# Finding the race -------------------------------------------------------------------


def test_default_order_hides_the_race() -> None:
    assert run_scheduled(lost_update(), FifoChooser()) is None


def test_exploration_finds_the_race_with_the_fewest_delays() -> None:
    for bound in (0, 1, 2):
        clean = explore(lost_update(), bound=bound)
        assert clean.failure is None and clean.complete
    found = explore(lost_update(), bound=5)
    assert found.failure is not None
    assert found.failure.schedule.cost == 3
    assert "lost update" in found.failure.complaint
    assert replay(lost_update(), str(found.failure.schedule)) == found.failure.complaint


def test_exploration_counts_grow_with_the_bound_and_respect_the_cap() -> None:
    counts = [explore(lost_update(locked=True), bound=b).schedules for b in range(4)]
    assert counts[0] == 1
    assert counts == sorted(counts) and counts[3] > counts[2]
    capped = explore(lost_update(locked=True), bound=3, max_schedules=5)
    assert capped.schedules == 5 and not capped.complete


def test_the_locked_version_survives_every_explored_schedule() -> None:
    result = explore(lost_update(locked=True), bound=4)
    assert result.failure is None and result.complete
    assert result.schedules > 50
    assert result.searched()["complete_for_bound"] is True


def test_hypothesis_draws_find_and_shrink_the_race(profile: Profile) -> None:
    found = search_schedules(lost_update(), profile)
    assert found.failure is not None
    schedule = found.failure.schedule
    assert replay(lost_update(), schedule) == found.failure.complaint
    # Shrinking leaves few deviations from the default order.
    assert schedule.cost <= 6, str(schedule)


def test_hypothesis_draws_pass_the_locked_version(profile: Profile) -> None:
    found = search_schedules(lost_update(locked=True), profile)
    assert found.failure is None and found.runs >= profile.examples // 2


def test_seeded_random_schedules_find_the_race_and_replay() -> None:
    found = random_schedules(lost_update(), range(200))
    assert found.failure is not None
    assert replay(lost_update(), found.failure.schedule) == found.failure.complaint
    assert random_schedules(lost_update(locked=True), range(50)).failure is None
