r"""Communication: calls and their latency, messages and queues, events (D3.1-D3.6).

Three ways services talk, each with the theorem the theory states about it.

*Synchronous calls* (D3.1, D3.2, T3.1). A call from one service to another
costs the time on the wire, the time the callee spends waiting for a worker and
the time it spends working: :class:`Hop` and :func:`hop_latency`. Calls are
arranged in *plans*: a :class:`Single` call, a :class:`Chain` of plans run one
after another, or a :class:`FanOut` of plans run at once and all awaited. The
latency of a chain is the sum of its parts and the latency of a fan-out the
largest of its branches (:func:`latency`). T3.1 read literally sums every hop
whatever the shape (:func:`latency_as_written`); that is right for a chain and
wrong for a fan-out. The two combining steps, :func:`combine_sequential` and
:func:`combine_parallel`, use only ``+`` and a comparison, so the proofs apply
these very functions to solver terms.

Where a queueing time must be a number, the callee is an M/M/1 queue:
:func:`mm1_metrics` gives the mean number in the system and in the queue and
the mean response and waiting times for Poisson arrivals at rate ``lambda`` and
exponential service at rate ``mu > lambda``. :func:`fifo_waits` is the
deterministic counterpart, Lindley's recursion for one FIFO server, which the
implementation's single-worker services reproduce exactly.

Timeouts along a nested chain (``S1`` calls ``S2``, which calls ``S3``...):
:func:`nested_timeline` says when each call starts, when its caller gives up
and when it ends. :func:`propagate_timeouts` gives each hop what is left of
its caller's budget, so timeouts shrink along the chain and no service keeps
waiting for an answer nobody will read.

*Asynchronous messages* (D3.3, D3.4, T3.2). :func:`send` puts a message on a
:class:`MessageQueue` and returns its id at once; :func:`dequeue` takes the
oldest. Delivery over a lossy link with ``r`` retries, each attempt lost
independently with probability ``p``, succeeds with probability
:func:`delivery_probability` ``= 1 - p^(r+1)``: never 1 for ``p > 0``, as T3.2
claims, only in the limit. :func:`delivery_by_enumeration` computes the same
figure from the retry process itself, attempt by attempt.

*Events* (D3.5, D3.6, T3.3). An :class:`Event` is an immutable fact. An
:class:`EventStream` has partitions; an event goes to the partition of its key
(:func:`partition_for`) and gets the partition's next sequence number
(:func:`next_sequence`). Order within a partition is the order of those
numbers. Timestamps read from clocks are data, not order: a clock that steps
back, or two producers whose clocks disagree, put later events at earlier
times.

>>> from fractions import Fraction as F
>>> a, b = Hop(F(1, 100), F(2, 100)), Hop(F(3, 100), F(1, 100), F(1, 100))
>>> latency(chain([a, b])), latency(fan_out([a, b]))
(Fraction(2, 25), Fraction(1, 20))
>>> latency_as_written(fan_out([a, b]))
Fraction(2, 25)
>>> delivery_probability(F(1, 10), 3)
Fraction(9999, 10000)
>>> mm1(8, 10).mean_response_time
Fraction(1, 2)
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import reduce
from itertools import pairwise, product
from typing import Any, TypeAlias

from spec.errors import CommunicationError

Exact: TypeAlias = int | Fraction


def _exact(value: object, what: str, *, positive: bool = False) -> Exact:
    if isinstance(value, bool) or not isinstance(value, (int, Fraction)):
        raise CommunicationError(
            f"{what} must be an exact number (int or Fraction), "
            f"got {type(value).__name__} {value!r}"
        )
    if value < 0 or (positive and value == 0):
        raise CommunicationError(
            f"{what} must be {'> 0' if positive else '>= 0'}, got {value}"
        )
    return value


def _probability(value: object, what: str) -> Exact:
    exact = _exact(value, what)
    if exact > 1:
        raise CommunicationError(f"{what} must lie in [0, 1], got {exact}")
    return exact


def _count(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise CommunicationError(f"{what} must be an int >= 0, got {value!r}")
    return value


# Synchronous calls (D3.1, D3.2) ----------------------------------------------


@dataclass(frozen=True)
class Hop:
    """One synchronous call: wire time there and back, queueing, processing.

    ``network_delay`` is the round trip on the wire, half out and half back;
    ``queue_time`` is how long the request waits for a worker at the callee;
    ``processing_time`` how long the callee works on it (its own work, not the
    calls it makes in turn).
    """

    network_delay: Exact
    processing_time: Exact
    queue_time: Exact = 0

    def __post_init__(self) -> None:
        _exact(self.network_delay, "network_delay of a hop")
        _exact(self.processing_time, "processing_time of a hop")
        _exact(self.queue_time, "queue_time of a hop")


def hop_latency(hop: Hop) -> Exact:
    """D3.2: network delay plus processing time plus queueing time."""
    return hop.network_delay + hop.processing_time + hop.queue_time


@dataclass(frozen=True)
class Single:
    """A plan of one call."""

    hop: Hop


@dataclass(frozen=True)
class Chain:
    """Plans run one after another; the next starts when the previous answered."""

    parts: tuple[Plan, ...]


@dataclass(frozen=True)
class FanOut:
    """Plans started together; the fan-out ends when the last has answered."""

    branches: tuple[Plan, ...]


Plan: TypeAlias = Single | Chain | FanOut


def chain(hops: Iterable[Hop]) -> Chain:
    """A sequential chain of single calls."""
    return Chain(tuple(Single(h) for h in hops))


def fan_out(hops: Iterable[Hop]) -> FanOut:
    """A parallel fan-out of single calls."""
    return FanOut(tuple(Single(h) for h in hops))


#: The latency of an empty plan, the unit of both combining steps.
NO_LATENCY = 0


def combine_sequential(so_far: Any, next_part: Any) -> Any:
    """Latency of a chain extended by one more part run after it."""
    return so_far + next_part


def combine_parallel(so_far: Any, branch: Any) -> Any:
    """Latency of a fan-out extended by one more branch run beside it."""
    return branch if branch > so_far else so_far


def latency(plan: Plan) -> Exact:
    """End-to-end latency of a plan: chains add up, fan-outs take the largest."""
    if isinstance(plan, Single):
        return hop_latency(plan.hop)
    if isinstance(plan, Chain):
        return reduce(combine_sequential, map(latency, plan.parts), NO_LATENCY)
    if isinstance(plan, FanOut):
        return reduce(combine_parallel, map(latency, plan.branches), NO_LATENCY)
    raise CommunicationError(f"a plan must be Single, Chain or FanOut, got {plan!r}")


def hops_of(plan: Plan) -> tuple[Hop, ...]:
    """Every hop of a plan, depth first, left to right."""
    if isinstance(plan, Single):
        return (plan.hop,)
    children = plan.parts if isinstance(plan, Chain) else plan.branches
    return tuple(h for child in children for h in hops_of(child))


def latency_as_written(plan: Plan) -> Exact:
    """T3.1 read literally: the sum of every hop's latency, whatever the shape."""
    return sum((hop_latency(h) for h in hops_of(plan)), start=NO_LATENCY)


# Queueing: M/M/1 and one FIFO server -----------------------------------------


@dataclass(frozen=True)
class QueueMetrics:
    """Steady-state means of an M/M/1 queue."""

    utilisation: Any
    #: L: mean number of requests in the system (waiting or in service).
    mean_in_system: Any
    #: Lq: mean number waiting.
    mean_in_queue: Any
    #: W: mean time from arrival to answer.
    mean_response_time: Any
    #: Wq: mean time waiting before service starts (the QueueTime of D3.2).
    mean_wait: Any


def mm1_metrics(arrival_rate: Any, service_rate: Any) -> QueueMetrics:
    """M/M/1 means, by arithmetic alone (also on SymPy symbols)."""
    rho = arrival_rate / service_rate
    w = 1 / (service_rate - arrival_rate)
    wq = rho / (service_rate - arrival_rate)
    return QueueMetrics(
        utilisation=rho,
        mean_in_system=arrival_rate * w,
        mean_in_queue=arrival_rate * wq,
        mean_response_time=w,
        mean_wait=wq,
    )


def mm1(arrival_rate: Exact, service_rate: Exact) -> QueueMetrics:
    """M/M/1 means for exact rates; the queue must be stable (lambda < mu)."""
    lam = Fraction(_exact(arrival_rate, "arrival rate", positive=True))
    mu = Fraction(_exact(service_rate, "service rate", positive=True))
    if lam >= mu:
        raise CommunicationError(
            f"an M/M/1 queue with arrival rate {lam} and service rate {mu} is "
            "unstable (its queue grows without bound); the arrival rate must be "
            "below the service rate"
        )
    return mm1_metrics(lam, mu)


def fifo_waits(
    arrivals: Sequence[Exact], services: Sequence[Exact]
) -> tuple[Exact, ...]:
    """Waiting time of each request at one FIFO server (Lindley's recursion).

    ``arrivals`` are arrival instants in non-decreasing order and ``services``
    the service time of each request. Request ``k`` starts when it has arrived
    and request ``k - 1`` has left.
    """
    if len(arrivals) != len(services):
        raise CommunicationError(
            f"{len(arrivals)} arrival times but {len(services)} service times; "
            "give one of each per request"
        )
    waits: list[Exact] = []
    free_at: Exact = 0
    previous: Exact | None = None
    for k, (t, s) in enumerate(zip(arrivals, services, strict=True)):
        _exact(t, f"arrival time of request {k}")
        _exact(s, f"service time of request {k}")
        if previous is not None and t < previous:
            raise CommunicationError(
                f"arrival times must not decrease: request {k} arrives at {t}, "
                f"before request {k - 1} at {previous}"
            )
        previous = t
        start = free_at if free_at > t else t
        waits.append(start - t)
        free_at = start + s
    return tuple(waits)


# Timeouts along a nested chain -----------------------------------------------


@dataclass(frozen=True)
class CallSpan:
    """One call of a nested chain, as it happened.

    Call ``index`` is made by service ``index`` to service ``index + 1`` at
    ``start``. Its caller gives up at ``deadline`` (``None``: never). The
    answer, a success or a failure, reaches the caller at ``answer_at``. The
    call ``end``\\ s for the caller at whichever comes first.
    """

    index: int
    start: Exact
    deadline: Exact | None
    answer_at: Exact
    end: Exact
    #: Whether the caller received a successful answer in time.
    succeeded: bool

    @property
    def gave_up(self) -> bool:
        """Whether the caller stopped waiting before the answer arrived."""
        return self.deadline is not None and self.deadline < self.answer_at


def _outbound(hop: Hop) -> Exact:
    """Time from sending a request until the callee has processed it."""
    return Fraction(hop.network_delay, 2) + hop.queue_time + hop.processing_time


def nested_timeline(
    hops: Sequence[Hop], timeouts: Sequence[Exact | None]
) -> tuple[CallSpan, ...]:
    """When each call of the nested chain ``S1 -> S2 -> ... -> Sn+1`` happens.

    Call ``i`` starts at ``start_i``. Its request spends half the hop's network
    delay on the wire, waits ``queue_time`` and is processed for
    ``processing_time``; the callee then makes call ``i + 1``, waits until
    that call has ended for it, and answers (a failure if that call failed or
    was given up on); the answer spends the other half of the network delay on
    the wire. The caller gives up at ``start_i + timeouts[i]``; giving up does
    not stop the callee, which carries on, since no cancellation crosses the
    network. A timeout of zero or less means the deadline has already passed:
    the service does not make that call and answers its own caller with a
    failure at once, so the chain is cut there.
    """
    if len(hops) != len(timeouts):
        raise CommunicationError(
            f"{len(hops)} hops but {len(timeouts)} timeouts; give one per hop"
        )
    for i, t in enumerate(timeouts):
        if t is not None and (
            isinstance(t, bool) or not isinstance(t, (int, Fraction))
        ):
            raise CommunicationError(
                f"timeout of hop {i} must be an exact number or None, got {t!r}"
            )
    made = next(
        (i for i, t in enumerate(timeouts) if t is not None and t <= 0), len(hops)
    )
    starts: list[Exact] = []
    clock: Exact = 0
    for hop in hops[:made]:
        starts.append(clock)
        clock = clock + _outbound(hop)

    spans: list[CallSpan] = []
    inner_end: Exact | None = None
    inner_ok = made == len(hops)
    for i in reversed(range(made)):
        hop, start, timeout = hops[i], starts[i], timeouts[i]
        reply = start + _outbound(hop) if inner_end is None else inner_end
        answer_at = reply + Fraction(hop.network_delay, 2)
        deadline = None if timeout is None else start + timeout
        gave_up = deadline is not None and deadline < answer_at
        end = deadline if deadline is not None and gave_up else answer_at
        span = CallSpan(i, start, deadline, answer_at, end, inner_ok and not gave_up)
        spans.append(span)
        inner_end, inner_ok = span.end, span.succeeded
    return tuple(reversed(spans))


def propagate_timeouts(budget: Exact, hops: Sequence[Hop]) -> tuple[Exact, ...]:
    """Each hop's timeout: what is left of the first caller's budget when it calls.

    The first call gets ``budget``; call ``i + 1`` is made once the request of
    call ``i`` has travelled, waited and been processed, and gets what
    remains. A remainder of zero or less cuts the chain there (see
    :func:`nested_timeline`).
    """
    _exact(budget, "timeout budget", positive=True)
    out: list[Exact] = []
    remaining: Exact = budget
    for hop in hops:
        out.append(remaining)
        remaining = remaining - _outbound(hop)
    return tuple(out)


def orphaned_calls(spans: Sequence[CallSpan]) -> tuple[int, ...]:
    """Calls still running after their caller's caller has stopped waiting.

    Call ``i + 1`` is orphaned when call ``i`` ended by giving up and call
    ``i + 1`` ends later: service ``i + 1`` keeps waiting, and its callee
    keeps working, for an answer nobody will read.
    """
    return tuple(
        spans[i + 1].index
        for i in range(len(spans) - 1)
        if spans[i].gave_up and spans[i + 1].end > spans[i].end
    )


# Asynchronous messages and queues (D3.3, D3.4) ---------------------------------


@dataclass(frozen=True)
class Message:
    """A message from one service to another; ``message_id`` identifies it."""

    message_id: str
    sender: str
    receiver: str
    body: Any = None


@dataclass(frozen=True)
class MessageQueue:
    """A FIFO queue of messages: the oldest is at the front (D3.4)."""

    name: str = "queue"
    messages: tuple[Message, ...] = ()
    #: Messages sent through this queue so far; numbers the next id.
    sent: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise CommunicationError(
                f"a queue needs a non-empty name, got {self.name!r}"
            )
        _count(self.sent, f"sent count of queue {self.name!r}")


def enqueue(queue: MessageQueue, message: Message) -> MessageQueue:
    """The queue with ``message`` added at the back."""
    return replace(queue, messages=(*queue.messages, message))


def dequeue(queue: MessageQueue) -> tuple[Message | None, MessageQueue]:
    """The oldest message and the queue without it (``None`` when empty)."""
    if not queue.messages:
        return None, queue
    return queue.messages[0], replace(queue, messages=queue.messages[1:])


def send(
    queue: MessageQueue, sender: str, receiver: str, body: Any = None
) -> tuple[str, MessageQueue]:
    """D3.3: enqueue a new message and return its id at once.

    The sender never waits for the receiver: the id is returned by the same
    step that enqueues, whatever the receiver is doing. Ids are the queue's
    name and a counter, so they are unique within the queue.
    """
    message_id = f"{queue.name}-{queue.sent}"
    queue = enqueue(queue, Message(message_id, sender, receiver, body))
    return message_id, replace(queue, sent=queue.sent + 1)


# Delivery over a lossy link (T3.2) ------------------------------------------


def delivery_probability(loss: Any, retries: Any) -> Any:
    """T3.2 corrected: one try and ``retries`` more, each lost with ``loss``.

    Arithmetic only, so it applies to SymPy symbols as well as to fractions.
    """
    return 1 - loss ** (retries + 1)


def delivery_by_enumeration(loss: Exact, retries: int) -> Fraction:
    """The delivery probability computed from the retry process itself.

    Every pattern of lost and delivered attempts is enumerated; the sender
    stops after the first delivered attempt, so a pattern is weighed by the
    attempts it actually makes. No closed form is used.
    """
    p = Fraction(_probability(loss, "loss probability"))
    _count(retries, "number of retries")
    delivered = Fraction(0)
    seen: set[tuple[bool, ...]] = set()
    for pattern in product((True, False), repeat=retries + 1):
        lost_until = next((k for k, lost in enumerate(pattern) if not lost), None)
        made = pattern if lost_until is None else pattern[: lost_until + 1]
        if made in seen:
            continue
        seen.add(made)
        weight = Fraction(1)
        for lost in made:
            weight *= p if lost else 1 - p
        if lost_until is not None:
            delivered += weight
    return delivered


# Events and event streams (D3.5, D3.6, T3.3) ------------------------------------


@dataclass(frozen=True)
class Event:
    """D3.5: an immutable fact, with the time its producer's clock read."""

    event_id: str
    event_type: str
    payload: Any = None
    timestamp: Exact = 0

    def __post_init__(self) -> None:
        for part in ("event_id", "event_type"):
            value = getattr(self, part)
            if not isinstance(value, str) or not value:
                raise CommunicationError(
                    f"{part} of an event must be a non-empty string, got {value!r}"
                )
        _exact(self.timestamp, f"timestamp of event {self.event_id!r}")
        try:
            hash(self.payload)
        except TypeError:
            raise CommunicationError(
                f"payload of event {self.event_id!r} must be immutable "
                f"(hashable), got {type(self.payload).__name__}"
            ) from None


@dataclass(frozen=True)
class Record:
    """An event as stored: its partition and its sequence number there."""

    partition: int
    sequence: int
    event: Event


@dataclass(frozen=True)
class EventStream:
    """D3.6: partitions, each an ordered tuple of records."""

    partitions: tuple[tuple[Record, ...], ...] = field(default=((),))

    def __post_init__(self) -> None:
        if not self.partitions:
            raise CommunicationError("an event stream needs at least one partition")


def event_stream(partitions: int = 1) -> EventStream:
    """An empty stream with ``partitions`` partitions."""
    if (
        isinstance(partitions, bool)
        or not isinstance(partitions, int)
        or partitions < 1
    ):
        raise CommunicationError(
            f"number of partitions must be an int >= 1, got {partitions!r}"
        )
    return EventStream(tuple(() for _ in range(partitions)))


def partition_for(key: str, partitions: int) -> int:
    """The partition of ``key``: CRC-32 of its UTF-8 bytes, modulo the count.

    A pure function of the key, the same in every process and on every run,
    so all events with one key share one partition and one order.
    """
    if not isinstance(key, str):
        raise CommunicationError(f"a partition key must be a string, got {key!r}")
    return zlib.crc32(key.encode()) % partitions


#: The sequence number of a partition's first record.
FIRST_SEQUENCE = 0


def next_sequence(previous: Any) -> Any:
    """The sequence number after ``previous`` in the same partition."""
    return previous + 1


def append(stream: EventStream, key: str, event: Event) -> tuple[Record, EventStream]:
    """Add ``event`` at the end of its key's partition, with the next number.

    The number comes from the partition, never from the event's timestamp:
    the partition's order is the order of appends.
    """
    p = partition_for(key, len(stream.partitions))
    log = stream.partitions[p]
    sequence = FIRST_SEQUENCE if not log else next_sequence(log[-1].sequence)
    record = Record(p, sequence, event)
    partitions = list(stream.partitions)
    partitions[p] = (*log, record)
    return record, EventStream(tuple(partitions))


def read(
    stream: EventStream, partition: int, from_sequence: int = FIRST_SEQUENCE
) -> tuple[Record, ...]:
    """The records of one partition from ``from_sequence`` on, in order."""
    if not 0 <= partition < len(stream.partitions):
        raise CommunicationError(
            f"partition {partition} does not exist; the stream has "
            f"{len(stream.partitions)} (0-{len(stream.partitions) - 1})"
        )
    return tuple(r for r in stream.partitions[partition] if r.sequence >= from_sequence)


def timestamps_ordered(records: Sequence[Record]) -> bool:
    """T3.3 as written: timestamps never decrease along the records."""
    return all(a.event.timestamp <= b.event.timestamp for a, b in pairwise(records))


def sequences_ordered(records: Sequence[Record]) -> bool:
    """T3.3 corrected: sequence numbers strictly increase along the records."""
    return all(a.sequence < b.sequence for a, b in pairwise(records))
