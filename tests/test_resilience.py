"""Retry, bulkhead, timeout and fallback, by behaviour, on the virtual-time loop."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from impl.errors import (
    BulkheadFullError,
    CallTimeoutError,
    CircuitOpenError,
    ConfigurationError,
    ConnectionFailed,
)
from impl.resilience import (
    BulkheadPattern,
    BulkheadReleaseError,
    FallbackPattern,
    RetryEvent,
    RetryPolicy,
    TimeoutPattern,
)
from proofs.harness.vtime import run
from spec import resilience as spec


def failing(times: int, error: BaseException | None = None) -> Any:
    """An async function failing ``times`` times, then answering its call count."""
    calls = 0

    async def call() -> int:
        nonlocal calls
        calls += 1
        if calls <= times:
            raise error or ConnectionFailed(f"attempt {calls}")
        return calls

    return call


# Retry -----------------------------------------------------------------------------


def test_retry_backs_off_exponentially_up_to_the_cap() -> None:
    async def main() -> list[float]:
        policy = RetryPolicy(max_retries=5, base_delay=1, max_delay=4, jitter=0)
        delays: list[float] = []
        policy.add_listener(lambda e: delays.append(e.delay or -1))
        with pytest.raises(ConnectionFailed):
            await policy.execute(failing(10))
        return delays

    assert run(main()) == [1, 2, 4, 4, 4, -1]


def test_retry_makes_at_most_max_retries_plus_one_attempts() -> None:
    async def main() -> tuple[int, int]:
        policy = RetryPolicy(max_retries=2, base_delay=0.1)
        with pytest.raises(ConnectionFailed):
            await policy.execute(failing(10))
        return policy.attempts, policy.retries

    assert run(main()) == (3, 2)


def test_retry_returns_the_first_success() -> None:
    assert run(RetryPolicy(max_retries=3, base_delay=0.1).execute(failing(2))) == 3


def test_jitter_only_shortens_the_delay() -> None:
    async def main() -> list[float]:
        policy = RetryPolicy(
            max_retries=50, base_delay=2, max_delay=2, jitter=0.5, rng=random.Random(1)
        )
        delays: list[float] = []
        policy.add_listener(lambda e: delays.append(e.delay or 0))
        with pytest.raises(ConnectionFailed):
            await policy.execute(failing(100))
        return delays[:-1]

    delays = run(main())
    assert all(1 <= d <= 2 for d in delays)
    assert len(set(delays)) > 10


def test_retry_waits_for_the_breakers_retry_time() -> None:
    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        starts: list[float] = []

        async def rejected_then_ok() -> str:
            starts.append(loop.time())
            if len(starts) == 1:
                raise CircuitOpenError(
                    "open", breaker="b", state="open", retry_at=loop.time() + 30
                )
            return "ok"

        policy = RetryPolicy(max_retries=3, base_delay=0.5, jitter=0)
        assert await policy.execute(rejected_then_ok) == "ok"
        return starts

    assert run(main()) == [0.0, 30.0]


def test_retry_gives_up_on_a_breaker_forced_open() -> None:
    async def main() -> int:
        policy = RetryPolicy(max_retries=3, base_delay=0.5)
        error = CircuitOpenError(
            "forced", breaker="b", state="forced_open", retry_at=None
        )
        with pytest.raises(CircuitOpenError):
            await policy.execute(failing(10, error))
        return policy.attempts

    assert run(main()) == 1


def test_retry_never_retries_mistakes_or_unlisted_errors() -> None:
    async def main() -> tuple[int, int]:
        mistakes = RetryPolicy(max_retries=3, base_delay=0.1)
        with pytest.raises(ConfigurationError):
            await mistakes.execute(failing(10, ConfigurationError("bad input")))
        narrow = RetryPolicy(max_retries=3, base_delay=0.1, retry_on=ConnectionFailed)
        with pytest.raises(KeyError):
            await narrow.execute(failing(10, KeyError("bug")))
        return mistakes.attempts, narrow.attempts

    assert run(main()) == (1, 1)


def test_retry_gives_up_when_the_next_attempt_would_start_past_the_deadline() -> None:
    async def main() -> tuple[float, int]:
        loop = asyncio.get_running_loop()
        policy = RetryPolicy(max_retries=10, base_delay=1, jitter=0, deadline=5)

        async def slow_failure() -> None:
            await asyncio.sleep(1.5)
            raise ConnectionFailed("slow")

        with pytest.raises(ConnectionFailed):
            await policy.execute(slow_failure)
        return loop.time(), policy.attempts

    # Attempts at 0 and 2.5 (1.5 + 1); the next would start at 4 + 2 >= 5.
    assert run(main()) == (4.0, 2)


def test_retry_deadline_cuts_off_a_running_attempt() -> None:
    async def main() -> tuple[float, int]:
        loop = asyncio.get_running_loop()
        policy = RetryPolicy(max_retries=10, base_delay=1, jitter=0, deadline=5)

        async def fails_then_hangs() -> None:
            if policy.attempts == 1:
                raise ConnectionFailed("first")
            await asyncio.sleep(3600)

        with pytest.raises(CallTimeoutError, match="deadline"):
            await policy.execute(fails_then_hangs)
        return loop.time(), policy.attempts

    assert run(main()) == (5.0, 2)


def test_retry_is_cancelled_at_once() -> None:
    async def main() -> tuple[bool, int]:
        loop = asyncio.get_running_loop()
        policy = RetryPolicy(max_retries=10, base_delay=1)
        task = loop.create_task(policy.execute(failing(100)))
        await asyncio.sleep(2.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        made = policy.attempts
        await asyncio.sleep(100)
        return task.cancelled(), policy.attempts - made

    assert run(main()) == (True, 0)


def test_retry_listener_sees_the_reason_to_give_up() -> None:
    async def main() -> RetryEvent:
        policy = RetryPolicy(max_retries=0)
        seen: list[RetryEvent] = []
        policy.add_listener(seen.append)
        with pytest.raises(ConnectionFailed):
            await policy.execute(failing(1))
        return seen[-1]

    event = run(main())
    assert (event.attempt, event.delay, event.reason) == (1, None, "attempts exhausted")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_retries": -1},
        {"max_retries": 1.5},
        {"base_delay": -1},
        {"base_delay": float("inf")},
        {"max_delay": 0.5, "base_delay": 1},
        {"multiplier": 0.5},
        {"jitter": 1.5},
        {"deadline": 0},
        {"retry_on": "Exception"},
    ],
)
def test_retry_refuses_bad_settings(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match="RetryPolicy"):
        RetryPolicy(**kwargs)


def test_impl_delays_equal_the_spec_schedule() -> None:
    from fractions import Fraction

    schedule = spec.RetrySchedule(
        max_retries=6, base_delay=Fraction(1, 2), max_delay=5, jitter=0
    )
    policy = RetryPolicy(max_retries=6, base_delay=0.5, max_delay=5, jitter=0)
    for k in range(1, 7):
        assert Fraction(policy.nominal_delay(k)) == spec.nominal_delay(schedule, k)


# Bulkhead --------------------------------------------------------------------------


def test_bulkhead_never_admits_more_than_its_limit() -> None:
    async def main() -> tuple[int, int, int]:
        bulkhead = BulkheadPattern(3, max_wait_time=100)
        inside = peak = 0

        async def work() -> None:
            nonlocal inside, peak
            inside += 1
            peak = max(peak, inside)
            assert bulkhead.in_use + bulkhead.available_capacity == 3
            await asyncio.sleep(random.Random(inside).random())
            inside -= 1

        await asyncio.gather(*(bulkhead.execute(work) for _ in range(20)))
        return peak, bulkhead.in_use, bulkhead.available_capacity

    assert run(main()) == (3, 0, 3)


def test_a_timed_out_waiter_takes_nothing_and_releases_nothing() -> None:
    async def main() -> list[Any]:
        loop = asyncio.get_running_loop()
        bulkhead = BulkheadPattern(1, max_wait_time=1, name="db")
        gate: asyncio.Future[None] = loop.create_future()
        holder = loop.create_task(bulkhead.execute(lambda: gate))
        await asyncio.sleep(0)
        with pytest.raises(BulkheadFullError) as info:
            await bulkhead.execute(lambda: gate)
        refused = (info.value.bulkhead, info.value.limit, info.value.waited)
        # The source's bulkhead now admits two; this one must still admit one.
        third = loop.create_task(bulkhead.execute(lambda: gate))
        await asyncio.sleep(0)
        state = (bulkhead.in_use, bulkhead.available_capacity, bulkhead.waiting)
        gate.set_result(None)
        await asyncio.gather(holder, third)
        return [refused, state, bulkhead.in_use, bulkhead.rejected]

    assert run(main()) == [("db", 1, 1.0), (1, 0, 1), 0, 1]


def test_a_cancelled_waiter_leaves_the_line() -> None:
    async def main() -> tuple[int, int, int]:
        loop = asyncio.get_running_loop()
        bulkhead = BulkheadPattern(1, max_wait_time=10)
        gate: asyncio.Future[None] = loop.create_future()
        holder = loop.create_task(bulkhead.execute(lambda: gate))
        waiter = loop.create_task(bulkhead.execute(lambda: gate))
        await asyncio.sleep(0)
        waiting = bulkhead.waiting
        waiter.cancel()
        await asyncio.sleep(0)
        gate.set_result(None)
        await holder
        return waiting, bulkhead.waiting, bulkhead.available_capacity

    assert run(main()) == (1, 0, 1)


def test_a_bulkhead_without_waiting_refuses_at_once() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        bulkhead = BulkheadPattern(1, max_wait_time=0)
        gate: asyncio.Future[None] = loop.create_future()
        holder = loop.create_task(bulkhead.execute(lambda: gate))
        await asyncio.sleep(0)
        with pytest.raises(BulkheadFullError):
            await bulkhead.execute(lambda: gate)
        gate.set_result(None)
        await holder
        return loop.time()

    assert run(main()) == 0.0


def test_acquired_counts_each_grant_once_however_taken() -> None:
    async def main() -> tuple[int, int, int]:
        loop = asyncio.get_running_loop()
        bulkhead = BulkheadPattern(1, max_wait_time=5)
        assert bulkhead.try_acquire()  # taken without waiting
        assert not bulkhead.try_acquire()  # refused: neither granted nor rejected
        waiter = loop.create_task(bulkhead.acquire())  # granted after a wait
        timed_out = loop.create_task(bulkhead.acquire())  # refused after 5 s
        await asyncio.sleep(0)
        bulkhead.release()
        await waiter
        with pytest.raises(BulkheadFullError):
            await timed_out
        bulkhead.release()
        await bulkhead.execute(asyncio.sleep, 0)  # taken by execute
        return bulkhead.acquired, bulkhead.rejected, bulkhead.in_use

    assert run(main()) == (3, 1, 0)


def test_releasing_more_than_acquired_is_refused() -> None:
    bulkhead = BulkheadPattern(2)
    with pytest.raises(BulkheadReleaseError, match="no permit in use"):
        bulkhead.release()


@pytest.mark.parametrize(
    "args",
    [(0,), (1.5,), (True,), (2, -1.0), (2, float("nan"))],
)
def test_bulkhead_refuses_bad_settings(args: tuple[Any, ...]) -> None:
    with pytest.raises(ConfigurationError, match="BulkheadPattern"):
        BulkheadPattern(*args)


# Timeout ---------------------------------------------------------------------------


def test_timeout_cuts_off_at_exactly_the_limit_and_cancels_the_call() -> None:
    async def main() -> tuple[float, bool, float | None]:
        loop = asyncio.get_running_loop()
        pattern = TimeoutPattern(2.0)
        cancelled = False

        async def hang() -> None:
            nonlocal cancelled
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                cancelled = True
                raise

        with pytest.raises(CallTimeoutError) as info:
            await pattern.execute(hang)
        return loop.time(), cancelled, info.value.timeout

    assert run(main()) == (2.0, True, 2.0)


def test_armed_counts_every_call_and_expired_the_cut_off_ones() -> None:
    async def main() -> tuple[int, int]:
        pattern = TimeoutPattern(1.0)
        for _ in range(3):
            await pattern.execute(asyncio.sleep, 0.5)
        with pytest.raises(CallTimeoutError):
            await pattern.execute(asyncio.sleep, 5)
        return pattern.armed, pattern.expired

    assert run(main()) == (4, 1)


def test_overlapping_calls_each_get_their_own_deadline() -> None:
    async def main() -> list[tuple[float, str]]:
        loop = asyncio.get_running_loop()
        pattern = TimeoutPattern(1.0)
        ends: list[tuple[float, str]] = []

        async def call(start: float, duration: float) -> None:
            await asyncio.sleep(start)
            try:
                await pattern.execute(asyncio.sleep, duration)
                ends.append((loop.time(), "done"))
            except CallTimeoutError:
                ends.append((loop.time(), "cut"))

        await asyncio.gather(call(0, 5), call(0.25, 0.5), call(0.5, 5), call(3, 5))
        return ends

    assert run(main()) == [(0.75, "done"), (1.0, "cut"), (1.5, "cut"), (4.0, "cut")]


def test_an_outer_cancellation_is_not_mistaken_for_a_timeout() -> None:
    async def main() -> bool:
        loop = asyncio.get_running_loop()
        pattern = TimeoutPattern(10.0)
        task = loop.create_task(pattern.execute(asyncio.sleep, 60))
        await asyncio.sleep(1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return task.cancelled()

    assert run(main()) is True


def test_a_pattern_serves_one_loop_after_another() -> None:
    pattern = TimeoutPattern(1.0)

    async def main() -> str:
        try:
            await pattern.execute(asyncio.sleep, 5)
        except CallTimeoutError:
            return "cut"
        return "not cut"

    assert [run(main()) for _ in range(3)] == ["cut"] * 3


@pytest.mark.parametrize("value", [0, -1, float("inf"), "5"])
def test_timeout_refuses_bad_settings(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="TimeoutPattern"):
        TimeoutPattern(value)


# Fallback --------------------------------------------------------------------------


def test_fallback_answers_handled_errors_with_the_call_arguments() -> None:
    async def main() -> tuple[Any, Any, int]:
        async def lookup(user: int) -> dict[str, int]:
            raise ConnectionFailed("down")

        async def cached(user: int) -> dict[str, Any]:
            return {"user": user, "cached": True}

        sync = FallbackPattern(lambda user: {"user": user, "default": True})
        pattern = FallbackPattern(cached)
        a = await pattern.execute(lookup, 7)
        b = await sync.execute(lookup, 8)
        return a, b, pattern.used

    assert run(main()) == (
        {"user": 7, "cached": True},
        {"user": 8, "default": True},
        1,
    )


def test_fallback_lets_unhandled_errors_and_cancellation_through() -> None:
    async def main() -> bool:
        loop = asyncio.get_running_loop()
        pattern = FallbackPattern(lambda: "fallback", handles=ConnectionFailed)

        async def bug() -> None:
            raise KeyError("bug")

        with pytest.raises(KeyError):
            await pattern.execute(bug)
        task = loop.create_task(pattern.execute(asyncio.sleep, 10))
        await asyncio.sleep(1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return pattern.used == 0

    assert run(main())


def test_without_a_fallback_function_the_error_stands() -> None:
    async def main() -> None:
        with pytest.raises(ConnectionFailed):
            await FallbackPattern().execute(failing(1))

    run(main())


def test_fallback_refuses_bad_settings() -> None:
    with pytest.raises(ConfigurationError, match="fallback_func"):
        FallbackPattern("not callable")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="handles"):
        FallbackPattern(lambda: 0, handles=(ValueError, "x"))  # type: ignore[arg-type]


# The specification's deciders -------------------------------------------------------


def test_spec_retry_never_retries_cancellations_or_mistakes() -> None:
    s = spec.RetrySchedule()
    for kind in ("cancelled", "non_retryable"):
        assert isinstance(spec.decide(s, 1, kind, elapsed=0, u=0), spec.GiveUp)


def test_spec_bulkhead_hands_permits_over_first_come_first_served() -> None:
    state = spec.BulkheadState(1)
    _, state = spec.bulkhead_acquire(state, 1, may_wait=True)
    for caller in (2, 3):
        out, state = spec.bulkhead_acquire(state, caller, may_wait=True)
        assert out == spec.Queued(caller)
    out, state = spec.bulkhead_release(state)
    assert out == spec.Granted(2) and state.waiting == (3,)
    _, state = spec.bulkhead_give_up(state, 3)
    assert spec.bulkhead_invariant(state) is None
    with pytest.raises(spec.ResilienceSpecError):
        spec.bulkhead_give_up(state, 3)


def test_spec_pipeline_order_and_entries() -> None:
    assert spec.expected_entries(("retry", "timeout"), ["call", "call"]) == (
        "retry",
        "timeout",
        "call",
        "timeout",
        "call",
    )
    with pytest.raises(spec.ResilienceSpecError, match="sub-sequence"):
        spec.expected_entries(("timeout", "retry"), ["call"])
    with pytest.raises(spec.ResilienceSpecError, match="stop"):
        spec.expected_entries(("retry",), ["breaker"])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_retries": -1},
        {"base_delay": 2, "max_delay": 1},
        {"multiplier": 0},
        {"jitter": 2},
        {"deadline": 0},
        {"base_delay": 0.5},
    ],
)
def test_spec_schedule_is_validated(kwargs: dict[str, Any]) -> None:
    with pytest.raises(spec.ResilienceSpecError):
        spec.RetrySchedule(**kwargs)
