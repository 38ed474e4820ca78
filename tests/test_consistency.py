"""Linearizability, cached readers and the CAP model (D4.5, D4.6, T4.3)."""

from __future__ import annotations

import pytest

from spec import consistency as c
from spec.errors import ConsistencyError

W, R = "write", "read"

# Known-good and known-bad histories, side by side.
LINEARIZABLE = [
    (c.Operation(W, 1, 0, 1), c.Operation(R, 1, 2, 3)),
    (c.Operation(W, 1, 0, 4), c.Operation(R, 0, 1, 2)),  # read overlaps the write
    (c.Operation(W, 1, 0, 4), c.Operation(R, 1, 1, 2), c.Operation(R, 1, 3, 5)),
]
NOT_LINEARIZABLE = [
    (c.Operation(W, 1, 0, 1), c.Operation(R, 0, 2, 3)),  # stale after completion
    (c.Operation(W, 1, 0, 4), c.Operation(R, 1, 1, 2), c.Operation(R, 0, 3, 5)),
    (c.Operation(R, 7, 0, 1),),  # a value never written
]


@pytest.mark.parametrize("history", LINEARIZABLE)
def test_linearizable_histories_are_accepted(history: c.History) -> None:
    assert c.linearizable(history)
    assert c.satisfies_as_written(history)


@pytest.mark.parametrize("history", NOT_LINEARIZABLE)
def test_non_linearizable_histories_are_rejected(history: c.History) -> None:
    assert not c.linearizable(history)


def test_the_written_definition_accepts_an_invisible_write() -> None:
    assert c.satisfies_as_written(NOT_LINEARIZABLE[0])


def test_a_cached_reader_is_stale_within_its_ttl_and_then_converges() -> None:
    reader = c.CachedReader(ttl=10)
    _, reader = c.cached_read(reader, 0, "old")
    assert c.cached_read(reader, 9, "new")[0] == "old"
    assert c.cached_read(reader, 10, "new")[0] == "new"
    with pytest.raises(ConsistencyError, match="time only moves forward"):
        c.cached_read(reader, -1, "new")


def test_named_protocols_achieve_their_pairs_and_not_all_three() -> None:
    def check(p: c.Protocol, cons: bool, avail: bool, part: bool) -> object:
        return c.satisfies(
            p,
            consistency=cons,
            availability=avail,
            partition_tolerance=part,
            max_length=3,
        )

    assert check(c.latest_known, True, True, False) is None
    assert check(c.latest_known, False, True, True) is None
    assert check(c.leader_only, True, False, True) is None
    for protocol in (c.latest_known, c.leader_only):
        assert check(protocol, True, True, True) is not None


def test_a_partition_hides_the_other_replica() -> None:
    execution = (c.Request("A", "write", 1), c.Request("B", "read"))
    assert c.view(execution, 1, partitioned=True) == ("B", (execution[1],))
    assert c.view(execution, 1, partitioned=False) == ("B", execution)


def test_requests_are_validated() -> None:
    with pytest.raises(ConsistencyError, match="replica must be one of"):
        c.Request("C", "read")
    with pytest.raises(ConsistencyError, match="write with a value"):
        c.Request("A", "write")
