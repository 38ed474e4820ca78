r"""Load-balancing policies as pure step functions (D2.3, D2.4, T2.2).

A policy (D2.3) maps its own state, the set of healthy instances and a request
to one member of that set and a new state. Here an instance is a
:class:`Peer`: a key (the instance id) and a positive integer weight. A set of
peers has no order of its own; every policy puts it in *key order* and breaks
ties by it, so the result depends on the set, not on how it was listed. None
of these policies looks at the request; the argument keeps the shape of D2.3.
Each function returns ``None`` (and the state unchanged) for an empty set.

The policies (D2.4):

:func:`round_robin`
    Serve the peers in key order, one after another. The state is the key of
    the last peer served, so when the set changes the next pick is the first
    key after it (wrapping around): a peer joining or leaving makes nobody
    else skip a turn or take two.
:func:`smooth_weighted`
    nginx's smooth weighted round robin. Each pick every peer adds its weight
    to its *current weight*, the largest current weight wins (ties: the
    earlier key) and the winner subtracts the total weight. A peer keeps its
    current weight while it stays in the set, starts from 0 when it joins and
    is forgotten when it leaves.
:func:`least_connections`
    The fewest in-flight calls per unit of weight, compared exactly
    (``c_i * w_j < c_j * w_i``). Ties go to the peer picked longest ago, peers
    never picked (or not since they last rejoined) first; then the earlier
    key. The in-flight counts are an input: they are the calls really under
    way, which only the caller knows.
:func:`power_of_two`
    Two distinct peers chosen by an explicit random source, the less loaded
    per weight wins, the first on a tie. The source is the pair of draws:
    ``first`` uniform in ``[0, n)``, ``r`` uniform in ``[0, n - 1)``; the second
    candidate is ``r``, or ``r + 1`` when ``r >= first``.
:func:`adaptive`
    The source's adaptive balancer made precise: what it measures, over which
    window and how it scores are in :func:`adaptive_score`.

Two more are here to be studied, not used: :func:`random_choice` (uniform
random, the policy T2.2 must exclude) and
:func:`source_weighted_round_robin` (the source's weighted round robin as
written, which starves light peers).

The arithmetic of round robin, smooth weighted round robin and least
connections is factored into *kernels* (:func:`ring_successor`,
:func:`smooth_step`, :func:`least_loaded`) written with arithmetic,
comparisons and the three operations of an :class:`Ops`. With
:data:`PYTHON` they compute on integers; given Z3's ``If``, ``And`` and ``Or``
the same functions build the solver terms that the T2.2 proofs reason about.

>>> ring = [Peer("a", 5), Peer("b", 1), Peer("c", 1)]
>>> state, picks = SmoothState(), []
>>> for _ in range(7):
...     peer, state = smooth_weighted(state, ring)
...     picks.append(peer.key)
>>> "".join(picks), state.current
('aabacaa', (('a', 0), ('b', 0), ('c', 0)))
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Generic, TypeVar

from spec.errors import SpecError

#: The largest weight a peer may have (the implementation's bound too).
MAX_WEIGHT = 1_000_000

N = TypeVar("N")


class BalancingError(SpecError):
    """A peer, state or random draw outside what the policies model."""


# Peers -------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Peer:
    """One healthy instance as a balancer sees it: a key and a weight."""

    key: str
    weight: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not self.key:
            raise BalancingError(
                f"a peer's key must be a non-empty string, got {self.key!r}"
            )
        if type(self.weight) is not int or not 1 <= self.weight <= MAX_WEIGHT:
            raise BalancingError(
                f"peer {self.key!r}: weight must be an integer from 1 to "
                f"{MAX_WEIGHT}, got {self.weight!r}"
            )


def ordered(peers: Iterable[Peer]) -> tuple[Peer, ...]:
    """The peers in key order; a key listed twice is refused."""
    ring = tuple(sorted(peers, key=lambda p: p.key))
    for a, b in pairwise(ring):
        if a.key == b.key:
            raise BalancingError(f"peer {a.key!r} is listed twice")
    return ring


# Kernels -----------------------------------------------------------------------


@dataclass(frozen=True)
class Ops(Generic[N]):
    """The operations a kernel needs beyond arithmetic and comparison."""

    #: ``ite(condition, then, otherwise)``
    ite: Callable[[Any, Any, Any], Any]
    #: conjunction of two conditions
    both: Callable[[Any, Any], Any]
    #: disjunction of two conditions
    either: Callable[[Any, Any], Any]


PYTHON: Ops[int] = Ops(
    ite=lambda c, a, b: a if c else b,
    both=lambda a, b: a and b,
    either=lambda a, b: a or b,
)


def ring_successor(index: Any, n: Any, ops: Ops[Any] = PYTHON) -> Any:
    """The index after ``index`` on a ring of ``n``."""
    return ops.ite(index + 1 == n, 0, index + 1)


def smooth_step(
    current: Sequence[Any], weights: Sequence[Any], ops: Ops[Any] = PYTHON
) -> tuple[Any, list[Any]]:
    """One pick of smooth weighted round robin on current weights in key order.

    Returns the winner's index and the new current weights: every peer adds
    its weight, the first of the largest wins and loses the total weight.
    """
    total = sum(weights[1:], weights[0])
    raised = [c + w for c, w in zip(current, weights, strict=True)]
    winner: Any = 0
    best = raised[0]
    for i in range(1, len(raised)):
        better = raised[i] > best
        winner = ops.ite(better, i, winner)
        best = ops.ite(better, raised[i], best)
    return winner, [r - ops.ite(winner == i, total, 0) for i, r in enumerate(raised)]


def least_loaded(
    in_flight: Sequence[Any],
    weights: Sequence[Any],
    last: Sequence[Any],
    ops: Ops[Any] = PYTHON,
) -> Any:
    """Index of the fewest calls per weight; ties: oldest last pick, then index."""

    def before(i: int, j: Any, cj: Any, wj: Any, lj: Any) -> Any:
        lighter = in_flight[i] * wj < cj * weights[i]
        level = in_flight[i] * wj == cj * weights[i]
        return ops.either(lighter, ops.both(level, last[i] < lj))

    winner: Any = 0
    c, w, lp = in_flight[0], weights[0], last[0]
    for i in range(1, len(in_flight)):
        better = before(i, winner, c, w, lp)
        winner = ops.ite(better, i, winner)
        c = ops.ite(better, in_flight[i], c)
        w = ops.ite(better, weights[i], w)
        lp = ops.ite(better, last[i], lp)
    return winner


# Round robin ---------------------------------------------------------------------


@dataclass(frozen=True)
class RoundRobinState:
    #: Key of the last peer served; ``None`` before the first pick.
    last: str | None = None


def round_robin(
    state: RoundRobinState, peers: Iterable[Peer], request: object = None
) -> tuple[Peer | None, RoundRobinState]:
    """The first peer after the last one served, in key order (wrapping).

    >>> s = RoundRobinState()
    >>> a, s = round_robin(s, [Peer("a"), Peer("b"), Peer("c")])
    >>> b, s = round_robin(s, [Peer("a"), Peer("b"), Peer("c")])
    >>> c, s = round_robin(s, [Peer("a"), Peer("c")])          # b left
    >>> a.key, b.key, c.key
    ('a', 'b', 'c')
    """
    ring = ordered(peers)
    if not ring:
        return None, state
    keys = [p.key for p in ring]
    if state.last is None:
        i = 0
    elif state.last in keys:
        i = ring_successor(keys.index(state.last), len(ring))
    else:
        i = bisect_right(keys, state.last) % len(ring)
    return ring[i], RoundRobinState(ring[i].key)


# Smooth weighted round robin --------------------------------------------------------


@dataclass(frozen=True)
class SmoothState:
    #: ``(key, current weight)`` of the peers of the last pick, in key order.
    current: tuple[tuple[str, int], ...] = ()

    def of(self, key: str) -> int:
        return dict(self.current).get(key, 0)


def smooth_weighted(
    state: SmoothState, peers: Iterable[Peer], request: object = None
) -> tuple[Peer | None, SmoothState]:
    """nginx's smooth weighted round robin; see :func:`smooth_step`."""
    ring = ordered(peers)
    if not ring:
        return None, state
    before = dict(state.current)
    winner, current = smooth_step(
        [before.get(p.key, 0) for p in ring], [p.weight for p in ring]
    )
    return ring[winner], SmoothState(
        tuple((p.key, c) for p, c in zip(ring, current, strict=True))
    )


# Least connections ----------------------------------------------------------------


@dataclass(frozen=True)
class PickHistory:
    """When each peer of the last pick was last chosen, and how many picks."""

    #: ``(key, pick number)`` for peers chosen while continuously in the set.
    last: tuple[tuple[str, int], ...] = ()
    picks: int = 0

    def last_of(self, key: str) -> int:
        """The pick number that last chose ``key``; -1 for never."""
        return dict(self.last).get(key, -1)

    def after(self, ring: Sequence[Peer], chosen: Peer) -> PickHistory:
        picks = self.picks + 1
        kept = {p.key: self.last_of(p.key) for p in ring}
        kept[chosen.key] = picks
        return PickHistory(
            tuple((k, n) for k, n in sorted(kept.items()) if n >= 0), picks
        )


def least_connections(
    state: PickHistory,
    peers: Iterable[Peer],
    in_flight: Mapping[str, int],
    request: object = None,
) -> tuple[Peer | None, PickHistory]:
    """The fewest in-flight calls per weight; see :func:`least_loaded`.

    >>> ring = [Peer("a"), Peer("b", 2)]
    >>> peer, _ = least_connections(PickHistory(), ring, {"a": 1, "b": 1})
    >>> peer.key        # 1/2 < 1/1
    'b'
    """
    ring = ordered(peers)
    if not ring:
        return None, state
    i = least_loaded(
        [_count(in_flight, p.key) for p in ring],
        [p.weight for p in ring],
        [state.last_of(p.key) for p in ring],
    )
    return ring[i], state.after(ring, ring[i])


def _count(in_flight: Mapping[str, int], key: str) -> int:
    c = in_flight.get(key, 0)
    if type(c) is not int or c < 0:
        raise BalancingError(
            f"in-flight count of {key!r} must be an int >= 0, got {c!r}"
        )
    return c


# Power of two choices ----------------------------------------------------------------


def draw_ranges(n: int) -> tuple[int, ...]:
    """Ranges of the draws one pick among ``n`` peers takes: none, or n and n-1."""
    return () if n < 2 else (n, n - 1)


def power_of_two(
    peers: Iterable[Peer],
    in_flight: Mapping[str, int],
    draws: Sequence[int] = (),
    request: object = None,
) -> Peer | None:
    """The less loaded per weight of two peers named by ``draws``.

    >>> ring = [Peer("a"), Peer("b"), Peer("c")]
    >>> power_of_two(ring, {"c": 1}, (2, 0)).key   # candidates c and a
    'a'
    """
    ring = ordered(peers)
    if len(ring) < 2:
        return ring[0] if ring else None
    n = len(ring)
    if len(draws) != 2 or not (0 <= draws[0] < n and 0 <= draws[1] < n - 1):
        raise BalancingError(
            f"a pick among {n} peers takes two draws in [0, {n}) and "
            f"[0, {n - 1}), got {tuple(draws)!r}"
        )
    first, r = draws
    a, b = ring[first], ring[r + 1 if r >= first else r]
    if _count(in_flight, b.key) * a.weight < _count(in_flight, a.key) * b.weight:
        return b
    return a


def random_choice(peers: Iterable[Peer], draw: int) -> Peer | None:
    """Uniform random choice: the peer at position ``draw`` in key order."""
    ring = ordered(peers)
    if not ring:
        return None
    if not 0 <= draw < len(ring):
        raise BalancingError(f"draw must be in [0, {len(ring)}), got {draw!r}")
    return ring[draw]


# Adaptive --------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """The last observations of one peer: response times and outcomes."""

    #: Response times in whole microseconds, oldest first.
    times: tuple[int, ...] = ()
    #: Outcomes, ``True`` for an error, oldest first.
    errors: tuple[bool, ...] = ()


def observe(
    window: Window,
    *,
    size: int,
    micros: int | None = None,
    error: bool | None = None,
) -> Window:
    """``window`` with one more response time and/or outcome, keeping ``size``."""
    if type(size) is not int or size < 1:
        raise BalancingError(f"window size must be a positive integer, got {size!r}")
    times, errors = window.times, window.errors
    if micros is not None:
        if type(micros) is not int or micros < 0:
            raise BalancingError(
                f"a response time must be whole microseconds >= 0, got {micros!r}"
            )
        times = (*times, micros)[-size:]
    if error is not None:
        errors = (*errors, bool(error))[-size:]
    return Window(times, errors)


def microseconds(seconds: float) -> int:
    """A duration in seconds as whole microseconds, rounding half to even."""
    if not seconds >= 0:
        raise BalancingError(f"a duration must be >= 0 seconds, got {seconds!r}")
    return round(seconds * 1_000_000)


def adaptive_score(window: Window, in_flight: int) -> float:
    """How good a peer looks; higher is better.

    What it measures: the mean of the response times in the window, the
    fraction of errors among the outcomes in the window (each window holds the
    last ``size`` observations, sliding by one), and the calls in flight now.
    How it scores, as IEEE doubles evaluated in this order (the implementation
    evaluates the same expression, so the two agree bit for bit)::

        time  = 1 / (1 + mean seconds)      (1 with no times)
        error = 1 - error fraction          (1 with no outcomes)
        load  = 1 / (1 + in flight)
        score = 0.4 * time + 0.3 * error + 0.3 * load

    >>> adaptive_score(Window(), 0)
    1.0
    >>> adaptive_score(Window((500_000, 1_500_000), (False, True)), 1)
    0.5
    """
    if window.times:
        mean = sum(window.times) / (len(window.times) * 1_000_000)
        time = 1.0 / (1.0 + mean)
    else:
        time = 1.0
    error = 1.0 - sum(window.errors) / len(window.errors) if window.errors else 1.0
    load = 1.0 / (1.0 + in_flight)
    return 0.4 * time + 0.3 * error + 0.3 * load


def adaptive(
    state: PickHistory,
    peers: Iterable[Peer],
    windows: Mapping[str, Window],
    in_flight: Mapping[str, int],
    request: object = None,
) -> tuple[Peer | None, PickHistory]:
    """The highest :func:`adaptive_score`; ties: oldest last pick, then key."""
    ring = ordered(peers)
    if not ring:
        return None, state
    best = min(
        range(len(ring)),
        key=lambda i: (
            -adaptive_score(
                windows.get(ring[i].key, Window()), _count(in_flight, ring[i].key)
            ),
            state.last_of(ring[i].key),
            i,
        ),
    )
    return ring[best], state.after(ring, ring[best])


# The source's weighted round robin, as written ------------------------------------


@dataclass(frozen=True)
class SourceWeightedState:
    """Both maps of the source's balancer, in insertion order."""

    current: tuple[tuple[str, int], ...] = ()
    original: tuple[tuple[str, int], ...] = field(default=())


def source_weighted_round_robin(
    state: SourceWeightedState, peers: Iterable[Peer]
) -> tuple[str, SourceWeightedState]:
    """The source's rule: the largest current weight wins and drops by one.

    A weight that reaches 0 is reset to the original weight. Weights are
    remembered for every peer ever seen, including peers that have left, and
    the key returned may be one of those (the source then fails to find it).
    The first of equal weights in insertion order wins, as Python's ``max``.

    >>> s, picks = SourceWeightedState(), []
    >>> for _ in range(8):
    ...     key, s = source_weighted_round_robin(s, [Peer("a", 3), Peer("b", 1)])
    ...     picks.append(key)
    >>> "".join(picks)
    'aaaaaaaa'
    """
    current = dict(state.current)
    original = dict(state.original)
    for p in peers:
        if p.key not in original:
            original[p.key] = p.weight
            current[p.key] = p.weight
    if not current:
        raise BalancingError("the source's balancer needs at least one peer")
    chosen = max(current, key=lambda k: current[k])
    current[chosen] -= 1
    if current[chosen] <= 0:
        current[chosen] = original[chosen]
    return chosen, SourceWeightedState(tuple(current.items()), tuple(original.items()))
