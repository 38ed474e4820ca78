r"""Obligations for retry, bulkhead, timeout, fallback and the resilient client (T2.3).

Section 2.3 of the source is about tolerating faults; the breaker is one
pattern of several, and the others carry guarantees of their own that the
breaker's effectiveness relies on (a retry that sleeps through a break, or a
bulkhead that grows past its limit, undoes what the breaker saves). Each is
stated on the specification's deciders (:mod:`spec.resilience`), then the
implementation is run on the virtual-time loop against those deciders:

- retry: at most ``max_retries + 1`` attempts; each delay within the
  schedule's bounds and capped; no retry of a cancellation, of a
  non-retryable error, or of a circuit-open rejection before its retry time;
  the overall deadline honoured. The implementation's attempt times equal the
  specification's to the exact binary fraction.
- bulkhead: ``in_use + available == limit`` and ``in_use <= limit`` after every
  step; a waiter that times out or is cancelled takes and releases nothing;
  the implementation grants permits to the same callers, in the same order,
  as the specification.
- timeout: a call ends at ``min(duration, timeout)`` exactly; a cut-off call's
  task is cancelled and nothing is left running.
- fallback: answers every handled error and never a cancellation.
- the resilient client: a call terminates, and each layer is entered exactly
  as often as :func:`spec.resilience.expected_entries` says (fallback and retry
  once per call, the others once per attempt); the plain client calls the
  instance the balancer chose, over its transport, through the breaker it was
  given.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
from collections.abc import Sequence
from fractions import Fraction
from typing import Any, ClassVar

from hypothesis import strategies as st

from proofs.obligation import Method, obligation
from proofs.obligations.breaker import (
    Complaint,
    no_shrink,
    run_machine,
    scenario_examples,
    stateful_examples,
    stateful_verdict,
)
from proofs.profiles import Profile
from proofs.search import search
from proofs.verdict import JSONValue, Outcome, Verdict

SPEC = "spec.resilience"
IMPL = "impl.resilience"
CLIENT = "impl.client"

#: Binary fractions, so that float arithmetic in the implementation is exact.
_DRAWS = st.sampled_from([Fraction(k, 8) for k in range(9)])


# Retry on the specification -------------------------------------------------


def _schedules(q: Any) -> Any:
    return st.builds(
        q.RetrySchedule,
        max_retries=st.integers(0, 5),
        base_delay=st.sampled_from([Fraction(1, 4), Fraction(1, 2), Fraction(1)]),
        max_delay=st.sampled_from([Fraction(1), Fraction(4), Fraction(60)]),
        exponential_backoff=st.booleans(),
        multiplier=st.sampled_from([Fraction(1), Fraction(3, 2), Fraction(2)]),
        jitter=st.sampled_from([Fraction(0), Fraction(1, 4), Fraction(1, 2)]),
        deadline=st.one_of(st.none(), st.sampled_from([Fraction(3), Fraction(10)])),
    )


_ATTEMPT = st.tuples(
    st.sampled_from(
        ["failure", "timeout", "circuit_open", "bulkhead_full", "non_retryable"]
    ),
    st.sampled_from([Fraction(0), Fraction(1, 2), Fraction(1)]),
    st.sampled_from([None, Fraction(1, 2), Fraction(3), Fraction(20)]),
)


def simulate_schedule(
    q: Any,
    schedule: Any,
    attempts: Sequence[tuple[str, Fraction, Fraction | None]],
    draws: Sequence[Fraction],
) -> dict[str, Any]:
    """Run the retry decider against attempts that all fail.

    ``attempts[k]`` is (error kind, duration, retry_after for a circuit-open
    rejection). Returns the attempt start times, the delays and the reason for
    stopping. An attempt still running at the deadline is cut off there.
    """
    starts: list[Fraction] = []
    delays: list[Fraction] = []
    now = Fraction(0)
    used = 0
    for k, (kind, duration, retry_after) in enumerate(attempts, start=1):
        starts.append(now)
        end = now + duration
        if schedule.deadline is not None and end >= schedule.deadline:
            return {"starts": starts, "delays": delays, "stop": "cut at deadline"}
        u = draws[used] if used < len(draws) else Fraction(1, 2)
        decision = q.decide(
            schedule,
            k,
            kind,
            elapsed=end,
            u=u,
            retry_after=retry_after if kind == "circuit_open" else None,
        )
        if kind not in q.NOT_RETRIED and k < schedule.max_attempts:
            used += 1
        if isinstance(decision, q.GiveUp):
            return {"starts": starts, "delays": delays, "stop": decision.reason}
        delays.append(decision.delay)
        now = end + decision.delay
    return {"starts": starts, "delays": delays, "stop": "ran out of attempts"}


@obligation(
    "T2.3/retry-schedule-within-bounds",
    reading="Whatever the errors, the retry decider makes at most max_retries "
    "+ 1 attempts; each delay lies within [d (1 - jitter), d] for the nominal "
    "capped delay d, except that a circuit-open rejection waits at least until "
    "its retry time; it never retries a non-retryable error, a cancellation, "
    "or a circuit-open rejection without a retry time; and with a deadline no "
    "attempt starts at or after it.",
    formal=r"n \le r + 1,\quad d_k(1-j) \le \delta_k \le \min(b m^{k-1}, "
    r"d_{\max}),\quad t_{\mathrm{start}} < D",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=SPEC,
)
def _retry_schedule(q: Any, profile: Profile) -> Verdict:
    cases = st.tuples(
        _schedules(q),
        st.lists(_ATTEMPT, min_size=1, max_size=8),
        st.lists(_DRAWS, max_size=8),
    )

    def prop(case: Any) -> str | None:
        schedule, attempts, draws = case
        out = simulate_schedule(q, schedule, attempts, draws)
        starts, delays = out["starts"], out["delays"]
        if len(starts) > schedule.max_attempts:
            return f"{len(starts)} attempts, more than {schedule.max_attempts}"
        for k, delay in enumerate(delays, start=1):
            kind, _, retry_after = attempts[k - 1]
            if kind in q.NOT_RETRIED:
                return f"attempt {k} ended {kind} and was retried"
            lo, hi = q.delay_bounds(schedule, k)
            if hi > schedule.max_delay:
                return f"nominal delay {hi} after attempt {k} exceeds the cap"
            if kind == "circuit_open":
                if retry_after is None:
                    return f"attempt {k}: circuit open with no retry time, retried"
                if delay < retry_after:
                    return (
                        f"attempt {k}: retried after {delay}, before the "
                        f"breaker's retry time {retry_after}"
                    )
                if delay > max(hi, retry_after):
                    return f"attempt {k}: waited {delay}, longer than needed"
            elif not lo <= delay <= hi:
                return f"delay {delay} after attempt {k} outside [{lo}, {hi}]"
        if schedule.deadline is not None and any(
            t >= schedule.deadline for t in starts
        ):
            return f"an attempt started at or after the deadline {schedule.deadline}"
        nominal = [q.nominal_delay(schedule, k) for k in range(1, 8)]
        if any(b < a for a, b in itertools.pairwise(nominal)):
            return f"nominal delays decrease: {nominal}"
        return None

    found = search(cases, prop, profile, **no_shrink())
    if found.found:
        schedule, attempts, draws = found.counterexample  # type: ignore[misc]
        return Verdict.refuted(
            "Hypothesis, exact fractions",
            {
                "schedule": _describe_schedule(schedule),
                "attempts": [_describe_attempt(a) for a in attempts],
                "jitter draws": [str(u) for u in draws],
                "problem": found.message,
            },
            searched={"examples": found.calls},
        )
    return Verdict.checked(
        "Hypothesis, exact fractions",
        searched={"examples": found.calls},
        bounds="0-5 retries, up to 8 attempts, every error kind",
    )


def _describe_schedule(s: Any) -> dict[str, Any]:
    return {
        "max_retries": s.max_retries,
        "base_delay": str(s.base_delay),
        "max_delay": str(s.max_delay),
        "exponential_backoff": s.exponential_backoff,
        "multiplier": str(s.multiplier),
        "jitter": str(s.jitter),
        "deadline": None if s.deadline is None else str(s.deadline),
    }


def _describe_attempt(a: tuple[str, Fraction, Fraction | None]) -> str:
    kind, duration, retry_after = a
    extra = f", retry after {retry_after}" if kind == "circuit_open" else ""
    return f"{kind} after {duration} s{extra}"


# Bulkhead on the specification -------------------------------------------------


@obligation(
    "T2.3/bulkhead-permits-bounded",
    reading="Whatever callers arrive, release, time out or are cancelled, the "
    "bulkhead's permits in use stay within [0, limit], nobody waits while a "
    "permit is free, and permits go to waiters first come, first served.",
    formal=r"0 \le \mathrm{in\_use} \le L,\quad "
    r"\mathrm{waiting} \ne \emptyset \Rightarrow \mathrm{in\_use} = L",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=SPEC,
)
def _bulkhead_spec(q: Any, profile: Profile) -> Verdict:
    # Acquisitions twice as likely as the rest, so that lines form.
    kinds = st.sampled_from(["acquire", "acquire", "release", "give_up"])
    ops = st.lists(st.tuples(kinds, st.integers(0, 5)), max_size=16)
    cases = st.tuples(st.integers(1, 3), st.booleans(), ops)

    def prop(case: Any) -> str | None:
        limit, may_wait, operations = case
        state = q.BulkheadState(limit)
        holders: list[int] = []
        arrivals: list[int] = []
        caller = 0
        for op, n in operations:
            if op == "acquire":
                caller += 1
                out, state = q.bulkhead_acquire(state, caller, may_wait=may_wait)
                if isinstance(out, q.Queued):
                    arrivals.append(caller)
                elif isinstance(out, q.Granted):
                    holders.append(caller)
            elif op == "release" and holders:
                holders.pop(n % len(holders))
                out, state = q.bulkhead_release(state)
                if isinstance(out, q.Granted):
                    if not arrivals or out.caller != arrivals[0]:
                        return f"permit went to {out.caller}, first in line {arrivals}"
                    holders.append(arrivals.pop(0))
            elif op == "give_up" and state.waiting:
                leaving = state.waiting[n % len(state.waiting)]
                _, state = q.bulkhead_give_up(state, leaving)
                arrivals.remove(leaving)
            problem = q.bulkhead_invariant(state)
            if problem is not None:
                return f"after {op}: {problem}"
            if state.in_use != len(holders) or list(state.waiting) != arrivals:
                return (
                    f"after {op}: in_use {state.in_use}, waiting "
                    f"{list(state.waiting)}; holders {holders}, line {arrivals}"
                )
        return None

    # Each example is a few pure steps: search twice the usual count.
    found = search(
        cases, prop, profile, max_examples=2 * profile.examples, **no_shrink()
    )
    if found.found:
        limit, may_wait, operations = found.counterexample  # type: ignore[misc]
        return Verdict.refuted(
            "Hypothesis",
            {
                "limit": limit,
                "may wait": may_wait,
                "operations": [f"{op} {n}" for op, n in operations],
                "problem": found.message,
            },
            searched={"examples": found.calls},
        )
    return Verdict.checked(
        "Hypothesis", searched={"examples": found.calls}, bounds="limits 1-3"
    )


# Retry on the implementation ---------------------------------------------------


class _Draws(random.Random):
    """A generator whose draws are given in advance (then 1/2 for ever)."""

    def __init__(self, draws: Sequence[Fraction]) -> None:
        super().__init__(0)
        self._queue = [float(u) for u in draws]

    def random(self) -> float:
        return self._queue.pop(0) if self._queue else 0.5


def _error_for(kind: str, retry_after: Fraction | None, now: float) -> Exception:
    from impl import errors

    if kind == "failure":
        return errors.ConnectionFailed("dependency reset the connection")
    if kind == "timeout":
        return errors.CallTimeoutError("dependency timed out", timeout=1.0)
    if kind == "bulkhead_full":
        return errors.BulkheadFullError(
            "bulkhead full", bulkhead="b", limit=1, waited=0.0
        )
    if kind == "non_retryable":
        return errors.ConfigurationError("a mistake does not heal by waiting")
    return errors.CircuitOpenError(
        "circuit open",
        breaker="dependency",
        state="open",
        retry_at=None if retry_after is None else now + float(retry_after),
    )


async def _impl_retry_run(
    q: Any,
    schedule: Any,
    attempts: Sequence[tuple[str, Fraction, Fraction | None]],
    draws: Sequence[Fraction],
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    policy = q.RetryPolicy(
        max_retries=schedule.max_retries,
        base_delay=float(schedule.base_delay),
        max_delay=float(schedule.max_delay),
        exponential_backoff=schedule.exponential_backoff,
        multiplier=float(schedule.multiplier),
        jitter=float(schedule.jitter),
        deadline=None if schedule.deadline is None else float(schedule.deadline),
        rng=_Draws(draws),
    )
    starts: list[Fraction] = []
    start = loop.time()

    async def attempt() -> None:
        k = len(starts)
        starts.append(Fraction(loop.time() - start))
        kind, duration, retry_after = attempts[min(k, len(attempts) - 1)]
        await asyncio.sleep(float(duration))
        raise _error_for(kind, retry_after, loop.time())

    try:
        await policy.execute(attempt)
    except Exception as exc:
        return {"starts": starts, "error": type(exc).__name__}
    return {"starts": starts, "error": None}


@obligation(
    "T2.3/impl-retry-matches-schedule",
    reading="The implementation's RetryPolicy, run on the virtual-time loop "
    "against attempts that fail in every way (including circuit-open "
    "rejections with and without a retry time, and a cancellation-free "
    "non-retryable error), starts its attempts at exactly the times the "
    "specification's decider gives for the same jitter draws, and stops where "
    "it stops; at the deadline it cuts the running attempt off.",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=IMPL,
)
def _impl_retry(q: Any, profile: Profile) -> Verdict:
    from proofs.harness.vtime import run
    from spec import resilience as model

    cases = st.tuples(
        _schedules(model),
        st.lists(_ATTEMPT, min_size=1, max_size=7),
        st.lists(_DRAWS, max_size=7),
    )

    def prop(case: Any) -> str | None:
        schedule, attempts, draws = case
        # Repeat the last attempt up to the most attempts the schedule allows:
        # the implementation calls for as long as the policy says.
        attempts = [*attempts, *[attempts[-1]] * schedule.max_attempts]
        expected = simulate_schedule(model, schedule, attempts, draws)
        got = run(_impl_retry_run(q, schedule, attempts, draws))
        if got["starts"] != expected["starts"]:
            return (
                f"attempts started at {[str(t) for t in got['starts']]}; the "
                f"specification says {[str(t) for t in expected['starts']]} "
                f"({expected['stop']})"
            )
        if expected["stop"] == "cut at deadline" and got["error"] != "CallTimeoutError":
            return f"cut at the deadline, the policy raised {got['error']}"
        return None

    found = search(
        cases, prop, profile, max_examples=scenario_examples(profile), **no_shrink()
    )
    if found.found:
        schedule, attempts, draws = found.counterexample  # type: ignore[misc]
        return Verdict.refuted(
            "Hypothesis, virtual-time loop",
            {
                "schedule": _describe_schedule(schedule),
                "attempts": [_describe_attempt(a) for a in attempts],
                "jitter draws": [str(u) for u in draws],
                "problem": found.message,
            },
            searched={"examples": found.calls},
        )
    return Verdict.checked(
        "Hypothesis, virtual-time loop",
        searched={"examples": found.calls},
        bounds="0-5 retries, up to 8 attempts, every error kind, exact times",
    )


async def _retry_cancel_scenario(q: Any, cancel_at: float) -> str | None:
    loop = asyncio.get_running_loop()
    policy = q.RetryPolicy(max_retries=5, base_delay=1.0, jitter=0.0)
    attempts = 0

    async def attempt() -> None:
        nonlocal attempts
        attempts += 1
        await asyncio.sleep(0.5)
        raise ConnectionError("down")

    task = loop.create_task(policy.execute(attempt))
    await asyncio.sleep(cancel_at)
    task.cancel()
    with contextlib.suppress(BaseException):
        await task
    made = attempts
    await asyncio.sleep(60)
    if not task.cancelled():
        return f"the retry did not end cancelled when cancelled at {cancel_at} s"
    if attempts != made:
        return f"attempts went on after the cancellation ({made} -> {attempts})"
    return None


@obligation(
    "T2.3/impl-retry-never-retries-cancellation",
    reading="A retrying call that is cancelled, during an attempt or during "
    "a back-off sleep, ends cancelled at once and makes no further attempt.",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=IMPL,
)
def _retry_cancel(q: Any, profile: Profile) -> Verdict:
    from proofs.harness.vtime import run

    found = search(
        st.sampled_from([0.25, 0.5, 0.75, 1.25, 2.0, 3.5, 5.25]),
        lambda t: run(_retry_cancel_scenario(q, t)),
        profile,
        max_examples=min(profile.examples, 30),
        **no_shrink(),
    )
    if found.found:
        return Verdict.refuted(
            "Hypothesis, virtual-time loop",
            {"cancelled at": found.counterexample, "problem": found.message},
            searched={"examples": found.calls},
        )
    return Verdict.checked(
        "Hypothesis, virtual-time loop",
        searched={"examples": found.calls},
        bounds="cancellation during attempts and during sleeps",
    )


# Bulkhead on the implementation --------------------------------------------------


def bulkhead_machine(q: Any) -> type[Any]:
    """Callers through an implementation bulkhead beside the specification's."""
    from hypothesis.stateful import (
        RuleBasedStateMachine,
        initialize,
        invariant,
        precondition,
        rule,
    )

    from proofs.harness.vtime import VirtualTimeDeadlock, VirtualTimeLoop
    from spec import resilience as model

    class BulkheadMachine(RuleBasedStateMachine):
        counts: ClassVar[dict[str, int]] = {}

        def __init__(self) -> None:
            super().__init__()
            self.counts["runs"] += 1
            self.loop = VirtualTimeLoop()
            self.trace: list[str] = []
            self.tasks: dict[int, asyncio.Task[Any]] = {}
            self.release: dict[int, asyncio.Future[Any]] = {}
            self.inside: set[int] = set()
            self.arrived_at: dict[int, float] = {}
            self.holders: set[int] = set()
            self.next_id = 0
            self.spec: Any = None
            self.bulkhead: Any = None

        def complain(self, message: str) -> None:
            raise Complaint(message, self.trace)

        def run(self, awaitable: Any) -> Any:
            try:
                return self.loop.run_until_complete(awaitable)
            except VirtualTimeDeadlock as exc:
                self.complain(f"the callers deadlocked: {exc}")

        def settle(self) -> None:
            self.run(asyncio.sleep(0))

        @initialize(limit=st.integers(1, 3), wait=st.sampled_from([0.0, 1.0, 2.5]))
        def build(self, limit: int, wait: float) -> None:
            self.limit, self.wait = limit, wait
            self.bulkhead = q.BulkheadPattern(limit, max_wait_time=wait, name="pool")
            self.spec = model.BulkheadState(limit)
            self.trace.append(f"BulkheadPattern({limit}, max_wait_time={wait})")

        @rule()
        def arrive(self) -> None:
            self.counts["steps"] += 1
            i = self.next_id
            self.next_id += 1
            done = self.loop.create_future()
            self.release[i] = done

            async def work() -> None:
                self.inside.add(i)
                try:
                    await done
                finally:
                    self.inside.discard(i)

            self.tasks[i] = self.loop.create_task(self.bulkhead.execute(work))
            self.arrived_at[i] = self.loop.time()
            self.settle()
            self.trace.append(f"t={self.loop.time():g}: caller {i} arrives")
            out, self.spec = model.bulkhead_acquire(
                self.spec, i, may_wait=self.wait > 0
            )
            if isinstance(out, model.Granted):
                self.holders.add(i)
            elif isinstance(out, model.Full):
                self.expect_refused(i)

        def expect_refused(self, i: int) -> None:
            self.settle()
            task = self.tasks.pop(i)
            if not task.done():
                self.complain(f"caller {i} should have been refused and was not")
            if not isinstance(task.exception(), q.BulkheadFullError):
                self.complain(f"caller {i} ended with {task.exception()!r}")

        def release_by(self, i: int) -> None:
            self.holders.discard(i)
            out, self.spec = model.bulkhead_release(self.spec)
            if isinstance(out, model.Granted):
                self.holders.add(out.caller)

        @precondition(lambda self: bool(self.holders))
        @rule(data=st.data())
        def finish(self, data: Any) -> None:
            self.counts["steps"] += 1
            i = data.draw(st.sampled_from(sorted(self.holders)), label="holder")
            self.release[i].set_result(None)
            self.settle()
            self.settle()
            self.trace.append(f"t={self.loop.time():g}: caller {i} finishes")
            task = self.tasks.pop(i)
            if not task.done():
                self.complain(f"caller {i} did not finish")
            task.exception()
            self.release_by(i)

        @precondition(lambda self: bool(self.holders) and bool(self.spec.waiting))
        @rule(data=st.data())
        def handoff_race(self, data: Any) -> None:
            """A holder finishes and, in the same turn of the loop, the first
            waiter (to whom the permit was just handed) is cancelled."""
            self.counts["steps"] += 1
            i = data.draw(st.sampled_from(sorted(self.holders)), label="holder")
            first = self.spec.waiting[0]
            self.release[i].set_result(None)
            # Queued behind the holder's wake-up: the holder releases (handing
            # the permit to the waiter), then the waiter is cancelled before
            # it has run again.
            self.loop.call_soon(self.tasks[first].cancel)
            self.settle()
            self.settle()
            self.trace.append(
                f"t={self.loop.time():g}: caller {i} finishes and waiter {first} "
                "is cancelled in the same turn"
            )
            self.tasks.pop(i).exception()
            self.tasks.pop(first)
            self.release_by(i)
            if first in self.holders:
                self.release_by(first)
            elif first in self.spec.waiting:
                _, self.spec = model.bulkhead_give_up(self.spec, first)

        @precondition(lambda self: bool(self.tasks))
        @rule(data=st.data())
        def cancel(self, data: Any) -> None:
            self.counts["steps"] += 1
            i = data.draw(st.sampled_from(sorted(self.tasks)), label="caller")
            self.tasks.pop(i).cancel()
            self.settle()
            self.settle()
            self.trace.append(f"t={self.loop.time():g}: caller {i} is cancelled")
            if i in self.holders:
                self.release_by(i)
            elif i in self.spec.waiting:
                _, self.spec = model.bulkhead_give_up(self.spec, i)

        @rule(dt=st.sampled_from([0.5, 1.0, 3.0]))
        def wait_for(self, dt: float) -> None:
            self.counts["steps"] += 1
            now = self.loop.time() + dt
            self.run(asyncio.sleep(dt))
            self.settle()
            self.trace.append(f"wait {dt} s")
            for i in list(self.spec.waiting):
                if self.arrived_at[i] + self.wait <= now:
                    _, self.spec = model.bulkhead_give_up(self.spec, i)
                    self.expect_refused(i)

        @invariant()
        def permits_add_up(self) -> None:
            if self.bulkhead is None:
                return
            b = self.bulkhead
            if b.in_use + b.available_capacity != self.limit:
                self.complain(
                    f"in_use {b.in_use} + available {b.available_capacity} != "
                    f"limit {self.limit}"
                )
            if not 0 <= b.in_use <= self.limit or len(self.inside) > self.limit:
                self.complain(
                    f"{len(self.inside)} calls inside, in_use {b.in_use}, "
                    f"limit {self.limit}"
                )
            if self.inside != self.holders or b.in_use != self.spec.in_use:
                self.complain(
                    f"inside {sorted(self.inside)} (in_use {b.in_use}); the "
                    f"specification grants {sorted(self.holders)} "
                    f"(in_use {self.spec.in_use})"
                )

        def teardown(self) -> None:
            for task in self.tasks.values():
                task.cancel()
            if self.tasks:
                # Bounded in loop time: a faulty bulkhead may never let go.
                self.loop.run_until_complete(
                    asyncio.wait(list(self.tasks.values()), timeout=60)
                )
            self.loop.close()

    return BulkheadMachine


@obligation(
    "T2.3/impl-bulkhead-permits-conserved",
    reading="Callers arrive at an implementation bulkhead, finish, are "
    "cancelled while waiting or while holding a permit, and time out in line; "
    "after every step in_use + available == limit, at most limit calls are "
    "inside, and the callers inside are exactly those the specification "
    "grants, first come first served.",
    formal=r"\mathrm{in\_use} + \mathrm{available} = L,\quad "
    r"|\mathrm{inside}| \le L",
    method=Method.STATEFUL,
    expected=Outcome.CHECKED,
    subject=IMPL,
)
def _impl_bulkhead(q: Any, profile: Profile) -> Verdict:
    complaint, counts = run_machine(
        bulkhead_machine(q), profile, stateful_examples(profile)
    )
    return stateful_verdict(
        complaint,
        counts,
        "Permits, callers inside and the line compared with the specification "
        "after every step.",
        "limits 1-3, waits of 0, 1 and 2.5 s",
    )


# The bulkhead under controlled interleavings ---------------------------------------

#: One caller of the interleaved bulkhead: (turns it yields before arriving,
#: how long it holds its permit, whether another task cancels it, a turn
#: after the caller's arrival in the default order). A hold of
#: 0 is one turn of the loop; 1 is one virtual second, as long as the wait for
#: a permit, so that a release and a time-out fall due at the same instant.
BulkheadCaller = tuple[int, int, bool]
#: A whole scenario: the limit, and the callers.
BulkheadPlan = tuple[int, tuple[BulkheadCaller, ...]]

#: The scenarios explored exhaustively: a limit of 1 with three callers
#: arriving a turn apart, the first holding as long as the others may
#: wait, the last cancelled; a limit of 2 with four such callers; and a
#: limit of 1 with a holder and a waiter cancelled about when it is served.
BULKHEAD_RACES: tuple[BulkheadPlan, ...] = (
    (1, ((0, 1, False), (1, 0, False), (2, 0, True))),
    (2, ((0, 0, False), (1, 0, False), (2, 1, False), (3, 0, True))),
    (1, ((0, 0, False), (0, 0, True))),
)
BULKHEAD_DELAY_BOUND = 2

_bulkhead_plans: st.SearchStrategy[BulkheadPlan] = st.tuples(
    st.integers(1, 2),
    st.lists(
        st.tuples(st.integers(0, 4), st.integers(0, 1), st.booleans()),
        min_size=2,
        max_size=4,
    ).map(tuple),
)


def _bulkhead_scenario(q: Any, plan: BulkheadPlan) -> Any:
    """The scenario of ``plan``: its complaint at the first step that broke."""
    limit, callers = plan

    async def scenario() -> str | None:
        loop = asyncio.get_running_loop()
        bulkhead = q.BulkheadPattern(limit, max_wait_time=1.0, name="pool")
        inside: set[int] = set()
        broken: list[str] = []
        turns = 0

        def watch() -> None:
            # Runs before every turn of the loop, whichever callback is next.
            nonlocal turns
            turns += 1
            if broken:
                return
            used, free = bulkhead.in_use, bulkhead.available_capacity
            if used + free != limit:
                broken.append(f"in_use {used} + available {free} != limit {limit}")
            elif not 0 <= used <= limit:
                broken.append(f"in_use {used} outside 0..{limit}")
            elif len(inside) > used:
                broken.append(
                    f"{len(inside)} callers {sorted(inside)} inside, with "
                    f"in_use {used} (limit {limit})"
                )
            if broken:
                broken[-1] = f"at turn {turns}: {broken[-1]}"

        async def work(i: int, hold: int) -> None:
            inside.add(i)
            try:
                await asyncio.sleep(hold)
            finally:
                inside.discard(i)

        async def caller(i: int, arrive: int, hold: int) -> None:
            for _ in range(arrive):
                await asyncio.sleep(0)
            try:
                await bulkhead.execute(work, i, hold)
            except q.BulkheadFullError:
                pass  # timed out in line: an expected outcome
            except Exception as exc:
                broken.append(f"caller {i} got {type(exc).__name__}: {exc}")

        tasks = [
            loop.create_task(caller(i, arrive, hold))
            for i, (arrive, hold, _) in enumerate(callers)
        ]

        async def cancel(task: asyncio.Task[None], turns: int) -> None:
            for _ in range(turns):
                await asyncio.sleep(0)
            task.cancel()

        cancellers = [
            loop.create_task(cancel(t, arrive + 1))
            for t, (arrive, _, cancelled) in zip(tasks, callers, strict=True)
            if cancelled
        ]
        watchers = getattr(loop, "watchers", None)
        if watchers is None:
            return "the scenario needs the virtual-time loop's watchers"
        watchers.append(watch)
        await asyncio.gather(*tasks, *cancellers, return_exceptions=True)
        watchers.remove(watch)
        watch()
        if broken:
            return broken[0]
        if (bulkhead.in_use, bulkhead.waiting) != (0, 0):
            return (
                f"after every caller ended: in_use {bulkhead.in_use}, "
                f"{bulkhead.waiting} waiting (limit {limit})"
            )
        return None

    return scenario


def _show_bulkhead_plan(plan: BulkheadPlan) -> dict[str, JSONValue]:
    limit, callers = plan
    return {
        "limit": limit,
        "max_wait_time_s": 1.0,
        "callers": [
            f"caller {i}: arrives after {arrive} turns, holds "
            f"{'1 s' if hold else 'one turn'}"
            f"{', cancelled a turn after it arrives' if cancelled else ''}"
            for i, (arrive, hold, cancelled) in enumerate(callers)
        ],
    }


@obligation(
    "T2.3/impl-bulkhead-under-interleavings",
    reading="Concurrent callers go through one implementation bulkhead, some "
    "cancelled, some timing out in line, some releasing at the instant "
    "another's wait runs out, in every order of the ready callbacks the "
    "scheduler tries: before every turn of the loop in_use + available == "
    "limit, 0 <= in_use <= limit, and no more callers are inside than "
    "permits in use; when all have ended, nothing is held or waiting.",
    formal=r"\forall\ \text{schedules}\ \forall t:\ "
    r"\mathrm{in\_use}_t + \mathrm{available}_t = L,\ "
    r"|\mathrm{inside}_t| \le \mathrm{in\_use}_t \le L",
    method=Method.INTERLEAVINGS,
    expected=Outcome.CHECKED,
    subject=IMPL,
    assumptions=(
        "callers share one event loop; every await is a possible switch",
        "timers due at one instant run in the order the scheduler picks",
    ),
)
def _bulkhead_interleavings(q: Any, profile: Profile) -> Verdict:
    from proofs.harness.scheduler import (
        explore,
        replay,
        search_inputs_and_schedules,
    )

    explored = 0
    for plan in BULKHEAD_RACES:
        race = explore(_bulkhead_scenario(q, plan), bound=BULKHEAD_DELAY_BOUND)
        explored += race.schedules
        if race.failure is not None:
            again = replay(_bulkhead_scenario(q, plan), race.failure.schedule)
            return Verdict.refuted(
                "exhaustive interleavings, least delays first",
                {
                    **_show_bulkhead_plan(plan),
                    "schedule": str(race.failure.schedule),
                    "problem": race.failure.complaint,
                    "replays": again == race.failure.complaint,
                },
                searched={"schedules": explored},
            )
        if not race.complete:
            return Verdict.unknown(
                "exhaustive interleavings",
                f"the schedule cap stopped the search at {race.schedules} "
                f"schedules, before delay bound {BULKHEAD_DELAY_BOUND}",
            )
    found = search_inputs_and_schedules(
        lambda plan: _bulkhead_scenario(q, plan),
        _bulkhead_plans,
        profile,
        max_examples=scenario_examples(profile),
    )
    if found.failure is not None and found.example is not None:
        plan = found.example
        again = replay(_bulkhead_scenario(q, plan), found.failure.schedule)
        return Verdict.refuted(
            "Hypothesis over plans and schedules, shrunk",
            {
                **_show_bulkhead_plan(plan),
                "schedule": str(found.failure.schedule),
                "problem": found.failure.complaint,
                "replays": again == found.failure.complaint,
            },
            searched={"exhaustive_schedules": explored, "drawn_runs": found.runs},
        )
    return Verdict.checked(
        "controlled interleavings: exhaustive to a delay bound, then drawn",
        searched={"exhaustive_schedules": explored, "drawn_runs": found.runs},
        bounds=f"{len(BULKHEAD_RACES)} fixed scenarios under every schedule of at "
        f"most {BULKHEAD_DELAY_BOUND} delays; drawn: limits 1-2, 2-4 callers "
        "arriving within 4 turns, holding one turn or 1 s, any cancelled",
    )


# Timeout -------------------------------------------------------------------------

_DURATIONS = st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0, 10.0])


async def _timeout_scenario(
    q: Any, limit: float, calls: list[tuple[float, float]]
) -> str | None:
    loop = asyncio.get_running_loop()
    pattern = q.TimeoutPattern(limit, name="cutoff")
    ends: dict[int, tuple[str, float]] = {}
    cancelled: set[int] = set()

    async def slow(i: int, duration: float) -> int:
        try:
            await asyncio.sleep(duration)
        except asyncio.CancelledError:
            cancelled.add(i)
            raise
        return i

    async def caller(i: int, offset: float, duration: float) -> None:
        await asyncio.sleep(offset)
        start = loop.time()
        try:
            got = await pattern.execute(slow, i, duration)
            ends[i] = (f"result {got}", loop.time() - start)
        except q.CallTimeoutError:
            ends[i] = ("timed out", loop.time() - start)

    await asyncio.gather(*(caller(i, o, d) for i, (o, d) in enumerate(calls)))
    await asyncio.sleep(0)
    for i, (_, duration) in enumerate(calls):
        want = (f"result {i}", duration) if duration < limit else ("timed out", limit)
        if ends.get(i) != want:
            return f"call {i} of {duration} s under a {limit} s limit: {ends.get(i)}"
        if (duration >= limit) != (i in cancelled):
            return f"call {i} was {'not ' if i not in cancelled else ''}cancelled"
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    if others:
        return f"{len(others)} task(s) left running after every call ended"
    return None


@obligation(
    "T2.3/impl-timeout-cuts-off-exactly",
    reading="Calls through one TimeoutPattern, started at different times and "
    "overlapping, each end at min(duration, timeout) of loop time exactly; a "
    "call cut off raises CallTimeoutError and its inner coroutine is "
    "cancelled; nothing is left running afterwards.",
    formal=r"t_{\mathrm{end}} - t_{\mathrm{start}} = \min(d, T)",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=IMPL,
)
def _impl_timeout(q: Any, profile: Profile) -> Verdict:
    from proofs.harness.vtime import run

    cases = st.tuples(
        st.sampled_from([0.75, 1.25, 2.5]),
        st.lists(
            st.tuples(st.sampled_from([0.0, 0.25, 1.0, 4.0]), _DURATIONS),
            min_size=1,
            max_size=6,
        ),
    )
    found = search(
        cases,
        lambda c: run(_timeout_scenario(q, c[0], c[1])),
        profile,
        max_examples=scenario_examples(profile),
        **no_shrink(),
    )
    if found.found:
        limit, calls = found.counterexample  # type: ignore[misc]
        return Verdict.refuted(
            "Hypothesis, virtual-time loop",
            {
                "timeout": limit,
                "calls (start, duration)": [list(c) for c in calls],
                "problem": found.message,
            },
            searched={"examples": found.calls},
        )
    return Verdict.checked(
        "Hypothesis, virtual-time loop",
        searched={"examples": found.calls},
        bounds="up to 6 overlapping calls per pattern",
    )


# Fallback ------------------------------------------------------------------------

_FALLBACK_CASES = ["failure", "timeout", "circuit_open", "bulkhead_full", "cancelled"]


async def _fallback_scenario(q: Any, kind: str) -> str | None:
    from spec import resilience as model

    loop = asyncio.get_running_loop()
    pattern = q.FallbackPattern(lambda: "fallback answer")
    started = loop.create_future()

    async def primary() -> str:
        started.set_result(None)
        if kind == "cancelled":
            await asyncio.sleep(3600)
        raise _error_for(kind, Fraction(1), loop.time())

    task = loop.create_task(pattern.execute(primary))
    await started
    if kind == "cancelled":
        task.cancel()
    with contextlib.suppress(BaseException):
        await task
    answered = not task.cancelled() and task.exception() is None
    if answered != model.fallback_applies(kind):
        return (
            f"an error of kind {kind} was "
            f"{'answered by' if answered else 'not answered by'} the fallback"
        )
    if kind == "cancelled" and not task.cancelled():
        return "a cancelled call did not end cancelled"
    return None


@obligation(
    "T2.3/impl-fallback-never-answers-cancellation",
    reading="The fallback answers every handled error of the call, and a "
    "cancelled call ends cancelled, never with the fallback's answer.",
    method=Method.EXHAUSTIVE,
    expected=Outcome.CHECKED,
    subject=IMPL,
)
def _impl_fallback(q: Any, profile: Profile) -> Verdict:
    from proofs.harness.vtime import run

    for kind in _FALLBACK_CASES:
        problem = run(_fallback_scenario(q, kind))
        if problem is not None:
            return Verdict.refuted(
                "enumeration of error kinds, virtual-time loop",
                {"error kind": kind, "problem": problem},
                searched={"kinds": len(_FALLBACK_CASES)},
            )
    return Verdict.checked(
        "enumeration of error kinds, virtual-time loop",
        searched={"kinds": len(_FALLBACK_CASES)},
    )


# The clients ---------------------------------------------------------------------


async def _registry(size: int) -> Any:
    """A registry with one service, ``svc``, of instances i0, i1, ..."""
    from impl.endpoints import ServiceEndpoint, ServiceInstance
    from impl.registry import ServiceRegistry

    registry = ServiceRegistry()
    for k in range(size):
        endpoint = ServiceEndpoint("127.0.0.1", 9000 + k)
        await registry.register(ServiceInstance("svc", f"i{k}", endpoint))
    return registry


def _round_robin() -> Any:
    from impl.balancing import RoundRobinStrategy

    return RoundRobinStrategy()


_LAYERS = ("fallback", "retry", "bulkhead", "breaker", "timeout")


class _Runaway(BaseException):
    """Stops a composition that does not terminate (not an Exception, so no
    layer can catch it)."""


def _counting_layers(q: Any, chosen: frozenset[str], budget: int) -> dict[str, Any]:
    """The chosen layers, instrumented to stop a composition that runs away.

    How often the breaker, the bulkhead and the timeout were entered is read
    from their own ledgers afterwards (admitted or rejected calls, granted or
    refused permits, armed calls), since the composed client takes their
    common cases inline; their execute methods only count towards the budget.
    """
    from impl.breaker import CircuitBreaker
    from impl.resilience import (
        BulkheadPattern,
        FallbackPattern,
        RetryPolicy,
        TimeoutPattern,
    )

    spent = [0]

    def enter() -> None:
        spent[0] += 1
        if spent[0] > budget:
            raise _Runaway(f"more than {budget} layer entries for one call")

    class Breaker(CircuitBreaker):
        async def call(self, func: Any, /, *args: Any, **kwargs: Any) -> Any:
            enter()
            return await super().call(func, *args, **kwargs)

    class Bulkhead(BulkheadPattern):
        async def execute(self, func: Any, /, *args: Any, **kwargs: Any) -> Any:
            enter()
            return await super().execute(func, *args, **kwargs)

    class Timeout(TimeoutPattern):
        async def execute(self, func: Any, /, *args: Any, **kwargs: Any) -> Any:
            enter()
            return await super().execute(func, *args, **kwargs)

    # Retry and fallback count their own executions (the composed client has
    # no frame per layer to hook); these overrides only stop a runaway.
    class Retry(RetryPolicy):
        async def execute(self, func: Any, /, *args: Any, **kwargs: Any) -> Any:
            enter()
            return await super().execute(func, *args, **kwargs)

    class Fallback(FallbackPattern):
        async def execute(self, func: Any, /, *args: Any, **kwargs: Any) -> Any:
            enter()
            return await super().execute(func, *args, **kwargs)

    layers: dict[str, Any] = {
        "circuit_breaker": Breaker(failure_threshold=100, name="svc")
        if "breaker" in chosen
        else None,
        "retry_policy": Retry(max_retries=2, base_delay=0.5, jitter=0.0)
        if "retry" in chosen
        else None,
        "bulkhead": Bulkhead(4, max_wait_time=0.0) if "bulkhead" in chosen else None,
        "timeout": Timeout(1.0) if "timeout" in chosen else None,
        "fallback": Fallback(lambda *a: {"fallback": True})
        if "fallback" in chosen
        else None,
    }
    return {"layers": layers, "enter": enter}


async def _pipeline_scenario(
    q: Any, chosen: frozenset[str], behaviours: list[str]
) -> str | None:
    from impl.transport import InMemoryResponse, InMemoryTransport
    from spec import resilience as model

    made = _counting_layers(q, chosen, budget=200)
    layers = made["layers"]
    if "timeout" not in chosen:
        # Without a timeout a hanging instance hangs the call, rightly.
        behaviours = ["fail" if b == "hang" else b for b in behaviours]
    calls: list[str] = []

    async def handler(request: Any) -> Any:
        behaviour = behaviours[min(len(calls), len(behaviours) - 1)]
        calls.append(behaviour)
        if behaviour == "hang":
            await asyncio.sleep(3600)
        if behaviour == "fail":
            return InMemoryResponse(503, "unavailable")
        return {"ok": request.instance_id}

    client = q.ResilientMicroserviceClient(
        await _registry(2),
        _round_robin(),
        transport=InMemoryTransport(handler),
        **layers,
    )
    try:
        result: Any = await asyncio.wait_for(
            client.call_service("svc", "work", {"n": 1}), timeout=600
        )
    except _Runaway as exc:
        return f"the call did not terminate: {exc}"
    except Exception as exc:
        if type(exc) is TimeoutError:  # wait_for's own, not a CallTimeoutError
            return "the call did not return within 600 s of loop time"
        result = type(exc).__name__

    present = tuple(layer for layer in _LAYERS if layer in chosen)
    attempts = len(calls)
    stops = ["call"] * attempts
    expected = model.expected_entries(present, stops)
    want = {layer: expected.count(layer) for layer in _LAYERS}
    # Each layer's entries, from its own ledger (0 for a layer not chosen).
    got = dict.fromkeys(_LAYERS, 0)
    if layers["circuit_breaker"] is not None:
        counters = layers["circuit_breaker"].counters
        got["breaker"] = counters.admitted + counters.rejected
    if layers["bulkhead"] is not None:
        got["bulkhead"] = layers["bulkhead"].acquired + layers["bulkhead"].rejected
    if layers["timeout"] is not None:
        got["timeout"] = layers["timeout"].armed
    for layer, name in (("retry", "retry_policy"), ("fallback", "fallback")):
        if layers[name] is not None:
            got[layer] = layers[name].executions
    if got != want:
        return (
            f"layers {list(present)}, {attempts} attempt(s) reached the "
            f"instance: entries {got}, expected {want}"
        )
    max_attempts = 3 if "retry" in chosen else 1
    ok = [b for b in behaviours[:max_attempts] if b == "ok"]
    if attempts > max_attempts:
        return f"{attempts} attempts; at most {max_attempts} allowed"
    first_ok = behaviours.index("ok") + 1 if ok else 0
    if ok and attempts != first_ok:
        return f"{attempts} attempts made; the first success was attempt {first_ok}"
    if ok and not (isinstance(result, dict) and result.get("ok")):
        return f"the call should have returned the instance's answer, got {result!r}"
    if not ok and "fallback" in chosen and result != {"fallback": True}:
        return f"every attempt failed; the fallback should answer, got {result!r}"
    if not ok and "fallback" not in chosen and isinstance(result, dict):
        return f"every attempt failed, yet the call returned {result!r}"
    return None


@obligation(
    "T2.3/client-applies-each-layer-once",
    reading="For every subset of the five layers and every sequence of instance "
    "behaviours (answer, fail with 503, hang past the timeout), a call through "
    "the resilient client terminates, reaches the instance at most max_retries "
    "+ 1 times, returns the first answer, and enters each layer exactly as "
    "often as the specification's pipeline says: fallback and retry once per "
    "call, bulkhead, breaker and timeout once per attempt.",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=CLIENT,
)
def _client_layers(q: Any, profile: Profile) -> Verdict:
    from proofs.harness.vtime import run

    cases = st.tuples(
        st.frozensets(st.sampled_from(_LAYERS)),
        st.lists(st.sampled_from(["ok", "fail", "hang"]), min_size=1, max_size=4),
    )
    found = search(
        cases,
        lambda c: run(_pipeline_scenario(q, c[0], c[1])),
        profile,
        max_examples=max(20, profile.examples // 2),
        **no_shrink(),
    )
    if found.found:
        chosen, behaviours = found.counterexample  # type: ignore[misc]
        return Verdict.refuted(
            "Hypothesis, virtual-time loop, in-memory transport",
            {
                "layers": [layer for layer in _LAYERS if layer in chosen],
                "instance behaviours": behaviours,
                "problem": found.message,
            },
            searched={"examples": found.calls},
        )
    return Verdict.checked(
        "Hypothesis, virtual-time loop, in-memory transport",
        searched={"examples": found.calls},
        bounds="all 32 subsets of the layers, up to 4 attempts",
    )


async def _given_breaker_scenario(q: Any, resilient: bool) -> str | None:
    from impl.breaker import CircuitBreaker
    from impl.transport import InMemoryResponse, InMemoryTransport

    served: list[tuple[str, Any]] = []
    failing = True

    def handler(request: Any) -> Any:
        served.append((request.instance_id, request.body))
        if failing:
            return InMemoryResponse(500, "down")
        return {"user": request.body["id"], "by": request.instance_id}

    breaker = CircuitBreaker(failure_threshold=2, recovery_timeout=10, name="svc")
    registry, balancer = await _registry(3), _round_robin()
    transport = InMemoryTransport(handler)
    if resilient:
        client = q.ResilientMicroserviceClient(
            registry, balancer, breaker, transport=transport
        )
    else:
        client = q.MicroserviceClient(registry, balancer, breaker, transport=transport)

    for _ in range(2):
        with contextlib.suppress(Exception):
            await client.call_service("svc", "get_user", {"id": 1})
    if breaker.state.value != "open" or len(served) != 2:
        return (
            f"after 2 failed calls the given breaker is {breaker.state.value} and "
            f"the instances saw {len(served)} request(s)"
        )
    try:
        await client.call_service("svc", "get_user", {"id": 1})
        return "a call went through while the given breaker was open"
    except Exception as exc:
        if type(exc).__name__ != "CircuitOpenError" or len(served) != 2:
            return f"with the breaker open the call raised {exc!r}"
    await asyncio.sleep(10)
    failing = False
    answer = await client.call_service("svc", "get_user", {"id": 7})
    expected = {"user": 7, "by": served[-1][0]}
    if answer != expected or served[-1][1] != {"id": 7}:
        return f"the probe answered {answer!r}; the instance answered {expected!r}"
    if breaker.state.value != "closed":
        return f"a successful probe left the breaker {breaker.state.value}"
    if [iid for iid, _ in served] != ["i0", "i1", "i2"]:
        return (
            f"requests went to {[iid for iid, _ in served]}, not in the balancer's turn"
        )
    return None


@obligation(
    "T2.3/client-calls-through-given-breaker",
    reading="The plain and the resilient client send each call to the instance "
    "the balancer chose, return that instance's decoded answer, and go through "
    "the breaker they were given: two failures open it, the next call is "
    "rejected without reaching any instance, and after the recovery timeout a "
    "successful probe closes it.",
    method=Method.EXHAUSTIVE,
    expected=Outcome.CHECKED,
    subject=CLIENT,
)
def _client_breaker(q: Any, profile: Profile) -> Verdict:
    from proofs.harness.vtime import run

    for resilient in (False, True):
        problem = run(_given_breaker_scenario(q, resilient))
        if problem is not None:
            name = "ResilientMicroserviceClient" if resilient else "MicroserviceClient"
            return Verdict.refuted(
                "scenario on the virtual-time loop, in-memory transport",
                {"client": name, "problem": problem},
                searched={"clients": 2},
            )
    return Verdict.checked(
        "scenario on the virtual-time loop, in-memory transport",
        searched={"clients": 2},
        bounds="both clients, one failing then recovering service of 3 instances",
    )
