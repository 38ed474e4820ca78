"""Every obligation of the catalogue, one test each, asserting its expected verdict."""

from __future__ import annotations

import pytest

from proofs.data import data_dir
from proofs.obligation import MissingDataError, Obligation, all_obligations
from proofs.profiles import Profile
from proofs.verdict import Outcome

OBLIGATIONS = all_obligations()


@pytest.mark.parametrize("ob", OBLIGATIONS, ids=[ob.id for ob in OBLIGATIONS])
def test_obligation_reaches_expected_verdict(ob: Obligation, profile: Profile) -> None:
    if ob.needs_data:
        try:
            data_dir()
        except MissingDataError as exc:
            pytest.skip(f"reference data absent: {exc}")
    verdict = ob.run(profile)
    assert verdict.outcome is ob.expected, (
        f"{ob.id} reached {verdict.summary()}; counterexample: {verdict.counterexample}"
    )
    if verdict.outcome is Outcome.CHECKED:
        assert verdict.searched, "a CHECKED verdict must say what it searched"
    if verdict.outcome is Outcome.REFUTED:
        assert verdict.counterexample, "a REFUTED verdict must show its counterexample"


def test_catalogue_entries_have_unique_obligation_ids() -> None:
    ids = [ob.id for ob in OBLIGATIONS]
    assert len(ids) == len(set(ids))
