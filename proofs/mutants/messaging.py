"""Faulty variants of :mod:`impl.messaging`: queue, producer, consumers, streams."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from impl import messaging as m
from proofs.obligation import mutant

SUBJECT = "impl.messaging"


class _ConsumerWithoutDedup(m.DeduplicatingConsumer):
    """Remembers the ids it processed, and never looks them up."""

    async def handle(self, delivery: m.Delivery) -> bool:
        return await m.Consumer.handle(self, delivery)


mutant(
    "consumer-without-dedup",
    defect="The 'deduplicating' consumer records message ids but never checks "
    "them, so every redelivered or resent copy runs the handler again.",
    subject=SUBJECT,
    DeduplicatingConsumer=_ConsumerWithoutDedup,
)


class _QueueDroppingUnacked(m.MessageQueue):
    """At-most-once: an expired delivery is forgotten, not redelivered."""

    def _expire(self, tag: int) -> None:
        if self._in_flight.pop(tag, None) is not None:
            self.stats.expired += 1


mutant(
    "queue-drops-unacked",
    defect="A delivery whose ack never comes is dropped when its ack timeout "
    "passes: at-most-once delivery, losing every message whose consumer "
    "failed.",
    subject=SUBJECT,
    MessageQueue=_QueueDroppingUnacked,
)


class _QueueRequeueingAtBack(m.MessageQueue):
    """A redelivered message goes behind every message sent since."""

    def _requeue(self, message: Any) -> None:
        message.sequence = self._next_sequence
        self._next_sequence += 1
        super()._requeue(message)


mutant(
    "queue-redelivers-at-back",
    defect="A message made ready again after a missed ack joins the back of the "
    "queue, behind messages sent after it, so the queue is no longer FIFO.",
    subject=SUBJECT,
    MessageQueue=_QueueRequeueingAtBack,
)


class _ProducerOneTryShort(m.Producer):
    async def send(self, body: Any = None, *, message_id: str | None = None) -> Any:
        message_id = message_id or f"{self.name}-x"
        loop = asyncio.get_running_loop()
        for attempt in range(1, self.retries + 1):  # one attempt too few
            started = loop.time()
            if await self.link.transmit():
                self.queue.send(body, message_id=message_id)
                if await self.confirm_link.transmit():
                    return m.SendResult(message_id, attempt, True)
            left = started + self.confirm_timeout - loop.time()
            if left > 0:
                await asyncio.sleep(left)
        return m.SendResult(message_id, self.retries, False)


mutant(
    "producer-one-try-short",
    defect="The producer counts its first attempt as a retry (a loop that stops "
    "one early), so it makes r attempts, not r + 1: delivery 1 - p^r.",
    subject=SUBJECT,
    Producer=_ProducerOneTryShort,
)


class _LinkIgnoringLoss(m.Link):
    async def transmit(self) -> bool:
        self.stats.sent += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        return True


mutant(
    "link-ignores-loss",
    defect="The in-process link never draws its losses, so every simulation "
    "over it is of a perfect network.",
    subject=SUBJECT,
    Link=_LinkIgnoringLoss,
)


@dataclass(frozen=True)
class _SharedDelivery(m.Delivery):
    shared: Any = None

    @property
    def body(self) -> Any:
        return self.shared


class _QueueSharingBodies(m.MessageQueue):
    """Keeps the sender's object and hands that very object to receivers."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._objects: dict[str, Any] = {}

    def send(self, body: Any = None, *, message_id: str | None = None) -> str:
        message_id = super().send(body, message_id=message_id)
        self._objects[message_id] = body
        return message_id

    def receive_nowait(self) -> m.Delivery | None:
        delivery = super().receive_nowait()
        if delivery is None:
            return None
        return _SharedDelivery(
            delivery.queue,
            delivery.message_id,
            delivery.tag,
            delivery.attempt,
            delivery.encoded,
            self._objects[delivery.message_id],
        )


mutant(
    "queue-shares-bodies",
    defect="The queue hands receivers the sender's own body object instead of a "
    "copy, so a receiver's change reaches the sender and every other receiver.",
    subject=SUBJECT,
    MessageQueue=_QueueSharingBodies,
)


class _StreamSortedByTimestamp(m.EventStream):
    """Keeps each partition sorted by timestamp, renumbering on insert."""

    def publish(self, event_type: str, payload: Any = None, **kwargs: Any) -> m.Event:
        event = super().publish(event_type, payload, **kwargs)
        log = self._logs[event.partition]
        log.sort(key=lambda e: e.timestamp)
        log[:] = [replace(e, sequence=k) for k, e in enumerate(log)]
        return next(e for e in log if e.event_id == event.event_id)


mutant(
    "partition-sorted-by-timestamp",
    defect="Each partition is ordered by the events' wall-clock timestamps, so "
    "an event from a producer whose clock is behind is slipped in before "
    "events appended earlier.",
    subject=SUBJECT,
    EventStream=_StreamSortedByTimestamp,
)


@dataclass(frozen=True)
class _CachedPayloadEvent(m.Event):
    @property
    def payload(self) -> Any:
        cache = _PAYLOADS.setdefault(self.event_id, json.loads(self.encoded))
        return cache


_PAYLOADS: dict[str, Any] = {}


class _StreamCachingPayloads(m.EventStream):
    def publish(self, event_type: str, payload: Any = None, **kwargs: Any) -> m.Event:
        event = super().publish(event_type, payload, **kwargs)
        _PAYLOADS.pop(event.event_id, None)
        cached = _CachedPayloadEvent(**{f: getattr(event, f) for f in _EVENT_FIELDS})
        self._logs[event.partition][-1] = cached
        return cached


_EVENT_FIELDS = (
    "event_id",
    "event_type",
    "key",
    "partition",
    "sequence",
    "timestamp",
    "encoded",
)

mutant(
    "event-payload-shared",
    defect="An event decodes its payload once and hands every reader the same "
    "object, so one reader's change rewrites the fact for all.",
    subject=SUBJECT,
    EventStream=_StreamCachingPayloads,
)


class _ConsumerWithLiveMemory(m.DeduplicatingConsumer):
    def _memory(self) -> Any:
        return self._seen.keys()


mutant(
    "consumer-state-live-memory",
    defect="A consumer's state exposes its live memory instead of a snapshot, "
    "so a state taken earlier changes as the consumer goes on.",
    subject=SUBJECT,
    DeduplicatingConsumer=_ConsumerWithLiveMemory,
)


class _ConsumerHidingComputation(m.DeduplicatingConsumer):
    def state(self) -> m.ConsumerState:
        return replace(super().state(), current=None)


mutant(
    "consumer-state-hides-computation",
    defect="A consumer's state never shows the message it is working on.",
    subject=SUBJECT,
    DeduplicatingConsumer=_ConsumerHidingComputation,
)


def _one_state_for_all(consumers: Mapping[str, m.Consumer]) -> dict[str, Any]:
    first = next(iter(consumers.values())).state()
    return dict.fromkeys(consumers, first)


mutant(
    "system-state-one-component",
    defect="The system state repeats the first consumer's state for every "
    "consumer, instead of taking each one's own.",
    subject=SUBJECT,
    system_state=_one_state_for_all,
)
