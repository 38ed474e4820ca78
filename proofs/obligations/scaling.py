r"""Scaling obligations: D4.1, D4.2 and T4.1 under the universal scalability law.

- Scaling out (D4.1) gives ``n`` distinct replicas of one definition; the
  scale factor (D4.2) is a ratio of throughputs, 1 for one replica.
- T4.1 as written, ``ScaleFactor = n``, is false in general: Z3 finds
  contention and coherence coefficients for which the law's scale factor is
  not ``n``.
- It holds exactly when contention and coherence are zero: SymPy reduces the
  scale factor to ``n`` when both are zero, identically in ``n``; Z3 proves
  that for ``n >= 2`` a scale factor of ``n`` forces both to zero.
- The law fitted to the published SPEC SDM91 measurements by nonlinear least
  squares, with the subject's own throughput function as the model,
  reproduces the published coefficients and peak within the published
  tolerance.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
import sympy as sp
import z3
from hypothesis import strategies as st
from scipy.optimize import curve_fit  # type: ignore[import-untyped]

from proofs.data import vectors
from proofs.obligation import Method, obligation
from proofs.profiles import Profile
from proofs.search import search
from proofs.solvers import prove
from proofs.verdict import Outcome, Verdict

SUBJECT = "spec.scaling"

_USL_ASSUMPTIONS = (
    "throughput follows the universal scalability law X(n) = lambda n / "
    "(1 + sigma (n - 1) + kappa n (n - 1))",
    "sigma >= 0 and kappa >= 0",
)

coefficients = st.integers(0, 20).map(lambda k: Fraction(k, 100))


@obligation(
    "D4.1/scale-out-gives-n-replicas",
    reading="Scaling a service out to n gives n replicas with distinct names and "
    "the service's five parts unchanged; scaling to n + 1 keeps the first n; "
    "n < 1 is refused.",
    formal=r"\mathrm{HorizontalScale}(S, n) = \{S_1, \dots, S_n\},\ "
    r"|\{S_1, \dots, S_n\}| = n",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=SUBJECT,
)
def _scale_out(q: Any, profile: Profile) -> Verdict:
    from spec.model import Interface, service

    base = service(
        "users",
        inputs=[Interface("users", "json")],
        outputs=[Interface("db", "sql")],
        logic=["get"],
        resources={"cpu": 2},
    )

    def prop(n: int) -> str | None:
        replicas = q.horizontal_scale(base, n)
        if len(replicas) != n or len({r.name for r in replicas}) != n:
            return f"scaling to {n} gave {[r.name for r in replicas]}"
        for r in replicas:
            if (r.inputs, r.outputs, r.logic, r.resources, r.environment) != (
                base.inputs,
                base.outputs,
                base.logic,
                base.resources,
                base.environment,
            ):
                return f"replica {r.name} differs from the service"
        if q.horizontal_scale(base, n + 1)[:n] != replicas:
            return f"scaling to {n + 1} does not keep the first {n} replicas"
        for bad in (0, -n):
            try:
                q.horizontal_scale(base, bad)
            except ValueError:
                continue
            return f"scaling to {bad} replicas was accepted"
        return None

    found = search(st.integers(1, 64), prop, profile)
    if found.found:
        return Verdict.refuted(
            "Hypothesis",
            {"n": found.counterexample, "problem": found.message},
            searched={"examples": found.calls},
        )
    return Verdict.checked(
        "Hypothesis", searched={"examples": found.calls}, bounds="n = 1..64"
    )


@obligation(
    "D4.2/scale-factor-is-ratio",
    reading="The scale factor is the throughput of n replicas over that of one: "
    "1 for a single replica, the law's X(n)/X(1) whatever the single-replica "
    "throughput lambda (which is X(1), neither contention nor coherence arising "
    "with one replica), and undefined (refused) for a zero throughput.",
    formal=r"\mathrm{ScaleFactor}(n) = \frac{X(n)}{X(1)},\ "
    r"\mathrm{ScaleFactor}(1) = 1",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=SUBJECT,
    assumptions=_USL_ASSUMPTIONS,
)
def _scale_factor(q: Any, profile: Profile) -> Verdict:
    case = st.tuples(
        st.integers(1, 64),
        st.integers(1, 500).map(lambda k: Fraction(k, 4)),
        coefficients,
        coefficients,
    )

    def prop(c: tuple[int, Fraction, Fraction, Fraction]) -> str | None:
        n, lam, sigma, kappa = c
        one = q.usl_throughput(Fraction(1), lam, sigma, kappa)
        many = q.usl_throughput(Fraction(n), lam, sigma, kappa)
        if one != lam:
            return f"one replica's throughput is {one}, not lambda = {lam}"
        if q.scale_factor(one, one) != 1:
            return "one replica's scale factor is not 1"
        if q.usl_scale_factor(Fraction(1), sigma, kappa) != 1:
            return "the law's scale factor at n = 1 is not 1"
        ratio = q.scale_factor(many, one)
        if ratio != Fraction(many) / Fraction(one):
            return f"scale factor {ratio}, throughput ratio {many / one}"
        if ratio != q.usl_scale_factor(Fraction(n), sigma, kappa):
            return "X(n)/X(1) differs from the law's scale factor"
        for bad in ((many, 0), (0, one)):
            try:
                q.scale_factor(*bad)
            except ValueError:
                continue
            return f"scale_factor{bad} was accepted"
        return None

    found = search(case, prop, profile)
    if found.found:
        n, lam, sigma, kappa = found.counterexample  # type: ignore[misc]
        return Verdict.refuted(
            "Hypothesis",
            {
                "n": n,
                "lambda": str(lam),
                "sigma": str(sigma),
                "kappa": str(kappa),
                "problem": found.message,
            },
            searched={"examples": found.calls},
        )
    return Verdict.checked(
        "Hypothesis, exact fractions",
        searched={"examples": found.calls},
        bounds="n = 1..64, sigma and kappa in [0, 0.2]",
    )


def _coefficients(model: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in model.items() if k in ("n", "sigma", "kappa")}


@obligation(
    "T4.1/as-written",
    reading="T4.1 as written, ScaleFactor = n, is false in general: under the "
    "universal scalability law some contention and coherence coefficients give "
    "a scale factor other than n.",
    formal=r"\exists n \ge 1, \sigma, \kappa \ge 0:\ "
    r"\frac{n}{1 + \sigma(n-1) + \kappa n(n-1)} \ne n",
    method=Method.Z3,
    expected=Outcome.REFUTED,
    subject=SUBJECT,
    assumptions=_USL_ASSUMPTIONS,
)
def _as_written(q: Any, profile: Profile) -> Verdict:
    n, sigma, kappa = z3.Reals("n sigma kappa")
    answer = prove(
        q.usl_scale_factor(n, sigma, kappa) == q.ideal_scale_factor(n),
        assumptions=(n >= 1, sigma >= 0, kappa >= 0, sigma <= 1, kappa <= 1),
        timeout_ms=profile.solver_timeout_ms,
    )
    if answer.status == "unknown":
        return Verdict.unknown("Z3", answer.reason)
    if answer.status == "proved":
        return Verdict.proved(
            "Z3",
            bounds="n >= 1, sigma and kappa in [0, 1]",
            detail="The scale factor was n for every coefficient: T4.1 held.",
        )
    found = _coefficients(answer.counterexample)
    sf = q.usl_scale_factor(
        Fraction(found["n"]), Fraction(found["sigma"]), Fraction(found["kappa"])
    )
    return Verdict.refuted(
        "Z3 model of the negation",
        {**found, "scale factor": str(sf), "T4.1 claims": str(found["n"])},
        detail="With any contention or coherence the scale factor falls short "
        "of n; T4.1 holds exactly when both are zero "
        "(T4.1/ideal-iff-no-contention-no-coherence).",
    )


@obligation(
    "T4.1/ideal-iff-no-contention-no-coherence",
    reading="Under the universal scalability law the scale factor is n for "
    "every n exactly when contention and coherence are both zero: SymPy "
    "reduces the scale factor with sigma = kappa = 0 to n identically in n; Z3 "
    "proves that for every n >= 2 a scale factor of n forces sigma = kappa = 0.",
    formal=r"\left(\forall n:\ \mathrm{ScaleFactor}(n) = n\right) \iff "
    r"\sigma = \kappa = 0",
    method=Method.SYMPY_Z3,
    expected=Outcome.PROVED,
    subject=SUBJECT,
    assumptions=_USL_ASSUMPTIONS,
)
def _ideal_iff(q: Any, profile: Profile) -> Verdict:
    n_sym = sp.Symbol("n", positive=True)
    zero = sp.Integer(0)
    left = sp.simplify(q.usl_scale_factor(n_sym, zero, zero) - n_sym)
    if left != 0:
        return Verdict.refuted(
            "SymPy",
            {
                "sigma": 0,
                "kappa": 0,
                "scale factor minus n": str(left),
                "at n = 4": str(left.subs(n_sym, 4)),
            },
            detail="Without contention or coherence the law should scale ideally.",
        )
    n, sigma, kappa = z3.Reals("n sigma kappa")
    answer = prove(
        z3.And(sigma == 0, kappa == 0),
        assumptions=(
            n >= 2,
            sigma >= 0,
            kappa >= 0,
            q.usl_scale_factor(n, sigma, kappa) == n,
        ),
        timeout_ms=profile.solver_timeout_ms,
    )
    if answer.status == "refuted":
        return Verdict.refuted(
            "Z3",
            {
                **_coefficients(answer.counterexample),
                "problem": "the scale factor is n with a non-zero coefficient",
            },
        )
    if answer.status == "unknown":
        return Verdict.unknown("Z3", answer.reason)
    return Verdict.proved(
        "SymPy identity in n; Z3 over the reals",
        bounds="all real n >= 2 (hence every integer replica count), all "
        "sigma, kappa >= 0",
        detail="If: with sigma = kappa = 0 the scale factor is n / 1 = n. Only "
        "if: a scale factor of n at any single n >= 2 already forces both "
        "coefficients to 0, since the denominator 1 + sigma (n - 1) + kappa n "
        "(n - 1) must then be 1.",
    )


@obligation(
    "T4.1/usl-fit-published",
    reading="The universal scalability law fitted by nonlinear least squares to "
    "the published SPEC SDM91 throughputs (lambda free), with the subject's "
    "throughput function as the model, reproduces the published sigma, kappa, "
    "lambda and peak replica count within the published relative tolerance. "
    "The fitted law also shows T4.1 failing on real measurements.",
    formal=r"\hat\sigma, \hat\kappa, \hat\lambda = \arg\min \sum_i "
    r"\left(X_i - X(N_i)\right)^2,\ |\hat\theta - \theta| \le \epsilon |\theta|",
    method=Method.REFERENCE_DATA,
    expected=Outcome.CHECKED,
    subject=SUBJECT,
    needs_data=True,
    assumptions=_USL_ASSUMPTIONS,
)
def _fit(q: Any, profile: Profile) -> Verdict:
    data = vectors()["universal_scalability_law"]
    big_n = np.array(data["N"], dtype=float)
    big_x = np.array(data["X"], dtype=float)
    tolerance = float(data["tolerance_relative"])

    def model(n: Any, lam: float, sigma: float, kappa: float) -> Any:
        return q.usl_throughput(n, lam, sigma, kappa)

    try:
        (lam, sigma, kappa), _ = curve_fit(
            model,
            big_n,
            big_x,
            p0=(float(big_x[0]), 0.01, 1e-4),
            bounds=([0.0, 0.0, 0.0], [np.inf, 1.0, 1.0]),
        )
    except (RuntimeError, ValueError) as exc:
        return Verdict.unknown("SciPy least squares", f"the fit failed: {exc}")
    fitted = {
        "sigma": float(sigma),
        "kappa": float(kappa),
        "lambda": float(lam),
        "peak_N": float(q.usl_peak(sigma, kappa)),
    }
    expected = data["expected_fit"]
    rows = []
    bad = False
    for key, want in expected.items():
        got = fitted[key]
        off = abs(got - want) / abs(want)
        bad = bad or off > tolerance
        rows.append(
            {
                "coefficient": key,
                "published": want,
                "fitted": float(f"{got:.6g}"),
                "relative difference": float(f"{off:.2g}"),
            }
        )
    if bad:
        return Verdict.refuted(
            "SciPy nonlinear least squares",
            rows,
            searched={"measurements": len(data["N"])},
            detail=f"Tolerance: {tolerance:g} relative. Source: {data['source']}.",
        )
    at = int(data["N"][3])
    measured = data["X"][3] / data["X"][0]
    return Verdict.checked(
        "SciPy nonlinear least squares, compared with the published fit",
        searched={"measurements": len(data["N"]), "coefficients": len(rows)},
        bounds=f"each within {tolerance:g} relative of the published value",
        detail=f"Source: {data['source']}. Fitted: "
        + ", ".join(f"{k} = {v:.4g}" for k, v in fitted.items())
        + f". Measured scale factor at n = {at}: {measured:.1f}, against "
        f"T4.1's {at}.",
    )
