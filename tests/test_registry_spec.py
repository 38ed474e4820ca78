"""The registry specification on hand-picked histories, known-good and known-bad.

The obligations search these properties broadly; the cases here are the ones
a reader would try first, written out so that a failure reads as a sentence.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from spec import registry as r

A1 = r.Instance("a", "1", r.Endpoint("10.0.0.1", 80))
A1_ELSEWHERE = r.Instance("a", "1", r.Endpoint("10.0.0.2", 81))
A2 = r.Instance("a", "2", r.Endpoint("10.0.0.2", 81))


def discover(
    state: r.Registry, service: str, at: r.Time, healthy: bool = False
) -> set[str]:
    return {
        i.instance_id for i in r.step(state, r.Discover(service, healthy, at=at))[0]
    }


def test_second_registration_of_a_live_id_is_refused_and_changes_nothing() -> None:
    outputs, state = r.run([r.Register(A1), r.Register(A1_ELSEWHERE)])
    assert outputs == [True, False]
    assert r.step(state, r.Discover("a"))[0] == {A1}
    assert r.step(state, r.Revision())[0] == 1


def test_lease_holds_before_its_deadline_and_not_at_it() -> None:
    _, state = r.run([r.Register(A1, ttl=10, at=0)])
    assert discover(state, "a", Fraction(99, 10)) == {"1"}
    assert discover(state, "a", 10) == set()


def test_heartbeat_renews_but_cannot_revive() -> None:
    outputs, state = r.run(
        [
            r.Register(A1, ttl=10, at=0),
            r.Heartbeat("a", "1", at=9),
            r.Heartbeat("a", "1", at=19),  # deadline was 19: too late
        ]
    )
    assert outputs == [True, True, False]
    assert discover(state, "a", 19) == set()
    # Gone means free: the id can be registered again.
    assert r.step(state, r.Register(A1_ELSEWHERE, at=20))[0] is True


def test_revision_counts_changes_not_renewals() -> None:
    outputs, _ = r.run(
        [
            r.Register(A1, ttl=5, at=0),  # 1
            r.Register(A2, at=0),  # 2
            r.Heartbeat("a", "1", at=1),  # a renewal: no change
            r.SetHealth("a", "2", False, at=1),  # 3
            r.SetHealth("a", "2", False, at=1),  # already unhealthy: no change
            r.Deregister("a", "2", at=2),  # 4
            r.Deregister("a", "2", at=2),  # nothing to remove
            r.Revision(at=6),  # the lease ran out at 6: 5
        ]
    )
    assert outputs == [True, True, True, True, True, True, False, 5]


def test_health_filter_and_service_list() -> None:
    _, state = r.run([r.Register(A1), r.Register(A2), r.SetHealth("a", "1", False)])
    assert discover(state, "a", 0) == {"1", "2"}
    assert discover(state, "a", 0, healthy=True) == {"2"}
    assert r.step(state, r.ListServices())[0] == ("a",)
    assert discover(state, "b", 0) == set()


def test_step_never_changes_its_argument() -> None:
    _, state = r.run([r.Register(A1, ttl=1)])
    frozen = state
    r.step(state, r.Deregister("a", "1"))
    r.step(state, r.Discover("a", at=5))
    assert state is frozen and state == r.run([r.Register(A1, ttl=1)])[1]


@pytest.mark.parametrize("ttl", [0, -1, r.MAX_TTL + 1, 1.5])
def test_bad_lease_is_refused(ttl: object) -> None:
    with pytest.raises(r.RegistrySpecError, match="ttl"):
        r.step(r.EMPTY, r.Register(A1, ttl=ttl))  # type: ignore[arg-type]


def test_per_service_cache_is_fresh_per_service_and_shared_stamp_is_not() -> None:
    _, registry = r.run([r.Register(A1, at=0)])
    fresh, stale = r.Cache(ttl=3), r.SharedStampCache(ttl=3)
    for t, service in [(0, "a"), (2, "b")]:
        _, fresh, registry = r.cached_discover(fresh, registry, service, t)
        _, stale, registry = r.cached_discover_shared_stamp(stale, registry, service, t)
    registry = r.step(registry, r.Deregister("a", "1", at=2))[1]
    # At t = 4 the entry for a is 4 old, beyond the ttl of 3.
    answer, _, _ = r.cached_discover(fresh, registry, "a", 4)
    sketch, _, _ = r.cached_discover_shared_stamp(stale, registry, "a", 4)
    assert answer == frozenset()  # fetched again
    assert sketch == {A1}  # served from a 4-unit-old entry


def test_damper_waits_for_n_failures_and_m_successes() -> None:
    d = r.Damper(failures=2, successes=3)
    marks = []
    for passed in [False, True, False, False, True, True, False, True, True, True]:
        d = r.observe(d, passed)
        marks.append(d.healthy)
    assert marks == [True, True, True, False, False, False, False, False, False, True]
    with pytest.raises(r.RegistrySpecError, match="failures"):
        r.Damper(failures=0, successes=1)
