"""Unit tests of the balancers: picks, weights, leases and snapshots."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from impl.balancing import (
    MAX_WEIGHT,
    AdaptiveLoadBalancer,
    LeastConnectionsStrategy,
    LoadBalancingStrategy,
    PowerOfTwoChoicesStrategy,
    RoundRobinStrategy,
    WeightedRoundRobinStrategy,
)
from impl.endpoints import ServiceEndpoint, ServiceInstance
from impl.errors import ConfigurationError, InvalidWeightError, MicroserviceError
from proofs.harness.vtime import run

ALL = (
    RoundRobinStrategy,
    WeightedRoundRobinStrategy,
    LeastConnectionsStrategy,
    PowerOfTwoChoicesStrategy,
    AdaptiveLoadBalancer,
)


def inst(
    name: str, weight: Any = None, *, service: str = "users", status: str = "healthy"
) -> ServiceInstance:
    metadata = {} if weight is None else {"weight": weight}
    port = 8000 + sum(map(ord, name)) % 1000
    return ServiceInstance(
        service, name, ServiceEndpoint("127.0.0.1", port, metadata=metadata), status
    )


def ids(strategy: LoadBalancingStrategy, pool: Any, k: int) -> list[str]:
    picks = [strategy.select(pool) for _ in range(k)]
    return [p.instance_id for p in picks if p is not None]


# Selection ----------------------------------------------------------------------


@pytest.mark.parametrize("make", ALL)
def test_empty_or_all_unhealthy_gives_none(make: Any) -> None:
    strategy = make()
    assert strategy.select(()) is None
    assert strategy.select([inst("a", status="unhealthy")]) is None
    assert run(strategy.select_instance([])) is None


@pytest.mark.parametrize("make", ALL)
def test_never_returns_an_unhealthy_instance(make: Any) -> None:
    strategy = make()
    pool = [inst(n, status="unhealthy" if n in "bd" else "healthy") for n in "abcde"]
    assert set(ids(strategy, pool, 50)) <= {"a", "c", "e"}


@pytest.mark.parametrize("make", ALL)
def test_a_duplicated_instance_is_refused(make: Any) -> None:
    with pytest.raises(ConfigurationError, match="users/a appears twice"):
        make().select([inst("a"), inst("b"), inst("a")])


def test_round_robin_rotates_in_key_order_whatever_the_input_order() -> None:
    rr = RoundRobinStrategy()
    assert ids(rr, [inst("c"), inst("a"), inst("b")], 4) == ["a", "b", "c", "a"]


def test_round_robin_keeps_its_position_when_the_set_changes() -> None:
    rr = RoundRobinStrategy()
    abc = (inst("a"), inst("b"), inst("c"))
    assert ids(rr, abc, 2) == ["a", "b"]
    # b leaves: the next is the first key after b, c.
    assert ids(rr, (abc[0], abc[2]), 1) == ["c"]
    # b' joins after c: the next after c wraps to a, then b' follows.
    grown = (*abc, inst("bb"))
    assert ids(rr, grown, 4) == ["a", "b", "bb", "c"]


def test_round_robin_serves_a_shared_balancer_per_service() -> None:
    rr = RoundRobinStrategy()
    users = (inst("a"), inst("b"))
    orders = (inst("x", service="orders"), inst("y", service="orders"))
    got = [rr.select(pool).instance_id for pool in (users, orders) * 3]  # type: ignore[union-attr]
    assert got == ["a", "x", "b", "y", "a", "x"]


def test_weighted_round_robin_is_nginx_smooth_sequence() -> None:
    wrr = WeightedRoundRobinStrategy()
    pool = (inst("a", 5), inst("b", 1), inst("c", 1))
    assert "".join(ids(wrr, pool, 14)) == "aabacaa" * 2
    assert wrr.current_weights(pool) == {"a": 0, "b": 0, "c": 0}


def test_weighted_round_robin_keeps_current_weights_of_survivors() -> None:
    wrr = WeightedRoundRobinStrategy()
    pool = (inst("a", 5), inst("b", 1), inst("c", 1))
    ids(wrr, pool, 3)
    assert wrr.current_weights(pool) == {"a": 1, "b": -4, "c": 3}
    smaller = (pool[0], pool[2])
    assert ids(wrr, smaller, 1) == ["a"]  # a: 1 + 5 = 6 beats c: 3 + 1 = 4
    assert wrr.current_weights(smaller) == {"a": 0, "c": 4}


def test_weighted_round_robin_matches_naive_nginx_on_random_weights() -> None:
    rng = random.Random(7)
    for _ in range(50):
        weights = [rng.randint(1, 30) for _ in range(rng.randint(1, 9))]
        pool = tuple(inst(f"p{i}", w) for i, w in enumerate(weights))
        wrr = WeightedRoundRobinStrategy()
        current = [0] * len(weights)
        for _ in range(2 * sum(weights)):
            raised = [c + w for c, w in zip(current, weights, strict=True)]
            best = raised.index(max(raised))
            raised[best] -= sum(weights)
            current = raised
            picked = wrr.select(pool)
            assert picked is not None
            assert picked.instance_id == f"p{best}"


def test_least_connections_prefers_fewest_calls_per_weight() -> None:
    lc = LeastConnectionsStrategy()
    pool = (inst("a", 1), inst("b", 3))
    held = [lc.acquire(pool[0]), lc.acquire(pool[1]), lc.acquire(pool[1])]
    # a: 1/1, b: 2/3 -> b
    assert ids(lc, pool, 1) == ["b"]
    held.append(lc.acquire(pool[1]))
    # a: 1/1, b: 3/3 -> tie; a was never picked, b was: a
    assert ids(lc, pool, 1) == ["a"]
    for lease in held:
        lease.release()
    assert lc.in_flight(pool[0]) == lc.in_flight(pool[1]) == 0


def test_least_connections_rotates_when_calls_finish_before_the_next() -> None:
    lc = LeastConnectionsStrategy()
    pool = tuple(inst(n) for n in "abc")
    got = []
    for _ in range(6):
        picked = lc.select(pool)
        assert picked is not None
        with lc.track(picked):
            got.append(picked.instance_id)
    assert got == list("abcabc")


def test_power_of_two_choices_uses_its_random_source() -> None:
    pool = tuple(inst(n) for n in "abcd")
    a = PowerOfTwoChoicesStrategy(random.Random(3))
    b = PowerOfTwoChoicesStrategy(random.Random(3))
    assert ids(a, pool, 30) == ids(b, pool, 30)


def test_power_of_two_choices_takes_the_less_loaded_candidate() -> None:
    pool = (inst("a"), inst("b"))
    p2c = PowerOfTwoChoicesStrategy(random.Random(0))
    lease = p2c.acquire(pool[0])
    # With two instances both are always drawn: b is less loaded every time.
    assert ids(p2c, pool, 10) == ["b"] * 10
    lease.release()


def test_adaptive_prefers_fast_and_healthy_instances() -> None:
    ada = AdaptiveLoadBalancer(window_size=3)
    pool = (inst("a"), inst("b"))
    assert ids(ada, pool, 2) == ["a", "b"]  # equal scores: rotate
    ada.record_response_time(pool[0], 0.5)
    ada.record_response_time("b", 0.01)
    assert ids(ada, pool, 3) == ["b"] * 3
    for _ in range(3):
        ada.record_error("b", True)
    assert ids(ada, pool, 1) == ["a"]
    assert ada.score(pool[1]) < ada.score(pool[0])


def test_adaptive_window_keeps_exactly_the_last_observations() -> None:
    ada = AdaptiveLoadBalancer(window_size=2)
    a = inst("a")
    ada.select((a,))
    for seconds in (10.0, 0.0, 0.0):
        ada.record_response_time(a, seconds)
    # Only the two zeros remain: the time score is 1.
    assert ada.score(a) == pytest.approx(1.0)


def test_adaptive_refuses_an_unknown_or_ambiguous_id() -> None:
    ada = AdaptiveLoadBalancer()
    with pytest.raises(ConfigurationError, match="pass the ServiceInstance"):
        ada.record_error("nobody", True)
    ada.select((inst("a"),))
    ada.select((inst("a", service="orders"),))
    with pytest.raises(ConfigurationError, match="names several"):
        ada.record_error("a", True)
    with pytest.raises(ConfigurationError):
        AdaptiveLoadBalancer(window_size=0)
    with pytest.raises(ConfigurationError, match="non-negative"):
        ada.record_response_time(inst("a"), -1.0)


# Weights ------------------------------------------------------------------------

WEIGHTED = (
    WeightedRoundRobinStrategy,
    LeastConnectionsStrategy,
    PowerOfTwoChoicesStrategy,
)


@pytest.mark.parametrize("make", WEIGHTED)
@pytest.mark.parametrize(
    "weight", [0, -3, 2.0, 1.5, "2", True, {"n": 2}, MAX_WEIGHT + 1]
)
def test_an_unusable_weight_is_refused_naming_the_instance(
    make: Any, weight: Any
) -> None:
    pool = (inst("good", 2), inst("bad", weight))
    with pytest.raises(InvalidWeightError, match=r"users/bad") as info:
        make().select(pool)
    assert info.value.instance_id == "bad"
    assert info.value.weight == weight
    assert isinstance(info.value, MicroserviceError)


@pytest.mark.parametrize("make", WEIGHTED)
def test_a_missing_weight_defaults_to_one_unless_required(make: Any) -> None:
    pool = (inst("a"), inst("b", 2))
    assert make().select(pool) is not None
    with pytest.raises(InvalidWeightError, match=r"users/a.*missing"):
        make(default_weight=None).select(pool)
    with pytest.raises(ConfigurationError, match="default_weight"):
        make(default_weight=0)


# Leases ---------------------------------------------------------------------------


@pytest.mark.parametrize("make", ALL)
def test_track_releases_once_on_success_error_timeout_and_cancellation(
    make: Any,
) -> None:
    strategy = make()
    a = inst("a")

    async def scenario() -> None:
        async with strategy.track(a) as lease:
            assert strategy.in_flight(a) == 1
        assert lease.released and strategy.in_flight(a) == 0

        with pytest.raises(RuntimeError):
            async with strategy.track(a):
                raise RuntimeError("boom")
        assert strategy.in_flight(a) == 0

        async def slow() -> None:
            async with strategy.track(a):
                await asyncio.sleep(60)

        with pytest.raises(TimeoutError):
            await asyncio.wait_for(slow(), timeout=1)
        assert strategy.in_flight(a) == 0

        task = asyncio.create_task(slow())
        await asyncio.sleep(0)
        assert strategy.in_flight(a) == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert strategy.in_flight(a) == 0

    run(scenario())


def test_a_lease_releases_exactly_once() -> None:
    lc = LeastConnectionsStrategy()
    a = inst("a")
    lease = lc.acquire(a)
    other = lc.acquire(a)
    assert lease.release() is True
    assert lease.release(error=True) is False
    assert lc.in_flight(a) == 1
    with other:
        pass
    assert lc.in_flight(a) == 0
    assert "released" in repr(lease)


def test_a_track_context_cannot_be_entered_twice() -> None:
    lc = LeastConnectionsStrategy()
    tracked = lc.track(inst("a"))
    with tracked, pytest.raises(ConfigurationError, match="entered twice"):
        tracked.__enter__()


def test_tracked_calls_feed_the_adaptive_score_in_virtual_time() -> None:
    ada = AdaptiveLoadBalancer()
    fast, slow = inst("fast"), inst("slow")
    pool = (fast, slow)

    async def call(instance: ServiceInstance, seconds: float) -> None:
        async with ada.track(instance):
            await asyncio.sleep(seconds)

    async def scenario() -> None:
        await call(fast, 0.01)
        await call(slow, 2.0)
        task = asyncio.create_task(call(slow, 100))
        await asyncio.sleep(0)
        task.cancel()  # records nothing
        with pytest.raises(asyncio.CancelledError):
            await task

    run(scenario())
    assert ada.score(fast) == pytest.approx(0.4 / 1.01 + 0.6)
    assert ada.score(slow) == pytest.approx(0.4 / 3.0 + 0.6)
    assert ids(ada, pool, 2) == ["fast", "fast"]


# Snapshots -------------------------------------------------------------------------


@pytest.mark.parametrize("make", ALL)
def test_a_list_changed_in_place_is_noticed(make: Any) -> None:
    strategy = make()
    pool = [inst("a"), inst("b")]
    strategy.select(pool)
    pool[:] = [inst("c")]
    assert ids(strategy, pool, 3) == ["c", "c", "c"]


def test_a_snapshot_object_is_trusted_without_rescanning() -> None:
    class Counting(tuple):  # type: ignore[type-arg]
        scans = 0

        def __iter__(self) -> Any:
            Counting.scans += 1
            return super().__iter__()

    rr = RoundRobinStrategy()
    snapshot = Counting((inst("a"), inst("b")))
    ids(rr, snapshot, 10)
    assert Counting.scans == 1
