r"""Horizontal scaling and the scale factor (D4.1, D4.2, T4.1).

Scaling out runs ``n`` replicas of one service (:func:`horizontal_scale`).
The *scale factor* is the throughput of ``n`` replicas over the throughput of
one (:func:`scale_factor`). T4.1 says it is ``n``. Whether it is depends on
what the replicas share, and the universal scalability law (Gunther) names
the two ways sharing costs:

.. math::

    X(n) = \frac{\lambda n}{1 + \sigma (n - 1) + \kappa n (n - 1)}

- ``sigma`` (contention): the fraction of the work that is serialised, queued
  behind a shared resource (a lock, a primary database);
- ``kappa`` (coherence): the cost of keeping replicas in agreement, paid per
  pair of replicas (cache invalidation, cross-replica chatter);
- ``lambda``: the throughput of one replica without either cost.

The scale factor under the law is ``n / (1 + sigma (n - 1) + kappa n (n -
1))``: exactly ``n`` for every ``n`` when ``sigma = kappa = 0``, and below
``n`` for every ``n >= 2`` otherwise. With ``kappa > 0`` throughput peaks at
``sqrt((1 - sigma) / kappa)`` replicas and falls beyond (:func:`usl_peak`).

The law's functions use only ``+``, ``-``, ``*``, ``/`` and ``**``, so they
apply unchanged to exact fractions, NumPy arrays (for fitting), SymPy symbols
and Z3 reals.

>>> from fractions import Fraction as F
>>> usl_scale_factor(4, F(0), F(0))
Fraction(4, 1)
>>> usl_scale_factor(4, F(1, 10), F(0))
Fraction(40, 13)
>>> from spec.model import service
>>> [s.name for s in horizontal_scale(service("users"), 3)]
['users-1', 'users-2', 'users-3']
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from typing import Any, TypeAlias

from spec.errors import QualityError
from spec.model import Service

Exact: TypeAlias = int | Fraction


def horizontal_scale(s: Service, n: int) -> tuple[Service, ...]:
    """D4.1: ``n`` replicas of ``s``, named ``<name>-1`` to ``<name>-n``.

    Each replica has the service's five parts unchanged; only the name differs,
    so replicas are distinct services with one definition.
    """
    if not isinstance(s, Service):
        raise QualityError(f"can only scale a Service, got {type(s).__name__}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise QualityError(f"number of replicas must be an int >= 1, got {n!r}")
    return tuple(replace(s, name=f"{s.name}-{i}") for i in range(1, n + 1))


def scale_factor(throughput_n: Exact, throughput_1: Exact) -> Fraction:
    """D4.2: throughput of ``n`` replicas over the throughput of one."""
    for value, what in ((throughput_n, "throughput of n"), (throughput_1, "of one")):
        if isinstance(value, bool) or not isinstance(value, (int, Fraction)):
            raise QualityError(
                f"{what} must be an exact number (int or Fraction), got {value!r}"
            )
        if value <= 0:
            raise QualityError(f"{what} must be > 0, got {value}")
    return Fraction(throughput_n) / Fraction(throughput_1)


def ideal_scale_factor(n: Any) -> Any:
    """T4.1 as written: the scale factor is the number of replicas."""
    return n


def usl_throughput(n: Any, lam: Any, sigma: Any, kappa: Any) -> Any:
    """Throughput of ``n`` replicas under the universal scalability law."""
    return lam * n / (1 + sigma * (n - 1) + kappa * n * (n - 1))


def usl_scale_factor(n: Any, sigma: Any, kappa: Any) -> Any:
    """The scale factor under the law: ``X(n) / X(1)``, free of ``lambda``."""
    return usl_throughput(n, 1, sigma, kappa) / usl_throughput(1, 1, sigma, kappa)


def usl_peak(sigma: Any, kappa: Any) -> Any:
    """The number of replicas at which throughput peaks, for ``kappa > 0``.

    Where ``dX/dn = 0``: ``n* = sqrt((1 - sigma) / kappa)``.
    """
    return ((1 - sigma) / kappa) ** 0.5
