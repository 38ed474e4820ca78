"""Horizontal scaling and the universal scalability law (D4.1, D4.2, T4.1)."""

from __future__ import annotations

from fractions import Fraction as F

import numpy as np
import pytest

from spec import scaling
from spec.errors import QualityError
from spec.model import service


def test_scale_factor_is_n_exactly_without_contention_and_coherence() -> None:
    for n in range(1, 20):
        assert scaling.usl_scale_factor(F(n), F(0), F(0)) == n
        assert scaling.usl_scale_factor(F(n), F(1, 50), F(0)) <= n


def test_the_law_runs_on_arrays_for_fitting() -> None:
    x = scaling.usl_throughput(np.array([1.0, 2.0, 4.0]), 10.0, 0.1, 0.01)
    assert x[0] == pytest.approx(10.0) and x[2] < 40.0


def test_peak_of_the_published_fit() -> None:
    assert scaling.usl_peak(0.02773, 1.044e-4) == pytest.approx(96.52, rel=1e-3)


def test_horizontal_scale_refuses_fewer_than_one_replica() -> None:
    with pytest.raises(QualityError, match="int >= 1"):
        scaling.horizontal_scale(service("users"), 0)


def test_scale_factor_refuses_zero_throughput() -> None:
    with pytest.raises(QualityError, match="> 0"):
        scaling.scale_factor(10, 0)
