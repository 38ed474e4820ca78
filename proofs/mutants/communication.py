"""Faulty variants of :mod:`spec.communication`: latency, queues, delivery, events."""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from functools import reduce
from typing import Any

import z3

from proofs.obligation import mutant
from spec import communication as c

SUBJECT = "spec.communication"

# Latency ---------------------------------------------------------------------

mutant(
    "hop-latency-ignores-queue-time",
    defect="A call's latency counts the wire and the processing but forgets the "
    "time the request waited in the callee's queue.",
    subject=SUBJECT,
    hop_latency=lambda hop: hop.network_delay + hop.processing_time,
)


def _latency_with(sequential: Any, parallel: Any) -> Any:
    """The specification's latency, with its combining steps replaced."""

    def latency(plan: c.Plan) -> Any:
        if isinstance(plan, c.Single):
            return c.hop_latency(plan.hop)
        if isinstance(plan, c.Chain):
            return reduce(sequential, map(latency, plan.parts), c.NO_LATENCY)
        return reduce(parallel, map(latency, plan.branches), c.NO_LATENCY)

    return latency


def _add(so_far: Any, part: Any) -> Any:
    return so_far + part


def _larger(so_far: Any, part: Any) -> Any:
    return z3.If(part > so_far, part, so_far) if z3.is_expr(part) else max(so_far, part)


mutant(
    "fan-out-sums-branches",
    defect="The latency model adds the branches of a parallel fan-out, as if "
    "the calls ran one after another.",
    subject=SUBJECT,
    combine_parallel=_add,
    latency=_latency_with(c.combine_sequential, _add),
)

mutant(
    "chain-takes-slowest-hop",
    defect="A sequential chain is charged its slowest hop only, as if its calls "
    "overlapped.",
    subject=SUBJECT,
    combine_sequential=_larger,
    latency=_latency_with(_larger, c.combine_parallel),
)


def _mm1_wait_is_response(arrival_rate: Any, service_rate: Any) -> c.QueueMetrics:
    right = c.mm1_metrics(arrival_rate, service_rate)
    return replace(
        right,
        mean_wait=right.mean_response_time,
        mean_in_queue=arrival_rate * right.mean_response_time,
    )


mutant(
    "mm1-wait-includes-service",
    defect="The M/M/1 waiting time is taken to be the response time 1/(mu - "
    "lambda), counting the service itself as queueing.",
    subject=SUBJECT,
    mm1_metrics=_mm1_wait_is_response,
    mm1=lambda lam, mu: _mm1_wait_is_response(Fraction(lam), Fraction(mu)),
)


def _waits_without_backlog(arrivals: Any, services: Any) -> tuple[Any, ...]:
    # Forgets that the server may still be busy with earlier requests: each
    # request waits at most for the one just before it.
    waits = []
    for k, t in enumerate(arrivals):
        if k == 0:
            waits.append(0)
            continue
        left = arrivals[k - 1] + services[k - 1]
        waits.append(max(0, left - t))
    return tuple(waits)


mutant(
    "fifo-waits-forget-backlog",
    defect="A FIFO server's waits are computed from the previous request's "
    "service alone, forgetting the backlog in front of it.",
    subject=SUBJECT,
    fifo_waits=_waits_without_backlog,
)

mutant(
    "timeouts-fixed-per-hop",
    defect="Every hop of a nested chain gets the whole budget as its timeout, "
    "instead of what is left of its caller's.",
    subject=SUBJECT,
    propagate_timeouts=lambda budget, hops: tuple(budget for _ in hops),
)


def _timeline_with_cancellation(hops: Any, timeouts: Any) -> tuple[Any, ...]:
    # Pretends that giving up cancels the callee: inner calls are cut off at
    # their caller's deadline, which hides every orphan.
    spans = list(c.nested_timeline(hops, timeouts))
    for i in range(len(spans) - 1):
        outer = spans[i]
        if outer.gave_up and spans[i + 1].end > outer.end:
            for j in range(i + 1, len(spans)):
                if spans[j].end > outer.end:
                    spans[j] = replace(spans[j], end=outer.end, deadline=outer.end)
    return tuple(spans)


mutant(
    "timeline-cancels-inner-calls",
    defect="The nested-chain model cuts inner calls off when their caller gives "
    "up, as if cancellation crossed the network.",
    subject=SUBJECT,
    nested_timeline=_timeline_with_cancellation,
)

# Messages --------------------------------------------------------------------


def _send_numbering_by_length(
    queue: c.MessageQueue, sender: str, receiver: str, body: Any = None
) -> tuple[str, c.MessageQueue]:
    message_id = f"{queue.name}-{len(queue.messages)}"
    return message_id, c.enqueue(queue, c.Message(message_id, sender, receiver, body))


mutant(
    "send-numbers-by-queue-length",
    defect="Message ids are numbered by the queue's current length, so an id "
    "comes back once earlier messages have been taken off.",
    subject=SUBJECT,
    send=_send_numbering_by_length,
)


def _dequeue_newest(queue: c.MessageQueue) -> tuple[c.Message | None, c.MessageQueue]:
    if not queue.messages:
        return None, queue
    return queue.messages[-1], replace(queue, messages=queue.messages[:-1])


mutant(
    "dequeue-takes-newest",
    defect="The queue hands out its newest message first (a stack, not a queue).",
    subject=SUBJECT,
    dequeue=_dequeue_newest,
)

# Delivery --------------------------------------------------------------------

mutant(
    "delivery-exponent-off-by-one",
    defect="Delivery probability with r retries computed as 1 - p^r, forgetting "
    "the first attempt.",
    subject=SUBJECT,
    delivery_probability=lambda loss, retries: 1 - loss**retries,
)

mutant(
    "delivery-assumed-certain",
    defect="Delivery is taken to be certain, as T3.2 claims: the model of the "
    "retry process stops at the first attempt and counts it delivered.",
    subject=SUBJECT,
    delivery_probability=lambda loss, retries: 1,
    delivery_by_enumeration=lambda loss, retries: Fraction(1),
)

mutant(
    "delivery-ignores-retries",
    defect="Retries are ignored: delivery is one attempt's chance, 1 - p, "
    "however many retries are made.",
    subject=SUBJECT,
    delivery_probability=lambda loss, retries: 1 - loss,
    delivery_by_enumeration=lambda loss, retries: 1 - Fraction(loss),
)

# Events ----------------------------------------------------------------------


@dataclass
class _MutableEvent:
    event_id: str
    event_type: str
    payload: Any = None
    timestamp: Any = 0

    __hash__ = object.__hash__


mutant(
    "event-is-mutable",
    defect="Events are plain mutable records: a consumer can rewrite a fact "
    "after it was published, and payloads may be mutable dictionaries.",
    subject=SUBJECT,
    Event=_MutableEvent,
)


def _append_round_robin(
    stream: c.EventStream, key: str, event: c.Event
) -> tuple[c.Record, c.EventStream]:
    count = sum(len(log) for log in stream.partitions)
    p = count % len(stream.partitions)
    log = stream.partitions[p]
    sequence = c.FIRST_SEQUENCE if not log else c.next_sequence(log[-1].sequence)
    record = c.Record(p, sequence, event)
    partitions = list(stream.partitions)
    partitions[p] = (*log, record)
    return record, c.EventStream(tuple(partitions))


mutant(
    "partition-round-robin",
    defect="Events are spread over partitions in turn, ignoring their key, so "
    "one key's events land in several partitions and lose their order.",
    subject=SUBJECT,
    append=_append_round_robin,
)


def _append_by_timestamp(
    stream: c.EventStream, key: str, event: c.Event
) -> tuple[c.Record, c.EventStream]:
    p = c.partition_for(key, len(stream.partitions))
    events = sorted(
        (*(r.event for r in stream.partitions[p]), event), key=lambda e: e.timestamp
    )
    log = tuple(c.Record(p, c.FIRST_SEQUENCE + k, e) for k, e in enumerate(events))
    partitions = list(stream.partitions)
    partitions[p] = log
    record = next(r for r in log if r.event is event)
    return record, c.EventStream(tuple(partitions))


mutant(
    "partition-ordered-by-timestamp",
    defect="Each partition is kept sorted by the events' wall-clock timestamps "
    "and renumbered, so an event stamped by a clock that stepped back is "
    "inserted before events appended earlier.",
    subject=SUBJECT,
    append=_append_by_timestamp,
)

mutant(
    "sequence-not-advanced",
    defect="The next sequence number repeats the previous one, so records of a "
    "partition cannot be told apart or ordered by number.",
    subject=SUBJECT,
    next_sequence=lambda previous: previous,
)


def _partition_by_byte_sum(key: str, partitions: int) -> int:
    if not isinstance(key, str):
        raise c.CommunicationError(f"a partition key must be a string, got {key!r}")
    return sum(key.encode()) % partitions


mutant(
    "partition-by-byte-sum",
    defect="Keys are spread by the sum of their bytes instead of CRC-32: still "
    "one partition per key, but not the one the stated rule (and every other "
    "producer following it) picks, and anagrams always collide.",
    subject=SUBJECT,
    partition_for=_partition_by_byte_sum,
)
