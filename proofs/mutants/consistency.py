"""Faulty variants of :mod:`spec.consistency`: linearizability, caches, CAP."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from itertools import permutations
from typing import Any

from impl.discovery import ServiceDiscovery
from proofs.obligation import mutant
from spec import consistency as c

SUBJECT = "spec.consistency"

# Linearizability -------------------------------------------------------------


def _sequentially_consistent(history: Sequence[c.Operation], initial: Any = 0) -> bool:
    # Any order of the operations will do: real time is ignored, which is
    # sequential consistency (for one register), not linearizability.
    for order in permutations(history):
        state, ok = initial, True
        for op in order:
            ok, state = c.register_step(state, op)
            if not ok:
                break
        if ok:
            return True
    return False


mutant(
    "linearizable-ignores-real-time",
    defect="The linearizability check accepts any order of the operations, "
    "ignoring that an operation completed before another was invoked: a stale "
    "read after a completed write passes.",
    subject=SUBJECT,
    linearizable=_sequentially_consistent,
)

mutant(
    "linearizable-accepts-everything",
    defect="The linearizability check answers yes without looking.",
    subject=SUBJECT,
    linearizable=lambda history, initial=0: True,
)

# Cached readers ----------------------------------------------------------------


def _never_expires(reader: c.CachedReader, now: Any, current: Any) -> Any:
    if reader.fetched_at is not None:
        return reader.value, reader
    return current, replace(reader, value=current, fetched_at=now)


mutant(
    "cache-never-expires",
    defect="The cached reader keeps its first answer for ever: its ttl is "
    "never checked, so it never converges.",
    subject=SUBJECT,
    cached_read=_never_expires,
)

mutant(
    "cache-always-fetches",
    defect="The cached reader fetches on every read, so it is no cache at all "
    "(and no longer shows what caching costs).",
    subject=SUBJECT,
    cached_read=lambda reader, now, current: (
        current,
        replace(reader, value=current, fetched_at=now),
    ),
)

mutant(
    "agreement-forgets-replicas",
    defect="Anti-entropy agreement is computed for one replica, whatever their number.",
    subject=SUBJECT,
    anti_entropy_agreement=lambda p, replicas, rounds: 1 - (1 - p) ** rounds,
)

# CAP -------------------------------------------------------------------------

mutant(
    "partition-leaks-requests",
    defect="The model's partition lets every request through: a replica's view "
    "is the same whether or not the network is partitioned.",
    subject=SUBJECT,
    view=lambda execution, index, partitioned: c.view(execution, index, False),
)

mutant(
    "replicas-never-communicate",
    defect="Replicas never hear of each other's requests, even when the network "
    "is connected.",
    subject=SUBJECT,
    view=lambda execution, index, partitioned: c.view(execution, index, True),
)


def _consistent_any_written(
    execution: c.Execution, responses: Sequence[Any], logic: c.Logic = c.PYTHON
) -> Any:
    # Reads may return any value accepted so far, or the initial one: a
    # "consistency" that forgets which write was last.
    seen: list[Any] = [c.INITIAL]
    conditions = []
    for request, response in zip(execution, responses, strict=True):
        if request.kind == "write":
            seen.append(logic.if_(response, request.value, c.INITIAL))
        else:
            ok = logic.eq(response, c.REFUSED)
            for value in seen:
                ok = logic.or_(ok, logic.eq(response, value))
            conditions.append(ok)
    return logic.and_(conditions)


mutant(
    "consistency-accepts-any-written-value",
    defect="Consistency lets a read return any value written so far (or the "
    "initial one), not the last one.",
    subject=SUBJECT,
    consistent=_consistent_any_written,
)


def _refusal_inconsistent(
    execution: c.Execution, responses: Sequence[Any], logic: c.Logic = c.PYTHON
) -> Any:
    # Counts a refused read as a wrong answer.
    value: Any = c.INITIAL
    conditions = []
    for request, response in zip(execution, responses, strict=True):
        if request.kind == "write":
            value = logic.if_(response, request.value, value)
        else:
            conditions.append(logic.eq(response, value))
    return logic.and_(conditions)


mutant(
    "refusal-counts-as-inconsistent",
    defect="A refused read is counted as an inconsistent one, so a replica can "
    "stay consistent only by answering.",
    subject=SUBJECT,
    consistent=_refusal_inconsistent,
)


def _available_means_fresh(
    execution: c.Execution, responses: Sequence[Any], logic: c.Logic = c.PYTHON
) -> Any:
    # Availability that also demands the latest value: it smuggles
    # consistency into availability.
    return logic.and_(
        [
            c.available(execution, responses, logic),
            _refusal_inconsistent(execution, responses, logic),
        ]
    )


mutant(
    "availability-demands-fresh-reads",
    defect="Availability is taken to mean answering with the latest value, "
    "which folds consistency into it.",
    subject=SUBJECT,
    available=_available_means_fresh,
)


# The implementation's discovery client -------------------------------------------


class _DiscoveryKeepingFirstAnswer(ServiceDiscovery):
    """Serves the first answer it got for a service for ever."""

    async def discover_service(
        self, service_name: str, *, healthy_only: bool = False
    ) -> tuple[Any, ...]:
        entry = self.cached(service_name, healthy_only=healthy_only)
        if entry is not None:
            return entry.instances
        return await super().discover_service(service_name, healthy_only=healthy_only)


mutant(
    "discovery-keeps-first-answer",
    defect="The discovery client never expires its cache: after the first "
    "answer for a service it never asks the registry again, so it never "
    "converges.",
    subject="impl.discovery",
    ServiceDiscovery=_DiscoveryKeepingFirstAnswer,
)


def _served_at_age_ttl(
    reader: c.CachedReader, now: Any, current: Any
) -> tuple[Any, c.CachedReader]:
    if reader.fetched_at is not None and now - reader.fetched_at <= reader.ttl:
        return reader.value, reader
    return current, replace(reader, value=current, fetched_at=now)


mutant(
    "cache-served-at-age-ttl",
    defect="The cached copy is still served when its age equals the ttl, one "
    "instant past the bound the reader promises.",
    subject=SUBJECT,
    cached_read=_served_at_age_ttl,
)
