"""Faulty variants of retry, bulkhead, timeout, fallback and the clients.

The implementation variants re-create the source sketch's defects (its
bulkhead that releases what it never acquired, its retry that sleeps through
a breaker's break, its composition that calls itself, its client that ignores
its breaker and makes up an answer) and a few relatives a careful reader
might write.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from impl import client as impl_client
from impl import resilience as impl_resilience
from impl.breaker import CircuitBreaker
from impl.errors import BulkheadFullError, CallTimeoutError, CircuitOpenError
from proofs.obligation import mutant
from spec import resilience as spec

SPEC = "spec.resilience"
IMPL = "impl.resilience"
CLIENT = "impl.client"


# The specification's deciders ---------------------------------------------------


def _decide_jitter_above(
    schedule: spec.RetrySchedule,
    attempts: int,
    kind: str,
    *,
    elapsed: Any,
    u: Any,
    retry_after: Any = None,
) -> spec.Retry | spec.GiveUp:
    out = spec.decide(
        schedule, attempts, kind, elapsed=elapsed, u=u, retry_after=retry_after
    )
    if isinstance(out, spec.Retry) and kind != "circuit_open":
        return spec.Retry(
            spec.nominal_delay(schedule, attempts) * (1 + schedule.jitter * u)
        )
    return out


mutant(
    "spec-retry-jitter-above-cap",
    defect="Jitter is added on top of the delay, as the source adds up to 10% "
    "more, so a capped delay exceeds its cap.",
    subject=SPEC,
    decide=_decide_jitter_above,
)


def _decide_one_extra(
    schedule: spec.RetrySchedule,
    attempts: int,
    kind: str,
    *,
    elapsed: Any,
    u: Any,
    retry_after: Any = None,
) -> spec.Retry | spec.GiveUp:
    if attempts == schedule.max_attempts and kind not in spec.NOT_RETRIED:
        return spec.Retry(spec.jittered_delay(schedule, attempts, u))
    return spec.decide(
        schedule, attempts, kind, elapsed=elapsed, u=u, retry_after=retry_after
    )


mutant(
    "spec-retry-one-attempt-too-many",
    defect="The attempt count is compared with > instead of >=, so the policy "
    "makes max_retries + 2 attempts.",
    subject=SPEC,
    decide=_decide_one_extra,
)


def _decide_ignores_breaker(
    schedule: spec.RetrySchedule,
    attempts: int,
    kind: str,
    *,
    elapsed: Any,
    u: Any,
    retry_after: Any = None,
) -> spec.Retry | spec.GiveUp:
    if kind == "circuit_open":
        kind, retry_after = "failure", None
    return spec.decide(
        schedule, attempts, kind, elapsed=elapsed, u=u, retry_after=retry_after
    )


mutant(
    "spec-retry-sleeps-through-the-break",
    defect="A circuit-open rejection is retried like any failure, on the "
    "back-off schedule, before the breaker's retry time (the source's retry).",
    subject=SPEC,
    decide=_decide_ignores_breaker,
)


def _decide_without_deadline(
    schedule: spec.RetrySchedule,
    attempts: int,
    kind: str,
    *,
    elapsed: Any,
    u: Any,
    retry_after: Any = None,
) -> spec.Retry | spec.GiveUp:
    free = spec.RetrySchedule(
        max_retries=schedule.max_retries,
        base_delay=schedule.base_delay,
        max_delay=schedule.max_delay,
        exponential_backoff=schedule.exponential_backoff,
        multiplier=schedule.multiplier,
        jitter=schedule.jitter,
    )
    return spec.decide(
        free, attempts, kind, elapsed=elapsed, u=u, retry_after=retry_after
    )


mutant(
    "spec-retry-ignores-deadline",
    defect="The overall deadline is never consulted: a retry may start after it.",
    subject=SPEC,
    decide=_decide_without_deadline,
)


def _release_without_handoff(
    state: spec.BulkheadState,
) -> tuple[spec.BulkheadOutput, spec.BulkheadState]:
    if state.in_use < 1:
        raise spec.ResilienceSpecError("release with no permit in use")
    return spec.Freed(), spec.BulkheadState(
        state.limit, state.in_use - 1, state.waiting
    )


mutant(
    "spec-bulkhead-release-forgets-waiters",
    defect="A released permit goes back to the pool while callers wait in "
    "line, who then wait beside a free permit until they time out.",
    subject=SPEC,
    bulkhead_release=_release_without_handoff,
)


# Retry ---------------------------------------------------------------------------


class _RetrySleepsThroughBreak(impl_resilience.RetryPolicy):
    def decide(
        self, attempt: int, error: BaseException, elapsed: float, now: float
    ) -> tuple[float | None, str]:
        if isinstance(error, CircuitOpenError):
            error = ConnectionError("treated as an ordinary failure")
        return super().decide(attempt, error, elapsed, now)


mutant(
    "impl-retry-sleeps-through-the-break",
    defect="The retry treats the breaker's own rejection as an ordinary "
    "failure and retries on its back-off schedule, before the breaker's retry "
    "time (the source's retry).",
    subject=IMPL,
    RetryPolicy=_RetrySleepsThroughBreak,
)


class _RetryRetriesCancellation(impl_resilience.RetryPolicy):
    async def _attempts(
        self,
        start: float | None,
        func: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        attempt = 0
        while True:
            attempt += 1
            try:
                return await func(*args, **kwargs)
            except BaseException as exc:  # the defect: cancellation included
                error: BaseException = exc
                if isinstance(exc, asyncio.CancelledError):
                    error = ConnectionError("cancelled")
                delay = self.after_failure(attempt, error, start)
                if delay is None:
                    raise
            try:
                await asyncio.sleep(delay)
            except asyncio.CancelledError:
                continue


mutant(
    "impl-retry-retries-cancellation",
    defect="The retry catches BaseException, so a cancelled attempt (or a "
    "cancelled back-off sleep) is retried and the caller's cancellation lost.",
    subject=IMPL,
    RetryPolicy=_RetryRetriesCancellation,
)


# Bulkhead ------------------------------------------------------------------------


class _SourceBulkhead(impl_resilience.BulkheadPattern):
    """The source's bulkhead: a semaphore and a counter, released in finally."""

    def __init__(
        self, max_concurrent_calls: int = 10, max_wait_time: float = 1.0, **_: Any
    ) -> None:
        super().__init__(max_concurrent_calls, max_wait_time)
        self._semaphore = asyncio.Semaphore(max_concurrent_calls)
        self._active_calls = 0

    @property
    def in_use(self) -> int:
        return self._active_calls

    @property
    def available_capacity(self) -> int:
        return self.max_concurrent_calls - self._active_calls

    async def execute(self, func: Any, /, *args: Any, **kwargs: Any) -> Any:
        try:
            try:
                await asyncio.wait_for(
                    self._semaphore.acquire(), timeout=self.max_wait_time or 1e-9
                )
            except TimeoutError:
                raise BulkheadFullError(
                    "bulkhead is full", bulkhead="pool", limit=0, waited=0.0
                ) from None
            self._active_calls += 1
            return await func(*args, **kwargs)
        finally:
            self._active_calls -= 1
            self._semaphore.release()


mutant(
    "impl-bulkhead-releases-what-it-never-acquired",
    defect="The source's bulkhead releases its semaphore in finally even when "
    "the acquisition timed out: after one rejected waiter a limit of 1 admits "
    "2 calls.",
    subject=IMPL,
    BulkheadPattern=_SourceBulkhead,
)


class _LosesPermitOnCancel(impl_resilience.BulkheadPattern):
    async def acquire(self) -> None:
        if self._available and not self._waiters:
            self._available -= 1
            return
        loop = asyncio.get_running_loop()
        if self.max_wait_time <= 0:
            raise self._full(0.0)
        waiter: asyncio.Future[bool] = loop.create_future()
        self._waiters.append(waiter)
        timer = loop.call_later(self.max_wait_time, self._expire, waiter)
        try:
            granted = await waiter
        except asyncio.CancelledError:
            self._forget(waiter)  # the defect: a permit handed over is dropped
            raise
        finally:
            timer.cancel()
        if not granted:
            raise self._full(self.max_wait_time)


mutant(
    "impl-bulkhead-loses-permit-of-cancelled-waiter",
    defect="A waiter cancelled just after a permit was handed to it drops the "
    "permit instead of passing it on, so the bulkhead shrinks for good.",
    subject=IMPL,
    BulkheadPattern=_LosesPermitOnCancel,
)


class _ChecksThenAcquiresAcrossAwait(impl_resilience.BulkheadPattern):
    """Sees a free permit, awaits, then takes it without looking again."""

    async def acquire(self) -> None:
        if self._available and not self._waiters:
            # The await stands for any step between the check and the take
            # (a metrics write, a log line): another caller may pass the
            # same check meanwhile.
            await asyncio.sleep(0)
            self._available -= 1
            return
        await super().acquire()

    async def execute(self, func: Any, /, *args: Any, **kwargs: Any) -> Any:
        await self.acquire()
        try:
            return await func(*args, **kwargs)
        finally:
            self.release()


mutant(
    "impl-bulkhead-check-then-acquire-across-await",
    defect="The bulkhead checks that a permit is free, awaits, and then takes "
    "it without checking again: two callers arriving a turn apart both pass "
    "the check, and a limit of 1 admits 2. In the loop's default order the "
    "first has taken its permit before the second looks.",
    subject=IMPL,
    BulkheadPattern=_ChecksThenAcquiresAcrossAwait,
)


class _ReleasesTwiceOnTimeout(impl_resilience.BulkheadPattern):
    """A waiter's time-out that comes after its grant gives the permit back."""

    def _expire(self, waiter: asyncio.Future[bool]) -> None:
        if not waiter.done():
            self._forget(waiter)
            waiter.set_result(False)
        elif not waiter.cancelled() and waiter.result():
            # Granted and timed out at one instant: meant as "the caller is
            # gone, free its permit", but the caller goes on to use it.
            self.release()


mutant(
    "impl-bulkhead-releases-twice-on-timeout",
    defect="When a waiter's time-out runs after a release handed it the permit "
    "but before the waiter resumed, the time-out releases the permit again "
    "while the waiter goes on holding it: one more caller gets in than the "
    "limit allows. Only that order of two callbacks due at one instant shows "
    "it.",
    subject=IMPL,
    BulkheadPattern=_ReleasesTwiceOnTimeout,
)


# Timeout and fallback --------------------------------------------------------------


class _ShieldedTimeout(impl_resilience.TimeoutPattern):
    async def execute(self, func: Any, /, *args: Any, **kwargs: Any) -> Any:
        inner = asyncio.ensure_future(func(*args, **kwargs))
        try:
            return await asyncio.wait_for(asyncio.shield(inner), self.timeout)
        except TimeoutError:
            raise CallTimeoutError("timed out", timeout=self.timeout) from None


mutant(
    "impl-timeout-leaves-the-call-running",
    defect="The timeout stops waiting but shields the call, which runs on "
    "unseen after the caller was told it timed out.",
    subject=IMPL,
    TimeoutPattern=_ShieldedTimeout,
)


class _FallbackSwallowsCancellation(impl_resilience.FallbackPattern):
    async def execute(self, func: Any, /, *args: Any, **kwargs: Any) -> Any:
        try:
            return await func(*args, **kwargs)
        except BaseException:
            return await self.answer(*args, **kwargs)


mutant(
    "impl-fallback-answers-cancellation",
    defect="The fallback catches BaseException and answers a cancelled call, "
    "so the caller's cancellation is lost.",
    subject=IMPL,
    FallbackPattern=_FallbackSwallowsCancellation,
)


# The clients -----------------------------------------------------------------------


class _LateBindingClient(impl_client.ResilientMicroserviceClient):
    """The source's composition: one name rebound in a chain of lambdas."""

    async def call_service(
        self, service_name: str, method: str, data: Any = None
    ) -> Any:
        async def _call() -> Any:
            return await self.call_once(service_name, method, data)

        func: Callable[[], Awaitable[Any]] = _call
        if self.circuit_breaker:
            func = lambda: self.circuit_breaker.call(func)  # type: ignore[union-attr]  # noqa: E731
        if self.timeout:
            func = lambda: self.timeout.execute(func)  # type: ignore[union-attr]  # noqa: E731
        if self.bulkhead:
            func = lambda: self.bulkhead.execute(func)  # type: ignore[union-attr]  # noqa: E731
        if self.retry_policy:
            func = lambda: self.retry_policy.execute(func)  # type: ignore[union-attr]  # noqa: E731
        if self.fallback:
            func = lambda: self.fallback.execute(func)  # type: ignore[union-attr]  # noqa: E731
        return await func()


mutant(
    "client-late-binding-composition",
    defect="The source's composition rebinds one name in a chain of lambdas, "
    "so each layer calls the outermost layer again: with retry configured a "
    "call never completes, and no call ever reaches the instance.",
    subject=CLIENT,
    ResilientMicroserviceClient=_LateBindingClient,
)


class _ClientIgnoringItsBreaker(impl_client.MicroserviceClient):
    """The source's plain client: its own breaker, unused, and a made-up answer."""

    def __init__(
        self, registry: Any, load_balancer: Any, *args: Any, **kw: Any
    ) -> None:
        super().__init__(registry, load_balancer, transport=kw.get("transport"))
        self.circuit_breaker = CircuitBreaker(failure_threshold=3)

    async def call_service(
        self, service_name: str, method: str, data: Any = None
    ) -> Any:
        instances = await self.registry.get_healthy_instances(service_name)
        instance = await self.load_balancer.select_instance(instances)
        return {
            "service": service_name,
            "instance": getattr(instance, "instance_id", None),
            "method": method,
            "data": data,
            "timestamp": time.time(),
        }


mutant(
    "client-ignores-its-breaker",
    defect="The plain client builds a breaker of its own, never uses the one "
    "it is given, and answers with a made-up response instead of calling the "
    "instance (the source's client).",
    subject=CLIENT,
    MicroserviceClient=_ClientIgnoringItsBreaker,
)
