"""Retry, bulkhead, timeout and fallback, with the source's arguments.

Each pattern has an ``execute(func, *args, **kwargs)`` that applies it to one
async call, as in the source, and a few synchronous methods that carry its
decision apart from the awaiting (the *permit protocol*), which the resilient
client uses to apply all five layers in one coroutine frame.

:class:`RetryPolicy`
    At most ``max_retries + 1`` attempts. Delays grow by ``multiplier`` from
    ``base_delay`` and are capped at ``max_delay``; jitter takes up to a
    fraction ``jitter`` *off* the delay, so the cap holds. Never retried: a
    cancellation, an exception outside ``retry_on`` or inside ``give_up_on``
    (a :class:`~impl.errors.ConfigurationError` by default: a mistake does not
    heal by waiting), and a :class:`~impl.errors.CircuitOpenError` before its
    retry time (the retry sleeps until then, or gives up when the breaker
    names no time or the time lies past the deadline). An overall
    ``deadline`` bounds the whole execution, attempts and sleeps together.
:class:`BulkheadPattern`
    ``max_concurrent_calls`` permits. A caller without a permit waits up to
    ``max_wait_time`` in a first-come, first-served line; a released permit
    goes straight to the first waiter. ``in_use + available_capacity ==
    max_concurrent_calls`` at every moment: a waiter that times out or is
    cancelled takes nothing and releases nothing. (The source releases its
    semaphore in ``finally`` even when the acquisition timed out, so one
    rejected waiter lets a limit of 1 admit 2 calls.)
:class:`TimeoutPattern`
    Cancels the call when it runs ``timeout`` seconds of loop time and raises
    :class:`~impl.errors.CallTimeoutError`; the call's task is not left
    running. One timer serves all the calls of a pattern at once: deadlines of
    one pattern come in the order the calls started, so a queue replaces a
    timer per call.
:class:`FallbackPattern`
    Answers with ``fallback_func(*args, **kwargs)`` when the call raises an
    exception of a type in ``handles``; a cancellation always propagates.

All waiting is on the running loop's clock. The patterns have slots: their
attributes are read on every call.

>>> import asyncio
>>> async def demo() -> list[object]:
...     flaky = iter([ConnectionError("reset"), ConnectionError("reset"), None])
...     async def call() -> str:
...         error = next(flaky)
...         if error:
...             raise error
...         return "ok"
...     retry = RetryPolicy(max_retries=3, base_delay=0.001, jitter=0)
...     answer = await retry.execute(call)
...     return [answer, retry.attempts, retry.retries]
>>> asyncio.run(demo())
['ok', 3, 2]
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import random
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from impl.errors import (
    BulkheadFullError,
    CallTimeoutError,
    CircuitOpenError,
    ConfigurationError,
    MicroserviceError,
)

logger = logging.getLogger("impl")

P = ParamSpec("P")
T = TypeVar("T")
ExceptionTypes = type[BaseException] | tuple[type[BaseException], ...]


def _number(
    value: object, what: str, *, least: float = 0.0, strict: bool = False
) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not (value > least if strict else value >= least)
    ):
        bound = f"> {least:g}" if strict else f">= {least:g}"
        raise ConfigurationError(
            f"{what}: must be a finite number {bound}, got {value!r}"
        )
    return float(value)


def _exception_types(value: object, what: str) -> tuple[type[BaseException], ...]:
    kinds = value if isinstance(value, tuple) else (value,)
    if not all(isinstance(k, type) and issubclass(k, BaseException) for k in kinds):
        raise ConfigurationError(
            f"{what}: must be an exception type or a tuple of them, got {value!r}"
        )
    return kinds


# Retry ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryEvent:
    """What a retry listener receives before each back-off sleep, and when it
    gives up (``delay`` is then ``None`` and ``reason`` says why)."""

    attempt: int
    error: BaseException
    delay: float | None
    reason: str = ""


class RetryPolicy:
    """Try an async call again when it fails; see the module's description.

    Args:
        max_retries: retries after the first attempt (attempts are at most
            ``max_retries + 1``).
        base_delay: the first delay, seconds.
        max_delay: the cap on every delay.
        exponential_backoff: multiply the delay by ``multiplier`` after each
            attempt (otherwise every delay is ``base_delay``).
        multiplier: growth factor of the delay, at least 1.
        jitter: fraction in [0, 1] of the delay that may be taken off it at
            random.
        deadline: seconds the whole execution may take, or ``None``.
        retry_on: exception types that are retried.
        give_up_on: exception types never retried, even within ``retry_on``.
        rng: the generator of jitter draws (``random.Random()`` by default);
            pass a seeded one for reproducible delays.
    """

    __slots__ = (
        "_listeners",
        "attempts",
        "base_delay",
        "deadline",
        "executions",
        "exponential_backoff",
        "give_up_on",
        "jitter",
        "max_delay",
        "max_retries",
        "multiplier",
        "retries",
        "retry_on",
        "rng",
    )

    def __init__(
        self,
        max_retries: int = 3,
        base_delay: float = 1.0,
        max_delay: float = 60.0,
        exponential_backoff: bool = True,
        *,
        multiplier: float = 2.0,
        jitter: float = 0.1,
        deadline: float | None = None,
        retry_on: ExceptionTypes = Exception,
        give_up_on: ExceptionTypes = ConfigurationError,
        rng: random.Random | None = None,
    ) -> None:
        if isinstance(max_retries, bool) or not isinstance(max_retries, int):
            raise ConfigurationError(
                f"RetryPolicy max_retries: must be an integer >= 0, got {max_retries!r}"
            )
        if max_retries < 0:
            raise ConfigurationError(
                f"RetryPolicy max_retries: must be an integer >= 0, got {max_retries!r}"
            )
        self.max_retries = max_retries
        self.base_delay = _number(base_delay, "RetryPolicy base_delay")
        self.max_delay = _number(max_delay, "RetryPolicy max_delay")
        if self.max_delay < self.base_delay:
            raise ConfigurationError(
                f"RetryPolicy max_delay ({max_delay}) must be >= base_delay "
                f"({base_delay})"
            )
        self.exponential_backoff = bool(exponential_backoff)
        self.multiplier = _number(multiplier, "RetryPolicy multiplier", least=1.0)
        self.jitter = _number(jitter, "RetryPolicy jitter")
        if self.jitter > 1:
            raise ConfigurationError(
                f"RetryPolicy jitter: must lie in [0, 1], got {jitter!r}"
            )
        self.deadline = (
            None
            if deadline is None
            else _number(deadline, "RetryPolicy deadline", strict=True)
        )
        self.retry_on = _exception_types(retry_on, "RetryPolicy retry_on")
        self.give_up_on = _exception_types(give_up_on, "RetryPolicy give_up_on")
        self.rng = rng if rng is not None else random.Random()
        self._listeners: list[Callable[[RetryEvent], object]] = []
        #: Executions begun, attempts made and retries decided, so far.
        self.executions = 0
        self.attempts = 0
        self.retries = 0

    @property
    def max_attempts(self) -> int:
        return self.max_retries + 1

    def add_listener(self, listener: Callable[[RetryEvent], object]) -> None:
        """Call ``listener(event)`` before each sleep and on giving up."""
        self._listeners.append(listener)

    def nominal_delay(self, attempt: int) -> float:
        """The delay after the ``attempt``-th attempt failed, before jitter."""
        if not self.exponential_backoff:
            return self.base_delay
        # The exponent is bounded so the power cannot overflow a float.
        growth = self.multiplier ** min(attempt - 1, 1023)
        return min(self.base_delay * growth, self.max_delay)

    def decide(
        self, attempt: int, error: BaseException, elapsed: float, now: float
    ) -> tuple[float | None, str]:
        """After attempt number ``attempt`` raised ``error``: the delay before
        the next attempt, or ``None`` and the reason to give up."""
        if isinstance(error, asyncio.CancelledError):
            return None, "cancelled"
        if not isinstance(error, self.retry_on) or isinstance(error, self.give_up_on):
            return None, f"{type(error).__name__} is not retried"
        if attempt >= self.max_retries + 1:
            return None, "attempts exhausted"
        delay = self.nominal_delay(attempt) * (1.0 - self.jitter * self.rng.random())
        if isinstance(error, CircuitOpenError):
            if error.retry_at is None:
                return (
                    None,
                    f"breaker {error.breaker!r} is {error.state} with no retry time",
                )
            delay = max(delay, error.retry_at - now)
        if self.deadline is not None and elapsed + delay >= self.deadline:
            return None, "deadline"
        return delay, ""

    def _tell(self, event: RetryEvent) -> None:
        for listener in tuple(self._listeners):
            try:
                listener(event)
            except Exception:
                logger.exception("retry listener %r failed", listener)

    async def execute(
        self, func: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Await ``func(*args, **kwargs)``, again after failures, by the policy."""
        self.executions += 1
        if self.deadline is None:
            return await self._attempts(None, func, args, kwargs)
        start = asyncio.get_running_loop().time()
        try:
            async with asyncio.timeout_at(start + self.deadline):
                return await self._attempts(start, func, args, kwargs)
        except TimeoutError as exc:
            if isinstance(exc, CallTimeoutError):
                raise
            raise self.deadline_error() from exc

    def deadline_error(self) -> CallTimeoutError:
        return CallTimeoutError(
            f"retry deadline of {self.deadline:g} s passed before the call succeeded",
            timeout=self.deadline,
        )

    async def _attempts(
        self,
        start: float | None,
        func: Callable[..., Awaitable[T]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> T:
        attempt = 0
        while True:
            attempt += 1
            self.attempts += 1
            try:
                return await func(*args, **kwargs)
            except Exception as exc:
                delay = self.after_failure(attempt, exc, start)
                if delay is None:
                    raise
            await asyncio.sleep(delay)

    def after_failure(
        self, attempt: int, error: BaseException, start: float | None
    ) -> float | None:
        """Decide after a failed attempt, tell the listeners; the delay or None.

        ``start`` is the loop-clock time the execution began, needed only
        with a deadline (``None`` without one).
        """
        now = asyncio.get_running_loop().time()
        elapsed = 0.0 if start is None else now - start
        delay, reason = self.decide(attempt, error, elapsed, now)
        if delay is not None:
            self.retries += 1
        if self._listeners:
            self._tell(RetryEvent(attempt, error, delay, reason))
        return delay


# Bulkhead --------------------------------------------------------------------------


class BulkheadPattern:
    """At most ``max_concurrent_calls`` calls at once; see the module's text.

    ``max_wait_time`` is how long a caller may wait for a permit (0: never
    wait) before :class:`~impl.errors.BulkheadFullError`.
    """

    __slots__ = (
        "_available",
        "_waiters",
        "acquired",
        "max_concurrent_calls",
        "max_wait_time",
        "name",
        "rejected",
    )

    def __init__(
        self,
        max_concurrent_calls: int = 10,
        max_wait_time: float = 1.0,
        *,
        name: str = "bulkhead",
    ) -> None:
        if (
            isinstance(max_concurrent_calls, bool)
            or not isinstance(max_concurrent_calls, int)
            or max_concurrent_calls < 1
        ):
            raise ConfigurationError(
                "BulkheadPattern max_concurrent_calls: must be an integer >= 1, "
                f"got {max_concurrent_calls!r}"
            )
        self.max_concurrent_calls = max_concurrent_calls
        self.max_wait_time = _number(max_wait_time, "BulkheadPattern max_wait_time")
        self.name = name
        # One counter: permits in use are the limit less the free ones, so the
        # two can never disagree (the source keeps a semaphore and a counter
        # apart, and they drift).
        self._available = max_concurrent_calls
        self._waiters: deque[asyncio.Future[bool]] = deque()
        #: Permits granted so far (each grant counted once, however taken).
        self.acquired = 0
        #: Callers refused (timed out in line, or no waiting allowed).
        self.rejected = 0

    @property
    def available_capacity(self) -> int:
        """Permits free now."""
        return self._available

    @property
    def in_use(self) -> int:
        """Permits held now."""
        return self.max_concurrent_calls - self._available

    @property
    def waiting(self) -> int:
        """Callers in line now."""
        return sum(1 for w in self._waiters if not w.done())

    def try_acquire(self) -> bool:
        """Take a permit if one is free and nobody waits; never waits."""
        if self._available and not self._waiters:
            self._available -= 1
            self.acquired += 1
            return True
        return False

    async def acquire(self) -> None:
        """Take a permit, waiting up to ``max_wait_time`` in line."""
        if self._available and not self._waiters:
            self._available -= 1
            self.acquired += 1
            return
        loop = asyncio.get_running_loop()
        if self.max_wait_time <= 0:
            raise self._full(0.0)
        start = loop.time()
        waiter: asyncio.Future[bool] = loop.create_future()
        self._waiters.append(waiter)
        timer = loop.call_later(self.max_wait_time, self._expire, waiter)
        try:
            granted = await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.result():
                # Granted just before the cancellation arrived: pass it on.
                self.release()
            else:
                self._forget(waiter)
            raise
        finally:
            timer.cancel()
        if not granted:
            raise self._full(loop.time() - start)
        self.acquired += 1

    def release(self) -> None:
        """Return a permit; the first waiter in line takes it."""
        if self._available >= self.max_concurrent_calls:
            raise BulkheadReleaseError(
                f"bulkhead {self.name!r}: release() with no permit in use; every "
                "release must match one acquired permit"
            )
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(True)  # handed over: in_use is unchanged
                return
        self._available += 1

    async def execute(
        self, func: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Await ``func(*args, **kwargs)`` holding a permit."""
        if self._available and not self._waiters:
            self._available -= 1
            self.acquired += 1
        else:
            await self.acquire()
        try:
            return await func(*args, **kwargs)
        finally:
            self.release()

    def _expire(self, waiter: asyncio.Future[bool]) -> None:
        if not waiter.done():
            self._forget(waiter)
            waiter.set_result(False)

    def _forget(self, waiter: asyncio.Future[bool]) -> None:
        if waiter in self._waiters:
            self._waiters.remove(waiter)

    def _full(self, waited: float) -> BulkheadFullError:
        self.rejected += 1
        return BulkheadFullError(
            f"bulkhead {self.name!r} is full: all {self.max_concurrent_calls} "
            f"permits in use and none freed within {waited:g} s "
            f"(max_wait_time {self.max_wait_time:g} s)",
            bulkhead=self.name,
            limit=self.max_concurrent_calls,
            waited=waited,
        )


class BulkheadReleaseError(MicroserviceError, RuntimeError):
    """A permit was released that was never acquired (a bug in the caller)."""


# Timeout ---------------------------------------------------------------------------

_RUNNING, _DONE, _EXPIRED = 0, 1, 2

# An armed call is a list ``[deadline, task, state]``: one is made per call,
# and a list costs a fraction of an object with an ``__init__``.
#
# The current task of a loop, asked without a Python frame: before 3.12
# ``asyncio.current_task`` is a Python function over this dict (3.12 has it in
# C, and later versions keep the current task elsewhere).
_tasks_by_loop = getattr(asyncio.tasks, "_current_tasks", None)
_current_task: Callable[
    [asyncio.AbstractEventLoop | None], asyncio.Task[Any] | None
] = (
    _tasks_by_loop.get
    if sys.version_info < (3, 12) and isinstance(_tasks_by_loop, dict)
    else asyncio.current_task
)


def _clock(loop: asyncio.AbstractEventLoop) -> Callable[[], float]:
    """The loop's clock as a callable: ``time.monotonic`` itself when the loop
    keeps asyncio's own ``time()`` (which returns just that), saving a Python
    frame per reading; the loop's ``time`` otherwise (a virtual-time loop)."""
    clock = loop.time
    if getattr(clock, "__func__", None) is asyncio.BaseEventLoop.time:
        return time.monotonic
    return clock


class TimeoutPattern:
    """Cut a call off after ``timeout`` seconds of loop time."""

    __slots__ = (
        "_loop",
        "_queue",
        "_time",
        "_timer",
        "_timer_at",
        "armed",
        "expired",
        "name",
        "timeout",
    )

    def __init__(self, timeout: float = 5.0, *, name: str = "timeout") -> None:
        self.timeout = _number(timeout, "TimeoutPattern timeout", strict=True)
        self.name = name
        self._queue: deque[list[Any]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._time: Callable[[], float] = time.monotonic
        #: Calls armed so far, and calls cut off so far.
        self.armed = 0
        self.expired = 0

    def arm(self) -> list[Any]:
        """Start the clock for the current task's call; :meth:`disarm` after.

        The pattern serves one running loop at a time; it notices a new one
        when the old one has no task running.
        """
        loop = self._loop
        # Asking asyncio for the running loop costs a system call (before
        # 3.12); a loop with a current task is the running one in this thread.
        task = None if loop is None else _current_task(loop)
        if task is None:
            loop = asyncio.get_running_loop()
            if loop is not self._loop:
                self._loop = loop
                self._time = _clock(loop)
                self._queue.clear()
                self._timer = None
            task = _current_task(loop)
            if task is None:
                raise ConfigurationError(
                    f"TimeoutPattern {self.name!r}: must be used inside a task"
                )
        at = self._time() + self.timeout
        entry = [at, task, _RUNNING]
        self.armed += 1
        queue = self._queue
        while queue and queue[0][2]:
            queue.popleft()
        queue.append(entry)
        if self._timer is None:
            assert loop is not None
            self._timer_at = at
            self._timer = loop.call_at(at, self._fire)
        return entry

    def disarm(self, entry: list[Any], error: BaseException | None) -> None:
        """The call ended (``error`` is what it raised, if anything).

        Raises :class:`~impl.errors.CallTimeoutError` when the call ended
        because this pattern cut it off.
        """
        if entry[2] == _RUNNING:
            entry[2] = _DONE
            return
        # Expired: this pattern cancelled the task.
        if entry[1].uncancel() == 0 and isinstance(error, asyncio.CancelledError):
            raise CallTimeoutError(
                f"timeout {self.name!r}: the call did not finish within "
                f"{self.timeout:g} s",
                timeout=self.timeout,
            ) from None

    def _fire(self) -> None:
        loop = self._loop
        assert loop is not None
        self._timer = None
        due = max(loop.time(), self._timer_at)
        queue = self._queue
        while queue:
            entry = queue[0]
            if entry[2]:
                queue.popleft()
            elif entry[0] <= due:
                queue.popleft()
                entry[2] = _EXPIRED
                self.expired += 1
                entry[1].cancel()
            else:
                self._timer_at = entry[0]
                self._timer = loop.call_at(entry[0], self._fire)
                return

    async def execute(
        self, func: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Await ``func(*args, **kwargs)``, cut off after ``timeout`` seconds."""
        entry = self.arm()
        try:
            result = await func(*args, **kwargs)
        except BaseException as exc:
            self.disarm(entry, exc)
            raise
        self.disarm(entry, None)
        return result


# Fallback --------------------------------------------------------------------------


class FallbackPattern:
    """Answer with ``fallback_func(*args, **kwargs)`` when the call fails.

    ``fallback_func`` may be async or plain. ``handles`` are the exception
    types it answers for; a cancellation always propagates.
    """

    __slots__ = (
        "executions",
        "fallback_func",
        "handles",
        "used",
    )

    def __init__(
        self,
        fallback_func: Callable[..., Any] | None = None,
        *,
        handles: ExceptionTypes = Exception,
    ) -> None:
        if fallback_func is not None and not callable(fallback_func):
            raise ConfigurationError(
                "FallbackPattern fallback_func: must be callable, "
                f"got {fallback_func!r}"
            )
        self.fallback_func = fallback_func
        self.handles = _exception_types(handles, "FallbackPattern handles")
        #: Calls made under the pattern, and calls the fallback answered.
        self.executions = 0
        self.used = 0

    def applies(self, error: BaseException) -> bool:
        """Whether the fallback answers for ``error``."""
        return (
            self.fallback_func is not None
            and not isinstance(error, asyncio.CancelledError)
            and isinstance(error, self.handles)
        )

    async def answer(self, *args: Any, **kwargs: Any) -> Any:
        """The fallback's answer for a call with these arguments."""
        assert self.fallback_func is not None
        self.used += 1
        result = self.fallback_func(*args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result

    async def execute(
        self, func: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs
    ) -> T | Any:
        """Await ``func(*args, **kwargs)``; on a handled error, the fallback."""
        self.executions += 1
        try:
            return await func(*args, **kwargs)
        except Exception as exc:
            if not self.applies(exc):
                raise
            return await self.answer(*args, **kwargs)
