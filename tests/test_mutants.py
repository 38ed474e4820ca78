"""Each obligation bites, and each faulty variant is caught.

A faulty variant is caught when some obligation of its subject, run on the
variant, reaches a decided verdict other than its expected one (a check that
crashes on the variant catches nothing). Both directions are tested: every variant
is caught by some obligation, and every obligation catches some variant (an
obligation no variant can fail proves nothing).
"""

from __future__ import annotations

import pytest

from proofs.data import data_dir
from proofs.obligation import (
    MissingDataError,
    Mutant,
    Obligation,
    all_mutants,
    all_obligations,
)
from proofs.profiles import Profile
from proofs.runner import run_one
from proofs.verdict import Verdict

pytestmark = pytest.mark.mutant

MUTANTS = all_mutants()
OBLIGATIONS = all_obligations()
_verdicts: dict[tuple[str, str], Verdict] = {}


def _have_data() -> bool:
    try:
        data_dir()
    except MissingDataError:
        return False
    return True


def _verdict(variant: Mutant, ob: Obligation, profile: Profile) -> Verdict:
    key = (variant.id, ob.id)
    if key not in _verdicts:
        _verdicts[key] = run_one(ob, profile, variant.build())
    return _verdicts[key]


def _catches(variant: Mutant, ob: Obligation, profile: Profile) -> bool:
    if ob.needs_data and not _have_data():
        return False
    return ob.bites(_verdict(variant, ob, profile))


@pytest.mark.parametrize("variant", MUTANTS, ids=[m.id for m in MUTANTS])
def test_faulty_variant_is_caught(variant: Mutant, profile: Profile) -> None:
    candidates = [ob for ob in OBLIGATIONS if ob.subject == variant.subject]
    # Obligations without reference data first, so a fresh clone decides most
    # variants without the data directory.
    candidates.sort(key=lambda ob: ob.needs_data)
    if any(_catches(variant, ob, profile) for ob in candidates):
        return
    if not _have_data() and any(ob.needs_data for ob in candidates):
        pytest.skip("not caught without reference data; data obligations may catch it")
    pytest.fail(
        f"no obligation of {variant.subject} misses its verdict on {variant.id}"
    )


@pytest.mark.parametrize("ob", OBLIGATIONS, ids=[ob.id for ob in OBLIGATIONS])
def test_obligation_is_shown_to_bite(ob: Obligation, profile: Profile) -> None:
    if ob.needs_data and not _have_data():
        pytest.skip("reference data absent")
    variants = [m for m in MUTANTS if m.subject == ob.subject]
    assert any(_catches(m, ob, profile) for m in variants), (
        f"no faulty variant makes {ob.id} miss its expected verdict"
    )
