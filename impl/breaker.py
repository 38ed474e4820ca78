"""The circuit breaker: closed, open, half-open, and two manual states.

:class:`CircuitBreaker` keeps the source's constructor
(``failure_threshold``, ``recovery_timeout``, ``expected_exception``) and its
``call(func, *args, **kwargs)``, and fixes what the source gets wrong:

- **Half-open is bounded.** After the recovery timeout the next request is
  admitted as a *probe*; at most ``half_open_probes`` probes are in flight at
  once, every other request is rejected. One probe success (or
  ``success_threshold`` of them) closes the breaker, one probe failure opens
  it again. (The source lets every caller through once the timeout passed.)
- **Every admitted call ends exactly once**, as a success, a failure (an
  instance of ``expected_exception``), *ignored* (any other exception) or
  *cancelled*. A cancelled call releases its permit and counts as neither
  success nor failure.
- **Outcomes belong to their episode.** Each state change starts a new
  episode; an outcome arriving after the state changed since its call was
  admitted is *stale* and changes nothing. A slow call that fails after the
  breaker opened cannot extend the break; a slow probe of an earlier
  half-open period cannot close a breaker that reopened since.
- **Time is the loop's clock**, read only when the state depends on it, so
  the breaker runs unchanged on a virtual-time loop.
- **Rejections are fresh** :class:`~impl.errors.CircuitOpenError` objects
  carrying the breaker's name, its state and the loop-clock time from which a
  call can be admitted again.
- **Legal transitions only.** Every state change is checked against
  :data:`TRANSITIONS`; any other raises :class:`IllegalTransitionError`, which
  names the breaker, both states and the event (it signals a bug in the
  breaker, never a caller's mistake).

Two trip policies: consecutive failures (the default, the source's) and a
failure rate over a count window (``failure_rate`` with ``window`` and
``min_calls``). Manual control: :meth:`CircuitBreaker.force_open`,
:meth:`CircuitBreaker.disable`, :meth:`CircuitBreaker.reset`.

The permit protocol (:meth:`CircuitBreaker.admit`,
:meth:`CircuitBreaker.record_success`, :meth:`CircuitBreaker.record_exception`)
is what :meth:`CircuitBreaker.call` does, in three pieces, so that a composed
pipeline can apply the breaker without another coroutine frame.

>>> import asyncio
>>> async def demo() -> list[str]:
...     breaker = CircuitBreaker(failure_threshold=2, recovery_timeout=30, name="users")
...     async def down() -> None:
...         raise ConnectionError("refused")
...     seen = []
...     for _ in range(3):
...         try:
...             await breaker.call(down)
...         except ConnectionError:
...             seen.append("failed")
...         except CircuitOpenError as exc:
...             seen.append(f"rejected by {exc.breaker} ({exc.state})")
...     return seen + [breaker.state.value]
>>> asyncio.run(demo())
['failed', 'failed', 'rejected by users (open)', 'open']
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from impl.errors import CircuitOpenError, ConfigurationError, MicroserviceError

logger = logging.getLogger("impl")

P = ParamSpec("P")
T = TypeVar("T")


class CircuitBreakerState(enum.Enum):
    """The breaker's state; the source's three and two manual ones."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"
    FORCED_OPEN = "forced_open"
    DISABLED = "disabled"


_CLOSED = CircuitBreakerState.CLOSED
_OPEN = CircuitBreakerState.OPEN
_HALF_OPEN = CircuitBreakerState.HALF_OPEN
_FORCED_OPEN = CircuitBreakerState.FORCED_OPEN
_DISABLED = CircuitBreakerState.DISABLED

_OWN = frozenset({"request", "success", "failure", "ignored", "cancelled"})

#: Legal transitions: ``(from, to)`` to the events that may take it.
TRANSITIONS: Mapping[tuple[CircuitBreakerState, CircuitBreakerState], frozenset[str]]
TRANSITIONS = {
    (_CLOSED, _CLOSED): _OWN | {"reset"},
    (_CLOSED, _OPEN): frozenset({"failure"}),
    (_CLOSED, _FORCED_OPEN): frozenset({"force_open"}),
    (_CLOSED, _DISABLED): frozenset({"disable"}),
    (_OPEN, _OPEN): _OWN,
    (_OPEN, _HALF_OPEN): frozenset({"request"}),
    (_OPEN, _CLOSED): frozenset({"reset"}),
    (_OPEN, _FORCED_OPEN): frozenset({"force_open"}),
    (_OPEN, _DISABLED): frozenset({"disable"}),
    (_HALF_OPEN, _HALF_OPEN): _OWN,
    (_HALF_OPEN, _OPEN): frozenset({"failure"}),
    (_HALF_OPEN, _CLOSED): frozenset({"success", "reset"}),
    (_HALF_OPEN, _FORCED_OPEN): frozenset({"force_open"}),
    (_HALF_OPEN, _DISABLED): frozenset({"disable"}),
    (_FORCED_OPEN, _FORCED_OPEN): _OWN | {"force_open"},
    (_FORCED_OPEN, _CLOSED): frozenset({"reset"}),
    (_FORCED_OPEN, _DISABLED): frozenset({"disable"}),
    (_DISABLED, _DISABLED): _OWN | {"disable"},
    (_DISABLED, _CLOSED): frozenset({"reset"}),
    (_DISABLED, _FORCED_OPEN): frozenset({"force_open"}),
}


class IllegalTransitionError(MicroserviceError, RuntimeError):
    """The breaker attempted a transition its table does not allow (a bug)."""

    def __init__(
        self,
        breaker: str,
        source: CircuitBreakerState,
        target: CircuitBreakerState,
        event: str,
    ) -> None:
        allowed = sorted(
            f"{t.value} on {'/'.join(sorted(ev))}"
            for (s, t), ev in TRANSITIONS.items()
            if s is source
        )
        super().__init__(
            f"circuit breaker {breaker!r}: {source.value} -> {target.value} on "
            f"{event!r} is not a legal transition (from {source.value}: "
            f"{'; '.join(allowed)})"
        )
        self.breaker = breaker
        self.source = source
        self.target = target
        self.event = event


def check_transition(
    breaker: str,
    source: CircuitBreakerState,
    target: CircuitBreakerState,
    event: str,
) -> None:
    """Raise :class:`IllegalTransitionError` unless :data:`TRANSITIONS` lists
    ``source -> target`` for ``event``."""
    if event not in TRANSITIONS.get((source, target), ()):
        raise IllegalTransitionError(breaker, source, target, event)


@dataclass(frozen=True)
class BreakerSnapshot:
    """Everything the breaker's next decision depends on, at one moment.

    ``failures`` are consecutive failures while closed (consecutive policy),
    ``window`` the last counted outcomes while closed (rate policy, ``True``
    for a failure), ``in_flight`` the calls admitted in this episode and not
    yet ended, ``successes`` the probe successes in half-open.
    """

    state: CircuitBreakerState
    episode: int
    failures: int
    window: tuple[bool, ...]
    opened_at: float
    in_flight: int
    successes: int


@dataclass(frozen=True)
class BreakerCounters:
    """What a breaker has done since it was built; counts only grow.

    Every admitted call ends exactly once, so ``admitted`` equals
    ``succeeded + failed + ignored + cancelled`` plus the calls still running.
    ``stale`` counts the outcomes (of any kind) that arrived after their
    episode ended and so changed nothing.
    """

    admitted: int
    rejected: int
    succeeded: int
    failed: int
    ignored: int
    cancelled: int
    stale: int
    transitions: int


@dataclass(frozen=True)
class BreakerEvent:
    """What a listener receives: a transition or a rejection.

    ``kind`` is ``"transition"`` (``source`` and ``target`` differ or not, on
    ``event``) or ``"rejection"`` (``source`` is the state that rejected);
    ``at`` is the loop-clock reading.
    """

    kind: str
    breaker: str
    source: CircuitBreakerState
    target: CircuitBreakerState
    event: str
    at: float


Listener = Callable[[BreakerEvent], object]


def _positive_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(
            f"CircuitBreaker {what}: must be an integer >= 1, got {value!r}"
        )
    return value


class CircuitBreaker:
    """A circuit breaker for async calls.

    Args:
        failure_threshold: consecutive failures that open a closed breaker
            (consecutive policy).
        recovery_timeout: seconds open before a request may probe.
        expected_exception: the exception type (or tuple of types) that
            counts as a failure; other exceptions pass through as *ignored*.
        name: named in rejections, errors and events.
        half_open_probes: most probes in flight at once in half-open.
        success_threshold: probe successes that close a half-open breaker.
        failure_rate: when given, a number in (0, 1]: trip when the failure
            share among the last ``window`` counted outcomes reaches it, once
            at least ``min_calls`` outcomes were counted (rate policy).
    """

    # Slots: with more than 30 attributes an instance's attributes would move
    # to a dictionary of their own, and every read on the call path would
    # slow down.
    __slots__ = (
        "_admitted",
        "_cancelled",
        "_clean",
        "_consecutive",
        "_ep_admitted",
        "_ep_ended",
        "_ep_succeeded",
        "_episode",
        "_expected",
        "_failed",
        "_failures",
        "_ignored",
        "_listeners",
        "_opened_at",
        "_outcomes",
        "_rejected",
        "_stale",
        "_state",
        "_succeeded",
        "_successes",
        "_transitions",
        "_window_failures",
        "expected_exception",
        "failure_rate",
        "failure_threshold",
        "half_open_probes",
        "min_calls",
        "name",
        "recovery_timeout",
        "success_threshold",
        "window",
    )

    def __init__(
        self,
        failure_threshold: int = 5,
        recovery_timeout: float = 60.0,
        expected_exception: type[BaseException]
        | tuple[type[BaseException], ...] = Exception,
        *,
        name: str = "breaker",
        half_open_probes: int = 1,
        success_threshold: int = 1,
        failure_rate: float | None = None,
        window: int = 10,
        min_calls: int = 5,
    ) -> None:
        self.failure_threshold = _positive_int(failure_threshold, "failure_threshold")
        if isinstance(recovery_timeout, bool) or not (
            isinstance(recovery_timeout, int | float) and recovery_timeout > 0
        ):
            raise ConfigurationError(
                "CircuitBreaker recovery_timeout: must be a number of seconds > 0, "
                f"got {recovery_timeout!r}"
            )
        kinds = (
            expected_exception
            if isinstance(expected_exception, tuple)
            else (expected_exception,)
        )
        if not kinds or not all(
            isinstance(k, type) and issubclass(k, BaseException) for k in kinds
        ):
            raise ConfigurationError(
                "CircuitBreaker expected_exception: must be an exception type or "
                f"a tuple of them, got {expected_exception!r}"
            )
        if not isinstance(name, str) or not name:
            raise ConfigurationError(
                f"CircuitBreaker name: must be a non-empty string, got {name!r}"
            )
        self.recovery_timeout = float(recovery_timeout)
        self.expected_exception = expected_exception
        self._expected = kinds
        self.name = name
        self.half_open_probes = _positive_int(half_open_probes, "half_open_probes")
        self.success_threshold = _positive_int(success_threshold, "success_threshold")
        self.window = _positive_int(window, "window")
        self.min_calls = _positive_int(min_calls, "min_calls")
        if failure_rate is not None:
            if isinstance(failure_rate, bool) or not (
                isinstance(failure_rate, int | float) and 0 < failure_rate <= 1
            ):
                raise ConfigurationError(
                    "CircuitBreaker failure_rate: must be a number in (0, 1] or "
                    f"None, got {failure_rate!r}"
                )
            if min_calls > window:
                raise ConfigurationError(
                    f"CircuitBreaker min_calls ({min_calls}) must not exceed "
                    f"window ({window}): the breaker could never trip"
                )
        self.failure_rate = failure_rate
        self._consecutive = failure_rate is None

        self._state = _CLOSED
        self._episode = 0
        #: The current episode while closed with nothing counted against it
        #: (consecutive policy), else -1: a success then changes nothing.
        self._clean = 0 if self._consecutive else -1
        self._failures = 0
        self._outcomes: deque[bool] = deque(maxlen=window)
        self._window_failures = 0
        self._opened_at = 0.0
        self._successes = 0
        self._listeners: list[Listener] = []

        # Calls of the current episode: admitted, and ended by kind. The
        # difference is the number in flight. Earlier episodes' counts, and
        # stale outcomes, are folded into the totals.
        self._ep_admitted = 0
        self._ep_ended = 0
        self._admitted = 0
        self._succeeded = 0
        self._ep_succeeded = 0
        self._failed = 0
        self._ignored = 0
        self._cancelled = 0
        self._stale = 0
        self._rejected = 0
        self._transitions = 0

    # What callers read ---------------------------------------------------------

    @property
    def state(self) -> CircuitBreakerState:
        return self._state

    @property
    def failure_count(self) -> int:
        """Consecutive failures counted while closed (the source's name)."""
        return self._failures

    @property
    def opened_at(self) -> float:
        """Loop-clock time at which the breaker last opened."""
        return self._opened_at

    @property
    def retry_at(self) -> float | None:
        """When an open breaker admits its first probe; ``None`` in any other
        state (forced open included: it waits for a reset, not for a time)."""
        if self._state is _OPEN:
            return self._opened_at + self.recovery_timeout
        return None

    @property
    def in_flight(self) -> int:
        """Calls admitted in the current episode and not yet ended."""
        return self._ep_admitted - self._ep_succeeded - self._ep_ended

    @property
    def counters(self) -> BreakerCounters:
        return BreakerCounters(
            admitted=self._admitted + self._ep_admitted,
            rejected=self._rejected,
            succeeded=self._succeeded + self._ep_succeeded,
            failed=self._failed,
            ignored=self._ignored,
            cancelled=self._cancelled,
            stale=self._stale,
            transitions=self._transitions,
        )

    def snapshot(self) -> BreakerSnapshot:
        return BreakerSnapshot(
            state=self._state,
            episode=self._episode,
            failures=self._failures,
            window=tuple(self._outcomes),
            opened_at=self._opened_at,
            in_flight=self.in_flight,
            successes=self._successes,
        )

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(event)`` on every transition and rejection."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        self._listeners.remove(listener)

    def __repr__(self) -> str:
        return (
            f"<CircuitBreaker {self.name!r} {self._state.value} "
            f"episode={self._episode} failures={self._failures} "
            f"in_flight={self.in_flight}>"
        )

    # The call ------------------------------------------------------------------

    async def call(
        self, func: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Await ``func(*args, **kwargs)`` if the breaker admits it.

        Raises :class:`~impl.errors.CircuitOpenError` without calling when the
        breaker rejects; otherwise returns or raises what the call did.
        """
        if self._state is _CLOSED:
            episode = self._episode
            self._ep_admitted += 1
        else:
            episode = self.admit()
        try:
            result = await func(*args, **kwargs)
        except BaseException as exc:
            self.record_exception(episode, exc)
            raise
        if episode == self._clean:
            # The common case, kept inline: nothing to clear, nothing to count.
            self._ep_succeeded += 1
        else:
            self.record_success(episode)
        return result

    # The permit protocol ---------------------------------------------------------

    def admit(self) -> int:
        """Take a permit for one call, or raise the rejection.

        Returns the episode to hand back with the outcome. Every admitted
        call must end with exactly one :meth:`record_success` or
        :meth:`record_exception`.
        """
        state = self._state
        if state is _CLOSED or state is _DISABLED:
            self._ep_admitted += 1
            return self._episode
        loop = asyncio.get_running_loop()
        if state is _OPEN:
            retry_at = self._opened_at + self.recovery_timeout
            if loop.time() < retry_at:
                raise self._reject(loop, retry_at)
            self._transition(_HALF_OPEN, "request", loop)
        elif state is _HALF_OPEN:
            if self.in_flight >= self.half_open_probes:
                raise self._reject(loop, loop.time())
        else:
            raise self._reject(loop, None)
        self._ep_admitted += 1
        return self._episode

    def record_success(self, episode: int) -> None:
        """The call admitted in ``episode`` succeeded."""
        if episode == self._clean:
            self._ep_succeeded += 1
            return
        if episode != self._episode:
            self._succeeded += 1
            self._stale += 1
            return
        self._ep_succeeded += 1
        state = self._state
        if state is _CLOSED:
            if self._consecutive:
                self._failures = 0
                self._clean = episode
            else:
                self._count_outcome(False)
        elif state is _HALF_OPEN:
            self._successes += 1
            if self._successes >= self.success_threshold:
                self._transition(_CLOSED, "success", asyncio.get_running_loop())

    def record_exception(self, episode: int, exc: BaseException) -> None:
        """The call admitted in ``episode`` raised ``exc``.

        A cancellation (:class:`asyncio.CancelledError`) releases the permit
        and counts for nothing; an instance of ``expected_exception`` is a
        failure; anything else is ignored.
        """
        if isinstance(exc, asyncio.CancelledError):
            self._cancelled += 1
            failed = False
        elif isinstance(exc, self._expected):
            self._failed += 1
            failed = True
        else:
            self._ignored += 1
            failed = False
        if episode != self._episode:
            self._stale += 1
            return
        self._ep_ended += 1
        if not failed:
            return
        state = self._state
        if state is _CLOSED:
            if self._consecutive:
                self._failures += 1
                self._clean = -1
                trips = self._failures >= self.failure_threshold
            else:
                trips = self._count_outcome(True)
            if trips:
                self._open(asyncio.get_running_loop())
        elif state is _HALF_OPEN:
            self._open(asyncio.get_running_loop())

    # Manual control --------------------------------------------------------------

    def force_open(self) -> None:
        """Reject every call until :meth:`reset` (or :meth:`disable`)."""
        self._transition(_FORCED_OPEN, "force_open", asyncio.get_running_loop())

    def disable(self) -> None:
        """Admit every call and never trip, until :meth:`reset`."""
        self._transition(_DISABLED, "disable", asyncio.get_running_loop())

    def reset(self) -> None:
        """Return to a fresh closed breaker; calls in flight become stale."""
        self._transition(_CLOSED, "reset", asyncio.get_running_loop())

    # Inside ------------------------------------------------------------------------

    def _count_outcome(self, failed: bool) -> bool:
        """Rate policy: enter an outcome in the window; whether it trips."""
        window = self._outcomes
        if len(window) == window.maxlen and window[0]:
            self._window_failures -= 1
        window.append(failed)
        self._window_failures += failed
        assert self.failure_rate is not None
        return len(
            window
        ) >= self.min_calls and self._window_failures >= self.failure_rate * len(window)

    def _open(self, loop: asyncio.AbstractEventLoop) -> None:
        self._transition(_OPEN, "failure", loop)
        self._opened_at = loop.time()

    def _transition(
        self,
        target: CircuitBreakerState,
        event: str,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        source = self._state
        check_transition(self.name, source, target, event)
        self._state = target
        self._episode += 1
        self._clean = self._episode if target is _CLOSED and self._consecutive else -1
        self._failures = 0
        self._outcomes.clear()
        self._window_failures = 0
        self._successes = 0
        self._admitted += self._ep_admitted
        self._succeeded += self._ep_succeeded
        self._ep_admitted = self._ep_succeeded = self._ep_ended = 0
        self._transitions += 1
        logger.debug(
            "circuit breaker %r: %s -> %s on %s",
            self.name,
            source.value,
            target.value,
            event,
        )
        if self._listeners:
            self._notify(
                BreakerEvent(
                    "transition", self.name, source, target, event, loop.time()
                )
            )

    def _reject(
        self, loop: asyncio.AbstractEventLoop, retry_at: float | None
    ) -> CircuitOpenError:
        self._rejected += 1
        state = self._state
        when = "until reset" if retry_at is None else f"until t={retry_at:g}"
        error = CircuitOpenError(
            f"circuit breaker {self.name!r} is {state.value} and rejected the call; "
            f"calls are refused {when}",
            breaker=self.name,
            state=state.value,
            retry_at=retry_at,
        )
        if self._listeners:
            self._notify(
                BreakerEvent(
                    "rejection", self.name, state, state, "request", loop.time()
                )
            )
        return error

    def _notify(self, event: BreakerEvent) -> None:
        for listener in tuple(self._listeners):
            try:
                listener(event)
            except Exception:
                logger.exception(
                    "circuit breaker %r: listener %r failed on %s",
                    self.name,
                    listener,
                    event.kind,
                )
