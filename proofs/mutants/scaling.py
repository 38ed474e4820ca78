"""Faulty variants of :mod:`spec.scaling`: the scale factor and the scalability law."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from typing import Any

from proofs.obligation import mutant
from spec.model import Service

SUBJECT = "spec.scaling"


def _scale_one_short(s: Service, n: int) -> tuple[Service, ...]:
    if n < 1:
        raise ValueError(f"number of replicas must be >= 1, got {n}")
    return tuple(replace(s, name=f"{s.name}-{i}") for i in range(1, n))


mutant(
    "scale-out-one-short",
    defect="Scaling out to n starts n - 1 replicas (a range that stops one early).",
    subject=SUBJECT,
    horizontal_scale=_scale_one_short,
)

mutant(
    "scale-factor-inverted",
    defect="The scale factor is computed as the single replica's throughput over "
    "the n replicas'.",
    subject=SUBJECT,
    scale_factor=lambda many, one: Fraction(one) / Fraction(many),
)


def _usl_without_coherence(n: Any, lam: Any, sigma: Any, kappa: Any) -> Any:
    return lam * n / (1 + sigma * (n - 1))


mutant(
    "usl-without-coherence",
    defect="The scalability law drops its coherence term (Amdahl's law), so "
    "crosstalk between replicas costs nothing and throughput never falls.",
    subject=SUBJECT,
    usl_throughput=_usl_without_coherence,
    usl_scale_factor=lambda n, sigma, kappa: (
        _usl_without_coherence(n, 1, sigma, kappa)
        / _usl_without_coherence(1, 1, sigma, kappa)
    ),
)


def _usl_contention_on_all(n: Any, lam: Any, sigma: Any, kappa: Any) -> Any:
    return lam * n / (1 + sigma * n + kappa * n * (n - 1))


mutant(
    "usl-contention-counts-every-replica",
    defect="The contention term is sigma n instead of sigma (n - 1), charging a "
    "single replica for contention with nobody.",
    subject=SUBJECT,
    usl_throughput=_usl_contention_on_all,
    usl_scale_factor=lambda n, sigma, kappa: (
        _usl_contention_on_all(n, 1, sigma, kappa)
        / _usl_contention_on_all(1, 1, sigma, kappa)
    ),
)

mutant(
    "usl-peak-ignores-contention",
    defect="The peak replica count is computed as sqrt(1 / kappa), leaving out "
    "the contention coefficient.",
    subject=SUBJECT,
    usl_peak=lambda sigma, kappa: (1 / kappa) ** 0.5,
)

mutant(
    "scale-factor-assumed-linear",
    defect="The law's scale factor is taken to be n, as T4.1 states, whatever "
    "the coefficients.",
    subject=SUBJECT,
    usl_scale_factor=lambda n, sigma, kappa: n,
)
