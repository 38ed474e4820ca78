"""The kinetic tournament reproduces nginx's loop exactly, churn included.

These are the slow, exhaustive companions of the unit tests: long runs on
random weight mixes against a direct rendering of nginx's rule, while
instances join, leave and change weight.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from impl.balancing import WeightedRoundRobinStrategy
from impl.endpoints import ServiceEndpoint, ServiceInstance


def inst(i: int, weight: int) -> ServiceInstance:
    endpoint = ServiceEndpoint("127.0.0.1", 1024 + i, metadata={"weight": weight})
    return ServiceInstance("svc", f"i{i:04d}", endpoint)


def nginx_pick(current: dict[int, int], weights: dict[int, int]) -> int:
    """One pick of nginx's loop over peers in key order; updates ``current``."""
    best = None
    for key in sorted(weights):
        current[key] = current.get(key, 0) + weights[key]
        if best is None or current[key] > current[best]:
            best = key
    assert best is not None
    current[best] -= sum(weights.values())
    for gone in set(current) - set(weights):
        del current[gone]
    return best


MIXES: dict[str, Callable[[random.Random], int]] = {
    "equal": lambda r: 3,
    "few classes": lambda r: r.choice((1, 2, 5)),
    "small": lambda r: r.randint(1, 10),
    "wide": lambda r: r.randint(1, 1000),
    "skewed": lambda r: r.choice((1, 1, 1, 100)),
}


@pytest.mark.parametrize("mix", sorted(MIXES))
def test_static_sets_follow_nginx_for_two_periods(mix: str) -> None:
    rng = random.Random(mix)
    for _ in range(20):
        weights = {i: MIXES[mix](rng) for i in range(rng.randint(1, 40))}
        snapshot = tuple(inst(i, w) for i, w in weights.items())
        wrr, current = WeightedRoundRobinStrategy(), {}  # type: ignore[var-annotated]
        for _ in range(min(2 * sum(weights.values()), 3000)):
            expected = nginx_pick(current, weights)
            picked = wrr.select(snapshot)
            assert picked is not None and picked.instance_id == f"i{expected:04d}"
        assert wrr.current_weights(snapshot) == {
            f"i{k:04d}": v for k, v in current.items()
        }


@pytest.mark.parametrize("seed", range(8))
def test_churn_keeps_survivors_current_weights(seed: int) -> None:
    rng = random.Random(seed)
    weights = {i: rng.randint(1, 20) for i in range(rng.randint(1, 15))}
    wrr, current = WeightedRoundRobinStrategy(), {}  # type: ignore[var-annotated]
    snapshot = tuple(inst(i, w) for i, w in sorted(weights.items()))
    for _ in range(3000):
        if rng.random() < 0.03:
            key = rng.randint(0, 20)
            if key in weights and len(weights) > 1 and rng.random() < 0.5:
                del weights[key]
            else:
                weights[key] = rng.randint(1, 20)
            snapshot = tuple(inst(i, w) for i, w in sorted(weights.items()))
        expected = nginx_pick(current, weights)
        picked = wrr.select(snapshot)
        assert picked is not None and picked.instance_id == f"i{expected:04d}"


def test_certificate_failures_stay_rare_on_a_large_set() -> None:
    rng = random.Random(1)
    snapshot = tuple(inst(i, rng.randint(1, 10)) for i in range(5000))
    wrr = WeightedRoundRobinStrategy()
    for _ in range(20_000):
        wrr.select(snapshot)
    state = wrr._pools["svc"].state
    # A property of this workload, recorded so a regression in the tournament
    # (events repaired more often than they fail) shows up here.
    assert state.events <= state.t
