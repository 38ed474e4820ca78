"""Load balancers: which instance serves the next call.

Every strategy keeps the source's call shape, ``await
strategy.select_instance(instances, request=None)``, which returns one healthy
member of ``instances`` or ``None`` when there is none. ``select`` is the same
decision without the coroutine. No policy here looks at ``request``.

What each policy picks (the specification, :mod:`spec.balancing`, says the same
in pure functions, and the conformance obligations check that the two agree
pick for pick):

``RoundRobinStrategy``
    The instances in key order (service name, instance id), one after another.
    The position is the last instance served, not a counter: when the set
    changes, the next pick is the first instance after the last one served, so
    nobody is skipped or served twice because someone else joined or left.
``WeightedRoundRobinStrategy``
    nginx's smooth weighted round robin: every pick, each instance adds its
    weight to its current weight, the largest current weight wins (ties: the
    earlier key), and the winner subtracts the total weight. An instance that
    stays keeps its current weight across changes to the set; one that joins
    starts at 0; one that leaves is forgotten.
``LeastConnectionsStrategy``
    The fewest in-flight calls per unit of weight; ties go to the instance
    picked longest ago (never-picked ones first), then to the earlier key.
``PowerOfTwoChoicesStrategy``
    Two distinct instances drawn uniformly from an explicit random source; the
    one with fewer in-flight calls per weight wins, the first drawn on a tie.
``AdaptiveLoadBalancer``
    The source's weighted score made precise, see the class.

In-flight calls are counted by the caller, through a small protocol every
strategy offers (strategies that do not need the counts keep them anyway, for
observability)::

    instance = await balancer.select_instance(instances)
    async with balancer.track(instance) as lease:
        reply = await send(instance)

``track`` acquires on entry and releases exactly once on exit, however the
block ends: a normal exit is a success, an exception an error, and a
cancellation is neither (the call is abandoned, not judged). ``acquire``
returns the :class:`Lease` directly for callers that cannot use a ``with``
block; :meth:`Lease.release` is idempotent, so releasing twice is harmless.

Weights come from ``endpoint.metadata["weight"]``, as in the source. A weight
must be an ``int`` from 1 to :data:`MAX_WEIGHT`; zero, negative, non-integer
(``2.0`` included) and boolean weights are refused with
:class:`~impl.errors.InvalidWeightError` naming the instance, and so is a
missing weight when the strategy was built with ``default_weight=None``.

Selection cost, with ``n`` healthy instances and the same snapshot object as
the previous pick (the registry hands out an immutable snapshot that stays the
same object until the set changes, so "nothing changed" is one identity
test; a tuple counts as immutable too):

=====================  ========================================================
round robin            O(1)
smooth weighted        O(log n) plus O(log n) per certificate failure of the
                       kinetic tournament (see below); measured failures per
                       pick stay below one
least connections      O(log n) amortized, heap with lazy deletion (C heapq)
power of two choices   O(1)
adaptive               O(log n) amortized, heap with lazy deletion
=====================  ========================================================

A plain ``list`` may be changed in place, so it is compared element by
element with the previous one (O(n), at C speed) before the cached order is
trusted. When the set does change, the strategy rebuilds its order in
O(n log n) and carries over what survives (position, current weights, last
picks).

Why a kinetic tournament for smooth weighted round robin
--------------------------------------------------------
nginx adds every weight on every pick, which is O(n) per pick. Between picks
nothing happens to an instance but that addition, so after ``t`` picks its
current weight is the line ``w * t + b``, and only the winner's intercept
``b`` moves (down by the total weight). The winner is the highest line at the
next ``t``. Instances of equal weight have parallel lines whose order never
changes with time, so each weight class is an ordinary heap keyed by
intercept, and only the class leaders compete. The leaders sit at the leaves
of a *kinetic tournament* (Basch, Guibas and Hershberger): each internal node
holds the higher of its two children's lines and the first pick at which the
other line overtakes it (its *certificate*); the earliest certificate of each
subtree is kept at its root, so finding failures and repairing them is a walk
down and up the tree. A pick repairs the failed certificates, reads the root,
lowers the winner's intercept and recomputes the path above its class. The
arithmetic is on Python integers and the sequence is nginx's exactly.

What is left open: the worst-case number of certificate failures per pick.
Amortized bounds for kinetic tournaments with one update per step give
O(log n) failures per pick in the worst case, hence O(log^2 n) per pick; on
the weight mixes the benchmark measures, failures stay below one per pick.
"""

from __future__ import annotations

import asyncio
import heapq
import random
from abc import ABC, abstractmethod
from bisect import bisect_right
from collections import deque
from collections.abc import Hashable, MutableSequence, Sequence
from itertools import pairwise
from types import TracebackType
from typing import Any

from impl.endpoints import ServiceInstance
from impl.errors import ConfigurationError, InvalidWeightError

#: The largest weight accepted. It keeps least-connections comparisons exact
#: with floats: two ratios c/w of integers with c < 2**31 and w <= 10**6 that
#: differ, differ by more than their rounding error.
MAX_WEIGHT = 1_000_000

#: In-flight calls per instance beyond which a new acquisition is refused
#: (the float comparison argument above needs c < 2**31).
MAX_IN_FLIGHT = 2**31 - 1

_MISSING = object()
_INF = float("inf")

Key = tuple[str, str]


def instance_weight(instance: ServiceInstance, default: int | None = 1) -> int:
    """The balancing weight of ``instance``, validated.

    >>> from impl.endpoints import ServiceEndpoint
    >>> heavy = ServiceInstance("users", "u1", ServiceEndpoint("10.0.0.1", 80,
    ...     metadata={"weight": 5}))
    >>> instance_weight(heavy)
    5
    >>> bad = ServiceInstance("users", "u2", ServiceEndpoint("10.0.0.2", 80,
    ...     metadata={"weight": 0}))
    >>> instance_weight(bad)
    Traceback (most recent call last):
    ...
    impl.errors.InvalidWeightError: instance users/u2: endpoint.metadata["weight"] ...
    """
    weight = instance.endpoint.metadata.get("weight", _MISSING)
    if weight is _MISSING:
        if default is None:
            raise _weight_error(
                instance,
                None,
                "is missing and this strategy has no default weight; give every "
                "instance an integer weight from 1 to "
                f"{MAX_WEIGHT} or build the strategy with default_weight=1",
            )
        return default
    if type(weight) is not int:
        raise _weight_error(
            instance,
            weight,
            f"must be an integer, got {type(weight).__name__} {weight!r}; "
            f"use a whole number from 1 to {MAX_WEIGHT}",
        )
    if not 1 <= weight <= MAX_WEIGHT:
        raise _weight_error(
            instance,
            weight,
            f"must be from 1 to {MAX_WEIGHT}, got {weight}; an instance that "
            "should take no traffic is marked unhealthy or deregistered, "
            "not weighted zero",
        )
    return weight


def _weight_error(
    instance: ServiceInstance, weight: object, problem: str
) -> InvalidWeightError:
    return InvalidWeightError(
        f"instance {instance.service_name}/{instance.instance_id}: "
        f'endpoint.metadata["weight"] {problem}',
        service_name=instance.service_name,
        instance_id=instance.instance_id,
        weight=weight,
    )


def _check_default_weight(default_weight: int | None) -> int | None:
    if default_weight is not None and (
        type(default_weight) is not int or not 1 <= default_weight <= MAX_WEIGHT
    ):
        raise ConfigurationError(
            f"default_weight must be None or an integer from 1 to {MAX_WEIGHT}, "
            f"got {default_weight!r}"
        )
    return default_weight


# Leases -----------------------------------------------------------------------


class Lease:
    """One in-flight call on one instance, from acquisition to release.

    Made by :meth:`LoadBalancingStrategy.acquire` (or entered through
    :meth:`LoadBalancingStrategy.track`). The first :meth:`release` ends the
    call and reports it to the strategy; later ones do nothing. Used as a
    context manager (``with`` or ``async with``), the lease releases itself on
    exit: success without an exception, error with one, and no verdict when the
    block was cancelled.
    """

    __slots__ = ("_released", "_started", "_strategy", "instance")

    def __init__(
        self,
        strategy: LoadBalancingStrategy,
        instance: ServiceInstance,
        started: float | None,
    ) -> None:
        self._strategy = strategy
        self._started = started
        self._released = False
        self.instance = instance

    @property
    def released(self) -> bool:
        return self._released

    def release(
        self, *, error: bool | None = False, elapsed: float | None = None
    ) -> bool:
        """End the call; ``True`` the first time, ``False`` ever after.

        ``error`` is the call's verdict: ``False`` success, ``True`` failure,
        ``None`` none (cancelled or abandoned; nothing is recorded about it).
        ``elapsed`` is the call's duration in seconds; by default it is read
        from the running loop's clock when the lease was made in a loop.
        """
        if self._released:
            return False
        self._released = True
        if elapsed is None and self._started is not None and error is not None:
            try:
                elapsed = asyncio.get_running_loop().time() - self._started
            except RuntimeError:
                elapsed = None
        self._strategy._finish(self.instance, error, elapsed)
        return True

    def _exit(self, exc_type: type[BaseException] | None) -> None:
        if exc_type is None:
            self.release(error=False)
        elif issubclass(exc_type, asyncio.CancelledError):
            self.release(error=None)
        else:
            self.release(error=True)

    def __enter__(self) -> Lease:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._exit(exc_type)

    async def __aenter__(self) -> Lease:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._exit(exc_type)

    def __repr__(self) -> str:
        state = "released" if self._released else "open"
        who = f"{self.instance.service_name}/{self.instance.instance_id}"
        return f"<Lease {who} {state}>"


class _Tracked:
    """``track(instance)``: acquires when entered, so an unentered one holds nothing."""

    __slots__ = ("_instance", "_lease", "_strategy")

    def __init__(self, strategy: LoadBalancingStrategy, instance: ServiceInstance):
        self._strategy = strategy
        self._instance = instance
        self._lease: Lease | None = None

    def _enter(self) -> Lease:
        if self._lease is not None:
            raise ConfigurationError(
                "a track() context was entered twice; call track() once per call"
            )
        self._lease = self._strategy.acquire(self._instance)
        return self._lease

    def __enter__(self) -> Lease:
        return self._enter()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._lease is not None
        self._lease._exit(exc_type)

    async def __aenter__(self) -> Lease:
        return self._enter()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._lease is not None
        self._lease._exit(exc_type)


# Pools: the instance set a strategy last saw, in key order -------------------


class _Pool:
    """The healthy instances of one snapshot, sorted by key, plus policy state."""

    __slots__ = ("copy", "index", "instances", "keys", "name", "snapshot", "state")

    def __init__(
        self,
        name: Hashable,
        snapshot: Sequence[ServiceInstance],
        instances: list[ServiceInstance],
    ) -> None:
        self.name = name
        self.snapshot = snapshot
        mutable = isinstance(snapshot, MutableSequence) or not isinstance(
            snapshot, Sequence
        )
        #: For a sequence that may change in place, what it held when seen.
        self.copy: list[ServiceInstance] | None = list(snapshot) if mutable else None
        self.instances = instances
        self.keys: list[Key] = [i.key for i in instances]
        self.index: dict[Key, int] = {k: n for n, k in enumerate(self.keys)}
        self.state: Any = None

    def holds(self, seq: Sequence[ServiceInstance]) -> bool:
        if seq is not self.snapshot:
            return False
        if self.copy is None:
            return True
        return (seq if type(seq) is list else list(seq)) == self.copy


class LoadBalancingStrategy(ABC):
    """A policy choosing one healthy instance per call.

    Subclasses implement :meth:`_build` (policy state for a new pool, carrying
    over what survives from the previous one) and :meth:`_pick`. The base class
    finds the pool for a sequence of instances, keeps the in-flight counts and
    hands out leases. State is kept per service, so one strategy may serve
    several services. Not thread-safe: use a strategy from one event loop.
    """

    def __init__(self) -> None:
        self._pools: dict[Hashable, _Pool] = {}
        self._by_snapshot: dict[int, _Pool] = {}
        self._last: _Pool | None = None
        self._in_flight: dict[Key, int] = {}

    # Selection -----------------------------------------------------------------

    async def select_instance(
        self, instances: Sequence[ServiceInstance], request: Any = None
    ) -> ServiceInstance | None:
        """A healthy member of ``instances``, or ``None`` when there is none."""
        return self.select(instances, request)

    def select(
        self, instances: Sequence[ServiceInstance], request: Any = None
    ) -> ServiceInstance | None:
        """The same decision as :meth:`select_instance`, without the coroutine."""
        pool = self._last
        if pool is None or not pool.holds(instances):
            pool = self._by_snapshot.get(id(instances))
            if pool is None or not pool.holds(instances):
                pool = self._refresh(instances)
                if pool is None:
                    return None
            self._last = pool
        return self._pick(pool)

    def _refresh(self, instances: Sequence[ServiceInstance]) -> _Pool | None:
        healthy = sorted(
            (i for i in instances if i.status == "healthy"), key=lambda i: i.key
        )
        if not healthy:
            return None
        for a, b in pairwise(healthy):
            if a.key == b.key:
                raise ConfigurationError(
                    f"instance {a.service_name}/{a.instance_id} appears twice in "
                    "the instances handed to the balancer; each (service, id) "
                    "may appear once"
                )
        names = sorted({i.service_name for i in healthy})
        name: Hashable = names[0] if len(names) == 1 else tuple(names)
        pool = _Pool(name, instances, healthy)
        old = self._pools.get(name)
        pool.state = self._build(pool, old)
        if old is not None:
            self._by_snapshot.pop(id(old.snapshot), None)
        self._pools[name] = pool
        self._by_snapshot[id(instances)] = pool
        return pool

    @abstractmethod
    def _build(self, pool: _Pool, old: _Pool | None) -> Any:
        """Policy state for ``pool``, carrying over what survives from ``old``."""

    @abstractmethod
    def _pick(self, pool: _Pool) -> ServiceInstance:
        """The next instance of the (non-empty) pool."""

    # In-flight calls -------------------------------------------------------------

    def acquire(self, instance: ServiceInstance) -> Lease:
        """Count one call on ``instance`` as in flight until the lease is released."""
        key = instance.key
        count = self._in_flight.get(key, 0)
        if count >= MAX_IN_FLIGHT:
            raise ConfigurationError(
                f"instance {instance.service_name}/{instance.instance_id} has "
                f"{count} calls in flight, the most a balancer counts"
            )
        self._in_flight[key] = count + 1
        self._load_changed(key)
        try:
            started: float | None = asyncio.get_running_loop().time()
        except RuntimeError:
            started = None
        return Lease(self, instance, started)

    def track(self, instance: ServiceInstance) -> _Tracked:
        """``async with strategy.track(instance) as lease``: one counted call."""
        return _Tracked(self, instance)

    def in_flight(self, instance: ServiceInstance) -> int:
        """Calls on ``instance`` acquired and not yet released."""
        return self._in_flight.get(instance.key, 0)

    def _finish(
        self, instance: ServiceInstance, error: bool | None, elapsed: float | None
    ) -> None:
        key = instance.key
        count = self._in_flight[key] - 1
        if count:
            self._in_flight[key] = count
        else:
            del self._in_flight[key]
        self._load_changed(key)
        if error is not None:
            self._observe(instance, error, elapsed)

    def _load_changed(self, key: Key) -> None:
        """Hook: the in-flight count of ``key`` changed."""
        return None

    def _observe(
        self, instance: ServiceInstance, error: bool, elapsed: float | None
    ) -> None:
        """Hook: a tracked call on ``instance`` ended with a verdict."""
        return None

    def _pools_holding(self, key: Key) -> list[_Pool]:
        return [p for p in self._pools.values() if key in p.index]


# Round robin ------------------------------------------------------------------


class _RoundRobinState:
    __slots__ = ("before", "next", "served")

    def __init__(self, next_index: int, before: Key | None) -> None:
        #: Index of the instance the next pick serves.
        self.next = next_index
        #: Whether this pool has served a pick yet.
        self.served = False
        #: The last instance served before this pool was built, if any.
        self.before = before

    def last_served(self, keys: list[Key]) -> Key | None:
        if self.served:
            return keys[self.next - 1]  # index -1 when next wrapped to 0
        return self.before


class RoundRobinStrategy(LoadBalancingStrategy):
    """The instances in key order, one after another; O(1) per pick.

    The position is the last instance served: after a change to the set, the
    next pick is the first instance whose key follows it (wrapping around).

    >>> from impl.endpoints import ServiceEndpoint
    >>> pool = tuple(ServiceInstance("users", f"u{i}",
    ...     ServiceEndpoint("127.0.0.1", 8000 + i)) for i in range(3))
    >>> rr = RoundRobinStrategy()
    >>> [rr.select(pool).instance_id for _ in range(4)]
    ['u0', 'u1', 'u2', 'u0']
    >>> [rr.select(pool[1:]).instance_id for _ in range(2)]  # u0 left
    ['u1', 'u2']
    """

    def _build(self, pool: _Pool, old: _Pool | None) -> _RoundRobinState:
        last = None if old is None else old.state.last_served(old.keys)
        if last is None:
            return _RoundRobinState(0, None)
        return _RoundRobinState(bisect_right(pool.keys, last) % len(pool.keys), last)

    def _pick(self, pool: _Pool) -> ServiceInstance:
        state: _RoundRobinState = pool.state
        i = state.next
        state.next = i + 1 if i + 1 < len(pool.instances) else 0
        state.served = True
        return pool.instances[i]


# Smooth weighted round robin ----------------------------------------------------


class _KineticState:
    """nginx's current weights as lines ``w * t + b``, leaders in a tournament.

    ``t`` counts picks since the pool was built. Instance ``i`` has weight
    ``weight[i]``; its intercept lives in its weight class's heap as
    ``(-b, i)``, so the class leader is the heap's top: the largest intercept,
    then the smallest index. Class ``c``'s leader line is
    ``(cls_w[c], cls_b[c], cls_i[c])``. The tournament is a complete binary
    tree over the classes in flat arrays: node ``v`` has children ``2v`` and
    ``2v + 1``, leaves start at ``size``; ``win[v]`` is the class winning at
    ``v``, ``fail[v]`` the first pick at which the loser overtakes it, and
    ``due[v]`` the earliest ``fail`` in ``v``'s subtree.
    """

    __slots__ = (
        "cls_b",
        "cls_i",
        "cls_of",
        "cls_w",
        "due",
        "events",
        "fail",
        "heaps",
        "size",
        "t",
        "total",
        "weight",
        "win",
    )

    def __init__(self, weights: list[int], current: list[int]) -> None:
        self.weight = weights
        self.total = sum(weights)
        self.t = 0
        self.events = 0
        classes: dict[int, int] = {}
        self.heaps: list[list[tuple[int, int]]] = []
        self.cls_w: list[int] = []
        self.cls_of: list[int] = []
        for i, w in enumerate(weights):
            c = classes.get(w)
            if c is None:
                c = classes[w] = len(self.heaps)
                self.heaps.append([])
                self.cls_w.append(w)
            self.cls_of.append(c)
            self.heaps[c].append((-current[i], i))
        self.cls_b: list[int] = []
        self.cls_i: list[int] = []
        for heap in self.heaps:
            heapq.heapify(heap)
            self.cls_b.append(-heap[0][0])
            self.cls_i.append(heap[0][1])
        g = len(self.heaps)
        size = 1
        while size < g:
            size *= 2
        self.size = size
        self.win = [-1] * (2 * size)
        self.fail: list[float] = [_INF] * (2 * size)
        self.due: list[float] = [_INF] * (2 * size)
        for c in range(g):
            self.win[size + c] = c
        for v in range(size - 1, 0, -1):
            self._settle(v, 1)

    def current_weights(self) -> list[int]:
        """Every instance's current weight, in index order."""
        out = [0] * len(self.weight)
        t = self.t
        for heap in self.heaps:
            for neg_b, i in heap:
                out[i] = self.weight[i] * t - neg_b
        return out

    def _settle(self, v: int, now: int) -> None:
        """Recompute node ``v``'s winner and certificate for pick ``now``."""
        win = self.win
        a = win[2 * v]
        b = win[2 * v + 1]
        if b < 0 or a < 0:
            win[v] = a if b < 0 else b
            fail: float = _INF
        else:
            cls_w, cls_b, cls_i = self.cls_w, self.cls_b, self.cls_i
            wa, ba, ia = cls_w[a], cls_b[a], cls_i[a]
            wb, bb, ib = cls_w[b], cls_b[b], cls_i[b]
            va = wa * now + ba
            vb = wb * now + bb
            if va < vb or (va == vb and ib < ia):
                a, wa, ba, ia, b, wb, bb, ib = b, wb, bb, ib, a, wa, ba, ia
            win[v] = a
            # b loses at ``now``; it overtakes a once (wb - wa) * T exceeds
            # ba - bb (or reaches it, when b wins ties).
            faster = wb - wa
            if faster <= 0:
                fail = _INF
            elif ib < ia:
                fail = -((bb - ba) // faster)
            else:
                fail = (ba - bb) // faster + 1
        self.fail[v] = fail
        due = self.due
        below = min(due[2 * v], due[2 * v + 1])
        due[v] = fail if fail < below else below

    def pick(self) -> int:
        now = self.t + 1
        due = self.due
        size = self.size
        while due[1] <= now:
            self.events += 1
            v = 1
            while v < size:
                if due[2 * v] <= now:
                    v = 2 * v
                elif due[2 * v + 1] <= now:
                    v = 2 * v + 1
                else:
                    break
            while v:
                self._settle(v, now)
                v //= 2
        c = self.win[1]
        heap = self.heaps[c]
        neg_b, i = heap[0]
        heapq.heapreplace(heap, (neg_b + self.total, i))
        top_b, top_i = heap[0]
        self.cls_b[c] = -top_b
        self.cls_i[c] = top_i
        self.t = now
        v = (size + c) // 2
        while v:
            self._settle(v, now + 1)
            v //= 2
        return i


class WeightedRoundRobinStrategy(LoadBalancingStrategy):
    """nginx's smooth weighted round robin, exactly, at O(log n) per pick.

    ``default_weight`` is the weight of an instance whose metadata has none
    (1, as in the source); ``None`` makes a weight required.

    >>> from impl.endpoints import ServiceEndpoint
    >>> pool = tuple(ServiceInstance("web", name, ServiceEndpoint("127.0.0.1",
    ...     8000 + n, metadata={"weight": w}))
    ...     for n, (name, w) in enumerate([("a", 5), ("b", 1), ("c", 1)]))
    >>> wrr = WeightedRoundRobinStrategy()
    >>> "".join(wrr.select(pool).instance_id for _ in range(7))
    'aabacaa'
    """

    def __init__(self, *, default_weight: int | None = 1) -> None:
        super().__init__()
        self.default_weight = _check_default_weight(default_weight)

    def _build(self, pool: _Pool, old: _Pool | None) -> _KineticState:
        weights = [instance_weight(i, self.default_weight) for i in pool.instances]
        carried: dict[Key, int] = {}
        if old is not None:
            carried = dict(zip(old.keys, old.state.current_weights(), strict=True))
        current = [carried.get(k, 0) for k in pool.keys]
        return _KineticState(weights, current)

    def _pick(self, pool: _Pool) -> ServiceInstance:
        state: _KineticState = pool.state
        return pool.instances[state.pick()]

    def current_weights(
        self, instances: Sequence[ServiceInstance]
    ) -> dict[str, int] | None:
        """Current weights by instance id for the pool of ``instances``, if known."""
        names = {i.service_name for i in instances}
        if len(names) != 1:
            return None
        pool = self._pools.get(names.pop())
        if pool is None:
            return None
        return {
            k[1]: cw
            for k, cw in zip(pool.keys, pool.state.current_weights(), strict=True)
        }


# Least connections -------------------------------------------------------------


class _HeapState:
    """A heap of ``(key..., index)`` entries with lazy deletion.

    ``entry[i]`` is instance ``i``'s live entry; any other entry for ``i`` in
    the heap is stale and skipped when it surfaces. ``last[i]`` is the pick
    number that last chose ``i`` (-1: never), ``picks`` the pool's count.
    """

    __slots__ = ("entry", "heap", "last", "picks", "weight")

    def __init__(self, weight: list[int], last: list[int], picks: int) -> None:
        self.weight = weight
        self.last = last
        self.picks = picks
        self.entry: list[tuple[Any, ...]] = []
        self.heap: list[tuple[Any, ...]] = []

    def fill(self, entries: list[tuple[Any, ...]]) -> None:
        self.entry = entries
        self.heap = list(entries)
        heapq.heapify(self.heap)

    def update(self, i: int, entry: tuple[Any, ...]) -> None:
        self.entry[i] = entry
        heapq.heappush(self.heap, entry)
        if len(self.heap) > 2 * len(self.entry) + 64:
            self.heap = list(self.entry)
            heapq.heapify(self.heap)

    def top(self) -> int:
        heap, entry = self.heap, self.entry
        while True:
            first = heap[0]
            i: int = first[-1]
            if entry[i] is first:
                return i
            heapq.heappop(heap)


def _carry_last(pool: _Pool, old: _Pool | None) -> tuple[list[int], int]:
    if old is None:
        return [-1] * len(pool.keys), 0
    before = dict(zip(old.keys, old.state.last, strict=True))
    return [before.get(k, -1) for k in pool.keys], old.state.picks


class LeastConnectionsStrategy(LoadBalancingStrategy):
    """The fewest in-flight calls per unit of weight.

    In-flight calls are those acquired through :meth:`acquire` or
    :meth:`track` and not yet released. Ties go to the instance picked longest
    ago (never-picked ones first), then to the earlier key, so calls that
    finish before the next one starts still rotate. Weights as for
    :class:`WeightedRoundRobinStrategy`. O(log n) amortized per pick and per
    acquire or release.

    >>> from impl.endpoints import ServiceEndpoint
    >>> pool = tuple(ServiceInstance("users", f"u{i}",
    ...     ServiceEndpoint("127.0.0.1", 8000 + i)) for i in range(3))
    >>> lc = LeastConnectionsStrategy()
    >>> busy = lc.acquire(lc.select(pool))          # u0 now has a call
    >>> [lc.select(pool).instance_id for _ in range(3)]
    ['u1', 'u2', 'u1']
    """

    def __init__(self, *, default_weight: int | None = 1) -> None:
        super().__init__()
        self.default_weight = _check_default_weight(default_weight)

    def _entry(self, state: _HeapState, key: Key, i: int) -> tuple[Any, ...]:
        return (self._in_flight.get(key, 0) / state.weight[i], state.last[i], i)

    def _build(self, pool: _Pool, old: _Pool | None) -> _HeapState:
        weights = [instance_weight(i, self.default_weight) for i in pool.instances]
        last, picks = _carry_last(pool, old)
        state = _HeapState(weights, last, picks)
        state.fill([self._entry(state, k, i) for i, k in enumerate(pool.keys)])
        return state

    def _pick(self, pool: _Pool) -> ServiceInstance:
        state: _HeapState = pool.state
        i = state.top()
        state.picks += 1
        state.last[i] = state.picks
        state.update(i, (state.entry[i][0], state.picks, i))
        return pool.instances[i]

    def _load_changed(self, key: Key) -> None:
        for pool in self._pools_holding(key):
            i = pool.index[key]
            pool.state.update(i, self._entry(pool.state, key, i))


# Power of two choices ----------------------------------------------------------


class _Weights:
    __slots__ = ("weight",)

    def __init__(self, weight: list[int]) -> None:
        self.weight = weight


class PowerOfTwoChoicesStrategy(LoadBalancingStrategy):
    """Two distinct instances at random; the less loaded per weight wins.

    ``rng`` is the random source (a :class:`random.Random`; a fresh unseeded
    one by default). Each pick with ``n >= 2`` instances in key order draws
    ``first = rng.randrange(n)`` and ``r = rng.randrange(n - 1)``; the second
    candidate is ``r``, or ``r + 1`` when ``r >= first``. The second wins only
    with strictly fewer in-flight calls per weight. O(1) per pick.
    """

    def __init__(
        self, rng: random.Random | None = None, *, default_weight: int | None = 1
    ) -> None:
        super().__init__()
        self.rng = random.Random() if rng is None else rng
        self.default_weight = _check_default_weight(default_weight)

    def _build(self, pool: _Pool, old: _Pool | None) -> _Weights:
        return _Weights(
            [instance_weight(i, self.default_weight) for i in pool.instances]
        )

    def _pick(self, pool: _Pool) -> ServiceInstance:
        instances = pool.instances
        n = len(instances)
        if n == 1:
            return instances[0]
        first = self.rng.randrange(n)
        second = self.rng.randrange(n - 1)
        if second >= first:
            second += 1
        a, b = instances[first], instances[second]
        weight = pool.state.weight
        in_flight = self._in_flight
        if in_flight.get(b.key, 0) * weight[first] < (
            in_flight.get(a.key, 0) * weight[second]
        ):
            return b
        return a


# Adaptive ------------------------------------------------------------------------


class _Window:
    """The last ``size`` observations of one instance, with running sums."""

    __slots__ = ("error_count", "errors", "time_sum", "times")

    def __init__(self, size: int) -> None:
        self.times: deque[int] = deque(maxlen=size)
        self.time_sum = 0
        self.errors: deque[bool] = deque(maxlen=size)
        self.error_count = 0

    def add_time(self, micros: int) -> None:
        times = self.times
        if len(times) == times.maxlen:
            self.time_sum -= times[0]
        times.append(micros)
        self.time_sum += micros

    def add_outcome(self, error: bool) -> None:
        errors = self.errors
        if len(errors) == errors.maxlen:
            self.error_count -= errors[0]
        errors.append(error)
        self.error_count += error


def microseconds(seconds: float) -> int:
    """A duration in seconds as whole microseconds (round half to even)."""
    if not seconds >= 0:
        raise ConfigurationError(
            f"a response time must be a non-negative number of seconds, got {seconds!r}"
        )
    return round(seconds * 1_000_000)


class AdaptiveLoadBalancer(LoadBalancingStrategy):
    """The highest score of recent response time, error rate and load.

    What it measures, per instance: the last ``window_size`` response times
    (whole microseconds) and the last ``window_size`` outcomes (error or not),
    each window sliding by one per observation, and the calls in flight now.
    How it scores, as IEEE doubles in this order::

        time  = 1.0 if no times else 1.0 / (1.0 + sum / (count * 1_000_000))
        error = 1.0 if no outcomes else 1.0 - errors / count
        load  = 1.0 / (1.0 + in_flight)
        score = 0.4 * time + 0.3 * error + 0.3 * load

    The highest score wins; ties go to the instance picked longest ago
    (never-picked ones first), then to the earlier key. The source scored load
    from ``instance.load``, which nothing updates; here it is the in-flight
    count the strategy keeps. A tracked call records both its duration and its
    outcome when it ends (a cancelled one records nothing);
    :meth:`record_response_time` and :meth:`record_error` record calls made
    without :meth:`track`. O(log n) amortized per pick and per observation.
    """

    def __init__(self, window_size: int = 100) -> None:
        super().__init__()
        if type(window_size) is not int or window_size < 1:
            raise ConfigurationError(
                f"window_size must be a positive integer, got {window_size!r}"
            )
        self.window_size = window_size
        self._windows: dict[Key, _Window] = {}

    def score(self, instance: ServiceInstance) -> float:
        """The instance's current score (higher is better)."""
        return self._score(instance.key)

    def _score(self, key: Key) -> float:
        window = self._windows.get(key)
        if window is None or not window.times:
            time = 1.0
        else:
            time = 1.0 / (1.0 + window.time_sum / (len(window.times) * 1_000_000))
        if window is None or not window.errors:
            error = 1.0
        else:
            error = 1.0 - window.error_count / len(window.errors)
        load = 1.0 / (1.0 + self._in_flight.get(key, 0))
        return 0.4 * time + 0.3 * error + 0.3 * load

    def _build(self, pool: _Pool, old: _Pool | None) -> _HeapState:
        last, picks = _carry_last(pool, old)
        state = _HeapState([], last, picks)
        state.fill([(-self._score(k), last[i], i) for i, k in enumerate(pool.keys)])
        return state

    def _pick(self, pool: _Pool) -> ServiceInstance:
        state: _HeapState = pool.state
        i = state.top()
        state.picks += 1
        state.last[i] = state.picks
        state.update(i, (state.entry[i][0], state.picks, i))
        return pool.instances[i]

    def _load_changed(self, key: Key) -> None:
        pools = self._pools_holding(key)
        if not pools:
            return
        score = -self._score(key)
        for pool in pools:
            i = pool.index[key]
            pool.state.update(i, (score, pool.state.last[i], i))

    def _window(self, key: Key) -> _Window:
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = _Window(self.window_size)
        return window

    def _resolve(self, instance: ServiceInstance | str) -> Key:
        if isinstance(instance, ServiceInstance):
            return instance.key
        matches = {
            k for pool in self._pools.values() for k in pool.keys if k[1] == instance
        }
        if len(matches) != 1:
            problem = "is not among" if not matches else "names several of"
            raise ConfigurationError(
                f"instance id {instance!r} {problem} the instances this balancer "
                "has seen; pass the ServiceInstance itself"
            )
        return matches.pop()

    def record_response_time(
        self, instance: ServiceInstance | str, response_time: float
    ) -> None:
        """Record one call's duration in seconds (an instance or its id)."""
        key = self._resolve(instance)
        self._window(key).add_time(microseconds(response_time))
        self._load_changed(key)

    def record_error(self, instance: ServiceInstance | str, is_error: bool) -> None:
        """Record one call's outcome (an instance or its id)."""
        key = self._resolve(instance)
        self._window(key).add_outcome(bool(is_error))
        self._load_changed(key)

    def _observe(
        self, instance: ServiceInstance, error: bool, elapsed: float | None
    ) -> None:
        window = self._window(instance.key)
        if elapsed is not None:
            window.add_time(microseconds(elapsed))
        window.add_outcome(error)
        self._load_changed(instance.key)


__all__ = [
    "MAX_IN_FLIGHT",
    "MAX_WEIGHT",
    "AdaptiveLoadBalancer",
    "Lease",
    "LeastConnectionsStrategy",
    "LoadBalancingStrategy",
    "PowerOfTwoChoicesStrategy",
    "RoundRobinStrategy",
    "WeightedRoundRobinStrategy",
    "instance_weight",
    "microseconds",
]
