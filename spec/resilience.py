r"""Retry, bulkhead, timeout and fallback as pure deciders, and their order.

Each pattern is reduced to the decision it makes, with time and randomness
passed in, so that the decision can be stated and checked apart from the
waiting and calling that carry it out.

**Retry.** After an attempt ends with an error of some *kind*, :func:`decide`
says whether to try again and after how long. At most ``max_retries + 1``
attempts are made. The nominal delay after attempt ``k`` is
``base_delay * multiplier^(k-1)`` (or ``base_delay`` without exponential
backoff), capped at ``max_delay``. Jitter spreads clients apart *below* the
nominal delay: with a draw ``u`` in [0, 1] the delay is
``d * (1 - jitter * u)``, so it lies in ``[d (1 - jitter), d]`` and never
exceeds the cap (the source adds up to 10% *above* it). A cancelled attempt,
and an error of kind ``non_retryable``, are never retried. A circuit-open
rejection is retried only at or after the breaker's retry time, and not at
all when the breaker gives none. With an overall ``deadline`` no attempt starts
at or after it.

**Bulkhead.** ``limit`` permits; a caller takes one or waits in line, first
come first served; a release hands the permit straight to the first waiter.
A waiter that gives up (timed out or cancelled) leaves the line holding
nothing and releasing nothing. So ``0 <= in_use <= limit`` always, and
nobody waits while a permit is free.

**Timeout.** A call of duration ``d`` under a limit ``t`` completes when
``d < t`` and is cut off at ``t`` otherwise.

**Fallback.** The fallback answers for every error except a cancellation,
which always propagates: a caller that cancels wants the call stopped, not
answered.

**The order.** The resilient client applies, outermost first,
:data:`PIPELINE`: fallback, retry, bulkhead, breaker, timeout. Retry sits
outside the bulkhead so that its back-off sleeps hold no permit; the breaker
sits outside the timeout so that a call cut off by the timeout counts as a
failure of the dependency (the source's order puts the timeout outside the
breaker, where a hanging dependency would never trip it). Each layer is
entered once per call (fallback, retry) or once per attempt (the others):
:func:`expected_entries`.

>>> s = RetrySchedule(max_retries=3, base_delay=1, max_delay=3, jitter=Fraction(1, 2))
>>> [nominal_delay(s, k) for k in (1, 2, 3, 4)]
[1, 2, 3, 3]
>>> decide(s, 2, "failure", elapsed=5, u=1)
Retry(delay=Fraction(1, 1))
>>> decide(s, 4, "failure", elapsed=5, u=0)
GiveUp(reason='attempts exhausted')
>>> decide(s, 1, "circuit_open", elapsed=0, u=0, retry_after=30)
Retry(delay=30)
>>> expected_entries(PIPELINE, ["breaker", "call"])
('fallback', 'retry', 'bulkhead', 'breaker', 'bulkhead', 'breaker', 'timeout', 'call')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import TypeAlias

from spec.errors import SpecError

Exact: TypeAlias = int | Fraction


class ResilienceSpecError(SpecError):
    """A schedule, limit or event outside what the model allows."""


#: How an attempt can end in error.
ERROR_KINDS = frozenset(
    {
        "failure",
        "timeout",
        "circuit_open",
        "bulkhead_full",
        "non_retryable",
        "cancelled",
    }
)
#: Kinds never retried.
NOT_RETRIED = frozenset({"non_retryable", "cancelled"})


def _exact(value: object, what: str, *, positive: bool = False) -> Exact:
    if isinstance(value, bool) or not isinstance(value, int | Fraction):
        raise ResilienceSpecError(
            f"{what} must be an exact number (int or Fraction), got {value!r}"
        )
    if value < 0 or (positive and value == 0):
        raise ResilienceSpecError(
            f"{what} must be {'> 0' if positive else '>= 0'}, got {value}"
        )
    return value


def _count(value: object, what: str, *, least: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ResilienceSpecError(
            f"{what} must be an integer >= {least}, got {value!r}"
        )
    return value


# Retry --------------------------------------------------------------------------


@dataclass(frozen=True)
class RetrySchedule:
    """When to try again; see the module's description."""

    max_retries: int = 3
    base_delay: Exact = 1
    max_delay: Exact = 60
    exponential_backoff: bool = True
    multiplier: Exact = 2
    jitter: Exact = Fraction(1, 10)
    deadline: Exact | None = None

    def __post_init__(self) -> None:
        _count(self.max_retries, "max_retries")
        _exact(self.base_delay, "base_delay")
        if _exact(self.max_delay, "max_delay") < self.base_delay:
            raise ResilienceSpecError(
                f"max_delay ({self.max_delay}) must be >= base_delay "
                f"({self.base_delay})"
            )
        if _exact(self.multiplier, "multiplier") < 1:
            raise ResilienceSpecError(f"multiplier must be >= 1, got {self.multiplier}")
        if not 0 <= _exact(self.jitter, "jitter") <= 1:
            raise ResilienceSpecError(f"jitter must lie in [0, 1], got {self.jitter}")
        if self.deadline is not None:
            _exact(self.deadline, "deadline", positive=True)

    @property
    def max_attempts(self) -> int:
        return self.max_retries + 1


@dataclass(frozen=True)
class Retry:
    """Try again after ``delay`` seconds."""

    delay: Exact


@dataclass(frozen=True)
class GiveUp:
    """Stop; the last error stands."""

    reason: str


def nominal_delay(schedule: RetrySchedule, attempt: int) -> Exact:
    """The delay after the ``attempt``-th attempt failed, before jitter."""
    _count(attempt, "attempt", least=1)
    if not schedule.exponential_backoff:
        return min(schedule.base_delay, schedule.max_delay)
    d = schedule.base_delay
    for _ in range(attempt - 1):
        d *= schedule.multiplier
        if d >= schedule.max_delay:
            return schedule.max_delay
    return min(d, schedule.max_delay)


def delay_bounds(schedule: RetrySchedule, attempt: int) -> tuple[Exact, Exact]:
    """The least and greatest delay after the ``attempt``-th attempt."""
    d = nominal_delay(schedule, attempt)
    return d * (1 - schedule.jitter), d


def jittered_delay(schedule: RetrySchedule, attempt: int, u: Exact) -> Exact:
    """The delay for the draw ``u`` in [0, 1]."""
    if not 0 <= u <= 1:
        raise ResilienceSpecError(f"the jitter draw must lie in [0, 1], got {u}")
    return nominal_delay(schedule, attempt) * (1 - schedule.jitter * u)


def decide(
    schedule: RetrySchedule,
    attempts: int,
    kind: str,
    *,
    elapsed: Exact,
    u: Exact,
    retry_after: Exact | None = None,
) -> Retry | GiveUp:
    """After ``attempts`` attempts, the last ending in ``kind``, what next?

    ``elapsed`` is the time since the first attempt began; ``u`` the jitter
    draw; ``retry_after``, for a circuit-open rejection, the time from now
    until the breaker's retry time (``None`` when it gives none).
    """
    if kind not in ERROR_KINDS:
        raise ResilienceSpecError(
            f"error kind must be one of {sorted(ERROR_KINDS)}, got {kind!r}"
        )
    if kind in NOT_RETRIED:
        return GiveUp(f"{kind.replace('_', '-')} errors are not retried")
    if attempts >= schedule.max_attempts:
        return GiveUp("attempts exhausted")
    delay = jittered_delay(schedule, attempts, u)
    if kind == "circuit_open":
        if retry_after is None:
            return GiveUp("the circuit is open with no retry time")
        delay = max(delay, retry_after)
    if schedule.deadline is not None and elapsed + delay >= schedule.deadline:
        return GiveUp("deadline")
    return Retry(delay)


# Bulkhead -----------------------------------------------------------------------


@dataclass(frozen=True)
class BulkheadState:
    """Permits in use and the line of waiters (their ids, first first)."""

    limit: int
    in_use: int = 0
    waiting: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        _count(self.limit, "limit", least=1)

    @property
    def available(self) -> int:
        return self.limit - self.in_use


@dataclass(frozen=True)
class Granted:
    """``caller`` now holds a permit."""

    caller: int


@dataclass(frozen=True)
class Queued:
    """``caller`` waits in line."""

    caller: int


@dataclass(frozen=True)
class Full:
    """``caller`` was refused: no permit, and waiting is not allowed."""

    caller: int


@dataclass(frozen=True)
class Freed:
    """A permit returned to the pool (nobody was waiting for it)."""


@dataclass(frozen=True)
class Left:
    """``caller`` gave up waiting, holding nothing."""

    caller: int


BulkheadOutput: TypeAlias = Granted | Queued | Full | Freed | Left


def bulkhead_acquire(
    state: BulkheadState, caller: int, *, may_wait: bool
) -> tuple[BulkheadOutput, BulkheadState]:
    """``caller`` asks for a permit."""
    if caller in state.waiting:
        raise ResilienceSpecError(f"caller {caller} is already waiting")
    if state.in_use < state.limit and not state.waiting:
        return Granted(caller), replace(state, in_use=state.in_use + 1)
    if may_wait:
        return Queued(caller), replace(state, waiting=(*state.waiting, caller))
    return Full(caller), state


def bulkhead_release(state: BulkheadState) -> tuple[BulkheadOutput, BulkheadState]:
    """A holder returns its permit; the first waiter, if any, takes it."""
    if state.in_use < 1:
        raise ResilienceSpecError(
            f"a release with no permit in use (limit {state.limit}): every "
            "release must match one grant"
        )
    if state.waiting:
        first, *rest = state.waiting
        return Granted(first), replace(state, waiting=tuple(rest))
    return Freed(), replace(state, in_use=state.in_use - 1)


def bulkhead_give_up(
    state: BulkheadState, caller: int
) -> tuple[BulkheadOutput, BulkheadState]:
    """A waiter timed out or was cancelled: it leaves the line, taking nothing."""
    if caller not in state.waiting:
        raise ResilienceSpecError(f"caller {caller} is not waiting")
    return Left(caller), replace(
        state, waiting=tuple(w for w in state.waiting if w != caller)
    )


def bulkhead_invariant(state: BulkheadState) -> str | None:
    """``None`` when the state is sound, else what is wrong with it."""
    if not 0 <= state.in_use <= state.limit:
        return f"in_use {state.in_use} outside [0, {state.limit}]"
    if state.waiting and state.in_use < state.limit:
        return f"{len(state.waiting)} waiting while {state.available} permit(s) free"
    if len(set(state.waiting)) != len(state.waiting):
        return "a caller waits twice"
    return None


# Timeout and fallback -------------------------------------------------------------


def timeout_outcome(timeout: Exact, duration: Exact) -> str:
    """``"completed"`` when the call ends strictly before the limit."""
    _exact(timeout, "timeout", positive=True)
    return "completed" if duration < timeout else "timed_out"


def fallback_applies(kind: str) -> bool:
    """Whether a fallback answers for an error of ``kind``."""
    if kind not in ERROR_KINDS:
        raise ResilienceSpecError(
            f"error kind must be one of {sorted(ERROR_KINDS)}, got {kind!r}"
        )
    return kind != "cancelled"


# The pipeline -------------------------------------------------------------------

#: The resilient client's layers, outermost first.
PIPELINE = ("fallback", "retry", "bulkhead", "breaker", "timeout")
#: Layers entered once per call; the others once per attempt.
PER_CALL = frozenset({"fallback", "retry"})


def expected_entries(layers: Sequence[str], stops: Sequence[str]) -> tuple[str, ...]:
    """The layer entries of one call, in order.

    ``layers`` are the configured layers in :data:`PIPELINE` order; ``stops``
    say where each attempt ended: at a layer that refused it (``"bulkhead"``,
    ``"breaker"``) or at ``"call"`` when the call was made (the timeout and the
    call's own errors end the attempt there).
    """
    order = [layer for layer in PIPELINE if layer in layers]
    if list(layers) != order:
        raise ResilienceSpecError(
            f"layers must be a sub-sequence of {PIPELINE}, got {tuple(layers)}"
        )
    outer = [layer for layer in order if layer in PER_CALL]
    inner = [layer for layer in order if layer not in PER_CALL]
    entries = list(outer)
    for stop in stops:
        if stop != "call" and stop not in inner:
            raise ResilienceSpecError(
                f"an attempt can stop at one of {[*inner, 'call']}, got {stop!r}"
            )
        path = [*inner, "call"]
        entries.extend(path[: path.index(stop) + 1])
    return tuple(entries)
