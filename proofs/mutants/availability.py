"""Faulty variants of the availability functions of :mod:`spec.quality`."""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from functools import reduce
from typing import Any

from proofs.obligation import mutant
from spec import quality

SUBJECT = "spec.quality"


def _availability_unchecked(uptime: Any, total: Any) -> Fraction:
    return Fraction(uptime) / Fraction(total) if total else Fraction(0)


mutant(
    "availability-accepts-uptime-above-total",
    defect="Availability divides without checking its inputs, so uptime above "
    "the total time gives an availability above 1.",
    subject=SUBJECT,
    availability=_availability_unchecked,
)

mutant(
    "mtbf-formula-inverted",
    defect="Availability from MTBF and MTTR computed as (MTBF - MTTR) / MTBF.",
    subject=SUBJECT,
    availability_from_mtbf=lambda mtbf, mttr: (
        (Fraction(mtbf) - Fraction(mttr)) / Fraction(mtbf)
    ),
)

mutant(
    "downtime-uses-leap-years",
    defect="Downtime per year counted over 365.25 days, not the 365 of the "
    "published tables.",
    subject=SUBJECT,
    downtime_per_year=lambda a: (1 - Fraction(a)) * Fraction(876600, 100),
)


def _series_dropping_last(components: Iterable[Any]) -> Any:
    xs = list(components)
    return reduce(quality.combine_series, xs[:-1], quality.SERIES_UNIT)


mutant(
    "series-drops-a-factor",
    defect="Series availability forgets the last service of the chain.",
    subject=SUBJECT,
    series_availability=_series_dropping_last,
)

mutant(
    "series-averages",
    defect="Series availability averages the chain with each new member "
    "instead of multiplying.",
    subject=SUBJECT,
    combine_series=lambda chain, a: (chain + a) / 2,
    series_availability=lambda xs: reduce(lambda c, a: (c + a) / 2, xs, 1),
)

mutant(
    "redundancy-exponent-off-by-one",
    defect="Redundant availability with exponent n - 1: 1 - (1 - A)^(n-1).",
    subject=SUBJECT,
    redundant_availability=lambda a, n: 1 - (1 - a) ** (n - 1),
)

mutant(
    "redundancy-without-benefit",
    defect="Redundancy computed as the availability of the best replica, "
    "ignoring that any one of them suffices.",
    subject=SUBJECT,
    redundant_availability=lambda a, n: a,
    parallel_availability=lambda xs: max(list(xs), default=0),
)

mutant(
    "common-cause-ignored",
    defect="The correlated-failure model treats the shared shock as "
    "independent per replica, so it reproduces the independent formula.",
    subject=SUBJECT,
    common_cause_availability=lambda a, n, *, beta: quality.redundant_availability(
        Fraction(a), n
    ),
)


def _series_first_eight(components: Iterable[Any]) -> Any:
    return reduce(quality.combine_series, list(components)[:8], quality.SERIES_UNIT)


mutant(
    "series-ignores-members-after-eight",
    defect="Series availability multiplies only the first eight members of a "
    "chain, so longer chains look more available than they are.",
    subject=SUBJECT,
    series_availability=_series_first_eight,
)


def _common_cause_double_counted(a: Any, n: int, *, beta: Any) -> Fraction:
    q = 1 - Fraction(a)
    shock = Fraction(beta) * q
    return (1 - shock) * (1 - q**n)


mutant(
    "common-cause-double-counts",
    defect="The shared shock is added on top of each replica's full "
    "independent downtime, so each replica is less available than A and the "
    "comparison with the formula is unfair.",
    subject=SUBJECT,
    common_cause_availability=_common_cause_double_counted,
)
