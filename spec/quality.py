r"""Availability: of one service, of a chain, of redundant replicas (D4.3, D4.4, T4.2).

Availabilities are exact numbers in [0, 1] (``int`` or ``Fraction``). The
combining functions use only ``+``, ``-``, ``*`` and ``**`` with an integer
exponent, so they apply unchanged to SymPy symbols and Z3 reals; that is how
the proofs reason about these very functions rather than a copy of them.

- A service up for ``uptime`` out of ``total`` is available ``uptime / total``;
  with mean time between failures and mean time to repair, ``MTBF / (MTBF +
  MTTR)``.
- A chain of services that must all be up, failing independently, is
  available with the product of their availabilities (:func:`series_availability`).
- ``n`` independent replicas of which any one suffices are available with
  ``1 - (1 - A)^n`` (:func:`redundant_availability`). Independence is the
  whole assumption: :func:`common_cause_availability` gives the exact figure
  when a fraction ``beta`` of each replica's downtime is shared by all
  replicas (the beta-factor model of reliability engineering).

>>> from fractions import Fraction as F
>>> series_availability([F(999, 1000)] * 3)
Fraction(997002999, 1000000000)
>>> redundant_availability(F(99, 100), 2)
Fraction(9999, 10000)
>>> common_cause_availability(F(99, 100), 2, beta=F(1, 10))
Fraction(924, 925)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fractions import Fraction
from functools import reduce
from itertools import product
from typing import Any, TypeAlias

from spec.errors import QualityError

Exact: TypeAlias = int | Fraction

#: Hours in a year of 365 days, the convention of published availability tables.
HOURS_PER_YEAR = 365 * 24


def _probability(value: object, what: str) -> Exact:
    if isinstance(value, bool) or not isinstance(value, (int, Fraction)):
        raise QualityError(
            f"{what} must be an exact number (int or Fraction), "
            f"got {type(value).__name__} {value!r}"
        )
    if not 0 <= value <= 1:
        raise QualityError(f"{what} must lie in [0, 1], got {value}")
    return value


def _positive(value: object, what: str, *, allow_zero: bool = False) -> Exact:
    if isinstance(value, bool) or not isinstance(value, (int, Fraction)):
        raise QualityError(
            f"{what} must be an exact number (int or Fraction), "
            f"got {type(value).__name__} {value!r}"
        )
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise QualityError(f"{what} must be {bound}, got {value}")
    return value


def availability(uptime: Exact, total: Exact) -> Fraction:
    """D4.3: the fraction of ``total`` time the service was up."""
    _positive(total, "total time")
    _positive(uptime, "uptime", allow_zero=True)
    if uptime > total:
        raise QualityError(f"uptime {uptime} exceeds total time {total}")
    return Fraction(uptime) / Fraction(total)


def availability_from_mtbf(mtbf: Exact, mttr: Exact) -> Fraction:
    """Steady-state availability from mean time between failures and to repair."""
    _positive(mtbf, "MTBF")
    _positive(mttr, "MTTR", allow_zero=True)
    return Fraction(mtbf) / (Fraction(mtbf) + Fraction(mttr))


def downtime_per_year(a: Exact, hours_per_year: Exact = HOURS_PER_YEAR) -> Fraction:
    """Expected hours down per year for availability ``a``."""
    _probability(a, "availability")
    return (1 - Fraction(a)) * hours_per_year


# Combinators: generic over exact numbers, SymPy and Z3 expressions ------------

#: The availability of an empty chain, the unit of :func:`combine_series`.
SERIES_UNIT = 1


def combine_series(chain: Any, a: Any) -> Any:
    """Availability of a chain extended by one more independent service."""
    return chain * a


def series_availability(components: Iterable[Any]) -> Any:
    """D4.4: all must be up; the left fold of :func:`combine_series`."""
    return reduce(combine_series, components, SERIES_UNIT)


def parallel_availability(components: Iterable[Any]) -> Any:
    """Any one suffices, failures independent: one minus all-down."""
    return 1 - reduce(lambda down, a: down * (1 - a), components, 1)


def redundant_availability(a: Any, n: Any) -> Any:
    """T4.2: ``n`` independent replicas of availability ``a``."""
    return 1 - (1 - a) ** n


# Correlated failures ---------------------------------------------------------


def common_cause_availability(a: Exact, n: int, *, beta: Exact) -> Fraction:
    """Availability of ``n`` replicas when failures share a common cause.

    Each replica alone is down with probability ``q = 1 - a``. A fraction
    ``beta`` of that is a shock that takes every replica down at once
    (probability ``beta * q``); the rest strikes each replica independently,
    with the probability that keeps each replica's own availability at ``a``.
    The system is up when at least one replica is. The figure is computed by
    enumerating every combination of shock and replica states, so it follows
    from the model's definition, not from a closed form.
    """
    a = Fraction(_probability(a, "availability"))
    beta = Fraction(_probability(beta, "beta"))
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise QualityError(f"number of replicas must be an int >= 1, got {n!r}")
    q = 1 - a
    shock = beta * q
    # P(replica down) = shock + (1 - shock) * own  must equal q.
    own = (q - shock) / (1 - shock) if shock < 1 else Fraction(0)
    up = Fraction(0)
    for shocked, *downs in product((True, False), *([(True, False)] * n)):
        weight = shock if shocked else 1 - shock
        for down in downs:
            weight *= own if down else 1 - own
        if not shocked and not all(downs):
            up += weight
    return up


def replica_availability(a: Exact, n: int, beta: Exact) -> Sequence[Fraction]:
    """Each replica's own availability in the common-cause model (all equal ``a``)."""
    q = 1 - Fraction(a)
    shock = Fraction(beta) * q
    own = (q - shock) / (1 - shock) if shock < 1 else Fraction(0)
    return [1 - (shock + (1 - shock) * own)] * n
