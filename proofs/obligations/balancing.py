r"""Balancing obligations on the specification: D2.3 and T2.2.

Theorem 2.2 says a good balancer keeps any two instances' loads within some
epsilon. Which epsilon, and for which load, depends on the policy; this module
decides each case.

How the proofs reach the code. The kernels of :mod:`spec.balancing`
(``ring_successor``, ``smooth_step``, ``least_loaded``) are written with
arithmetic, comparisons and an ``Ops`` triple; handed Z3's ``If``, ``And`` and
``Or`` they build the solver terms of one step of the very policy the
specification runs. Each proof is an induction: Z3 shows that one step of the
kernel preserves an invariant (the negation of "preserved" is unsatisfiable),
and the bound follows from the invariant. Every proof also runs the subject's
instance-level policy from the start state over a bounded family of weight
vectors, so that the policy is seen to be the kernel's fold; a failure there
is reported as a counterexample, not left to the proof.

The notion of load is the number of picks: ``count_i(k)``, the picks among the
first ``k`` that went to peer ``i``, and its *share* ``k * w_i / W`` with ``W``
the total weight.
"""

from __future__ import annotations

import contextlib
import itertools
import random
from collections.abc import Iterator, Sequence
from fractions import Fraction
from typing import Any

import z3
from hypothesis import strategies as st

from proofs.data import vectors
from proofs.obligation import Method, obligation
from proofs.profiles import Profile
from proofs.search import search
from proofs.solvers import prove
from proofs.verdict import Outcome, Verdict

SUBJECT = "spec.balancing"

_STATIC = (
    "the set of peers does not change",
    "picks are counted from the start state (no current weights, no history)",
)


def _z3_ops(q: Any) -> Any:
    return q.Ops(ite=z3.If, both=z3.And, either=z3.Or)


def _ring(q: Any, weights: Sequence[int]) -> list[Any]:
    """Peers ``p0, p1, ...`` (keys sorting in listing order) with ``weights``."""
    return [q.Peer(f"p{i:02d}", w) for i, w in enumerate(weights)]


def _weight_vectors(max_n: int, max_total: int) -> Iterator[tuple[int, ...]]:
    """Every weight vector (in every order) of 1..max_n peers, total <= max_total."""
    for n in range(1, max_n + 1):
        for ws in itertools.product(range(1, max_total - n + 2), repeat=n):
            if sum(ws) <= max_total:
                yield ws


def _smooth_run(
    q: Any, weights: Sequence[int], picks: int
) -> Iterator[tuple[int, Any]]:
    """The subject's smooth weighted round robin from the start: (index, state)."""
    ring = _ring(q, weights)
    state = q.SmoothState()
    for _ in range(picks):
        peer, state = q.smooth_weighted(state, ring)
        yield int(peer.key[1:]), state


def _answer_verdict(name: str, answer: Any, bounds: str) -> Verdict | None:
    if answer.status == "refuted":
        return Verdict.refuted(f"Z3, {name}", answer.counterexample, bounds=bounds)
    if answer.status == "unknown":
        return Verdict.unknown("Z3", f"{name}: {answer.reason}", bounds=bounds)
    return None


# D2.3 --------------------------------------------------------------------------------


def _peer_sets(q: Any) -> st.SearchStrategy[list[Any]]:
    return st.lists(
        st.builds(q.Peer, st.sampled_from("abcdef"), st.integers(1, 5)),
        max_size=5,
        unique_by=lambda p: p.key,
    )


@obligation(
    "D2.3/never-outside-the-set",
    reading="Every policy, from any state it can reach and with any in-flight "
    "counts, observations and random draws, picks a member of the set it is "
    "given, and picks nothing only from the empty set.",
    formal=r"I \ne \emptyset \implies \mathrm{LoadBalance}(\sigma, I, r) \in I",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=SUBJECT,
)
def _never_outside(q: Any, profile: Profile) -> Verdict:
    case = st.tuples(
        st.lists(_peer_sets(q), min_size=1, max_size=4),
        st.dictionaries(st.sampled_from("abcdef"), st.integers(0, 4)),
        st.randoms(use_true_random=False),
    )

    def prop(c: tuple[list[list[Any]], dict[str, int], random.Random]) -> str | None:
        sets, in_flight, rng = c
        rr, sw, lc, ad = (
            q.RoundRobinState(),
            q.SmoothState(),
            q.PickHistory(),
            (q.PickHistory()),
        )
        windows = {
            k: q.Window((rng.randrange(10**6),), (rng.random() < 0.5,))
            for k in in_flight
        }
        for peers in sets:
            keys = {p.key for p in peers}
            draws = tuple(rng.randrange(r) for r in q.draw_ranges(len(peers)))
            picks: dict[str, Any] = {}
            picks["round robin"], rr = q.round_robin(rr, peers)
            picks["smooth weighted"], sw = q.smooth_weighted(sw, peers)
            picks["least connections"], lc = q.least_connections(lc, peers, in_flight)
            picks["adaptive"], ad = q.adaptive(ad, peers, windows, in_flight)
            picks["power of two"] = q.power_of_two(peers, in_flight, draws)
            if peers:
                picks["random"] = q.random_choice(peers, rng.randrange(len(peers)))
            for policy, peer in picks.items():
                if peer is None and peers:
                    return f"{policy} picked nothing from {sorted(keys)}"
                if peer is not None and peer.key not in keys:
                    return f"{policy} picked {peer.key!r} from {sorted(keys)}"
        return None

    found = search(case, prop, profile, max_examples=max(20, profile.examples // 4))
    if found.found:
        sets, in_flight, _ = found.counterexample  # type: ignore[misc]
        return Verdict.refuted(
            "Hypothesis",
            {
                "sets, in order": [{p.key: p.weight for p in peers} for peers in sets],
                "in flight": in_flight,
                "problem": found.message,
            },
            searched={"examples": found.calls},
        )
    return Verdict.checked(
        "Hypothesis",
        searched={"examples": found.calls},
        bounds="up to 4 successive sets of up to 5 peers, weights 1-5",
    )


# T2.2: round robin -------------------------------------------------------------------


@obligation(
    "T2.2/rr-static-within-one",
    reading="Round robin over a fixed set of n peers, from any starting "
    "position: after every pick any two peers' counts differ by at most one "
    "(epsilon = 1 pick).",
    formal=r"\forall k\ \forall i, j:\ |\mathrm{count}_i(k) - \mathrm{count}_j(k)| "
    r"\le 1",
    method=Method.Z3,
    expected=Outcome.PROVED,
    subject=SUBJECT,
    assumptions=("the set of peers does not change",),
)
def _rr_within_one(q: Any, profile: Profile) -> Verdict:
    ops = _z3_ops(q)
    n, p, m, c, base = z3.Ints("n next m count_m q")
    # Invariant, with peers renumbered so that the first pick serves 0: after
    # k = q*n + next picks, peer m has q + 1 picks if m < next, else q.
    invariant = c == base + z3.If(m < p, 1, 0)
    p2 = q.ring_successor(p, n, ops)
    c2 = c + z3.If(m == p, 1, 0)
    base2 = z3.If(p2 == 0, base + 1, base)
    frame = (n >= 1, p >= 0, p < n, m >= 0, m < n)
    step = prove(
        z3.And(p2 >= 0, p2 < n, c2 == base2 + z3.If(m < p2, 1, 0)),
        assumptions=(*frame, invariant),
        timeout_ms=profile.solver_timeout_ms,
    )
    bad = _answer_verdict("inductive step", step, "all n >= 1")
    if bad is not None:
        return bad
    m2, c_other = z3.Ints("j count_j")
    spread = prove(
        z3.And(c - c_other <= 1, c_other - c <= 1),
        assumptions=(
            *frame,
            m2 >= 0,
            m2 < n,
            invariant,
            c_other == base + z3.If(m2 < p, 1, 0),
        ),
        timeout_ms=profile.solver_timeout_ms,
    )
    bad = _answer_verdict("bound from the invariant", spread, "all n >= 1")
    if bad is not None:
        return bad

    # The policy is the kernel's fold: run it from every start on fixed sets.
    runs = 0
    for size in range(1, profile.max_n + 1):
        ring = _ring(q, [1] * size)
        for start in [None, *(p.key for p in ring)]:
            runs += 1
            state, counts = q.RoundRobinState(start), [0] * size
            for k in range(1, 3 * size + 1):
                peer, state = q.round_robin(state, ring)
                counts[int(peer.key[1:])] += 1
                if max(counts) - min(counts) > 1:
                    return Verdict.refuted(
                        "running the policy",
                        {
                            "peers": size,
                            "last served before the run": start,
                            "picks": k,
                            "counts": counts,
                        },
                    )
    return Verdict.proved(
        "Z3: inductive step for symbolic n, then the policy run on fixed sets",
        bounds=f"all n >= 1 (Z3); runs from every start, n = 1..{profile.max_n}",
        detail="Renumber the peers so that the first pick serves peer 0 (a "
        "rotation, so differences of counts are unchanged). Invariant: after "
        "q*n + next picks, peers below next have q + 1 picks and the others q. "
        "Z3 proves that one step of ring_successor keeps it, for symbolic n, "
        "next and peer; the invariant puts every count in {q, q+1}. "
        f"{runs} runs of the policy itself, 3n picks each, confirm that it "
        "follows the ring.",
    )


# T2.2: smooth weighted round robin ---------------------------------------------------


def _smooth_symbols(n: int) -> tuple[list[Any], list[Any], Any]:
    current = list(z3.Ints(" ".join(f"current_{i}" for i in range(n))))
    weights = list(z3.Ints(" ".join(f"weight_{i}" for i in range(n))))
    return current, weights, sum(weights[1:], weights[0])


@obligation(
    "T2.2/swrr-current-weights-sum-to-zero",
    reading="In smooth weighted round robin over a fixed set, the current "
    "weights always sum to zero: each pick adds the total weight and takes it "
    "back from the winner, whoever wins.",
    formal=r"\sum_i \mathrm{current}_i(k) = 0 \text{ for every } k",
    method=Method.Z3,
    expected=Outcome.PROVED,
    subject=SUBJECT,
    assumptions=_STATIC,
)
def _swrr_sum_zero(q: Any, profile: Profile) -> Verdict:
    ops = _z3_ops(q)
    for n in range(1, profile.max_n + 1):
        current, weights, _ = _smooth_symbols(n)
        winner, after = q.smooth_step(current, weights, ops)
        answer = prove(
            z3.And(sum(after) == 0, winner >= 0, winner < n),
            assumptions=(sum(current) == 0, *(w >= 1 for w in weights)),
            timeout_ms=profile.solver_timeout_ms,
        )
        bad = _answer_verdict(f"n = {n}", answer, f"n = 1..{n}")
        if bad is not None:
            return bad

    vectors_run = 0
    for ws in _weight_vectors(3, 8):
        vectors_run += 1
        for k, (_, state) in enumerate(_smooth_run(q, ws, 2 * sum(ws)), start=1):
            total = sum(c for _, c in state.current)
            if total != 0:
                return Verdict.refuted(
                    "running the policy",
                    {"weights": list(ws), "picks": k, "sum of current weights": total},
                )
    return Verdict.proved(
        "Z3: one step of smooth_step keeps the sum at zero, then the policy run",
        bounds=f"n = 1..{profile.max_n}, all weights >= 1 (Z3); runs of two "
        "periods for every weight vector with n <= 3 and total <= 8",
        detail="Base: the start state has no current weights (all 0). Step: "
        "Z3 proves for each n, symbolic weights and current weights summing to "
        "0, that the kernel's new current weights sum to 0 and its winner is a "
        f"peer. {vectors_run} weight vectors run through the policy itself "
        "keep the sum at 0 after every pick.",
    )


_LEMMA: dict[tuple[Any, ...], Verdict | None] = {}


def _never_ahead_lemma(q: Any, profile: Profile) -> Verdict | None:
    """Z3, for n = 1..max_n: the step keeps sum 0 and every current > -W.

    ``None`` when proved, else the verdict to return. Remembered per kernel
    function and bounds, since two obligations rest on it.
    """
    key = (q.smooth_step, q.Ops, profile.max_n, profile.solver_timeout_ms)
    if key not in _LEMMA:
        _LEMMA[key] = _prove_never_ahead(q, profile)
    return _LEMMA[key]


def _prove_never_ahead(q: Any, profile: Profile) -> Verdict | None:
    ops = _z3_ops(q)
    for n in range(1, profile.max_n + 1):
        current, weights, total = _smooth_symbols(n)
        winner, after = q.smooth_step(current, weights, ops)
        raised = [c + w for c, w in zip(current, weights, strict=True)]
        winner_raised = z3.Sum([z3.If(winner == i, r, 0) for i, r in enumerate(raised)])
        answer = prove(
            z3.And(
                sum(after) == 0,
                *(a > -total for a in after),
                *(
                    after[i] - current[i] == weights[i] - z3.If(winner == i, total, 0)
                    for i in range(n)
                ),
                *(winner_raised >= r for r in raised),
            ),
            assumptions=(
                sum(current) == 0,
                *(w >= 1 for w in weights),
                *(c > -total for c in current),
            ),
            timeout_ms=profile.solver_timeout_ms,
        )
        bad = _answer_verdict(f"inductive step, n = {n}", answer, f"n = 1..{n}")
        if bad is not None:
            return bad
    return None


_AHEAD_DETAIL = (
    "Write W for the total weight. From the start state, current_i(k) = "
    "k*w_i - W*count_i(k): each pick adds w_i and takes W from the winner, which "
    "Z3 checks of the kernel's update. So count_i(k) - k*w_i/W = -current_i(k)/W, "
    "and 'ahead by less than one pick' is current_i(k) > -W. Invariant: the "
    "current weights sum to 0 and all exceed -W. Step (Z3, each n, symbolic "
    "weights): after adding, the weights sum to W, so the largest is at least "
    "W/n > 0 and the winner stays above -W after losing W; the others only grow."
)


@obligation(
    "T2.2/swrr-never-ahead-by-a-pick",
    reading="In smooth weighted round robin over a fixed set, no peer is ever a "
    "full pick ahead of its share: after every k picks, count_i(k) - k*w_i/W < 1.",
    formal=r"\forall k\ \forall i:\ \mathrm{count}_i(k) - \frac{k\,w_i}{W} < 1",
    method=Method.Z3,
    expected=Outcome.PROVED,
    subject=SUBJECT,
    assumptions=_STATIC,
)
def _swrr_never_ahead(q: Any, profile: Profile) -> Verdict:
    bad = _never_ahead_lemma(q, profile)
    if bad is not None:
        return bad
    vectors_run = 0
    for ws in _weight_vectors(4, 10):
        vectors_run += 1
        total, counts = sum(ws), [0] * len(ws)
        for k, (i, _) in enumerate(_smooth_run(q, ws, 2 * total), start=1):
            counts[i] += 1
            if counts[i] * total - k * ws[i] >= total:
                return Verdict.refuted(
                    "running the policy",
                    {
                        "weights": list(ws),
                        "picks": k,
                        "peer": i,
                        "count": counts[i],
                        "share": str(Fraction(k * ws[i], total)),
                    },
                )
    return Verdict.proved(
        "Z3 induction on the kernel, then the policy run",
        bounds=f"n = 1..{profile.max_n}, all weights >= 1 (Z3); runs of two "
        "periods for every weight vector with n <= 4 and total <= 10",
        detail=_AHEAD_DETAIL + f" {vectors_run} weight vectors run through the "
        "policy itself stay below a pick ahead.",
    )


@obligation(
    "T2.2/swrr-period-is-total-weight",
    reading="Smooth weighted round robin over a fixed set repeats with period W "
    "(the total weight): after W picks every peer has had exactly w_i of them "
    "and the current weights are back to zero, so the loads of any two peers, "
    "in picks per weight, coincide every W picks.",
    formal=r"\mathrm{count}_i(W) = w_i,\ \ \mathrm{current}(W) = 0,\ \ "
    r"\mathrm{pick}(k + W) = \mathrm{pick}(k)",
    method=Method.Z3,
    expected=Outcome.PROVED,
    subject=SUBJECT,
    assumptions=_STATIC,
)
def _swrr_period(q: Any, profile: Profile) -> Verdict:
    bad = _never_ahead_lemma(q, profile)
    if bad is not None:
        return bad
    # At k = W: current_i = W * (w_i - count_i) > -W, and the counts add up to
    # W. First the one nonlinear fact, for scalars; then, linearly, each n.
    total_s, short_s = z3.Ints("W shortfall")
    divide = prove(
        short_s >= 0,
        assumptions=(total_s >= 1, total_s * short_s > -total_s),
        timeout_ms=profile.solver_timeout_ms,
    )
    bad = _answer_verdict("W*d > -W implies d >= 0", divide, "all W >= 1")
    if bad is not None:
        return bad
    for n in range(1, profile.max_n + 1):
        short = list(z3.Ints(" ".join(f"shortfall_{i}" for i in range(n))))
        answer = prove(
            z3.And(*(d == 0 for d in short)),
            assumptions=(*(d >= 0 for d in short), sum(short) == 0),
            timeout_ms=profile.solver_timeout_ms,
        )
        bad = _answer_verdict(f"counting at k = W, n = {n}", answer, f"n = 1..{n}")
        if bad is not None:
            return bad

    vectors_run = 0
    for ws in _weight_vectors(4, 10):
        vectors_run += 1
        total = sum(ws)
        run = list(_smooth_run(q, ws, 2 * total))
        first, second = [i for i, _ in run[:total]], [i for i, _ in run[total:]]
        counts = [first.count(i) for i in range(len(ws))]
        back = run[total - 1][1].current
        if counts != list(ws) or any(c for _, c in back) or first != second:
            return Verdict.refuted(
                "running the policy",
                {
                    "weights": list(ws),
                    "first W picks": first,
                    "next W picks": second,
                    "counts after W picks": counts,
                    "current weights after W picks": [c for _, c in back],
                },
            )
    return Verdict.proved(
        "Z3: never-ahead induction and counting at k = W, then the policy run",
        bounds=f"n = 1..{profile.max_n}, all weights >= 1 (Z3); two periods of "
        "every weight vector with n <= 4 and total <= 10",
        detail="By T2.2/swrr-never-ahead-by-a-pick, current_i(W) = W*(w_i - "
        "count_i(W)) > -W, so the shortfall w_i - count_i(W) is at least 0; the "
        "counts add up to W = sum of w_i, so every shortfall is 0 (Z3, each n) "
        "and every current weight is back to 0, the start state. The policy is "
        "deterministic, so the sequence repeats from there. "
        f"{vectors_run} weight vectors run through the policy itself repeat.",
    )


def _light_and_heavy(draw: Any) -> list[int]:
    """A few light peers beside a block of equally heavy ones."""
    light = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    heavy = draw(st.integers(4, 40))
    return [*light, *[heavy] * draw(st.integers(2, 8))]


@obligation(
    "T2.2/swrr-within-one-both-ways",
    reading="The stronger claim that smooth weighted round robin keeps every "
    "peer within one pick of its share both ways, |count_i(k) - k*w_i/W| <= 1, "
    "is false: a searched weight vector makes a peer fall more than a pick "
    "behind.",
    formal=r"\exists w, k, i:\ \frac{k\,w_i}{W} - \mathrm{count}_i(k) > 1",
    method=Method.HYPOTHESIS,
    expected=Outcome.REFUTED,
    subject=SUBJECT,
    assumptions=_STATIC,
)
def _swrr_both_ways(q: Any, profile: Profile) -> Verdict:
    def prop(ws: list[int]) -> str | None:
        total, counts = sum(ws), [0] * len(ws)
        for k, (i, _) in enumerate(_smooth_run(q, ws, total), start=1):
            counts[i] += 1
            for j, w in enumerate(ws):
                if abs(counts[j] * total - k * w) > total:
                    return f"{k}:{j}"
        return None

    found = search(st.composite(_light_and_heavy)(), prop, profile)
    if not found.found:
        return Verdict.checked(
            "Hypothesis",
            searched={"examples": found.calls},
            bounds="1-3 light peers of weight 1-3 beside 2-8 of one weight in 4-40, "
            "one period each",
        )
    ws = found.counterexample or []
    k, j = (int(x) for x in found.message.split(":"))
    total = sum(ws)
    picks = [f"p{i:02d}" for i, _ in _smooth_run(q, ws, k)]
    count = picks.count(f"p{j:02d}")
    return Verdict.refuted(
        "Hypothesis search, shrunk",
        {
            "weights": {f"p{i:02d}": w for i, w in enumerate(ws)},
            "total weight": total,
            "after picks": k,
            "peer": f"p{j:02d}",
            "its picks": count,
            "its share": str(Fraction(k * ws[j], total)),
            "behind by": str(Fraction(k * ws[j], total) - count),
            "sequence": picks,
        },
        searched={"examples": found.calls},
        bounds="1-3 light peers of weight 1-3 beside 2-8 of one weight in 4-40",
        detail="The light peers' turns cluster, and while they are served a "
        "heavy peer's share keeps growing: it falls more than one pick behind. "
        "The one-sided bound (T2.2/swrr-never-ahead-by-a-pick) is what holds.",
    )


@obligation(
    "T2.2/swrr-nginx-sequence",
    reading="With nginx's published weights the specification picks nginx's "
    "published order and passes through its published current weights.",
    method=Method.REFERENCE_DATA,
    expected=Outcome.CHECKED,
    subject=SUBJECT,
    needs_data=True,
)
def _swrr_nginx(q: Any, profile: Profile) -> Verdict:
    data = vectors()["smooth_weighted_round_robin"]
    bad = []
    for case in data["cases"]:
        names = list(case["weights"])
        ring = [
            q.Peer(f"{n:04d}", case["weights"][name]) for n, name in enumerate(names)
        ]
        state, order, currents = q.SmoothState(), [], []
        for _ in case["expected_order"]:
            peer, state = q.smooth_weighted(state, ring)
            order.append(names[int(peer.key)])
            currents.append([c for _, c in state.current])
        if (
            order != case["expected_order"]
            or currents != case["current_weights_after_each_pick"]
        ):
            bad.append(
                {
                    "weights": case["weights"],
                    "expected order": case["expected_order"],
                    "got order": order,
                    "expected current weights": case["current_weights_after_each_pick"],
                    "got current weights": currents,
                }
            )
    if bad:
        return Verdict.refuted(
            "comparison with nginx", bad, searched={"cases": len(data["cases"])}
        )
    return Verdict.checked(
        "exact comparison with nginx's published sequence",
        searched={"cases": len(data["cases"])},
        detail=f"Source: {data['source']}.",
    )


# T2.2: least connections -------------------------------------------------------------


#: Numbers of peers on which Z3 checks the inductive step directly.
LC_SIZES = (2, 3, 4)


@obligation(
    "T2.2/lc-no-completions-within-one",
    reading="Least connections while no call completes: a peer's in-flight "
    "calls per weight, less its last one, never exceed any other peer's; with "
    "equal weights any two counts differ by at most one (epsilon = 1 call).",
    formal=r"\forall i, j:\ \frac{c_i - 1}{w_i} \le \frac{c_j}{w_j},\quad "
    r"w \equiv 1 \implies |c_i - c_j| \le 1",
    method=Method.Z3,
    expected=Outcome.PROVED,
    subject=SUBJECT,
    assumptions=(
        "the set of peers does not change",
        "every pick starts a call and no call ends",
        "counts start at zero",
    ),
)
def _lc_within_one(q: Any, profile: Profile) -> Verdict:
    ops = _z3_ops(q)
    for size in LC_SIZES:
        c = list(z3.Reals(" ".join(f"calls_{i}" for i in range(size))))
        w = list(z3.Reals(" ".join(f"weight_{i}" for i in range(size))))
        last = list(z3.Ints(" ".join(f"last_pick_{i}" for i in range(size))))

        def invariant(calls: list[Any], w: list[Any] = w, size: int = size) -> Any:
            return z3.And(
                *(
                    (calls[x] - 1) * w[y] <= calls[y] * w[x]
                    for x in range(size)
                    for y in range(size)
                    if x != y
                )
            )

        winner = q.least_loaded(c, w, last, ops)
        after = [c[i] + z3.If(winner == i, 1, 0) for i in range(size)]
        answer = prove(
            invariant(after),
            assumptions=(
                winner == size - 1,
                invariant(c),
                *(x >= 0 for x in c),
                *(x > 0 for x in w),
            ),
            timeout_ms=profile.solver_timeout_ms,
        )
        bad = _answer_verdict(f"inductive step, {size} peers", answer, f"{size} peers")
        if bad is not None:
            return bad

    vectors_run = 0
    for ws in _weight_vectors(4, 8):
        vectors_run += 1
        ring = _ring(q, ws)
        state, calls = q.PickHistory(), {p.key: 0 for p in ring}
        for k in range(1, 3 * sum(ws) + 1):
            peer, state = q.least_connections(state, ring, calls)
            calls[peer.key] += 1
            for a, b in itertools.permutations(ring, 2):
                if (calls[a.key] - 1) * b.weight > calls[b.key] * a.weight:
                    return Verdict.refuted(
                        "running the policy",
                        {"weights": list(ws), "picks": k, "in flight": calls},
                    )
    sizes = f"{LC_SIZES[0]}-{LC_SIZES[-1]}"
    return Verdict.proved(
        f"Z3 induction on the kernel ({sizes} peers, every number of picks), "
        "then the policy run",
        bounds=f"{sizes} peers, every number of picks, all positive weights (Z3, "
        "over the reals); three periods of every weight vector with n <= 4 and "
        "total <= 8 run through the policy",
        detail="Invariant P: (c_x - 1)/w_x <= c_y/w_y for every pair. It holds "
        "at zero. A step raises the winner z, a least loaded peer. Z3 checks "
        f"the step on the kernel itself for {sizes} peers, with symbolic counts, "
        "weights and tie-breaking histories. For more peers the same holds if "
        "the winner is also the least loaded of every subset holding it (only "
        "pairs with z change, and a pair plus a different winner is the "
        "three-peer case); that argument is not machine-checked, and Z3 alone "
        "gives up at six peers within the profile's timeout. With weights 1, "
        f"P says c_x - 1 <= c_y. {vectors_run} weight vectors run through the "
        "policy itself keep P.",
    )


# T2.2: random choice -----------------------------------------------------------------

_EPSILONS = (1, 2, 4, 8)


@obligation(
    "T2.2/random-choice-no-constant-bound",
    reading="Uniform random choice admits no constant epsilon: between two "
    "peers the difference of counts is a random walk, so whatever epsilon is "
    "proposed, long enough runs exceed it, and more often the longer they run.",
    formal=r"\forall \epsilon\ \exists k:\ \Pr\left[|\mathrm{count}_1(k) - "
    r"\mathrm{count}_2(k)| > \epsilon\right] > \tfrac12",
    method=Method.SIMULATION,
    expected=Outcome.REFUTED,
    subject=SUBJECT,
    assumptions=("draws are independent and uniform",),
)
def _random_unbounded(q: Any, profile: Profile) -> Verdict:
    ring = _ring(q, [1, 1])
    runs = max(20, profile.trials // 40)
    rng = random.Random(20_220_202)
    table = []
    for eps in _EPSILONS:
        picks = 16 * eps * eps
        exceeded = 0
        widest = 0
        for _ in range(runs):
            gap = 0
            for _ in range(picks):
                gap += 1 if q.random_choice(ring, rng.randrange(2)).key == "p00" else -1
            widest = max(widest, abs(gap))
            exceeded += abs(gap) > eps
        table.append(
            {
                "epsilon": eps,
                "picks per run": picks,
                "runs": runs,
                "runs ending beyond epsilon": exceeded,
                "widest final gap": widest,
            }
        )
    if all(row["runs ending beyond epsilon"] * 2 > runs for row in table):
        return Verdict.refuted(
            "simulation, fixed seed",
            table,
            searched={"runs": runs * len(_EPSILONS)},
            detail="For every epsilon tried, most runs of 16*epsilon^2 picks end "
            "with the two counts more than epsilon apart. The gap is a simple "
            "random walk, whose spread after k steps is about sqrt(k): no "
            "constant bounds it.",
        )
    return Verdict.checked(
        "simulation, fixed seed",
        searched={"runs": runs * len(_EPSILONS)},
        detail=f"The gap stayed within epsilon in most runs: {table}",
    )


# T2.2: the source's weighted round robin ---------------------------------------------


@obligation(
    "T2.2/source-wrr-starves-light",
    reading="The source's weighted round robin (largest current weight, minus "
    "one, reset at zero) can serve a positive-weight peer never at all: it is "
    "not a balancer in the sense of T2.2 for any epsilon.",
    formal=r"\exists w > 0, i:\ \forall k:\ \mathrm{count}_i(k) = 0",
    method=Method.EXHAUSTIVE,
    expected=Outcome.REFUTED,
    subject=SUBJECT,
    assumptions=("the set of peers does not change",),
)
def _source_starves(q: Any, profile: Profile) -> Verdict:
    tried = 0
    for ws in _weight_vectors(3, 6):
        tried += 1
        ring = _ring(q, ws)
        state = q.SourceWeightedState()
        picks = 100 * sum(ws)
        counts = dict.fromkeys((p.key for p in ring), 0)
        for _ in range(picks):
            key, state = q.source_weighted_round_robin(state, ring)
            counts[key] += 1
        starved = [k for k, c in counts.items() if c == 0]
        if starved:
            return Verdict.refuted(
                "exhaustive enumeration of weight vectors",
                {
                    "weights": {p.key: p.weight for p in ring},
                    "picks": picks,
                    "counts": counts,
                    "never served": starved,
                },
                searched={"weight vectors": tried},
                detail=_starvation_story(ws),
            )
    return Verdict.checked(
        "exhaustive enumeration of weight vectors",
        searched={"weight vectors": tried},
        bounds="n <= 3, total <= 6, 100 periods each",
    )


def _starvation_story(ws: Sequence[int]) -> str:
    """What the starving weight vector ``ws`` shows, in words."""
    if set(ws) == {1}:
        return (
            "Every peer has weight 1. The first of equal current weights "
            "wins, so the first peer wins every tie; it drops to "
            "zero and is reset to 1 at once, leaving the state as it was before "
            "the pick, and the other peers never reach the top. Equal weights, "
            "the fairest case, already starve a peer."
        )
    return (
        "Once the first peer's current weight has come down to another's, the "
        "tie goes to the first peer, which drops further, reaches zero and is "
        "reset to its full weight: the starved peers never reach the top."
    )


# D2.4: the implementation against the specification ----------------------------------
#
# A Hypothesis state machine drives one implementation strategy and the
# specification side by side: instances join, leave, turn unhealthy or healthy
# and change weight; the set is handed over as a fresh tuple, a fresh list or
# the same list changed in place; calls are acquired on picked instances and
# released with every verdict; the adaptive balancer also gets observations.
# After every pick the two must have chosen the same instance, and it must be
# a healthy member of the set handed over.

IMPL = "impl.balancing"
_IDS = ("u0", "u1", "u2", "u3", "u4")
_P2C_SEED = 1_234
_WINDOW = 3


class _Mismatch(AssertionError):
    pass


def _conformance_machine(impl: Any, policy: str, record: dict[str, Any]) -> type:
    from hypothesis.stateful import (
        RuleBasedStateMachine,
        initialize,
        precondition,
        rule,
    )

    from impl.endpoints import ServiceEndpoint, ServiceInstance
    from spec import balancing as spec

    def build() -> Any:
        if policy == "round robin":
            return impl.RoundRobinStrategy()
        if policy == "smooth weighted":
            return impl.WeightedRoundRobinStrategy()
        if policy == "least connections":
            return impl.LeastConnectionsStrategy()
        if policy == "power of two":
            return impl.PowerOfTwoChoicesStrategy(random.Random(_P2C_SEED))
        return impl.AdaptiveLoadBalancer(window_size=_WINDOW)

    made: dict[tuple[str, int | None, bool], Any] = {}
    _weights = st.one_of(st.none(), st.integers(1, 6))

    def instance(ident: str, weight: int | None, healthy: bool) -> Any:
        if (ident, weight, healthy) not in made:
            made[ident, weight, healthy] = _instance(ident, weight, healthy)
        return made[ident, weight, healthy]

    def _instance(ident: str, weight: int | None, healthy: bool) -> Any:
        metadata = {} if weight is None else {"weight": weight}
        endpoint = ServiceEndpoint(
            "127.0.0.1", 9000 + int(ident[1:]), metadata=metadata
        )
        return ServiceInstance(
            "svc", ident, endpoint, "healthy" if healthy else "unhealthy"
        )

    class Conformance(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.strategy = build()
            self.members: dict[str, tuple[int | None, bool]] = {}
            self.snapshot: Any = ()
            self.rr, self.smooth, self.history = (
                spec.RoundRobinState(),
                spec.SmoothState(),
                spec.PickHistory(),
            )
            self.mirror = random.Random(_P2C_SEED)
            self.windows: dict[str, Any] = {}
            self.leases: list[Any] = []
            self.last: Any = None
            self.trace: list[str] = []
            record["trace"] = self.trace
            record["runs"] += 1

        def _publish(self, shape: str) -> str:
            """Hand over the new set as ``shape``; returns the shape used."""
            fresh = [instance(i, w, h) for i, (w, h) in sorted(self.members.items())]
            if shape == "in place" and isinstance(self.snapshot, list):
                self.snapshot[:] = fresh
                return "the same list, changed in place"
            if shape == "list":
                self.snapshot = fresh
                return "a new list"
            self.snapshot = tuple(fresh)
            return "a new tuple"

        def _step(self, text: str) -> None:
            record["steps"] += 1
            self.trace.append(text)

        @initialize(
            members=st.dictionaries(
                st.sampled_from(_IDS), _weights, min_size=1, max_size=4
            )
        )
        def start(self, members: dict[str, int | None]) -> None:
            self.members = {i: (w, True) for i, w in members.items()}
            self._publish("tuple")
            self._step(f"start with weights {dict(sorted(members.items()))}")

        @rule(
            kind=st.sampled_from(("set weight", "leave", "flip health")),
            ident=st.sampled_from(_IDS),
            weight=_weights,
            shape=st.sampled_from(("tuple", "list", "in place")),
        )
        def change(self, kind: str, ident: str, weight: int | None, shape: str) -> None:
            if kind == "set weight" or ident not in self.members:
                healthy = self.members.get(ident, (None, True))[1]
                self.members[ident] = (weight, healthy)
                what = f"set {ident} weight {weight}"
            elif kind == "leave":
                del self.members[ident]
                what = f"{ident} leaves"
            else:
                weight, healthy = self.members[ident]
                self.members[ident] = (weight, not healthy)
                what = f"{ident} turns {'unhealthy' if healthy else 'healthy'}"
            how = self._publish(shape)
            self._step(f"{what}, as {how}")

        def _in_flight(self) -> dict[str, int]:
            counts: dict[str, int] = {}
            for lease in self.leases:
                ident = lease.instance.instance_id
                counts[ident] = counts.get(ident, 0) + 1
            return counts

        def _spec_pick(self) -> str | None:
            peers = [
                spec.Peer(i.instance_id, i.endpoint.metadata.get("weight", 1))
                for i in self.snapshot
                if i.healthy
            ]
            peer: Any
            if policy == "round robin":
                peer, self.rr = spec.round_robin(self.rr, peers)
            elif policy == "smooth weighted":
                peer, self.smooth = spec.smooth_weighted(self.smooth, peers)
            elif policy == "least connections":
                peer, self.history = spec.least_connections(
                    self.history, peers, self._in_flight()
                )
            elif policy == "power of two":
                draws = tuple(
                    self.mirror.randrange(r) for r in spec.draw_ranges(len(peers))
                )
                peer = spec.power_of_two(peers, self._in_flight(), draws)
            else:
                peer, self.history = spec.adaptive(
                    self.history, peers, self.windows, self._in_flight()
                )
            return None if peer is None else str(peer.key)

        @rule(holds=st.lists(st.booleans(), min_size=1, max_size=3))
        def picks(self, holds: list[bool]) -> None:
            """A burst of picks; a call starts on each pick marked to hold."""
            for hold in holds:
                self._pick()
                if hold and self.last is not None:
                    self.leases.append(self.strategy.acquire(self.last))
                    self._step(f"a call starts on {self.last.instance_id}")

        def _pick(self) -> None:
            expected = self._spec_pick()
            try:
                got = self.strategy.select(self.snapshot)
            except Exception as exc:
                self._step(f"pick: implementation raised {type(exc).__name__}: {exc}")
                raise _Mismatch(self.trace[-1]) from None
            got_id = None if got is None else got.instance_id
            self._step(f"pick -> implementation {got_id}, specification {expected}")
            healthy = {i.instance_id for i in self.snapshot if i.healthy}
            if got is not None and (got not in self.snapshot or not got.healthy):
                raise _Mismatch(f"picked {got_id}, not a healthy member of the set")
            if got is None and healthy:
                raise _Mismatch(f"picked nothing from {sorted(healthy)}")
            if got_id != expected:
                raise _Mismatch(
                    f"implementation picked {got_id}, specification {expected}"
                )
            self.last = got

        @precondition(lambda self: self.last is not None)
        @rule()
        def acquire(self) -> None:
            self.leases.append(self.strategy.acquire(self.last))
            self._step(f"acquire a call on {self.last.instance_id}")

        @precondition(lambda self: bool(self.leases))
        @rule(
            data=st.data(),
            verdict=st.sampled_from((False, True, None)),
            micros=st.integers(0, 3_000_000),
        )
        def release(self, data: Any, verdict: bool | None, micros: int) -> None:
            lease = self.leases.pop(data.draw(st.integers(0, len(self.leases) - 1)))
            lease.release(error=verdict, elapsed=micros / 1_000_000)
            ident = lease.instance.instance_id
            if verdict is not None:
                self.windows[ident] = spec.observe(
                    self.windows.get(ident, spec.Window()),
                    size=_WINDOW,
                    micros=spec.microseconds(micros / 1_000_000),
                    error=verdict,
                )
            self._step(f"release a call on {ident}: error={verdict}, {micros} us")

        @precondition(lambda self: policy == "adaptive" and self.last is not None)
        @rule(micros=st.integers(0, 3_000_000), error=st.booleans())
        def observe(self, micros: int, error: bool) -> None:
            ident = self.last.instance_id
            self.strategy.record_response_time(self.last, micros / 1_000_000)
            self.strategy.record_error(ident, error)
            window = spec.observe(
                self.windows.get(ident, spec.Window()),
                size=_WINDOW,
                micros=spec.microseconds(micros / 1_000_000),
            )
            self.windows[ident] = spec.observe(window, size=_WINDOW, error=error)
            self._step(f"record on {ident}: {micros} us, error={error}")

    return Conformance


def _conformance(impl: Any, profile: Profile, policy: str) -> Verdict:
    from hypothesis import Phase
    from hypothesis.stateful import run_state_machine_as_test

    record: dict[str, Any] = {"runs": 0, "steps": 0, "trace": []}
    machine = _conformance_machine(impl, policy, record)
    runs = max(25, profile.examples // 8)
    # Shrinking a stateful run replays it hundreds of times; the first failing
    # run is reported as found (it ends at the failing step).
    phases = (Phase.explicit, Phase.reuse, Phase.generate)
    try:
        run_state_machine_as_test(
            machine, settings=profile.hypothesis(max_examples=runs, phases=phases)
        )
    except _Mismatch as exc:
        return Verdict.refuted(
            "Hypothesis stateful run (first failing run, not shrunk)",
            {"steps": list(record["trace"]), "problem": str(exc)},
            searched={"runs": record["runs"], "steps": record["steps"]},
        )
    return Verdict.checked(
        "Hypothesis stateful runs against the specification",
        searched={"runs": record["runs"], "steps": record["steps"]},
        bounds=f"up to {profile.steps} steps per run, {len(_IDS)} instance ids, "
        "weights 1-6 or missing",
    )


def _conformance_obligation(slug: str, policy: str, mutant_hint: str) -> None:
    @obligation(
        f"D2.4/{slug}",
        reading=f"The implementation's {policy} strategy picks exactly what the "
        f"specification's {policy} policy picks from the same state, while "
        "instances join, leave, turn unhealthy or healthy and change weight, "
        "calls start and end, and the set is handed over as tuples, lists and "
        f"lists changed in place; and never a non-member or an unhealthy one. "
        f"{mutant_hint}",
        method=Method.STATEFUL,
        expected=Outcome.CHECKED,
        subject=IMPL,
    )
    def check(impl: Any, profile: Profile) -> Verdict:
        return _conformance(impl, profile, policy)


_conformance_obligation(
    "round-robin-matches-spec",
    "round robin",
    "The position is the last instance served, and survives rebuilding.",
)
_conformance_obligation(
    "smooth-weighted-matches-spec",
    "smooth weighted",
    "Current weights of instances that stay are kept; leavers are forgotten.",
)
_conformance_obligation(
    "least-connections-matches-spec",
    "least connections",
    "In-flight calls are the leases acquired and not yet released.",
)
_conformance_obligation(
    "power-of-two-matches-spec",
    "power of two",
    "Both draw from random sources seeded alike, in the documented order.",
)
_conformance_obligation(
    "adaptive-matches-spec",
    "adaptive",
    "Scores come from the last three observations and the calls in flight.",
)


# D2.4: weights, leases, nginx on the implementation ---------------------------------

_WEIGHTED = (
    "WeightedRoundRobinStrategy",
    "LeastConnectionsStrategy",
    "PowerOfTwoChoicesStrategy",
)


def _bad_weights() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.integers(max_value=0),
        st.integers(min_value=1_000_001),
        st.floats(allow_nan=False, allow_infinity=False),
        st.booleans(),
        st.text(max_size=3),
        st.just("missing"),
    )


@obligation(
    "D2.4/weights-refused",
    reading="Every weighted strategy refuses an instance whose weight is zero, "
    "negative, above the maximum, not an integer (2.0 included) or boolean, or "
    "missing when a weight is required, with an error that names the "
    "instance; and accepts every integer weight from 1 to the maximum.",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=IMPL,
)
def _weights_refused(impl: Any, profile: Profile) -> Verdict:
    from impl.endpoints import ServiceEndpoint, ServiceInstance
    from impl.errors import InvalidWeightError

    def instance(ident: str, weight: Any) -> Any:
        metadata = {} if weight == "missing" else {"weight": weight}
        return ServiceInstance(
            "svc", ident, ServiceEndpoint("127.0.0.1", 9000, metadata=metadata)
        )

    case = st.tuples(
        st.sampled_from(_WEIGHTED),
        _bad_weights(),
        st.integers(1, 1_000_000),
        st.booleans(),
    )

    def prop(c: tuple[str, Any, int, bool]) -> str | None:
        name, bad, good, bad_first = c
        kwargs = {"default_weight": None} if bad == "missing" else {}
        pool = [instance("good", good), instance("bad", bad)]
        if bad_first:
            pool.reverse()
        try:
            getattr(impl, name)(**kwargs).select(tuple(pool))
        except InvalidWeightError as exc:
            if exc.instance_id != "bad" or "svc/bad" not in str(exc):
                return f"{name}: the refusal does not name svc/bad: {exc}"
        except Exception as exc:
            return f"{name}: weight {bad!r} raised {type(exc).__name__}: {exc}"
        else:
            return f"{name} accepted weight {bad!r}"
        try:
            getattr(impl, name)().select((instance("good", good),))
        except Exception as exc:
            return f"{name} refused weight {good}: {exc}"
        return None

    found = search(case, prop, profile, max_examples=max(20, profile.examples // 4))
    if found.found:
        name, bad, _, _ = found.counterexample  # type: ignore[misc]
        return Verdict.refuted(
            "Hypothesis",
            {"strategy": name, "weight": repr(bad), "problem": found.message},
            searched={"examples": found.calls},
        )
    return Verdict.checked(
        "Hypothesis",
        searched={"examples": found.calls},
        bounds="integers, floats, booleans, short strings and missing weights",
    )


_ENDINGS = ("success", "error", "timeout inside", "timeout outside", "cancelled")


@obligation(
    "D2.4/in-flight-released-once",
    reading="Every strategy counts a tracked call as in flight from entry to "
    "exit, and releases it exactly once however it ends: success, error, a "
    "timeout inside or around the call, or cancellation; releasing a lease "
    "again changes nothing.",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=IMPL,
    assumptions=("calls run concurrently on the virtual-time loop",),
)
def _released_once(impl: Any, profile: Profile) -> Verdict:
    import asyncio

    from impl.endpoints import ServiceEndpoint, ServiceInstance
    from proofs.harness.vtime import run

    instances = [
        ServiceInstance("svc", f"u{i}", ServiceEndpoint("127.0.0.1", 9000 + i))
        for i in range(3)
    ]
    names = (
        "RoundRobinStrategy",
        "WeightedRoundRobinStrategy",
        "LeastConnectionsStrategy",
        "PowerOfTwoChoicesStrategy",
        "AdaptiveLoadBalancer",
    )
    call = st.tuples(
        st.integers(0, 2),
        st.integers(0, 5),
        st.integers(1, 6),
        st.sampled_from(_ENDINGS),
    )
    case = st.lists(call, min_size=1, max_size=8)

    def prop(calls: list[tuple[int, int, int, str]]) -> str | None:
        for name in names:
            complaint = scenario_on(name, calls)
            if complaint is not None:
                return complaint
        return None

    def scenario_on(name: str, calls: list[tuple[int, int, int, str]]) -> str | None:
        strategy = getattr(impl, name)()
        open_calls = [0, 0, 0]
        problems: list[str] = []
        leases: list[Any] = []

        def counted(where: str) -> None:
            for i, inst in enumerate(instances):
                if strategy.in_flight(inst) != open_calls[i]:
                    problems.append(
                        f"{where}: {inst.instance_id} counted "
                        f"{strategy.in_flight(inst)} in flight, {open_calls[i]} open"
                    )

        async def one(target: int, start: int, length: int, ending: str) -> None:
            await asyncio.sleep(start)

            async def body() -> None:
                async with strategy.track(instances[target]) as lease:
                    leases.append(lease)
                    open_calls[target] += 1
                    try:
                        counted(f"entering a call on u{target}")
                        if ending == "timeout inside":
                            await asyncio.wait_for(asyncio.sleep(length + 9), length)
                        await asyncio.sleep(length)
                        if ending == "error":
                            raise RuntimeError("the call failed")
                    finally:
                        open_calls[target] -= 1

            if ending == "timeout outside":
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(body(), length / 2)
            elif ending == "cancelled":
                task = asyncio.ensure_future(body())
                await asyncio.sleep(length / 2)
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            else:
                with contextlib.suppress(RuntimeError, TimeoutError):
                    await body()
            counted(f"after a call on u{target} ended ({ending})")

        async def scenario() -> list[Any]:
            return await asyncio.gather(
                *(one(*spec_) for spec_ in calls), return_exceptions=True
            )

        failures = [e for e in run(scenario()) if isinstance(e, BaseException)]
        if failures:
            exc = failures[0]
            return f"{name}: a call raised {type(exc).__name__}: {exc}"
        if problems:
            return f"{name}: {problems[0]}"
        for lease in leases:
            if not lease.released or lease.release() is not False:
                return f"{name}: a lease was not released exactly once"
        counted("after releasing every lease again")
        return f"{name}: {problems[0]}" if problems else None

    found = search(case, prop, profile, max_examples=max(20, profile.examples // 4))
    if found.found:
        calls = found.counterexample or []
        return Verdict.refuted(
            "Hypothesis on the virtual-time loop",
            {
                "calls (instance, start s, length s, ending)": [list(x) for x in calls],
                "problem": found.message,
            },
            searched={"examples": found.calls},
        )
    return Verdict.checked(
        "Hypothesis on the virtual-time loop",
        searched={"examples": found.calls},
        bounds="up to 8 concurrent calls on 3 instances, every kind of ending, "
        "each scenario run on all five strategies",
    )


@obligation(
    "D2.4/wrr-nginx-sequence",
    reading="The implementation's weighted round robin picks nginx's published "
    "order with nginx's published weights, and passes through its published "
    "current weights.",
    method=Method.REFERENCE_DATA,
    expected=Outcome.CHECKED,
    subject=IMPL,
    needs_data=True,
)
def _impl_nginx(impl: Any, profile: Profile) -> Verdict:
    from impl.endpoints import ServiceEndpoint, ServiceInstance

    data = vectors()["smooth_weighted_round_robin"]
    bad = []
    for case in data["cases"]:
        names = list(case["weights"])
        pool = tuple(
            ServiceInstance(
                "svc",
                f"{n:04d}",
                ServiceEndpoint(
                    "127.0.0.1", 9000, metadata={"weight": case["weights"][name]}
                ),
            )
            for n, name in enumerate(names)
        )
        strategy = impl.WeightedRoundRobinStrategy()
        order, currents = [], []
        for _ in case["expected_order"]:
            order.append(names[int(strategy.select(pool).instance_id)])
            weights = getattr(strategy, "current_weights", lambda _: None)(pool)
            currents.append(None if weights is None else list(weights.values()))
        if (
            order != case["expected_order"]
            or currents != case["current_weights_after_each_pick"]
        ):
            bad.append(
                {
                    "weights": case["weights"],
                    "expected order": case["expected_order"],
                    "got order": order,
                    "expected current weights": case["current_weights_after_each_pick"],
                    "got current weights": currents,
                }
            )
    if bad:
        return Verdict.refuted(
            "comparison with nginx", bad, searched={"cases": len(data["cases"])}
        )
    return Verdict.checked(
        "exact comparison with nginx's published sequence",
        searched={"cases": len(data["cases"])},
        detail=f"Source: {data['source']}.",
    )
