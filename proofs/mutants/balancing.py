"""Faulty variants of the balancers: the source's defects and plausible slips.

Variants of :mod:`impl.balancing` reproduce what the source's code sketch
does (weighted round robin that decrements by one and keeps the weights of
instances that left, least connections on a ``load`` field nothing updates)
and mistakes a rewrite could make (round robin that restarts whenever the set
is rebuilt, a lease that is released twice on cancellation). Variants of
:mod:`spec.balancing` break one step of a policy's arithmetic, or swap the
studied policy for another, so that each T2.2 obligation is seen to depend on
what it claims to examine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from impl import balancing as impl
from impl.endpoints import ServiceInstance
from proofs.obligation import mutant
from spec import balancing as spec

IMPL = "impl.balancing"
SPEC = "spec.balancing"


# The implementation ----------------------------------------------------------------


class _SourceWeightedRoundRobin(impl.LoadBalancingStrategy):
    """The source's balancer: max current weight, minus one, reset at zero."""

    def __init__(self, *, default_weight: int | None = 1) -> None:
        super().__init__()
        self._current: dict[str, Any] = {}
        self._original: dict[str, Any] = {}

    def select(
        self, instances: Sequence[ServiceInstance], request: Any = None
    ) -> ServiceInstance | None:
        healthy = [i for i in instances if i.status == "healthy"]
        if not healthy:
            return None
        for i in healthy:
            if i.instance_id not in self._original:
                weight = i.endpoint.metadata.get("weight", 1)
                self._original[i.instance_id] = weight
                self._current[i.instance_id] = weight
        chosen = max(self._current, key=lambda k: self._current[k])
        self._current[chosen] -= 1
        if self._current[chosen] <= 0:
            self._current[chosen] = self._original[chosen]
        return next(i for i in healthy if i.instance_id == chosen)

    def _build(self, pool: Any, old: Any) -> Any:
        raise NotImplementedError

    def _pick(self, pool: Any) -> ServiceInstance:
        raise NotImplementedError


mutant(
    "source-wrr-decrement-by-one",
    defect="Weighted round robin as the source writes it: the largest current "
    "weight wins and drops by one, and is reset to its weight at zero. With "
    "weights 3 and 1 the light instance is never chosen; weights are not "
    "validated, and instances that left keep their weights.",
    subject=IMPL,
    WeightedRoundRobinStrategy=_SourceWeightedRoundRobin,
)


class _StaleSmoothWeighted(impl.LoadBalancingStrategy):
    """nginx's rule, but over every instance ever seen, left or not."""

    def __init__(self, *, default_weight: int | None = 1) -> None:
        super().__init__()
        self.default_weight = default_weight
        self._current: dict[str, int] = {}
        self._weight: dict[str, int] = {}

    def select(
        self, instances: Sequence[ServiceInstance], request: Any = None
    ) -> ServiceInstance | None:
        healthy = sorted(
            (i for i in instances if i.status == "healthy"), key=lambda i: i.key
        )
        if not healthy:
            return None
        for i in healthy:
            self._weight[i.instance_id] = impl.instance_weight(i, self.default_weight)
            self._current.setdefault(i.instance_id, 0)
        total = sum(self._weight.values())
        for key in self._current:
            self._current[key] += self._weight[key]
        chosen = max(sorted(self._current), key=lambda k: self._current[k])
        self._current[chosen] -= total
        return next(i for i in healthy if i.instance_id == chosen)

    def _build(self, pool: Any, old: Any) -> Any:
        raise NotImplementedError

    def _pick(self, pool: Any) -> ServiceInstance:
        raise NotImplementedError


mutant(
    "source-wrr-stale-weights",
    defect="Smooth weighted round robin that keeps the weights of instances "
    "that left the healthy set, as the source does, and fails (StopIteration) "
    "when one of them wins.",
    subject=IMPL,
    WeightedRoundRobinStrategy=_StaleSmoothWeighted,
)


class _LoadFieldLeastConnections(impl.LeastConnectionsStrategy):
    def select(
        self, instances: Sequence[ServiceInstance], request: Any = None
    ) -> ServiceInstance | None:
        healthy = [i for i in instances if i.status == "healthy"]
        return min(healthy, key=lambda i: i.load) if healthy else None


mutant(
    "lc-reads-load-field",
    defect="Least connections picks the smallest instance.load, a field "
    "nothing updates, as the source does: it always picks the first instance.",
    subject=IMPL,
    LeastConnectionsStrategy=_LoadFieldLeastConnections,
)


class _RestartingRoundRobin(impl.RoundRobinStrategy):
    def _build(self, pool: Any, old: Any) -> Any:
        return super()._build(pool, None)


mutant(
    "rr-restarts-when-rebuilt",
    defect="Round robin starts again at the first instance whenever the set "
    "of instances is rebuilt, so a change elsewhere makes the first instance "
    "serve twice in a row.",
    subject=IMPL,
    RoundRobinStrategy=_RestartingRoundRobin,
)


class _DoubleRelease(impl.Lease):
    __slots__ = ()

    def _exit(self, exc_type: type[BaseException] | None) -> None:
        if exc_type is not None and issubclass(exc_type, asyncio.CancelledError):
            self._strategy._finish(self.instance, None, None)
        super()._exit(exc_type)


class _CancelTwiceLeastConnections(impl.LeastConnectionsStrategy):
    def acquire(self, instance: ServiceInstance) -> impl.Lease:
        lease = super().acquire(instance)
        return _DoubleRelease(self, instance, lease._started)


mutant(
    "lc-releases-twice-on-cancel",
    defect="Least connections releases a cancelled call twice (once in its "
    "cancellation handler, once on the way out), so the count of another "
    "call on the instance is lost.",
    subject=IMPL,
    LeastConnectionsStrategy=_CancelTwiceLeastConnections,
)


class _BusierTwoChoices(impl.PowerOfTwoChoicesStrategy):
    def _pick(self, pool: Any) -> ServiceInstance:
        instances = pool.instances
        n = len(instances)
        if n == 1:
            return instances[0]  # type: ignore[no-any-return]
        first = self.rng.randrange(n)
        second = self.rng.randrange(n - 1)
        second += second >= first
        a, b = instances[first], instances[second]
        return b if self.in_flight(b) > self.in_flight(a) else a  # type: ignore[no-any-return]


mutant(
    "p2c-takes-the-busier",
    defect="Power of two choices keeps the busier of its two candidates and "
    "ignores weights.",
    subject=IMPL,
    PowerOfTwoChoicesStrategy=_BusierTwoChoices,
)


class _LoadFieldAdaptive(impl.AdaptiveLoadBalancer):
    def _score(self, key: Any) -> float:
        saved = self._in_flight
        self._in_flight = {}
        try:
            return super()._score(key)
        finally:
            self._in_flight = saved


mutant(
    "adaptive-scores-load-field",
    defect="The adaptive balancer scores load from instance.load, which "
    "nothing updates, as the source does, instead of the calls in flight.",
    subject=IMPL,
    AdaptiveLoadBalancer=_LoadFieldAdaptive,
)


# The specification -----------------------------------------------------------------


def _smooth_step_keeping_one(
    current: Sequence[Any], weights: Sequence[Any], ops: Any = spec.PYTHON
) -> tuple[Any, list[Any]]:
    winner, after = spec.smooth_step(current, weights, ops)
    return winner, [a + ops.ite(winner == i, 1, 0) for i, a in enumerate(after)]


mutant(
    "swrr-winner-keeps-a-unit",
    defect="The winner of a smooth weighted pick subtracts one less than the "
    "total weight.",
    subject=SPEC,
    smooth_step=_smooth_step_keeping_one,
)


def _smooth_step_smallest(
    current: Sequence[Any], weights: Sequence[Any], ops: Any = spec.PYTHON
) -> tuple[Any, list[Any]]:
    total = sum(weights[1:], weights[0])
    raised = [c + w for c, w in zip(current, weights, strict=True)]
    winner: Any = 0
    least = raised[0]
    for i in range(1, len(raised)):
        better = raised[i] < least
        winner = ops.ite(better, i, winner)
        least = ops.ite(better, raised[i], least)
    return winner, [r - ops.ite(winner == i, total, 0) for i, r in enumerate(raised)]


mutant(
    "swrr-picks-smallest",
    defect="Smooth weighted round robin gives the pick to the smallest current "
    "weight instead of the largest.",
    subject=SPEC,
    smooth_step=_smooth_step_smallest,
)


def _smooth_weighted_ties_to_later(
    state: Any, peers: Any, request: object = None
) -> tuple[Any, Any]:
    ring = spec.ordered(peers)
    if not ring:
        return None, state
    before = dict(state.current)
    raised = [before.get(p.key, 0) + p.weight for p in ring]
    winner = max(range(len(ring)), key=lambda i: (raised[i], i))
    raised[winner] -= sum(p.weight for p in ring)
    return ring[winner], spec.SmoothState(
        tuple((p.key, c) for p, c in zip(ring, raised, strict=True))
    )


mutant(
    "swrr-ties-to-later",
    defect="Equal current weights go to the later peer, not the earlier one as "
    "in nginx.",
    subject=SPEC,
    smooth_weighted=_smooth_weighted_ties_to_later,
)


@dataclass(frozen=True)
class _ChairmanState(spec.SmoothState):
    counts: tuple[tuple[str, int], ...] = ()
    picks: int = 0


def _chairman(state: Any, peers: Any, request: object = None) -> tuple[Any, Any]:
    """Tijdeman's chairman assignment rule, in place of nginx's."""
    ring = spec.ordered(peers)
    if not ring:
        return None, state
    n, total = len(ring), sum(p.weight for p in ring)
    counts = dict(getattr(state, "counts", ()))
    k = getattr(state, "picks", 0) + 1
    c = [counts.get(p.key, 0) for p in ring]
    if n == 1:
        chosen = 0
    else:
        # Eligible: k*w/W - c >= 1/(2n-2); earliest deadline (c + 1 - d)*W/w.
        eligible = [
            i
            for i, p in enumerate(ring)
            if (k * p.weight - c[i] * total) * (2 * n - 2) >= total
        ]
        chosen = min(
            eligible,
            key=lambda i: (
                ((c[i] + 1) * (2 * n - 2) - 1) * total / ring[i].weight,
                i,
            ),
        )
    c[chosen] += 1
    return ring[chosen], _ChairmanState(
        tuple((p.key, k * p.weight - c[i] * total) for i, p in enumerate(ring)),
        tuple((p.key, c[i]) for i, p in enumerate(ring)),
        k,
    )


mutant(
    "swrr-is-chairman-assignment",
    defect="The weighted policy is Tijdeman's chairman assignment rule, which "
    "does keep every peer within a pick of its share both ways, instead of "
    "nginx's smooth weighted round robin.",
    subject=SPEC,
    smooth_weighted=_chairman,
)


mutant(
    "rr-successor-skips-one",
    defect="Round robin advances by two places on the ring.",
    subject=SPEC,
    ring_successor=lambda index, n, ops=spec.PYTHON: ops.ite(
        index + 2 >= n, index + 2 - n, index + 2
    ),
)


def _round_robin_resuming_departed(
    state: Any, peers: Any, request: object = None
) -> tuple[Any, Any]:
    ring = spec.ordered(peers)
    if ring and state.last is not None and state.last not in {p.key for p in ring}:
        return spec.Peer(state.last), state
    return spec.round_robin(state, ring, request)


mutant(
    "rr-resumes-departed",
    defect="When the last peer served has left, round robin serves it again.",
    subject=SPEC,
    round_robin=_round_robin_resuming_departed,
)


def _least_loaded_busiest(
    in_flight: Sequence[Any],
    weights: Sequence[Any],
    last: Sequence[Any],
    ops: Any = spec.PYTHON,
) -> Any:
    return spec.least_loaded([-c for c in in_flight], weights, last, ops)


mutant(
    "lc-picks-busiest",
    defect="Least connections picks the most loaded peer per weight.",
    subject=SPEC,
    least_loaded=_least_loaded_busiest,
)


class _Alternation:
    def __init__(self) -> None:
        self.turn = 0

    def __call__(self, peers: Any, draw: int) -> Any:
        ring = spec.ordered(peers)
        if not ring:
            return None
        self.turn += 1
        return ring[self.turn % len(ring)]


mutant(
    "random-choice-alternates",
    defect="Random choice ignores its draw and alternates: round robin in "
    "disguise, with a bound the real random policy does not have.",
    subject=SPEC,
    random_choice=_Alternation(),
)


def _source_as_smooth(state: Any, peers: Any) -> tuple[str, Any]:
    if not isinstance(state, spec.SmoothState):
        state = spec.SmoothState()
    peer, state = spec.smooth_weighted(state, peers)
    return ("" if peer is None else peer.key), state


mutant(
    "source-wrr-corrected",
    defect="The source's weighted round robin is rendered as the smooth "
    "algorithm, so the suite would miss the starvation of the code as written.",
    subject=SPEC,
    source_weighted_round_robin=_source_as_smooth,
)
