r"""Availability obligations: D4.3, D4.4 and T4.2.

What is proved, and by which tool:

- *Series below the weakest link* (D4.4), for every chain length, by induction:
  Z3 discharges the base case and the inductive step for the subject's own
  ``combine_series`` over real arithmetic. For each length up to the profile's
  ``max_n`` Z3 also proves it directly on ``series_availability``.
- *Redundancy increases with n and beats one replica* (T4.2), for every n:
  SymPy reduces each claim, for symbolic ``n`` and ``A``, to a statement about
  ``(1 - A)^m``; Z3 proves by induction that ``0 < q^m < 1`` for ``0 < q < 1``
  and ``m >= 1``. Z3 also proves both claims directly for each n up to
  ``max_n`` (nonlinear real arithmetic, with ``A`` symbolic).
- Before any proof, each claim is tried on a grid of exact rationals; a
  failure there is reported as a counterexample, not left to the solver.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
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

SUBJECT = "spec.quality"

#: Exact availabilities tried before any proof.
GRID = (
    *(Fraction(k, 10) for k in range(1, 10)),
    Fraction(1, 1000),
    Fraction(999, 1000),
)

unit_interval = st.fractions(min_value=0, max_value=1, max_denominator=1000)


def _exact(x: float | int) -> Fraction:
    """A published decimal figure as the exact number it denotes."""
    return Fraction(str(x))


def _published_tolerance(x: float) -> Fraction:
    """Half a unit in the last published digit."""
    text = repr(x)
    digits = len(text.split(".", 1)[1]) if "." in text else 0
    return Fraction(1, 2 * 10**digits)


# D4.3 ------------------------------------------------------------------------


@obligation(
    "D4.3/fraction-of-time",
    reading="Availability is uptime over total time: a number in [0, 1] that "
    "equals MTBF / (MTBF + MTTR) when the uptime is one MTBF out of one "
    "failure-and-repair cycle. Uptime above the total, or a non-positive total, "
    "is refused.",
    formal=r"0 \le \frac{\mathrm{Uptime}}{\mathrm{Total}} \le 1,\quad "
    r"A(\mathrm{MTBF}, \mathrm{MTBF}+\mathrm{MTTR}) = "
    r"\frac{\mathrm{MTBF}}{\mathrm{MTBF}+\mathrm{MTTR}}",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=SUBJECT,
)
def _fraction_of_time(q: Any, profile: Profile) -> Verdict:
    times = st.fractions(min_value=0, max_value=10**6, max_denominator=100)

    def prop(case: tuple[Fraction, Fraction]) -> str | None:
        up, down = case
        total = up + down
        if total == 0:
            return None
        a = q.availability(up, total)
        if not 0 <= a <= 1:
            return f"availability {a} outside [0, 1]"
        if up > 0 and a != q.availability_from_mtbf(up, down):
            return f"uptime/total {a} differs from MTBF/(MTBF+MTTR)"
        for bad_up, bad_total in ((total + 1, total), (up, 0), (up, -total - 1)):
            try:
                q.availability(bad_up, bad_total)
            except ValueError:
                continue
            return f"availability({bad_up}, {bad_total}) was accepted"
        return None

    found = search(st.tuples(times, times), prop, profile)
    if found.found:
        up, down = found.counterexample  # type: ignore[misc]
        return Verdict.refuted(
            "Hypothesis",
            {"uptime": str(up), "downtime": str(down), "problem": found.message},
            searched={"examples": found.calls},
        )
    return Verdict.checked(
        "Hypothesis, exact fractions",
        searched={"examples": found.calls},
        bounds="uptime and downtime in [0, 10^6], denominators <= 100",
    )


@obligation(
    "D4.3/published-figures",
    reading="MTBF / (MTBF + MTTR) and the downtime per 365-day year reproduce "
    "the published figures to the digits published.",
    method=Method.REFERENCE_DATA,
    expected=Outcome.CHECKED,
    subject=SUBJECT,
    needs_data=True,
)
def _d43_published(q: Any, profile: Profile) -> Verdict:
    data = vectors()["availability"]
    bad = []
    cases = 0
    for case in data["mtbf_mttr"]:
        cases += 1
        got = q.availability_from_mtbf(_exact(case["mtbf"]), _exact(case["mttr"]))
        if abs(got - _exact(case["expected"])) > _published_tolerance(case["expected"]):
            bad.append(
                {
                    "case": f"mtbf={case['mtbf']}, mttr={case['mttr']}",
                    "expected": case["expected"],
                    "got": str(got),
                }
            )
    for case in data["downtime_per_year_hours"]:
        cases += 1
        got = q.downtime_per_year(_exact(case["availability"]))
        if abs(got - _exact(case["expected"])) > _published_tolerance(case["expected"]):
            bad.append(
                {
                    "case": f"downtime at A={case['availability']}",
                    "expected": case["expected"],
                    "got": str(got),
                }
            )
    return _data_verdict(bad, cases, data["source"])


def _data_verdict(bad: list[dict[str, Any]], cases: int, source: str) -> Verdict:
    if bad:
        return Verdict.refuted(
            "comparison with published figures", bad, searched={"cases": cases}
        )
    return Verdict.checked(
        "exact comparison with published figures",
        searched={"cases": cases},
        bounds="within half a unit of the last published digit",
        detail=f"Source: {source}.",
    )


# D4.4 ------------------------------------------------------------------------

_SERIES_ASSUMPTIONS = (
    "services fail independently",
    "each availability lies in [0, 1]",
)


@obligation(
    "D4.4/series-is-product",
    reading="The series availability of a chain is the product of its members' "
    "availabilities, and is the fold of the one-step combination from the empty "
    "chain.",
    formal=r"A_{\mathrm{series}}(a_1, \dots, a_n) = \prod_{i=1}^n a_i",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=SUBJECT,
    assumptions=_SERIES_ASSUMPTIONS,
)
def _series_is_product(q: Any, profile: Profile) -> Verdict:
    def prop(xs: list[Fraction]) -> str | None:
        product = Fraction(1)
        folded: Any = q.SERIES_UNIT
        for x in xs:
            product *= x
            folded = q.combine_series(folded, x)
        got = q.series_availability(xs)
        if got != product:
            return f"series gives {got}, product is {product}"
        if folded != product:
            return f"fold of combine_series gives {folded}, product is {product}"
        return None

    found = search(st.lists(unit_interval, max_size=24), prop, profile)
    if found.found:
        return Verdict.refuted(
            "Hypothesis",
            {
                "availabilities": [str(x) for x in found.counterexample or []],
                "problem": found.message,
            },
            searched={"examples": found.calls},
        )
    return Verdict.checked(
        "Hypothesis, exact fractions",
        searched={"examples": found.calls},
        bounds="chains of 0-24",
    )


#: Longest chain on which the series function is compared with the fold.
FOLD_CHAIN = 24


def _fold_mismatch(q: Any) -> dict[str, Any] | None:
    """A chain on which ``series_availability`` is not the fold of the step."""
    for length in range(FOLD_CHAIN + 1):
        chain = [GRID[(7 * i + length) % len(GRID)] for i in range(length)]
        folded: Any = q.SERIES_UNIT
        for a in chain:
            folded = q.combine_series(folded, a)
        got = q.series_availability(chain)
        if got != folded:
            return {
                "chain": [str(a) for a in chain],
                "series_availability": str(got),
                "fold of combine_series": str(folded),
            }
    return None


@obligation(
    "D4.4/series-below-weakest",
    reading="For every chain length n >= 1 the series availability lies in "
    "[0, 1] and is at most the availability of the least available member.",
    formal=r"\forall n \ge 1:\ 0 \le \prod_{i=1}^n a_i \le \min_i a_i",
    method=Method.Z3,
    expected=Outcome.PROVED,
    subject=SUBJECT,
    assumptions=_SERIES_ASSUMPTIONS,
)
def _series_below_weakest(q: Any, profile: Profile) -> Verdict:
    # The induction is on the step; it says something about the series
    # function only if that function is the fold of the step.
    mismatch = _fold_mismatch(q)
    if mismatch is not None:
        return Verdict.refuted(
            "exact comparison with the fold",
            mismatch,
            detail="series_availability is not the fold of combine_series, so "
            "the induction on the step does not reach it.",
        )
    p, m, a = z3.Reals("chain least next")

    def in01(x: Any) -> Any:
        return z3.And(x >= 0, x <= 1)

    base = prove(
        z3.And(
            in01(q.combine_series(q.SERIES_UNIT, a)),
            q.combine_series(q.SERIES_UNIT, a) <= a,
        ),
        assumptions=(in01(a),),
        timeout_ms=profile.solver_timeout_ms,
    )
    step = prove(
        z3.And(
            in01(q.combine_series(p, a)),
            q.combine_series(p, a) <= m,
            q.combine_series(p, a) <= a,
        ),
        assumptions=(in01(p), in01(a), in01(m), p <= m),
        timeout_ms=profile.solver_timeout_ms,
    )
    for name, answer in (("base case", base), ("inductive step", step)):
        if answer.status == "refuted":
            return Verdict.refuted(
                f"Z3, {name}",
                answer.counterexample,
                detail=f"The {name} of the induction fails.",
            )
        if answer.status == "unknown":
            return Verdict.unknown("Z3", f"{name}: {answer.reason}")
    return Verdict.proved(
        "Z3: base case and inductive step of an induction on n",
        bounds="all n >= 1",
        detail="Invariant: the chain so far lies in [0, 1] and below every "
        "member so far. Base: one member. Step: appending a member keeps it "
        "(chain * a <= chain and <= a when both lie in [0, 1]). The series "
        "function was compared, exactly, with the fold of this step on one "
        f"chain of each length 0-{FOLD_CHAIN}, and agreed; that it is the fold "
        "for longer chains rests on its definition.",
    )


@obligation(
    "D4.4/series-below-weakest-bounded",
    reading="For each chain length up to the profile's bound, the series "
    "availability function itself is proved to lie in [0, 1] and below every "
    "member, for all member availabilities.",
    method=Method.Z3,
    expected=Outcome.PROVED,
    subject=SUBJECT,
    assumptions=_SERIES_ASSUMPTIONS,
)
def _series_bounded(q: Any, profile: Profile) -> Verdict:
    for n in range(1, profile.max_n + 1):
        xs = z3.Reals(" ".join(f"a{i}" for i in range(1, n + 1)))
        s = q.series_availability(xs)
        answer = prove(
            z3.And(s >= 0, s <= 1, *(s <= x for x in xs)),
            assumptions=tuple(z3.And(x >= 0, x <= 1) for x in xs),
            timeout_ms=profile.solver_timeout_ms,
        )
        if answer.status == "refuted":
            return Verdict.refuted(
                "Z3", {"n": n, **answer.counterexample}, bounds=f"n = 1..{n}"
            )
        if answer.status == "unknown":
            return Verdict.unknown("Z3", f"n = {n}: {answer.reason}")
    return Verdict.proved(
        "Z3, nonlinear real arithmetic, one query per n",
        bounds=f"n = 1..{profile.max_n}",
    )


@obligation(
    "D4.4/published-figures",
    reading="The series availability of three 99.9% services is the published "
    "99.7002999%.",
    method=Method.REFERENCE_DATA,
    expected=Outcome.CHECKED,
    subject=SUBJECT,
    needs_data=True,
)
def _d44_published(q: Any, profile: Profile) -> Verdict:
    data = vectors()["availability"]
    bad = []
    for case in data["series"]:
        got = q.series_availability([_exact(c) for c in case["components"]])
        if got != _exact(case["expected"]):
            bad.append(
                {
                    "components": case["components"],
                    "expected": case["expected"],
                    "got": str(got),
                }
            )
    return _data_verdict(bad, len(data["series"]), data["source"])


# T4.2 ------------------------------------------------------------------------

_REDUNDANCY_ASSUMPTIONS = (
    "replicas fail independently",
    "one live replica suffices",
    "0 < A < 1",
)

A_SYM = sp.Symbol("A", positive=True)
Q_SYM = sp.Symbol("q", positive=True)
N_SYM = sp.Symbol("n", integer=True, positive=True)


def _reduce(expr: Any) -> Any:
    """Normal form in q = 1 - A, powers merged, for comparing expressions."""
    return sp.simplify(sp.powsimp(sp.expand(expr.subs(A_SYM, 1 - Q_SYM)), force=True))


def _powers_in_unit_interval(profile: Profile) -> tuple[str, str]:
    """Z3, by induction on m: 0 < q < 1 implies 0 < q^m < 1 for all m >= 1."""
    q, x = z3.Reals("q x")
    step = prove(
        z3.And(q * x > 0, q * x < 1),
        assumptions=(q > 0, q < 1, x > 0, x < 1),
        timeout_ms=profile.solver_timeout_ms,
    )
    return step.status, step.reason


def _grid_counterexample(
    f: Callable[[Fraction, int], Any],
    claim: Callable[[Callable[[Fraction, int], Any], Fraction, int], bool],
    n_from: int,
    n_to: int,
) -> dict[str, Any] | None:
    for n in range(n_from, n_to + 1):
        for a in GRID:
            if not claim(f, a, n):
                return {
                    "A": str(a),
                    "n": n,
                    "A_n": str(f(a, n)),
                    "A_n+1": str(f(a, n + 1)),
                }
    return None


def _symbolic_obligation(
    q: Any,
    profile: Profile,
    *,
    claim: Callable[[Callable[[Fraction, int], Any], Fraction, int], bool],
    n_from: int,
    lhs: Callable[[Callable[[Any, Any], Any]], Any],
    positive: Callable[[Any, Any], Any],
    power: Any,
    reduced_text: str,
    lemma_exponent: str,
) -> Verdict:
    """Grid, then SymPy reduction, then Z3 for the powers and for the sign.

    ``positive(A, P)`` is the reduced expression with ``P`` standing for
    ``(1 - A)^power``; it is written with arithmetic only, so the same function
    gives SymPy's expression and Z3's.
    """
    f = q.redundant_availability
    bad = _grid_counterexample(f, claim, n_from, profile.max_n)
    if bad is not None:
        return Verdict.refuted(
            "exact evaluation on a grid of rationals",
            bad,
            searched={"grid_points": len(GRID), "max_n": profile.max_n},
        )
    difference = _reduce(lhs(f) - positive(A_SYM, (1 - A_SYM) ** power))
    if difference != 0:
        return Verdict.unknown(
            "SymPy",
            f"the claim did not reduce to {reduced_text} (left over: {difference})",
            searched={"grid_points": len(GRID), "max_n": profile.max_n},
        )
    status, reason = _powers_in_unit_interval(profile)
    if status == "refuted":
        return Verdict.refuted("Z3", {"lemma": "q*x in (0, 1)"})
    if status == "unknown":
        return Verdict.unknown("Z3", f"power lemma: {reason}")
    a, p = z3.Reals("A P")
    sign = prove(
        positive(a, p) > 0,
        assumptions=(a > 0, a < 1, p > 0, p < 1),
        timeout_ms=profile.solver_timeout_ms,
    )
    if sign.status == "refuted":
        return Verdict.refuted(
            "Z3",
            {**sign.counterexample, "P stands for": f"(1 - A)^{lemma_exponent}"},
            detail=f"The reduced expression {reduced_text} is not positive.",
        )
    if sign.status == "unknown":
        return Verdict.unknown("Z3", f"sign of {reduced_text}: {sign.reason}")
    return Verdict.proved(
        "SymPy reduction for symbolic n, Z3 for the powers and the sign",
        bounds=f"all integers n >= {n_from}, all 0 < A < 1",
        detail=f"SymPy shows the claim's expression equals {reduced_text} "
        "identically in A and n. With q = 1 - A in (0, 1), Z3 proves "
        f"q^{lemma_exponent} lies in (0, 1) by induction (step: q, x in (0, 1) "
        "implies q*x in (0, 1)), and then that the reduced expression is "
        f"positive for every A in (0, 1) and every value of (1 - A)^{lemma_exponent}"
        " in (0, 1).",
    )


@obligation(
    "T4.2/redundancy-increasing",
    reading="Adding a replica strictly raises the redundant availability: "
    "A_{n+1} > A_n for every n >= 1 and 0 < A < 1.",
    formal=r"1-(1-A)^{n+1} - \left(1-(1-A)^n\right) = A(1-A)^n > 0",
    method=Method.SYMPY_Z3,
    expected=Outcome.PROVED,
    subject=SUBJECT,
    assumptions=_REDUNDANCY_ASSUMPTIONS,
)
def _redundancy_increasing(q: Any, profile: Profile) -> Verdict:
    return _symbolic_obligation(
        q,
        profile,
        claim=lambda f, a, n: f(a, n + 1) > f(a, n),
        n_from=1,
        lhs=lambda f: f(A_SYM, N_SYM + 1) - f(A_SYM, N_SYM),
        positive=lambda a, p: a * p,
        power=N_SYM,
        reduced_text="A(1 - A)^n",
        lemma_exponent="n",
    )


@obligation(
    "T4.2/redundancy-above-single",
    reading="Two or more replicas are more available than one: A_n > A for "
    "every n >= 2 and 0 < A < 1.",
    formal=r"1-(1-A)^n - A = (1-A)\left(1-(1-A)^{n-1}\right) > 0",
    method=Method.SYMPY_Z3,
    expected=Outcome.PROVED,
    subject=SUBJECT,
    assumptions=_REDUNDANCY_ASSUMPTIONS,
)
def _redundancy_above_single(q: Any, profile: Profile) -> Verdict:
    return _symbolic_obligation(
        q,
        profile,
        claim=lambda f, a, n: f(a, n) > a,
        n_from=2,
        lhs=lambda f: f(A_SYM, N_SYM) - A_SYM,
        positive=lambda a, p: (1 - a) * (1 - p),
        power=N_SYM - 1,
        reduced_text="(1 - A)(1 - (1 - A)^(n-1))",
        lemma_exponent="(n-1)",
    )


@obligation(
    "T4.2/redundancy-bounded",
    reading="For each n from 2 to the profile's bound, Z3 proves on the "
    "redundancy function itself that A < A_n < A_{n+1} for all 0 < A < 1.",
    method=Method.Z3,
    expected=Outcome.PROVED,
    subject=SUBJECT,
    assumptions=_REDUNDANCY_ASSUMPTIONS,
)
def _redundancy_bounded(q: Any, profile: Profile) -> Verdict:
    a = z3.Real("A")
    for n in range(2, profile.max_n + 1):
        f_n = q.redundant_availability(a, n)
        answer = prove(
            z3.And(a < f_n, f_n < q.redundant_availability(a, n + 1)),
            assumptions=(a > 0, a < 1),
            timeout_ms=profile.solver_timeout_ms,
        )
        if answer.status == "refuted":
            return Verdict.refuted("Z3", {"n": n, **answer.counterexample})
        if answer.status == "unknown":
            return Verdict.unknown("Z3", f"n = {n}: {answer.reason}")
    return Verdict.proved(
        "Z3, nonlinear real arithmetic, one query per n",
        bounds=f"n = 2..{profile.max_n}",
    )


@obligation(
    "T4.2/parallel-generalises-redundant",
    reading="n identical replicas in parallel give exactly the redundant "
    "availability 1 - (1 - A)^n, and the parallel formula is symmetric in its "
    "members.",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=SUBJECT,
    assumptions=_REDUNDANCY_ASSUMPTIONS[:2],
)
def _parallel_generalises(q: Any, profile: Profile) -> Verdict:
    def prop(case: tuple[Fraction, int, list[Fraction]]) -> str | None:
        a, n, others = case
        if q.parallel_availability([a] * n) != q.redundant_availability(a, n):
            return f"parallel of {n} copies differs from redundant({a}, {n})"
        if q.parallel_availability(others) != q.parallel_availability(others[::-1]):
            return "parallel availability depends on member order"
        return None

    found = search(
        st.tuples(
            unit_interval, st.integers(1, 10), st.lists(unit_interval, max_size=6)
        ),
        prop,
        profile,
    )
    if found.found:
        a, n, _others = found.counterexample  # type: ignore[misc]
        return Verdict.refuted(
            "Hypothesis",
            {"A": str(a), "n": n, "problem": found.message},
            searched={"examples": found.calls},
        )
    return Verdict.checked(
        "Hypothesis, exact fractions",
        searched={"examples": found.calls},
        bounds="n <= 10",
    )


@obligation(
    "T4.2/published-figures",
    reading="Two and three 99% replicas in parallel give the published 99.99% "
    "and 99.9999%.",
    method=Method.REFERENCE_DATA,
    expected=Outcome.CHECKED,
    subject=SUBJECT,
    needs_data=True,
)
def _t42_published(q: Any, profile: Profile) -> Verdict:
    data = vectors()["availability"]
    bad = []
    for case in data["parallel"]:
        comps = [_exact(c) for c in case["components"]]
        got = q.parallel_availability(comps)
        same = len(set(comps)) == 1
        if got != _exact(case["expected"]) or (
            same and q.redundant_availability(comps[0], len(comps)) != got
        ):
            bad.append(
                {
                    "components": case["components"],
                    "expected": case["expected"],
                    "got": str(got),
                }
            )
    return _data_verdict(bad, len(data["parallel"]), data["source"])


@obligation(
    "T4.2/correlated-failures",
    reading="Without independence the formula is false: when a fraction beta of "
    "each replica's downtime is a shock shared by all replicas, the exact "
    "availability of n replicas falls short of 1 - (1 - A)^n.",
    formal=r"\exists A, n, \beta:\ A^{\beta}_{\mathrm{redundant}}(n) \ne 1-(1-A)^n",
    method=Method.EXACT,
    expected=Outcome.REFUTED,
    subject=SUBJECT,
)
def _correlated(q: Any, profile: Profile) -> Verdict:
    tried = 0
    for a in (Fraction(99, 100), Fraction(999, 1000), Fraction(9, 10)):
        for beta in (Fraction(1, 10), Fraction(1, 100), Fraction(1, 2)):
            for n in range(2, min(profile.max_n, 6) + 1):
                tried += 1
                # The model's own one-replica system must be up with
                # probability A, or the comparison would be unfair.
                alone = q.common_cause_availability(a, 1, beta=beta)
                if alone != a:
                    return Verdict.unknown(
                        "exact enumeration",
                        f"in the model one replica is up with probability {alone}, "
                        f"not A={a} (beta={beta}): the comparison would be unfair",
                    )
                formula = q.redundant_availability(a, n)
                actual = q.common_cause_availability(a, n, beta=beta)
                if actual == formula:
                    continue
                return Verdict.refuted(
                    "exact enumeration of the common-cause model",
                    {
                        "A (each replica)": str(a),
                        "n": n,
                        "beta": str(beta),
                        "formula 1-(1-A)^n": f"{float(formula):.9f}",
                        "exact availability": f"{float(actual):.9f}",
                        "formula downtime h/year": f"{float((1 - formula) * 8760):.3f}",
                        "exact downtime h/year": f"{float((1 - actual) * 8760):.3f}",
                    },
                    searched={"cases": tried},
                    detail="Each replica keeps availability A in the model, so "
                    "only the independence assumption differs: a shock shared by "
                    "all replicas cannot be masked by adding replicas.",
                )
    return Verdict.checked(
        "exact enumeration of the common-cause model",
        searched={"cases": tried},
        detail="The formula held in every case tried.",
    )


@obligation(
    "T4.2/common-cause-model-fair",
    reading="The common-cause model changes only independence: one replica "
    "alone is up with probability A whatever beta, and with beta = 0 the model "
    "gives exactly the independent formula 1 - (1 - A)^n.",
    formal=r"A^{\beta}_{\mathrm{redundant}}(1) = A,\quad "
    r"A^{0}_{\mathrm{redundant}}(n) = 1-(1-A)^n",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=SUBJECT,
)
def _common_cause_fair(q: Any, profile: Profile) -> Verdict:
    def prop(case: tuple[Fraction, Fraction, int]) -> str | None:
        a, beta, n = case
        alone = q.common_cause_availability(a, 1, beta=beta)
        if alone != a:
            return f"one replica alone is up with probability {alone}, not {a}"
        independent = q.common_cause_availability(a, n, beta=0)
        if independent != q.redundant_availability(a, n):
            return (
                f"with beta = 0 the model gives {independent} for {n} replicas, "
                f"the independent formula {q.redundant_availability(a, n)}"
            )
        return None

    cases = st.tuples(
        unit_interval, unit_interval, st.integers(1, min(profile.max_n, 6))
    )
    found = search(cases, prop, profile)
    if found.found:
        a, beta, n = found.counterexample  # type: ignore[misc]
        return Verdict.refuted(
            "Hypothesis, exact fractions",
            {"A": str(a), "beta": str(beta), "n": n, "problem": found.message},
            searched={"examples": found.calls},
        )
    return Verdict.checked(
        "Hypothesis, exact fractions",
        searched={"examples": found.calls},
        bounds=f"A and beta in [0, 1] with denominators up to 1000, "
        f"n = 1..{min(profile.max_n, 6)}",
    )
