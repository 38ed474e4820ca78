"""Verdicts refuse to be built without the evidence their outcome needs."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from proofs.verdict import Outcome, Verdict, VerdictError


@pytest.mark.parametrize(
    ("build", "complaint"),
    [
        (lambda: Verdict.proved("Z3"), "bounds"),
        (lambda: Verdict.checked("Hypothesis", searched={}), "what was searched"),
        (
            lambda: Verdict.checked("Hypothesis", searched={"examples": 0}),
            "searched something",
        ),
        (lambda: Verdict.refuted("Z3", {}), "counterexample"),
        (lambda: Verdict.unknown("Z3", ""), "reason"),
        (lambda: Verdict.proved("", bounds="all n"), "method"),
    ],
)
def test_a_verdict_without_its_evidence_is_refused(
    build: Callable[[], Verdict], complaint: str
) -> None:
    with pytest.raises(VerdictError, match=complaint):
        build()


def test_a_verdict_with_its_evidence_is_built() -> None:
    assert Verdict.proved("Z3", bounds="all n >= 1").outcome is Outcome.PROVED
    checked = Verdict.checked("Hypothesis", searched={"examples": 3, "steps": 0})
    assert checked.outcome is Outcome.CHECKED
    described = Verdict.checked("enumeration", searched={"cases": "all of them"})
    assert described.outcome is Outcome.CHECKED
