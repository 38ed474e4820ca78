"""The communication specification: latency, queueing, timeouts, queues, events."""

from __future__ import annotations

from fractions import Fraction as F

import pytest

from spec import communication as c
from spec.errors import CommunicationError


def test_chain_adds_and_fan_out_takes_the_slowest() -> None:
    fast, slow = c.Hop(F(1, 100), F(2, 100)), c.Hop(F(5, 100), F(1, 10), F(1, 100))
    assert c.latency(c.chain([fast, slow])) == F(19, 100)
    assert c.latency(c.fan_out([fast, slow])) == F(16, 100)
    # T3.1 as written agrees on the chain and overstates the fan-out.
    assert c.latency_as_written(c.chain([fast, slow])) == F(19, 100)
    assert c.latency_as_written(c.fan_out([fast, slow])) == F(19, 100)


def test_nested_plans_take_their_critical_path() -> None:
    a, b, d = c.Hop(1, 0), c.Hop(3, 0), c.Hop(2, 0)
    plan = c.Chain((c.Single(a), c.FanOut((c.Single(b), c.chain([a, a]))), c.Single(d)))
    assert c.latency(plan) == 1 + 3 + 2
    assert c.hops_of(plan) == (a, b, a, a, d)


@pytest.mark.parametrize(
    ("args", "word"),
    [
        ((-1, 0), "network_delay"),
        ((0, 0.5), "processing_time"),
        ((0, 0, True), "queue_time"),
    ],
)
def test_hops_refuse_bad_durations(args: tuple[object, ...], word: str) -> None:
    with pytest.raises(CommunicationError, match=word):
        c.Hop(*args)  # type: ignore[arg-type]


def test_mm1_matches_the_published_operating_point() -> None:
    m = c.mm1(8, 10)
    assert (m.mean_response_time, m.mean_wait) == (F(1, 2), F(2, 5))
    assert (m.mean_in_system, m.mean_in_queue) == (4, F(16, 5))


def test_mm1_refuses_an_unstable_queue() -> None:
    with pytest.raises(CommunicationError, match="unstable"):
        c.mm1(10, 10)


def test_fifo_waits_follow_lindley() -> None:
    # Three requests at t = 0, 1, 2 each needing 2 s: they wait 0, 1, 2.
    assert c.fifo_waits([0, 1, 2], [2, 2, 2]) == (0, 1, 2)
    with pytest.raises(CommunicationError, match="must not decrease"):
        c.fifo_waits([1, 0], [1, 1])
    with pytest.raises(CommunicationError, match="one of each"):
        c.fifo_waits([0], [])


def test_equal_timeouts_orphan_an_inner_call_and_propagated_ones_do_not() -> None:
    hops = [c.Hop(2, 1), c.Hop(2, 1), c.Hop(2, 1)]
    fixed = c.nested_timeline(hops, [5, 5, 5])
    assert c.orphaned_calls(fixed) == (1,)
    budgets = c.propagate_timeouts(5, hops)
    assert budgets == (5, 3, 1)
    assert c.orphaned_calls(c.nested_timeline(hops, budgets)) == ()


def test_an_expired_budget_cuts_the_chain() -> None:
    hops = [c.Hop(2, 1), c.Hop(2, 1), c.Hop(2, 1)]
    spans = c.nested_timeline(hops, list(c.propagate_timeouts(3, hops)))
    assert [s.index for s in spans] == [0, 1]
    assert not spans[0].succeeded
    assert c.orphaned_calls(spans) == ()


def test_send_returns_fresh_ids_and_dequeue_is_fifo() -> None:
    q = c.MessageQueue("orders")
    first, q = c.send(q, "shop", "billing", 1)
    _, q = c.dequeue(q)
    second, q = c.send(q, "shop", "billing", 2)
    assert first != second
    message, q = c.dequeue(q)
    assert message is not None and message.body == 2
    assert c.dequeue(q) == (None, q)


def test_delivery_formula_and_the_retry_process_agree() -> None:
    for p in (F(1, 10), F(1, 2)):
        for r in range(4):
            assert c.delivery_by_enumeration(p, r) == c.delivery_probability(p, r)
    assert c.delivery_probability(F(1, 10), 3) == F(9999, 10000)


def test_stream_numbers_partitions_by_appends_not_timestamps() -> None:
    stream = c.event_stream(1)
    late, stream = c.append(stream, "k", c.Event("e1", "t", None, 100))
    early, stream = c.append(stream, "k", c.Event("e2", "t", None, 99))
    assert (late.sequence, early.sequence) == (0, 1)
    records = c.read(stream, 0)
    assert c.sequences_ordered(records) and not c.timestamps_ordered(records)


def test_partition_for_is_stable_and_reading_a_missing_partition_fails() -> None:
    assert c.partition_for("user-1", 4) == c.partition_for("user-1", 4)
    with pytest.raises(CommunicationError, match="partition 3 does not exist"):
        c.read(c.event_stream(2), 3)


def test_events_refuse_mutable_payloads() -> None:
    with pytest.raises(CommunicationError, match="immutable"):
        c.Event("e1", "created", {"a": 1})
