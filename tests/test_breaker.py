"""The circuit breaker, specification and implementation, by behaviour.

Every scenario runs on the virtual-time loop, so recovery timeouts are waited
out in virtual seconds. Forbidden transitions and bad configurations are
tested beside the allowed ones.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from fractions import Fraction
from typing import Any

import pytest

from impl.breaker import (
    TRANSITIONS,
    BreakerEvent,
    CircuitBreaker,
    CircuitBreakerState,
    IllegalTransitionError,
    check_transition,
)
from impl.errors import CircuitOpenError, ConfigurationError, MicroserviceError
from proofs.harness.vtime import run
from spec import breaker as spec

CLOSED = CircuitBreakerState.CLOSED
OPEN = CircuitBreakerState.OPEN
HALF_OPEN = CircuitBreakerState.HALF_OPEN


class Down(Exception):
    pass


async def down() -> None:
    raise Down("dependency down")


async def up() -> str:
    return "ok"


async def attempt(breaker: CircuitBreaker, func: Callable[[], Awaitable[Any]]) -> str:
    try:
        return str(await breaker.call(func))
    except Down:
        return "failed"
    except CircuitOpenError:
        return "rejected"


# The implementation ------------------------------------------------------------


def test_opens_after_threshold_consecutive_failures_and_rejects_fast() -> None:
    async def main() -> list[str]:
        b = CircuitBreaker(failure_threshold=3, recovery_timeout=30)
        seen = [await attempt(b, down) for _ in range(5)]
        return [*seen, b.state.value]

    assert run(main()) == ["failed"] * 3 + ["rejected"] * 2 + ["open"]


def test_a_success_resets_the_consecutive_count() -> None:
    async def main() -> tuple[str, int]:
        b = CircuitBreaker(failure_threshold=2)
        for func in (down, up, down, up, down):
            await attempt(b, func)
        return b.state.value, b.failure_count

    assert run(main()) == ("closed", 1)


def test_recovers_through_half_open_after_the_timeout() -> None:
    async def main() -> list[str]:
        loop = asyncio.get_running_loop()
        b = CircuitBreaker(failure_threshold=1, recovery_timeout=60)
        events: list[BreakerEvent] = []
        b.add_listener(events.append)
        await attempt(b, down)
        await asyncio.sleep(59.5)
        early = await attempt(b, up)
        await asyncio.sleep(0.5)
        probe = await attempt(b, up)
        assert loop.time() == 60
        return [early, probe, b.state.value] + [
            f"{e.kind}: {e.source.value}->{e.target.value}" for e in events
        ]

    assert run(main()) == [
        "rejected",
        "ok",
        "closed",
        "transition: closed->open",
        "rejection: open->open",
        "transition: open->half_open",
        "transition: half_open->closed",
    ]


def test_a_failed_probe_opens_again_for_a_full_timeout() -> None:
    async def main() -> list[Any]:
        loop = asyncio.get_running_loop()
        b = CircuitBreaker(failure_threshold=1, recovery_timeout=10)
        await attempt(b, down)
        await asyncio.sleep(10)
        probe = await attempt(b, down)
        return [probe, b.state.value, b.opened_at, b.retry_at, loop.time()]

    assert run(main()) == ["failed", "open", 10.0, 20.0, 10.0]


def test_half_open_admits_only_its_probes() -> None:
    async def main() -> tuple[int, list[str]]:
        loop = asyncio.get_running_loop()
        b = CircuitBreaker(failure_threshold=1, recovery_timeout=1, half_open_probes=2)
        await attempt(b, down)
        await asyncio.sleep(1)
        gate: asyncio.Future[None] = loop.create_future()
        reached = 0

        async def slow() -> str:
            nonlocal reached
            reached += 1
            await gate
            return "ok"

        tasks = [loop.create_task(attempt(b, slow)) for _ in range(10)]
        await asyncio.sleep(0)
        gate.set_result(None)
        return reached, sorted(await asyncio.gather(*tasks))

    reached, results = run(main())
    assert reached == 2
    assert results == ["ok", "ok"] + ["rejected"] * 8


def test_cancelled_probe_releases_its_permit_and_counts_for_nothing() -> None:
    async def main() -> tuple[Any, ...]:
        loop = asyncio.get_running_loop()
        b = CircuitBreaker(failure_threshold=1, recovery_timeout=1)
        await attempt(b, down)
        await asyncio.sleep(1)
        hang = loop.create_task(b.call(loop.create_future))
        await asyncio.sleep(0)
        assert b.state is HALF_OPEN and b.in_flight == 1
        assert await attempt(b, up) == "rejected"  # the one permit is taken
        hang.cancel()
        await asyncio.sleep(0)
        before = (b.state, b.in_flight, b.counters.cancelled, b.counters.failed)
        after = await attempt(b, up)
        return (*before, after, b.state)

    assert run(main()) == (HALF_OPEN, 0, 1, 1, "ok", CLOSED)


def test_late_failure_from_before_the_trip_does_not_extend_the_break() -> None:
    async def main() -> tuple[float, float | None, int]:
        loop = asyncio.get_running_loop()
        b = CircuitBreaker(failure_threshold=1, recovery_timeout=10)
        slow: asyncio.Future[None] = loop.create_future()
        late = loop.create_task(attempt(b, lambda: slow))
        await asyncio.sleep(0)
        await attempt(b, down)  # trips at t = 0
        await asyncio.sleep(5)
        slow.set_exception(Down("late"))
        await late
        return b.opened_at, b.retry_at, b.counters.stale

    assert run(main()) == (0.0, 10.0, 1)


def test_rejections_are_fresh_errors_carrying_name_state_and_retry_time() -> None:
    async def main() -> list[CircuitOpenError]:
        b = CircuitBreaker(failure_threshold=1, recovery_timeout=30, name="payments")
        await attempt(b, down)
        errors = []
        for _ in range(2):
            try:
                await b.call(up)
            except CircuitOpenError as exc:
                errors.append(exc)
        return errors

    first, second = run(main())
    assert first is not second
    assert (first.breaker, first.state, first.retry_at) == ("payments", "open", 30.0)
    assert "payments" in str(first) and "t=30" in str(first)
    assert isinstance(first, MicroserviceError)


def test_unexpected_exceptions_are_ignored_not_failures() -> None:
    async def main() -> tuple[str, int, int]:
        b = CircuitBreaker(failure_threshold=1, expected_exception=Down)

        async def bug() -> None:
            raise KeyError("a bug, not an outage")

        with pytest.raises(KeyError):
            await b.call(bug)
        return b.state.value, b.counters.ignored, b.counters.failed

    assert run(main()) == ("closed", 1, 0)


def test_failure_rate_policy_trips_on_the_window() -> None:
    async def main() -> list[str]:
        b = CircuitBreaker(failure_rate=0.5, window=4, min_calls=4)
        seen = []
        for func in (up, down, up, down, up):
            seen.append(await attempt(b, func))
        return [*seen, b.state.value]

    # After up, down, up, down: 2 of 4 failed, the rate is reached.
    assert run(main()) == ["ok", "failed", "ok", "failed", "rejected", "open"]


def test_manual_controls_force_open_disable_and_reset() -> None:
    async def main() -> list[str]:
        b = CircuitBreaker(failure_threshold=1)
        b.force_open()
        forced = await attempt(b, up)
        b.disable()
        disabled = [await attempt(b, down) for _ in range(3)]
        b.reset()
        return [forced, *disabled, b.state.value, str(b.counters.transitions)]

    assert run(main()) == ["rejected", "failed", "failed", "failed", "closed", "3"]


def test_forced_open_rejection_names_no_retry_time() -> None:
    async def main() -> CircuitOpenError:
        b = CircuitBreaker()
        b.force_open()
        try:
            await b.call(up)
        except CircuitOpenError as exc:
            return exc
        raise AssertionError("not rejected")

    error = run(main())
    assert (error.state, error.retry_at) == ("forced_open", None)
    assert "until reset" in str(error)


def test_counters_account_for_every_admitted_call() -> None:
    async def main() -> Any:
        b = CircuitBreaker(failure_threshold=2, recovery_timeout=1)
        for func in (up, down, down, up, up):
            await attempt(b, func)
        await asyncio.sleep(1)
        await attempt(b, up)
        return b.counters

    c = run(main())
    assert c.admitted == c.succeeded + c.failed + c.ignored + c.cancelled
    assert (c.succeeded, c.failed, c.rejected) == (2, 2, 2)


def test_a_broken_listener_does_not_break_the_breaker(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(event: BreakerEvent) -> None:
        raise RuntimeError("listener bug")

    async def main() -> str:
        b = CircuitBreaker(failure_threshold=1)
        b.add_listener(broken)
        await attempt(b, down)
        b.remove_listener(broken)
        return b.state.value

    assert run(main()) == "open"
    assert "listener" in caplog.text


def test_every_transition_outside_the_table_is_refused() -> None:
    events = sorted(spec.EVENT_KINDS)
    refused = 0
    for source, target in itertools.product(CircuitBreakerState, repeat=2):
        for event in events:
            if event in TRANSITIONS.get((source, target), ()):
                check_transition("b", source, target, event)
                continue
            refused += 1
            with pytest.raises(IllegalTransitionError) as info:
                check_transition("orders", source, target, event)
            message = str(info.value)
            assert all(
                part in message for part in ("orders", source.value, target.value)
            )
            assert info.value.event == event
    assert refused > 100


def test_closed_to_half_open_is_forbidden() -> None:
    with pytest.raises(IllegalTransitionError, match="closed -> half_open"):
        check_transition("b", CLOSED, HALF_OPEN, "request")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"failure_threshold": 0},
        {"failure_threshold": 1.5},
        {"failure_threshold": True},
        {"recovery_timeout": 0},
        {"recovery_timeout": -1},
        {"recovery_timeout": "60"},
        {"expected_exception": "Exception"},
        {"expected_exception": ()},
        {"expected_exception": int},
        {"name": ""},
        {"half_open_probes": 0},
        {"success_threshold": 0},
        {"failure_rate": 0},
        {"failure_rate": 1.5},
        {"failure_rate": 0.5, "window": 3, "min_calls": 5},
    ],
)
def test_bad_configuration_is_refused_with_the_field(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError) as info:
        CircuitBreaker(**kwargs)
    assert next(iter(kwargs)) in str(info.value) or "min_calls" in str(info.value)


def test_the_implementation_table_is_the_specification_table() -> None:
    ours = {(s.value, t.value): e for (s, t), e in TRANSITIONS.items()}
    theirs = {(s.value, t.value): e for (s, t), e in spec.TRANSITIONS.items()}
    assert ours == theirs


# The specification ---------------------------------------------------------------


def test_spec_step_refuses_an_outcome_of_a_call_never_admitted() -> None:
    c = spec.Config()
    with pytest.raises(spec.BreakerSpecError, match="no rule applies"):
        spec.step(spec.BreakerState(), spec.outcome("success", 0, 0), c)
    with pytest.raises(spec.BreakerSpecError, match="no rule applies"):
        spec.step(spec.BreakerState(), spec.outcome("failure", 3, 0), c)


def test_spec_step_refuses_unknown_events_and_kinds() -> None:
    with pytest.raises(spec.BreakerSpecError, match="unknown event kind"):
        spec.step(spec.BreakerState(), spec.Event("explode", 0), spec.Config())
    with pytest.raises(spec.BreakerSpecError):
        spec.outcome("request", 0, 0)
    with pytest.raises(spec.BreakerSpecError):
        spec.control("open", 0)


def test_spec_step_never_mutates_its_state() -> None:
    s = spec.BreakerState()
    out, after = spec.step(s, spec.request(0), spec.Config())
    assert s == spec.BreakerState() and after.in_flight == 1
    assert out == spec.Admit(0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"failure_threshold": 0},
        {"recovery_timeout": 0},
        {"recovery_timeout": 1.5},
        {"half_open_probes": 0},
        {"failure_rate": Fraction(0)},
        {"failure_rate": Fraction(3, 2)},
        {"failure_rate": Fraction(1, 2), "window": 2, "min_calls": 3},
    ],
)
def test_spec_config_is_validated(kwargs: dict[str, Any]) -> None:
    with pytest.raises(spec.BreakerSpecError):
        spec.Config(**kwargs)


def test_spec_states_reached_by_running_satisfy_the_invariant() -> None:
    c = spec.Config(failure_threshold=2, recovery_timeout=2, half_open_probes=2)
    s = spec.BreakerState()
    kinds = ["request", "failure", "request", "failure", "request", "success"]
    episode_of: list[int] = []
    for now, kind in enumerate(kinds * 3):
        if kind == "request":
            out, s = spec.step(s, spec.request(now), c)
            if isinstance(out, spec.Admit):
                episode_of.append(out.episode)
        elif episode_of:
            _, s = spec.step(s, spec.outcome(kind, episode_of.pop(), now), c)
        assert spec.invariant_holds(s, c), s
