"""Z3 answers do not depend on what the process asked Z3 before."""

from __future__ import annotations

from proofs.obligation import all_mutants, all_obligations
from proofs.profiles import Profile
from proofs.runner import run_one


def test_a_counterexample_is_the_same_after_other_queries(profile: Profile) -> None:
    law = next(o for o in all_obligations() if o.id == "D1.6/composition-laws")
    variant = next(m for m in all_mutants() if m.id == "composition-loses-a-resource")
    first = run_one(law, profile, variant.build())
    for other in all_obligations():
        if other.subject == "spec.quality" and "Z3" in str(other.method):
            run_one(other, profile)
    again = run_one(law, profile, variant.build())
    assert first.counterexample is not None
    assert first.counterexample == again.counterexample
