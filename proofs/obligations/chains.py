r"""Latency obligations on the implementation: D3.1, D3.2 and T3.1, measured exactly.

The services of :mod:`impl.chains` run on the virtual-time loop with network
delays and processing times that are multiples of 1/8 s; every hop is a real
call of the resilient client (registry lookup, balancer choice, in-memory
transport), so these checks measure the implementation's own call path. Such numbers add
without rounding in floating point, so measured latencies are compared with
the expected sums *exactly*, not within a tolerance: a hop's worth of error
anywhere would show.

- D3.1: a caller blocked on a synchronous call resumes exactly when the
  answer is back, with the callee's answer.
- D3.2: requests arriving at one single-worker service wait exactly as
  Lindley's recursion in the specification (:func:`spec.communication.fifo_waits`)
  says, for the same arrivals and service times.
- T3.1: a nested chain's end-to-end latency is the sum of its hops; a fan-out's
  is its slowest branch; a plan of stages costs its critical path; a budget
  given to the first call propagates, each hop getting exactly what is left of
  its caller's, as :func:`spec.communication.propagate_timeouts` says.
"""

from __future__ import annotations

import asyncio
from fractions import Fraction
from typing import Any

from hypothesis import strategies as st

from proofs.harness.vtime import run
from proofs.obligation import Method, obligation
from proofs.profiles import Profile
from proofs.search import search
from proofs.verdict import Outcome, Verdict
from spec.communication import Hop, fifo_waits, nested_timeline, propagate_timeouts

SUBJECT = "impl.chains"

#: Multiples of 1/8 s up to 2 s: exact in binary floating point.
eighths = st.integers(0, 16).map(lambda k: k / 8)

_ASSUMPTIONS = (
    "the services run on the virtual-time loop; delays and processing times "
    "are multiples of 1/8 s, so sums are exact",
    "one request at a time unless stated (no queueing)",
)


def _exact(x: float) -> Fraction:
    return Fraction(x)


@obligation(
    "D3.1/impl-sync-call-blocks",
    reading="A synchronous call in the implementation blocks its caller: the "
    "caller resumes exactly one hop latency (network delay plus processing) "
    "after calling, holding the callee's own answer, and not a moment before.",
    formal=r"t_{\mathrm{resume}} = t_{\mathrm{call}} + d_{\mathrm{net}} + "
    r"t_{\mathrm{proc}},\ \mathrm{response} = \mathrm{answer}(S_j, \mathrm{req})",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=SUBJECT,
    assumptions=_ASSUMPTIONS,
)
def _sync_call(q: Any, profile: Profile) -> Verdict:
    def prop(case: tuple[float, float, float, int]) -> str | None:
        delay, processing, start, request = case

        async def main() -> str | None:
            loop = asyncio.get_running_loop()
            net = q.Network(delay=delay)
            net.add(q.ChainService("callee", processing_time=processing))
            await asyncio.sleep(start)
            called = loop.time()
            answer = await net.call("caller", "callee", {"n": request})
            waited = _exact(loop.time()) - _exact(called)
            if waited != _exact(delay) + _exact(processing):
                return (
                    f"caller resumed after {waited}, hop latency {delay + processing}"
                )
            if answer.get("service") != "callee" or answer.get("request") != {
                "n": request
            }:
                return f"the caller got {answer}, not the callee's answer"
            return None

        return run(main())

    found = search(
        st.tuples(eighths, eighths, eighths, st.integers(0, 9)), prop, profile
    )
    if found.found:
        delay, processing, start, _ = found.counterexample  # type: ignore[misc]
        return Verdict.refuted(
            "Hypothesis on the virtual-time loop",
            {
                "network delay (s)": delay,
                "processing (s)": processing,
                "called at (s)": start,
                "problem": found.message,
            },
            searched={"examples": found.calls},
        )
    return Verdict.checked(
        "Hypothesis on the virtual-time loop, exact times",
        searched={"examples": found.calls},
        bounds="delays and processing times 0-2 s in eighths",
    )


@obligation(
    "D3.2/impl-queue-wait-is-lindley",
    reading="Requests arriving at a single-worker implementation service wait "
    "for it exactly as Lindley's recursion in the specification says for the "
    "same arrival times and processing time: the QueueTime of D3.2, observed.",
    formal=r"W_k^{\mathrm{impl}} = W_k^{\mathrm{spec}} = "
    r"\max(0,\ W_{k-1} + s - (a_k - a_{k-1}))",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=SUBJECT,
    assumptions=("one worker, first come first served", _ASSUMPTIONS[0]),
)
def _queue_wait(q: Any, profile: Profile) -> Verdict:
    # Arrivals at distinct instants: requests arriving at one instant may be
    # served in either order, which FIFO leaves open.
    later = st.integers(1, 16).map(lambda k: k / 8)
    case = st.tuples(
        st.tuples(eighths, st.lists(later, max_size=7)).map(lambda t: [t[0], *t[1]]),
        eighths,
    )

    def prop(c: tuple[list[float], float]) -> str | None:
        gaps, processing = c

        async def main() -> list[Fraction]:
            net = q.Network()
            service = net.add(q.ChainService("db", processing_time=processing))

            async def client(k: int, at: float) -> None:
                await asyncio.sleep(at)
                await net.call(f"client-{k}", "db", k)

            arrivals, t = [], 0.0
            for gap in gaps:
                t += gap
                arrivals.append(t)
            await asyncio.gather(*(client(k, a) for k, a in enumerate(arrivals)))
            by_caller = {v.caller: v for v in service.visits}
            return [
                _exact(by_caller[f"client-{k}"].queue_time) for k in range(len(gaps))
            ]

        observed = run(main())
        arrivals, t = [], Fraction(0)
        for gap in gaps:
            t += _exact(gap)
            arrivals.append(t)
        expected = list(fifo_waits(arrivals, [_exact(processing)] * len(gaps)))
        if observed != expected:
            return (
                f"waits {[str(w) for w in observed]}, Lindley gives "
                f"{[str(w) for w in expected]}"
            )
        return None

    found = search(case, prop, profile)
    if found.found:
        gaps, processing = found.counterexample  # type: ignore[misc]
        return Verdict.refuted(
            "Hypothesis against the specification's recursion",
            {
                "interarrival gaps (s)": gaps,
                "processing (s)": processing,
                "problem": found.message,
            },
            searched={"examples": found.calls},
        )
    return Verdict.checked(
        "Hypothesis on the virtual-time loop against spec.communication.fifo_waits",
        searched={"examples": found.calls},
        bounds="up to 8 requests at distinct instants, gaps and processing 0-2 s "
        "in eighths",
    )


@obligation(
    "T3.1/impl-chain-latency-is-sum",
    reading="Measured on the implementation in virtual time, the latency of a "
    "nested chain S1 -> S2 -> ... -> Sn is exactly the sum of its hops' "
    "latencies (network delay plus processing), for chains of 1 to 6 hops.",
    formal=r"\mathrm{TotalLatency} = \sum_{i=1}^{n-1} \mathrm{Latency}(S_i, S_{i+1})",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=SUBJECT,
    assumptions=_ASSUMPTIONS,
)
def _chain(q: Any, profile: Profile) -> Verdict:
    case = st.lists(st.tuples(eighths, eighths), min_size=1, max_size=6)

    def prop(hops: list[tuple[float, float]]) -> str | None:
        names = [f"s{k + 2}" for k in range(len(hops))]
        delays = {
            ("s1" if k == 0 else names[k - 1], names[k]): d
            for k, (d, _) in enumerate(hops)
        }

        async def main() -> Fraction:
            loop = asyncio.get_running_loop()
            net = q.Network(delay=lambda a, b: delays[(a, b)])
            q.nested_chain(net, names, [p for _, p in hops])
            start = loop.time()
            await net.call("s1", names[0], "req")
            return _exact(loop.time()) - _exact(start)

        measured = run(main())
        total = sum((_exact(d) + _exact(p) for d, p in hops), Fraction(0))
        if measured != total:
            return f"measured {measured} s, hops add up to {total} s"
        return None

    found = search(case, prop, profile)
    if found.found:
        return Verdict.refuted(
            "Hypothesis on the virtual-time loop",
            {
                "hops (network delay s, processing s)": found.counterexample,
                "problem": found.message,
            },
            searched={"examples": found.calls},
        )
    return Verdict.checked(
        "Hypothesis on the virtual-time loop, exact times",
        searched={"examples": found.calls},
        bounds="chains of 1-6 hops, delays and processing 0-2 s in eighths",
    )


@obligation(
    "T3.1/impl-fan-out-is-slowest-branch",
    reading="Measured on the implementation in virtual time, a service that "
    "fans out to several services at once, stage after stage, answers after "
    "its own hop plus, per stage, the slowest branch: the critical path, not "
    "the sum of the branches.",
    formal=r"\mathrm{Latency} = \mathrm{hop}_0 + \sum_{\mathrm{stages}} "
    r"\max_{b \in \mathrm{stage}} \mathrm{Latency}(b)",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=SUBJECT,
    assumptions=_ASSUMPTIONS,
)
def _fan_out(q: Any, profile: Profile) -> Verdict:
    branch = st.tuples(eighths, eighths)
    case = st.tuples(
        branch,
        st.lists(st.lists(branch, min_size=1, max_size=4), min_size=1, max_size=3),
    )

    def prop(
        c: tuple[tuple[float, float], list[list[tuple[float, float]]]],
    ) -> str | None:
        (front_delay, front_processing), stages = c
        delays = {("client", "front"): front_delay}
        plan = []
        services = []
        for s, stage in enumerate(stages):
            names = []
            for b, (d, p) in enumerate(stage):
                name = f"b{s}-{b}"
                delays[("front", name)] = d
                services.append((name, p))
                names.append(name)
            plan.append(names)

        async def main() -> Fraction:
            loop = asyncio.get_running_loop()
            net = q.Network(delay=lambda a, b: delays[(a, b)])
            net.add(
                q.ChainService("front", processing_time=front_processing, then=plan)
            )
            for name, p in services:
                net.add(q.ChainService(name, processing_time=p))
            start = loop.time()
            await net.call("client", "front", None)
            return _exact(loop.time()) - _exact(start)

        measured = run(main())
        expected = _exact(front_delay) + _exact(front_processing)
        for stage in stages:
            expected += max(_exact(d) + _exact(p) for d, p in stage)
        if measured != expected:
            return f"measured {measured} s, critical path {expected} s"
        return None

    found = search(case, prop, profile)
    if found.found:
        front, stages = found.counterexample  # type: ignore[misc]
        return Verdict.refuted(
            "Hypothesis on the virtual-time loop",
            {
                "front (network delay s, processing s)": list(front),
                "stages of parallel branches": stages,
                "problem": found.message,
            },
            searched={"examples": found.calls},
        )
    return Verdict.checked(
        "Hypothesis on the virtual-time loop, exact times",
        searched={"examples": found.calls},
        bounds="1-3 stages of 1-4 parallel branches, times 0-2 s in eighths",
    )


@obligation(
    "T3.1/impl-deadline-propagates",
    reading="Measured on the implementation in virtual time, a nested chain "
    "whose first call is given a budget passes the deadline down: each hop is "
    "called with exactly what is left of its caller's budget (the "
    "specification's propagated timeouts), the first caller has its answer or "
    "a timeout exactly when the specification's timeline says, and no service "
    "is still working once it has stopped waiting.",
    formal=r"T_{i+1}^{\mathrm{impl}} = T_i - \bigl(\tfrac{d_i}{2} + q_i + "
    r"p_i\bigr) = T_{i+1}^{\mathrm{spec}},\ "
    r"t_{\mathrm{end}}^{\mathrm{impl}} = \min(T_1, \mathrm{TotalLatency})",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=SUBJECT,
    assumptions=(
        _ASSUMPTIONS[0],
        "one request at a time (no queueing)",
        "budgets are odd multiples of 1/16 s and delays multiples of 1/4 s, so "
        "no deadline falls on the instant an answer arrives",
        "in process a caller that gives up cancels its callee: the in-memory "
        "transport runs each handler in its caller's task",
    ),
)
def _deadline(q: Any, profile: Profile) -> Verdict:
    quarters = st.integers(0, 8).map(lambda k: k / 4)
    budgets = st.integers(0, 95).map(lambda k: (2 * k + 1) / 16)
    case = st.tuples(
        st.lists(st.tuples(quarters, eighths), min_size=1, max_size=5), budgets
    )

    def prop(c: tuple[list[tuple[float, float]], float]) -> str | None:
        hops, budget = c
        names = [f"s{k + 2}" for k in range(len(hops))]
        delays = {
            ("s1" if k == 0 else names[k - 1], names[k]): d
            for k, (d, _) in enumerate(hops)
        }

        async def main() -> tuple[bool, Fraction, int, list[Any], int]:
            loop = asyncio.get_running_loop()
            net = q.Network(delay=lambda a, b: delays[(a, b)])
            q.nested_chain(net, names, [p for _, p in hops])
            start = loop.time()
            try:
                await net.call("s1", names[0], "req", timeout=budget)
                ok = True
            except q.CallTimeoutError:
                ok = False
            ended = _exact(loop.time()) - _exact(start)
            running = net.in_flight
            await asyncio.sleep(40)
            late = sum(
                1
                for s in net.services.values()
                for v in s.visits
                if _exact(v.answered) - _exact(start) > _exact(budget)
            )
            calls = [
                (str(_exact(c.at) - _exact(start)), str(_exact(c.timeout)))
                for c in net.calls
            ]
            return ok, ended, running + net.in_flight, calls, late

        ok, ended, running, calls, late = run(main())
        spec_hops = [Hop(_exact(d), _exact(p)) for d, p in hops]
        timeouts = propagate_timeouts(_exact(budget), spec_hops)
        spans = nested_timeline(spec_hops, list(timeouts))
        expected = [(str(s.start), str(timeouts[s.index])) for s in spans]
        if calls != expected:
            return f"calls (start, timeout) {calls}, propagated budgets {expected}"
        if (ok, ended) != (spans[0].succeeded, spans[0].end):
            said = "answered" if ok else "timed out"
            return (
                f"the first caller {said} at {ended}; the timeline says "
                f"{'answered' if spans[0].succeeded else 'timed out'} at "
                f"{spans[0].end}"
            )
        if running or late:
            return (
                f"{running} request(s) still handled and {late} answered after "
                "the first caller's deadline"
            )
        return None

    found = search(case, prop, profile)
    if found.found:
        hops, budget = found.counterexample  # type: ignore[misc]
        return Verdict.refuted(
            "Hypothesis on the virtual-time loop against the specification",
            {
                "hops (network delay s, processing s)": hops,
                "budget of the first call (s)": budget,
                "problem": found.message,
            },
            searched={"examples": found.calls},
        )
    return Verdict.checked(
        "Hypothesis on the virtual-time loop against "
        "spec.communication.propagate_timeouts and nested_timeline, exact times",
        searched={"examples": found.calls},
        bounds="chains of 1-5 hops, delays 0-2 s in quarters, processing 0-2 s "
        "in eighths, budgets 1/16-191/16 s",
    )
