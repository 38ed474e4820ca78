"""The bulkhead and the half-open breaker under controlled interleavings."""

from __future__ import annotations

from typing import Any

import pytest

from impl import breaker, resilience
from proofs.harness.scheduler import FifoChooser, explore, replay, run_scheduled
from proofs.obligation import all_mutants
from proofs.obligations.breaker import PROBE_DELAY_BOUND, PROBE_RACES, _probe_scenario
from proofs.obligations.resilience import (
    BULKHEAD_DELAY_BOUND,
    BULKHEAD_RACES,
    BulkheadPlan,
    _bulkhead_scenario,
)

RACY = (
    "impl-bulkhead-check-then-acquire-across-await",
    "impl-bulkhead-releases-twice-on-timeout",
)


def _variant(ident: str) -> Any:
    (found,) = [m for m in all_mutants() if m.id == ident]
    return found.build()


@pytest.mark.parametrize("plan", BULKHEAD_RACES)
def test_real_bulkhead_holds_under_every_bounded_schedule(plan: BulkheadPlan) -> None:
    race = explore(_bulkhead_scenario(resilience, plan), bound=BULKHEAD_DELAY_BOUND)
    assert race.failure is None
    assert race.complete and race.schedules > 1


@pytest.mark.parametrize("ident", RACY)
def test_racy_variant_passes_in_default_order_and_fails_in_another(
    ident: str,
) -> None:
    q = _variant(ident)
    plan = BULKHEAD_RACES[0]
    assert run_scheduled(_bulkhead_scenario(q, plan), FifoChooser()) is None
    race = explore(_bulkhead_scenario(q, plan), bound=BULKHEAD_DELAY_BOUND)
    assert race.failure is not None
    assert str(race.failure.schedule) != "fifo"
    again = replay(_bulkhead_scenario(q, plan), str(race.failure.schedule))
    assert again == race.failure.complaint


@pytest.mark.parametrize("case", PROBE_RACES)
def test_half_open_budget_holds_under_every_bounded_schedule(
    case: tuple[int, tuple[tuple[str, int], ...]],
) -> None:
    probes, actions = case
    race = explore(
        lambda: _probe_scenario(breaker, probes, list(actions)),
        bound=PROBE_DELAY_BOUND,
    )
    assert race.failure is None
    assert race.complete and race.schedules > 1


def test_half_open_admitting_everyone_is_refuted_with_a_replayable_schedule() -> None:
    q = _variant("impl-half-open-admits-everyone")
    probes, actions = PROBE_RACES[0]
    race = explore(
        lambda: _probe_scenario(q, probes, list(actions)), bound=PROBE_DELAY_BOUND
    )
    assert race.failure is not None
    assert "concurrent probes" in race.failure.complaint
    again = replay(
        lambda: _probe_scenario(q, probes, list(actions)), str(race.failure.schedule)
    )
    assert again == race.failure.complaint
