r"""Communication obligations on the specification: D3.2-D3.6, T3.1-T3.3.

What is decided here, and how:

- *Latency* (D3.2, T3.1). A hop's latency is its three parts added; a chain's
  latency is the sum of its hops for every length (Z3 on the subject's own
  combining step, plus the fold checked on concrete chains and on the nested
  chain's timeline); the latency of any plan of chains and fan-outs is the
  longest path through the plan's graph of hops, found here by enumerating
  every path. T3.1 read literally, as a sum over every hop, is refuted on a
  fan-out. Timeouts that shrink along a nested chain leave no call running
  after its caller gave up; equal timeouts do.
- *Queueing* (D3.2). The M/M/1 means are derived in SymPy from the stationary
  distribution of the birth-death chain and Little's law, and compared with
  the published figures; the FIFO waits match an event-driven simulation.
- *Messages* (D3.3, D3.4, T3.2). Send returns a fresh id in the same step;
  the queue is FIFO against a list model. Delivery with retries is derived by
  SymPy from the retry process, stays below 1 (Z3), and tends to 1 (SymPy);
  T3.2 as written is refuted with exact numbers.
- *Events* (D3.5, D3.6, T3.3). Events are immutable; partitions keep append
  order and keys stay in their partition; wall-clock timestamps fall out of
  order when a clock steps back or two producers' clocks disagree; sequence
  numbers are proved to increase without gaps.

The implementation's side of these theorems (virtual-time latency, lossy
delivery, duplicates, ordering under concurrency) is in
:mod:`proofs.obligations.messaging` and :mod:`proofs.obligations.chains`.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from fractions import Fraction
from functools import cache
from itertools import product
from typing import Any

import sympy as sp
import z3
from hypothesis import strategies as st

from proofs.data import vectors
from proofs.obligation import Method, obligation
from proofs.profiles import Profile
from proofs.search import search
from proofs.solvers import prove
from proofs.verdict import Outcome, Verdict

SUBJECT = "spec.communication"

# Durations are quarters of a unit, drawn as integers: Hypothesis generates and
# shrinks integers many times faster than its fraction strategy.
durations = st.integers(0, 40).map(lambda k: Fraction(k, 4))
positive_durations = st.integers(1, 40).map(lambda k: Fraction(k, 4))


def _hops(q: Any, *, min_size: int = 1, max_size: int = 5) -> st.SearchStrategy[Any]:
    return st.lists(
        st.builds(q.Hop, durations, durations, durations),
        min_size=min_size,
        max_size=max_size,
    )


def _plans(q: Any) -> st.SearchStrategy[Any]:
    leaves = st.builds(q.Single, st.builds(q.Hop, durations, durations, durations))

    def extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        groups = st.lists(children, min_size=1, max_size=3).map(tuple)
        return st.one_of(groups.map(q.Chain), groups.map(q.FanOut))

    return st.recursive(leaves, extend, max_leaves=8)


def _hop_text(h: Any) -> str:
    return (
        f"network {h.network_delay}, processing {h.processing_time}, "
        f"queue {h.queue_time}"
    )


def _describe_plan(q: Any, plan: Any) -> Any:
    if isinstance(plan, q.Single):
        return _hop_text(plan.hop)
    if isinstance(plan, q.Chain):
        return {"chain": [_describe_plan(q, p) for p in plan.parts]}
    return {"fan-out": [_describe_plan(q, p) for p in plan.branches]}


#: Durations of the exhaustive searches: small, so the first counterexample
#: found, in order of size, is also one of the smallest.
SMALL = (Fraction(0), Fraction(1, 4), Fraction(1, 2))


def _small_hops(q: Any) -> list[Any]:
    """Every hop whose three durations are among :data:`SMALL`."""
    return [q.Hop(n, p, w) for n in SMALL for p in SMALL for w in SMALL]


def _own_latency(h: Any) -> Fraction:
    """D3.2 computed here from the fields, independently of the subject."""
    return Fraction(h.network_delay + h.processing_time + h.queue_time)


def _refuted_search(found: Any, describe: Any, **extra: Any) -> Verdict:
    return Verdict.refuted(
        "Hypothesis, shrunk",
        {**describe(found.counterexample), "problem": found.message},
        searched={"examples": found.calls},
        **extra,
    )


# D3.2 ------------------------------------------------------------------------


@obligation(
    "D3.2/latency-is-sum-of-parts",
    reading="The latency of one call is its network delay plus the callee's "
    "processing time plus its queueing time; negative or inexact durations are "
    "refused.",
    formal=r"\mathrm{Latency}(S_i, S_j) = d_{\mathrm{net}} + t_{\mathrm{proc}}(S_j)"
    r" + t_{\mathrm{queue}}(S_j)",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=SUBJECT,
)
def _hop_latency(q: Any, profile: Profile) -> Verdict:
    def prop(parts: tuple[Fraction, Fraction, Fraction]) -> str | None:
        net, proc, queue = parts
        got = q.hop_latency(q.Hop(net, proc, queue))
        if got != net + proc + queue:
            return f"latency {got}, parts add up to {net + proc + queue}"
        for bad in ((-net - 1, proc, queue), (net, 0.5, queue), (net, proc, True)):
            try:
                q.Hop(*bad)
            except ValueError:
                continue
            return f"Hop{bad} was accepted"
        return None

    found = search(st.tuples(durations, durations, durations), prop, profile)
    if found.found:
        return _refuted_search(
            found, lambda c: {"network, processing, queue": [str(x) for x in c]}
        )
    return Verdict.checked(
        "Hypothesis, exact fractions",
        searched={"examples": found.calls},
        bounds="durations in [0, 10], denominators <= 4",
    )


_MM1_ASSUMPTIONS = (
    "Poisson arrivals at rate lambda, exponential service at rate mu, one server",
    "lambda < mu (a stable queue); means taken in the steady state",
)


@cache
def _derived_mm1() -> dict[str, Any] | str:
    """The M/M/1 means derived from the birth-death chain, or why not.

    Independent of any subject, so computed once per process.
    """
    # mu = lambda (1 + u) with u > 0 is exactly the stable region lambda < mu;
    # then rho = 1 / (1 + u). The constant factor 1 - rho is kept outside the
    # sums, which SymPy evaluates far faster that way.
    lam, u = sp.symbols("lambda u", positive=True)
    mu = lam * (1 + u)
    rho = 1 / (1 + u)
    n = sp.Symbol("n", integer=True, nonnegative=True)
    pi = (1 - rho) * rho**n
    if sp.simplify(lam * pi - mu * pi.subs(n, n + 1)) != 0:
        return "the balance equations did not reduce to 0"
    if sp.simplify((1 - rho) * sp.summation(rho**n, (n, 0, sp.oo))) != 1:
        return "the distribution did not sum to 1"
    big_l = sp.simplify((1 - rho) * sp.summation(n * rho**n, (n, 0, sp.oo)))
    big_lq = sp.simplify((1 - rho) * sp.summation((n - 1) * rho**n, (n, 1, sp.oo)))
    return {
        "utilisation": rho,
        "mean_in_system": big_l,
        "mean_in_queue": big_lq,
        "mean_response_time": big_l / lam,
        "mean_wait": big_lq / lam,
    }


@obligation(
    "D3.2/mm1-from-birth-death-chain",
    reading="Where the queueing time needs a number, the callee is an M/M/1 "
    "queue. Its stationary distribution pi_n = (1 - rho) rho^n satisfies the "
    "balance equations and sums to 1; the mean number in the system and in the "
    "queue are its moments, and Little's law turns them into the mean response "
    "and waiting times. The subject's formulas equal these, identically in "
    "lambda and mu.",
    formal=r"\pi_n = (1-\rho)\rho^n,\ L = \sum_n n\pi_n = \frac{\rho}{1-\rho},\ "
    r"W = \frac{L}{\lambda} = \frac{1}{\mu-\lambda},\ "
    r"W_q = \frac{\rho}{\mu-\lambda}",
    method=Method.SYMPY,
    expected=Outcome.PROVED,
    subject=SUBJECT,
    assumptions=_MM1_ASSUMPTIONS,
)
def _mm1_derivation(q: Any, profile: Profile) -> Verdict:
    derived = _derived_mm1()
    if isinstance(derived, str):
        return Verdict.unknown("SymPy", derived)
    lam, u = sp.symbols("lambda u", positive=True)
    mu = lam * (1 + u)
    metrics = q.mm1_metrics(lam, mu)
    for name, expected in derived.items():
        difference = sp.simplify(getattr(metrics, name) - expected)
        if difference != 0:
            # A wrong formula: show it on the published operating point.
            at = {lam: 8, u: sp.Rational(1, 4)}
            return Verdict.refuted(
                "SymPy",
                {
                    "quantity": name,
                    "lambda": 8,
                    "mu": 10,
                    "subject gives": str(sp.nsimplify(getattr(metrics, name).subs(at))),
                    "derived": str(sp.nsimplify(expected.subs(at))),
                },
            )
    return Verdict.proved(
        "SymPy: stationary distribution, its moments, Little's law",
        bounds="all 0 < lambda < mu",
        detail="With mu = lambda (1 + u), u > 0: balance lambda pi_n = mu "
        "pi_{n+1} and sum pi_n = 1 hold; L = 1/u and Lq = 1/(u(u+1)) by "
        "summation; W = L/lambda and Wq = Lq/lambda. Each equals the "
        "subject's formula identically.",
    )


@obligation(
    "D3.2/mm1-published-figures",
    reading="The M/M/1 means at lambda = 8, mu = 10 are the published W = 0.5, "
    "Wq = 0.4, L = 4 and Lq = 3.2, exactly.",
    method=Method.REFERENCE_DATA,
    expected=Outcome.CHECKED,
    subject=SUBJECT,
    needs_data=True,
    assumptions=_MM1_ASSUMPTIONS,
)
def _mm1_published(q: Any, profile: Profile) -> Verdict:
    data = vectors()["queueing"]
    names = {
        "W": "mean_response_time",
        "Wq": "mean_wait",
        "L": "mean_in_system",
        "Lq": "mean_in_queue",
    }
    bad = []
    for case in data["mm1"]:
        metrics = q.mm1(Fraction(str(case["lambda"])), Fraction(str(case["mu"])))
        for key, attr in names.items():
            got = getattr(metrics, attr)
            if got != Fraction(str(case[key])):
                bad.append(
                    {
                        "case": f"lambda={case['lambda']}, mu={case['mu']}",
                        "quantity": key,
                        "expected": case[key],
                        "got": str(got),
                    }
                )
    if bad:
        return Verdict.refuted(
            "comparison with published figures",
            bad,
            searched={"cases": len(data["mm1"])},
        )
    return Verdict.checked(
        "exact comparison with published figures",
        searched={"cases": len(data["mm1"]), "quantities": len(names)},
        detail=f"Source: {data['source']}.",
    )


def _simulate_fifo(
    arrivals: list[Fraction], services: list[Fraction]
) -> list[Fraction]:
    """One FIFO server, event by event: arrivals join a queue, the server
    takes the head whenever it is free. Written from the description of the
    queue, not from Lindley's recursion."""
    events = sorted(((t, 1, k) for k, t in enumerate(arrivals)))
    waiting: list[int] = []
    waits = [Fraction(0)] * len(arrivals)
    busy_until: Fraction | None = None
    now = Fraction(0)
    pending = list(events)
    while pending or waiting:
        next_arrival = pending[0][0] if pending else None
        if busy_until is not None and (
            next_arrival is None or busy_until <= next_arrival
        ):
            now, busy_until = busy_until, None
        elif next_arrival is not None:
            now = next_arrival
            waiting.append(pending.pop(0)[2])
        if busy_until is None and waiting:
            k = waiting.pop(0)
            waits[k] = now - arrivals[k]
            busy_until = now + services[k]
    return waits


@obligation(
    "D3.2/fifo-waits-match-simulation",
    reading="For a single FIFO server, the waiting time of every request "
    "(Lindley's recursion) equals what an event-by-event simulation of the "
    "queue gives, for any arrivals and service times.",
    formal=r"W_{k+1} = \max(0,\ W_k + s_k - (a_{k+1} - a_k))",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=SUBJECT,
)
def _fifo_waits(q: Any, profile: Profile) -> Verdict:
    case = st.lists(st.tuples(durations, durations), max_size=8)

    def prop(pairs: list[tuple[Fraction, Fraction]]) -> str | None:
        arrivals, t = [], Fraction(0)
        for gap, _ in pairs:
            t += gap
            arrivals.append(t)
        services = [s for _, s in pairs]
        got = list(q.fifo_waits(arrivals, services))
        want = _simulate_fifo(arrivals, services)
        if got != want:
            return f"waits {[str(x) for x in got]}, simulation {[str(x) for x in want]}"
        return None

    found = search(case, prop, profile)
    if found.found:
        return _refuted_search(
            found,
            lambda c: {
                "interarrival gaps": [str(g) for g, _ in c],
                "service times": [str(s) for _, s in c],
            },
        )
    return Verdict.checked(
        "Hypothesis against an event-driven simulation",
        searched={"examples": found.calls},
        bounds="up to 8 requests, gaps and service times in [0, 10]",
    )


# T3.1 ------------------------------------------------------------------------

_LATENCY_ASSUMPTIONS = (
    "each hop's latency is fixed (no variation between calls)",
    "a service makes its next call as soon as the previous one answered",
)


@obligation(
    "T3.1/chain-is-sum",
    reading="For a sequential chain of any length the total latency is the sum "
    "of its hops' latencies. Proved as an induction on the chain: the empty "
    "chain takes 0 and appending a hop adds its latency (Z3, on the subject's "
    "combining step). Checked besides: latency of concrete chains is that fold, "
    "T3.1 as written agrees on chains, and the nested chain S1 -> ... -> Sn "
    "without timeouts answers after exactly the sum.",
    formal=r"\mathrm{Latency}(S_1 \to \dots \to S_n) = "
    r"\sum_{i=1}^{n-1} \mathrm{Latency}(S_i, S_{i+1})",
    method=Method.Z3,
    expected=Outcome.PROVED,
    subject=SUBJECT,
    assumptions=_LATENCY_ASSUMPTIONS,
)
def _chain_is_sum(q: Any, profile: Profile) -> Verdict:
    def prop(hops: list[Any]) -> str | None:
        total = sum((_own_latency(h) for h in hops), Fraction(0))
        plan = q.chain(hops)
        if q.latency(plan) != total:
            return f"chain latency {q.latency(plan)}, sum of hops {total}"
        if q.latency_as_written(plan) != total:
            return f"as-written latency {q.latency_as_written(plan)} differs"
        spans = q.nested_timeline(hops, [None] * len(hops))
        if spans and spans[0].end != total:
            return f"the nested chain answers at {spans[0].end}, sum is {total}"
        return None

    found = search(_hops(q, min_size=0), prop, profile)
    if found.found:
        return _refuted_search(
            found,
            lambda hs: {"hops": [_hop_text(h) for h in hs]},
        )

    so_far, hop = z3.Reals("so_far hop")
    base = prove(z3.RealVal(0) == q.NO_LATENCY, timeout_ms=profile.solver_timeout_ms)
    step = prove(
        q.combine_sequential(so_far, hop) == so_far + hop,
        assumptions=(so_far >= 0, hop >= 0),
        timeout_ms=profile.solver_timeout_ms,
    )
    for name, answer in (("base case", base), ("inductive step", step)):
        if answer.status == "refuted":
            return Verdict.refuted(
                f"Z3, {name}", {"case": name, **answer.counterexample}
            )
        if answer.status == "unknown":
            return Verdict.unknown("Z3", f"{name}: {answer.reason}")
    return Verdict.proved(
        "Z3: base case and inductive step of an induction on the chain",
        bounds="chains of every length, all non-negative hop latencies",
        detail=f"Concrete chains also checked ({found.calls} examples, up to 5 "
        "hops): the subject's latency is the fold of its combining step, and "
        "the nested chain's first call ends at the sum.",
    )


def _critical_path(plan: Any, q: Any) -> Fraction:
    """Longest path through the plan's graph of hops, by enumerating paths."""
    edges: list[tuple[int, int, Fraction]] = []
    counter = iter(range(2, 10_000))

    def build(p: Any, source: int, sink: int) -> None:
        if isinstance(p, q.Single):
            edges.append((source, sink, _own_latency(p.hop)))
        elif isinstance(p, q.Chain):
            nodes = [source, *(next(counter) for _ in p.parts[1:]), sink]
            for part, a, b in zip(p.parts, nodes, nodes[1:], strict=False):
                build(part, a, b)
        else:
            for branch in p.branches:
                build(branch, source, sink)

    build(plan, 0, 1)

    def paths(node: int, length: Fraction) -> Iterator[Fraction]:
        if node == 1:
            yield length
        for a, b, w in edges:
            if a == node:
                yield from paths(b, length + w)

    return max(paths(0, Fraction(0)), default=Fraction(0))


@obligation(
    "T3.1/latency-is-critical-path",
    reading="For any plan of chains and fan-outs, nested to any depth, the "
    "latency is the length of the longest path through the plan's graph of "
    "hops: a fan-out costs its slowest branch, not the sum of its branches.",
    formal=r"\mathrm{Latency}(P) = \max_{\pi \in \mathrm{paths}(P)} "
    r"\sum_{h \in \pi} \mathrm{Latency}(h)",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=SUBJECT,
    assumptions=_LATENCY_ASSUMPTIONS,
)
def _critical(q: Any, profile: Profile) -> Verdict:
    def prop(plan: Any) -> str | None:
        got, want = q.latency(plan), _critical_path(plan, q)
        if got != want:
            return f"latency {got}, longest path {want}"
        return None

    found = search(_plans(q), prop, profile)
    if found.found:
        return _refuted_search(found, lambda p: {"plan": _describe_plan(q, p)})
    return Verdict.checked(
        "Hypothesis against enumeration of every path",
        searched={"examples": found.calls},
        bounds="plans of up to 8 calls, chains and fan-outs of 1-3 parts",
    )


@obligation(
    "T3.1/as-written-fan-out",
    reading="T3.1 read literally sums every hop. For a fan-out, where the "
    "calls run at once, that overstates the latency: the total is the slowest "
    "branch, not the sum.",
    formal=r"\exists P:\ \sum_{h \in P} \mathrm{Latency}(h) \neq \mathrm{Latency}(P)",
    method=Method.EXHAUSTIVE,
    expected=Outcome.REFUTED,
    subject=SUBJECT,
    assumptions=_LATENCY_ASSUMPTIONS,
)
def _as_written_fan_out(q: Any, profile: Profile) -> Verdict:
    tried = 0
    for size in (1, 2):
        for hops in product(_small_hops(q), repeat=size):
            tried += 1
            plan = q.fan_out(hops)
            written, actual = q.latency_as_written(plan), q.latency(plan)
            if written != actual:
                return Verdict.refuted(
                    "exhaustive enumeration, smallest fan-outs first",
                    {
                        "fan-out of": [_hop_text(h) for h in hops],
                        "sum of hop latencies (T3.1 as written)": str(written),
                        "actual latency (slowest branch)": str(actual),
                    },
                    searched={"fan-outs": tried},
                    detail="The corrected statement: a chain costs the sum of its "
                    "parts, a fan-out the largest of its branches "
                    "(T3.1/latency-is-critical-path).",
                )
    return Verdict.checked(
        "exhaustive enumeration",
        searched={"fan-outs": tried},
        bounds="fan-outs of 1-2 hops, durations 0, 1/4, 1/2",
        detail="Every fan-out tried took the sum of its hops.",
    )


def _describe_timeline(q: Any, hops: list[Any], timeouts: list[Any]) -> dict[str, Any]:
    spans = q.nested_timeline(hops, timeouts)
    return {
        "hops": [_hop_text(h) for h in hops],
        "timeouts": [None if t is None else str(t) for t in timeouts],
        "calls": [
            {
                "call": f"S{s.index + 1} -> S{s.index + 2}",
                "start": str(s.start),
                "caller gives up at": None if s.deadline is None else str(s.deadline),
                "answer arrives at": str(s.answer_at),
                "ends": str(s.end),
            }
            for s in spans
        ],
        "orphaned calls": [f"S{i + 1} -> S{i + 2}" for i in q.orphaned_calls(spans)],
    }


@obligation(
    "T3.1/timeouts-shrink-along-chain",
    reading="In a nested chain, a hop's timeout must not exceed what is left of "
    "its caller's: propagating the remaining budget makes timeouts shrink along "
    "the chain, and then no call is still running after its caller gave up. "
    "Conversely, giving any hop more than the remainder leaves a call orphaned "
    "once the services behind it are slow enough.",
    formal=r"T_{i+1} \le T_i - (\tfrac{d_i}{2} + q_i + p_i) \Rightarrow "
    r"\neg\mathrm{orphan}_{i+1}",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=SUBJECT,
    assumptions=(
        "a caller that gives up does not cancel its callee (no cancellation "
        "crosses the network)",
    ),
)
def _timeouts_shrink(q: Any, profile: Profile) -> Verdict:
    case = st.tuples(
        _hops(q, min_size=2, max_size=5),
        positive_durations,
        st.integers(0, 3),
        positive_durations,
    )

    def prop(c: tuple[list[Any], Fraction, int, Fraction]) -> str | None:
        hops, budget, pick, extra = c
        timeouts = list(q.propagate_timeouts(budget, hops))
        if len(timeouts) != len(hops) or timeouts[0] != budget:
            return f"propagated timeouts {timeouts} for {len(hops)} hops"
        for i in range(len(hops) - 1):
            spent = Fraction(hops[i].network_delay, 2) + hops[i].queue_time
            spent += hops[i].processing_time
            if timeouts[i + 1] != timeouts[i] - spent:
                return (
                    f"hop {i + 1} gets {timeouts[i + 1]}, but {timeouts[i]} - "
                    f"{spent} is left of its caller's"
                )
        spans = q.nested_timeline(hops, timeouts)
        if q.orphaned_calls(spans):
            return f"propagated timeouts leave calls {q.orphaned_calls(spans)} orphaned"
        if any(s.end > budget for s in spans):
            return "a call ran past the first caller's deadline"

        # Give hop j+1 more than the remainder, slow everything down behind it.
        live = [i for i in range(len(hops) - 1) if timeouts[i] > 0]
        if not live:
            return None
        j = live[pick % len(live)]
        slow = 10 * (budget + sum(_own_latency(h) for h in hops) + extra)
        slowed = [*hops[:-1], q.Hop(hops[-1].network_delay, slow, hops[-1].queue_time)]
        generous = [*timeouts[: j + 1], timeouts[j + 1] + extra]
        generous += [None] * (len(hops) - len(generous))
        if generous[j + 1] <= 0:
            generous[j + 1] = extra
        if not q.orphaned_calls(q.nested_timeline(slowed, generous)):
            return (
                f"hop {j + 1} has {extra} more than its caller's remainder and a "
                "slow callee, yet no call was orphaned"
            )
        return None

    found = search(case, prop, profile)
    if found.found:
        return _refuted_search(
            found,
            lambda c: {
                "hops": [_hop_text(h) for h in c[0]],
                "budget": str(c[1]),
                "extra": str(c[3]),
            },
        )
    return Verdict.checked(
        "Hypothesis on the nested-chain timeline",
        searched={"examples": found.calls},
        bounds="chains of 2-5 hops, budgets in [1/4, 10]",
    )


@obligation(
    "T3.1/fixed-timeouts-orphan-calls",
    reading="The same timeout at every hop of a nested chain is not safe: some "
    "chain leaves an inner call waiting after its caller has given up, so the "
    "inner service works for an answer nobody will read.",
    formal=r"\exists \text{chain}, T:\ T_1 = \dots = T_n = T \land "
    r"\mathrm{orphan}_{i+1} \text{ for some } i",
    method=Method.EXHAUSTIVE,
    expected=Outcome.REFUTED,
    subject=SUBJECT,
    assumptions=(
        "a caller that gives up does not cancel its callee (no cancellation "
        "crosses the network)",
    ),
)
def _fixed_timeouts(q: Any, profile: Profile) -> Verdict:
    tried = 0
    for timeout in (Fraction(1, 4), Fraction(1, 2), Fraction(1)):
        for hops in product(_small_hops(q), repeat=2):
            tried += 1
            spans = q.nested_timeline(list(hops), [timeout, timeout])
            if q.orphaned_calls(spans):
                return Verdict.refuted(
                    "exhaustive enumeration, shortest timeouts first",
                    _describe_timeline(q, list(hops), [timeout, timeout]),
                    searched={"chains": tried},
                    detail="Propagating the remaining budget instead makes the "
                    "timeouts shrink and removes the orphan "
                    "(T3.1/timeouts-shrink-along-chain).",
                )
    return Verdict.checked(
        "exhaustive enumeration",
        searched={"chains": tried},
        bounds="chains of 2 hops, durations 0, 1/4, 1/2, timeouts 1/4, 1/2, 1",
        detail="No chain with equal timeouts left a call orphaned.",
    )


# D3.3, D3.4 ------------------------------------------------------------------

_queue_ops = st.lists(
    st.one_of(
        st.tuples(st.just("send"), st.sampled_from(("a", "b", "c")), st.integers(0, 9)),
        st.tuples(st.just("dequeue")),
    ),
    max_size=30,
)


def _ops_text(ops: list[tuple[Any, ...]]) -> list[str]:
    return [
        f"send {op[1]}->consumer body={op[2]}" if op[0] == "send" else "dequeue"
        for op in ops
    ]


@obligation(
    "D3.3/send-returns-fresh-id",
    reading="Sending is one step that returns a message id at once, without "
    "waiting for or consulting the receiver: it appends exactly one message "
    "with that id, changes nothing else in the queue, and the id was never "
    "returned before, even after earlier messages were taken off the queue.",
    formal=r"\mathrm{send}(Q, m) = (id, Q \cdot \langle m_{id} \rangle),\ "
    r"id \notin \mathrm{ids}(\text{earlier sends})",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=SUBJECT,
)
def _send(q: Any, profile: Profile) -> Verdict:
    def prop(ops: list[tuple[Any, ...]]) -> str | None:
        queue = q.MessageQueue("orders")
        issued: set[str] = set()
        for k, op in enumerate(ops):
            if op[0] == "dequeue":
                _, queue = q.dequeue(queue)
                continue
            before = queue.messages
            message_id, queue = q.send(queue, op[1], "consumer", op[2])
            if message_id in issued:
                return f"step {k}: id {message_id!r} was issued before"
            issued.add(message_id)
            if queue.messages != (
                *before,
                q.Message(message_id, op[1], "consumer", op[2]),
            ):
                return f"step {k}: send did not append exactly its own message"
        return None

    found = search(_queue_ops, prop, profile)
    if found.found:
        return _refuted_search(found, lambda ops: {"operations": _ops_text(ops)})
    return Verdict.checked(
        "Hypothesis, operation sequences",
        searched={"examples": found.calls},
        bounds="up to 30 sends and dequeues",
    )


@obligation(
    "D3.4/queue-is-fifo",
    reading="A message queue is first in, first out: over any sequence of sends "
    "and dequeues, dequeue returns the oldest message still queued, and the "
    "queue holds exactly the messages sent and not yet dequeued, in send order.",
    formal=r"\mathrm{dequeue}(\langle m_1, \dots, m_n \rangle) = "
    r"(m_1, \langle m_2, \dots, m_n \rangle)",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=SUBJECT,
)
def _fifo(q: Any, profile: Profile) -> Verdict:
    def prop(ops: list[tuple[Any, ...]]) -> str | None:
        queue = q.MessageQueue("orders")
        model: list[Any] = []
        for k, op in enumerate(ops):
            if op[0] == "send":
                message_id, queue = q.send(queue, op[1], "consumer", op[2])
                model.append((message_id, op[2]))
                continue
            got, queue = q.dequeue(queue)
            want = model.pop(0) if model else None
            seen = None if got is None else (got.message_id, got.body)
            if seen != want:
                return f"step {k}: dequeue gave {seen}, the oldest is {want}"
        held = [(m.message_id, m.body) for m in queue.messages]
        if held != model:
            return f"queue holds {held}, should hold {model}"
        return None

    found = search(_queue_ops, prop, profile)
    if found.found:
        return _refuted_search(found, lambda ops: {"operations": _ops_text(ops)})
    return Verdict.checked(
        "Hypothesis against a list model",
        searched={"examples": found.calls},
        bounds="up to 30 sends and dequeues",
    )


# T3.2 ------------------------------------------------------------------------

_DELIVERY_ASSUMPTIONS = (
    "each attempt is lost independently with the same probability p",
    "the sender makes one attempt and up to r retries, stopping at the first "
    "delivered attempt",
)

P_SYM = sp.Symbol("p", positive=True)
R_SYM = sp.Symbol("r", integer=True, nonnegative=True)
K_SYM = sp.Symbol("k", integer=True, nonnegative=True)

_GRID = (Fraction(1, 10), Fraction(1, 2), Fraction(9, 10), Fraction(1, 1000))


@obligation(
    "T3.2/as-written",
    reading="T3.2 as written claims that a message sent is delivered with "
    "probability 1. Over a link that loses each attempt independently with "
    "probability p > 0, with any finite number of retries, it is not: the "
    "retry process itself (every pattern of losses enumerated) gives less.",
    formal=r"\exists p > 0, r \in \mathbb{N}:\ P(\mathrm{delivered}) < 1",
    method=Method.EXACT,
    expected=Outcome.REFUTED,
    subject=SUBJECT,
    assumptions=_DELIVERY_ASSUMPTIONS,
)
def _t32_as_written(q: Any, profile: Profile) -> Verdict:
    tried = 0
    for p in _GRID:
        for r in range(0, min(profile.max_n, 6) + 1):
            tried += 1
            process = q.delivery_by_enumeration(p, r)
            formula = q.delivery_probability(p, r)
            if process != formula:
                return Verdict.unknown(
                    "exact enumeration",
                    f"the formula ({formula}) and the retry process ({process}) "
                    f"disagree at p={p}, r={r}; fix that first",
                    searched={"cases": tried},
                )
            if process != 1:
                return Verdict.refuted(
                    "exact enumeration of the retry process",
                    {
                        "loss per attempt p": str(p),
                        "retries r": r,
                        "P(delivered)": str(process),
                        "P(never delivered) = p^(r+1)": str(1 - process),
                        "claimed": 1,
                    },
                    searched={"cases": tried},
                    detail="Corrected: P(delivered) = 1 - p^(r+1), which tends to 1 "
                    "as r grows (T3.2/delivery-formula, T3.2/limit-is-one).",
                )
    return Verdict.checked(
        "exact enumeration of the retry process",
        searched={"cases": tried},
        detail="Every case delivered with probability 1.",
    )


@obligation(
    "T3.2/delivery-formula",
    reading="With one try and r retries over independent loss p, the delivery "
    "probability is 1 - p^(r+1): SymPy sums the probability that the first "
    "success is attempt k + 1 for symbolic r and gets the subject's formula; it "
    "is below 1 for every finite r when p > 0 (Z3, by induction on the "
    "exponent); and the subject's own enumeration of the retry process agrees "
    "on a grid of exact values.",
    formal=r"P(\mathrm{delivered}) = \sum_{k=0}^{r} p^k (1-p) = 1 - p^{r+1} < 1 "
    r"\quad (p > 0)",
    method=Method.SYMPY_Z3,
    expected=Outcome.PROVED,
    subject=SUBJECT,
    assumptions=_DELIVERY_ASSUMPTIONS,
)
def _delivery_formula(q: Any, profile: Profile) -> Verdict:
    for p in _GRID:
        for r in range(0, min(profile.max_n, 6) + 1):
            formula = q.delivery_probability(p, r)
            process = q.delivery_by_enumeration(p, r)
            if formula != process:
                return Verdict.refuted(
                    "exact enumeration of the retry process",
                    {
                        "loss per attempt p": str(p),
                        "retries r": r,
                        "formula gives": str(formula),
                        "retry process gives": str(process),
                    },
                )
    derived = sp.summation(P_SYM**K_SYM * (1 - P_SYM), (K_SYM, 0, R_SYM))
    left = sp.simplify(q.delivery_probability(P_SYM, R_SYM) - derived)
    if left != 0:
        at = {P_SYM: sp.Rational(1, 2), R_SYM: 2}
        return Verdict.refuted(
            "SymPy summation of the first-success distribution",
            {
                "loss per attempt p": "1/2",
                "retries r": 2,
                "formula gives": str(q.delivery_probability(at[P_SYM], 2)),
                "sum over first successes gives": str(derived.subs(at)),
            },
            detail=f"Formula minus the derived sum, symbolically: {left}.",
        )
    x, p = z3.Reals("x p")
    step = prove(
        x * p > 0,
        assumptions=(x > 0, p > 0, p <= 1),
        timeout_ms=profile.solver_timeout_ms,
    )
    if step.status != "proved":
        return Verdict.unknown("Z3", f"power lemma: {step.status} {step.reason}")
    return Verdict.proved(
        "SymPy summation of the first-success distribution, Z3 induction",
        bounds="all r >= 0, all 0 < p <= 1",
        detail="Sum over k = 0..r of p^k (1 - p) equals the subject's "
        "1 - p^(r+1) identically; p^(r+1) > 0 by induction (p^0 = 1 > 0, and "
        "x > 0, p > 0 give x p > 0), so the probability stays below 1.",
    )


@obligation(
    "T3.2/limit-is-one",
    reading="What holds of T3.2 is a limit: for 0 < p < 1 the delivery "
    "probability tends to 1 as the number of retries grows without bound.",
    formal=r"\lim_{r \to \infty} \left(1 - p^{r+1}\right) = 1 \quad (0 < p < 1)",
    method=Method.SYMPY,
    expected=Outcome.PROVED,
    subject=SUBJECT,
    assumptions=(*_DELIVERY_ASSUMPTIONS[:1], "0 < p < 1"),
)
def _limit(q: Any, profile: Profile) -> Verdict:
    u = sp.Symbol("u", positive=True)
    # p = 1 / (1 + u) with u > 0 ranges over exactly 0 < p < 1.
    limit = sp.limit(q.delivery_probability(1 / (1 + u), R_SYM), R_SYM, sp.oo)
    if sp.simplify(limit - 1) != 0:
        return Verdict.refuted(
            "SymPy limit",
            {"limit as r -> oo": str(limit), "p": "1/(1+u), u > 0", "claimed": 1},
        )
    return Verdict.proved(
        "SymPy limit with p = 1/(1+u), u > 0",
        bounds="all 0 < p < 1",
        detail="At p = 1 (a link that loses everything) the limit is 0: the "
        "limit needs some chance of success per attempt.",
    )


# D3.5, D3.6, T3.3 ------------------------------------------------------------

_keys = st.sampled_from(("user-1", "user-2", "order-7", "cart-3", "x"))


@obligation(
    "D3.5/events-are-immutable-facts",
    reading="An event is an id, a type, a payload and a timestamp that read "
    "back as built and cannot be changed afterwards: assigning a field fails, "
    "a mutable payload is refused, and equal events are interchangeable "
    "(equal hashes).",
    formal=r"e = (\mathrm{id}, \mathrm{type}, \mathrm{payload}, \mathrm{ts}),\ "
    r"e \text{ immutable}",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=SUBJECT,
)
def _events_immutable(q: Any, profile: Profile) -> Verdict:
    case = st.tuples(
        st.sampled_from(("e1", "e2", "order-9")),
        st.sampled_from(("created", "paid")),
        st.one_of(
            st.none(), st.integers(), st.text(max_size=3), st.tuples(st.integers())
        ),
        durations,
    )

    def prop(c: tuple[str, str, Any, Fraction]) -> str | None:
        event = q.Event(*c)
        if (event.event_id, event.event_type, event.payload, event.timestamp) != c:
            return "the parts did not read back as built"
        twin = q.Event(*c)
        if twin != event or hash(twin) != hash(event):
            return "two events built alike are not interchangeable"
        for attr in ("payload", "timestamp", "event_type"):
            try:
                setattr(event, attr, "changed")
            except AttributeError:
                continue
            return f"assigning {attr} of an event succeeded"
        try:
            q.Event(c[0], c[1], {"mutable": [1]}, c[3])
        except ValueError:
            return None
        return "an event with a mutable (dict) payload was accepted"

    found = search(case, prop, profile)
    if found.found:
        return _refuted_search(
            found,
            lambda c: {"event": [str(x) for x in c]},
        )
    return Verdict.checked(
        "Hypothesis", searched={"examples": found.calls}, bounds="small events"
    )


def _appends(max_size: int = 20) -> st.SearchStrategy[list[tuple[str, Fraction]]]:
    return st.lists(st.tuples(_keys, durations), max_size=max_size)


@obligation(
    "D3.6/partitions-keep-append-order",
    reading="An event stream keeps, in each partition, the records in the order "
    "they were appended; every event of one key lands in the same partition, "
    "the one CRC-32 of the key names (so the same in every process); reading "
    "from a sequence number gives exactly the records from there on.",
    formal=r"\mathrm{read}(p) = \langle e \mid \mathrm{partition}(e) = p "
    r"\rangle_{\text{append order}}",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=SUBJECT,
)
def _partition_order(q: Any, profile: Profile) -> Verdict:
    case = st.tuples(st.integers(1, 4), _appends())

    def prop(c: tuple[int, list[tuple[str, Fraction]]]) -> str | None:
        n, appends = c
        stream = q.event_stream(n)
        appended: dict[int, list[str]] = {p: [] for p in range(n)}
        home: dict[str, int] = {}
        for k, (key, ts) in enumerate(appends):
            record, stream = q.append(stream, key, q.Event(f"e{k}", "t", key, ts))
            if home.setdefault(key, record.partition) != record.partition:
                return (
                    f"key {key!r} went to partitions {home[key]} and {record.partition}"
                )
            # The stated rule, which makes the partition the same in every
            # process: CRC-32 of the key's UTF-8 bytes, modulo the count.
            rule = zlib.crc32(key.encode()) % n
            if record.partition != rule or q.partition_for(key, n) != rule:
                return (
                    f"key {key!r} went to partition {record.partition} of {n}; "
                    f"CRC-32 modulo {n} gives {rule}"
                )
            appended[record.partition].append(f"e{k}")
        for p in range(n):
            got = [r.event.event_id for r in q.read(stream, p)]
            if got != appended[p]:
                return f"partition {p} reads {got}, appended {appended[p]}"
            records = q.read(stream, p)
            for r in records:
                tail = [x.event.event_id for x in q.read(stream, p, r.sequence)]
                want = [x.event.event_id for x in records if x.sequence >= r.sequence]
                if tail != want:
                    return f"reading partition {p} from {r.sequence} gives {tail}"
        return None

    found = search(case, prop, profile)
    if found.found:
        return _refuted_search(
            found,
            lambda c: {
                "partitions": c[0],
                "appends (key, timestamp)": [[k, str(t)] for k, t in c[1]],
            },
        )
    return Verdict.checked(
        "Hypothesis, append sequences",
        searched={"examples": found.calls},
        bounds="1-4 partitions, up to 20 appends over 5 keys",
    )


@obligation(
    "T3.3/wall-clock-timestamps",
    reading="Read with timestamps taken from producers' clocks, T3.3 fails: "
    "events appended one after another to one partition can carry decreasing "
    "timestamps, when a clock is stepped back (as NTP does) or when two "
    "producers' clocks disagree.",
    formal=r"\exists i < j:\ \mathrm{Timestamp}(e_i) > \mathrm{Timestamp}(e_j)",
    method=Method.EXHAUSTIVE,
    expected=Outcome.REFUTED,
    subject=SUBJECT,
    assumptions=(
        "timestamps are readings of the producers' own clocks",
        "a clock may be stepped back, and clocks of different producers may "
        "differ by a constant offset",
    ),
)
def _wall_clock(q: Any, profile: Profile) -> Verdict:
    def trace(
        offsets: tuple[int, int], steps: tuple[tuple[int, int, int], ...]
    ) -> tuple[list[dict[str, Any]], Any]:
        stream = q.event_stream(1)
        now, setback = 100, [0, 0]
        rows: list[dict[str, Any]] = []
        for k, (producer, advance, step_back) in enumerate(steps):
            now += advance
            setback[producer] += step_back
            reading = now + offsets[producer] - setback[producer]
            _, stream = q.append(
                stream, "order-7", q.Event(f"e{k}", "t", None, reading)
            )
            rows.append(
                {
                    "append": k,
                    "producer": producer,
                    "true time": now,
                    "clock reads": reading,
                }
            )
        records = q.read(stream, 0)
        for row, r in zip(rows, records, strict=False):
            row["stored as"] = f"sequence {r.sequence}, timestamp {r.event.timestamp}"
        return rows, records

    # Two families of clocks, each searched from the shortest traces up.
    families: dict[str, tuple[list[Any], list[Any]]] = {
        "one producer whose clock is stepped back": (
            [(0, 0)],
            list(product((0,), (0, 1), (0, 1))),
        ),
        "two producers whose clocks disagree, neither stepped back": (
            list(product((0, 1), repeat=2)),
            list(product((0, 1), (0, 1), (0,))),
        ),
    }
    tried = 0
    found: dict[str, Any] = {}
    for family, (offset_choices, step_choices) in families.items():
        for length in (1, 2, 3):
            for offsets in offset_choices:
                for steps in product(step_choices, repeat=length):
                    tried += 1
                    rows, records = trace(offsets, steps)
                    if not q.timestamps_ordered(records):
                        found[family] = {
                            "clock offsets of producers 0 and 1": list(offsets),
                            "appends to one partition, in order": rows,
                        }
                        break
                if family in found:
                    break
            if family in found:
                break
    if found:
        return Verdict.refuted(
            "exhaustive enumeration, shortest traces first",
            found,
            searched={"traces": tried},
            detail="A later event in the partition carries an earlier timestamp. "
            "Order within a partition is the order of the partition's sequence "
            "numbers (T3.3/sequence-numbers), not of timestamps.",
        )
    return Verdict.checked(
        "exhaustive enumeration",
        searched={"traces": tried},
        bounds="up to 3 appends, clock steps and offsets of 0 or 1 s",
        detail="Timestamps stayed in order in every trace.",
    )


@obligation(
    "T3.3/sequence-numbers",
    reading="With the partition's own sequence numbers T3.3 holds: each number "
    "is its predecessor plus one (Z3 on the subject's successor function, for "
    "every integer), so along a partition numbers strictly increase with no "
    "gaps, by induction from the first. Checked besides: append numbers each "
    "partition's records first, second, third... in append order, whatever "
    "the timestamps.",
    formal=r"\mathrm{seq}(e_{k+1}) = \mathrm{seq}(e_k) + 1 \Rightarrow "
    r"\forall i < j:\ \mathrm{seq}(e_i) < \mathrm{seq}(e_j)",
    method=Method.Z3,
    expected=Outcome.PROVED,
    subject=SUBJECT,
)
def _sequence_numbers(q: Any, profile: Profile) -> Verdict:
    s = z3.Int("previous")
    step = prove(
        q.next_sequence(s) == s + 1,
        assumptions=(s >= q.FIRST_SEQUENCE,),
        timeout_ms=profile.solver_timeout_ms,
    )
    if step.status == "refuted":
        return Verdict.refuted(
            "Z3", {"claim": "next_sequence(s) = s + 1", **step.counterexample}
        )
    if step.status == "unknown":
        return Verdict.unknown("Z3", step.reason)

    case = st.tuples(st.integers(1, 3), _appends())

    def prop(c: tuple[int, list[tuple[str, Fraction]]]) -> str | None:
        n, appends = c
        stream = q.event_stream(n)
        count = dict.fromkeys(range(n), 0)
        order: dict[int, list[str]] = {p: [] for p in range(n)}
        for k, (key, ts) in enumerate(appends):
            record, stream = q.append(stream, key, q.Event(f"e{k}", "t", None, ts))
            expected = q.FIRST_SEQUENCE + count[record.partition]
            if record.sequence != expected:
                return f"append {k} numbered {record.sequence}, expected {expected}"
            count[record.partition] += 1
            order[record.partition].append(f"e{k}")
        for p in range(n):
            records = q.read(stream, p)
            if not q.sequences_ordered(records):
                return f"partition {p} is not in sequence order"
            if [r.event.event_id for r in records] != order[p]:
                return f"partition {p} does not read in append order"
        return None

    found = search(case, prop, profile)
    if found.found:
        return _refuted_search(
            found,
            lambda c: {
                "partitions": c[0],
                "appends (key, timestamp)": [[k, str(t)] for k, t in c[1]],
            },
        )
    return Verdict.proved(
        "Z3 on the successor function; induction along the partition",
        bounds="partitions of every length",
        detail=f"Append checked on {found.calls} sequences (1-3 partitions, up to "
        "20 appends with arbitrary timestamps): every record gets the next number "
        "of its partition, in append order.",
    )
