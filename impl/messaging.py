"""In-process messaging: a queue with at-least-once delivery, and event streams.

Two primitives of asynchronous communication, for one process and its event
loop, with the guarantees stated and checked:

:class:`MessageQueue`
    :meth:`~MessageQueue.send` puts a message on the queue and returns its id
    at once (it never waits for a receiver). :meth:`~MessageQueue.receive`
    hands out the oldest ready message as a :class:`Delivery`; the receiver
    must :meth:`~MessageQueue.ack` it within ``ack_timeout`` seconds of the
    loop's clock, or the message becomes ready again and is delivered anew
    (at-least-once). A redelivered message keeps its place: ready messages are
    handed out in the order they were first sent. With ``max_attempts``, a
    message delivered that many times without an ack is moved to
    :attr:`~MessageQueue.dead_letters` instead.
:class:`EventStream`
    Events are appended to partitions chosen from their key (CRC-32 of the
    key, so the same in every process) and numbered by the partition:
    sequence 0, 1, 2... in the order of appends. Order within a partition is
    the order of these numbers; an event's ``timestamp`` is what the
    producer's clock read, kept as data and never used to order.

Around them:

- :class:`Producer` sends over a :class:`Link` that may lose the request or
  the broker's confirmation; it retries until confirmed or out of retries.
  A lost confirmation makes it send again what already arrived, which is why
  at-least-once delivery produces duplicates.
- :class:`Consumer` takes deliveries, runs a handler, and acks; its ack may
  cross a lossy link too. :class:`DeduplicatingConsumer` remembers the ids it
  has processed and acks a duplicate without running the handler again, so
  each message takes effect once however often it is delivered.

Message bodies and event payloads must be JSON data. They are stored encoded
and decoded afresh for each delivery or read, so a receiver never shares an
object with the sender or with another receiver (autonomy).

Times are read from the running loop (``loop.time()``) and waits use
asyncio, so everything here runs unchanged, and deterministically, on a
virtual-time loop.

>>> import asyncio
>>> async def demo() -> list[object]:
...     queue = MessageQueue("orders", ack_timeout=5)
...     seen: list[object] = []
...     consumer = DeduplicatingConsumer(queue, seen.append)
...     queue.send({"order": 1}, message_id="m-1")
...     queue.send({"order": 1}, message_id="m-1")   # a duplicate
...     await consumer.drain()
...     return [seen, consumer.processed, consumer.duplicates]
>>> asyncio.run(demo())
[[{'order': 1}], 1, 1]
"""

from __future__ import annotations

import asyncio
import heapq
import inspect
import json
import logging
import random
import zlib
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from impl.errors import ConfigurationError

logger = logging.getLogger("impl")


def _encode(data: Any, what: str) -> str:
    try:
        return json.dumps(data, allow_nan=False, separators=(",", ":"), sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"{what}: must be JSON data: {exc}") from None


def _positive(value: object, what: str, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(f"{what}: must be a number, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigurationError(f"{what}: must be {bound}, got {value!r}")
    return float(value)


def _identifier(value: object, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 256:
        raise ConfigurationError(
            f"{what}: must be a non-empty string of at most 256 characters, "
            f"got {value!r}"
        )
    return value


# The queue -------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """One delivery of a message: ack it with :meth:`MessageQueue.ack`.

    ``tag`` identifies this delivery (a redelivery of the same message gets a
    new tag); ``attempt`` is 1 for the first delivery of the message.
    """

    queue: str
    message_id: str
    tag: int
    attempt: int
    encoded: str = field(repr=False)

    @property
    def body(self) -> Any:
        """The message body: a fresh copy on every access."""
        return json.loads(self.encoded)


@dataclass
class _Message:
    message_id: str
    encoded: str
    sequence: int
    attempts: int = 0


@dataclass(frozen=True)
class QueueSnapshot:
    """What a queue holds at one moment."""

    #: Ids of ready messages, in the order they will be delivered.
    ready: tuple[str, ...]
    #: Ids of delivered messages awaiting an ack, oldest delivery first.
    in_flight: tuple[str, ...]
    #: Ids of messages given up after ``max_attempts`` deliveries.
    dead: tuple[str, ...]


@dataclass
class QueueStats:
    """Counters of a :class:`MessageQueue`."""

    sent: int = 0
    delivered: int = 0
    redelivered: int = 0
    acked: int = 0
    expired: int = 0
    dead_lettered: int = 0


class MessageQueue:
    """A FIFO queue with acknowledgement and redelivery (at-least-once).

    Args:
        name: names the queue in ids and errors.
        ack_timeout: seconds (loop time) a delivery may stay unacknowledged
            before the message is made ready again.
        max_attempts: deliveries of one message without an ack after which it
            is dead-lettered; ``None``: redeliver for ever.
    """

    def __init__(
        self,
        name: str = "queue",
        *,
        ack_timeout: float = 30.0,
        max_attempts: int | None = None,
    ) -> None:
        self.name = _identifier(name, "MessageQueue name")
        self.ack_timeout = _positive(ack_timeout, f"MessageQueue {name} ack_timeout")
        if max_attempts is not None and (
            isinstance(max_attempts, bool)
            or not isinstance(max_attempts, int)
            or max_attempts < 1
        ):
            raise ConfigurationError(
                f"MessageQueue {name} max_attempts: must be an int >= 1 or None, "
                f"got {max_attempts!r}"
            )
        self.max_attempts = max_attempts
        self.stats = QueueStats()
        self.dead_letters: list[str] = []
        self._ready: list[tuple[int, _Message]] = []
        self._in_flight: OrderedDict[int, tuple[_Message, asyncio.TimerHandle | None]]
        self._in_flight = OrderedDict()
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._next_sequence = 0
        self._next_tag = 0

    def __repr__(self) -> str:
        return (
            f"<MessageQueue {self.name}: {len(self._ready)} ready, "
            f"{len(self._in_flight)} in flight>"
        )

    def __len__(self) -> int:
        """Messages ready for delivery."""
        return len(self._ready)

    # Sending ---------------------------------------------------------------

    def send(self, body: Any = None, *, message_id: str | None = None) -> str:
        """Put a message on the queue and return its id, without waiting.

        ``message_id`` is the sender's idempotency key: a message sent again
        with the same id (a retry) is a second copy of the same message, which
        a :class:`DeduplicatingConsumer` processes once. Without one, the
        queue numbers the message ``<queue name>-<n>``.
        """
        encoded = _encode(body, f"body of a message for queue {self.name}")
        if message_id is None:
            message_id = f"{self.name}-{self._next_sequence}"
        _identifier(message_id, f"message_id of a message for queue {self.name}")
        message = _Message(message_id, encoded, self._next_sequence)
        self._next_sequence += 1
        heapq.heappush(self._ready, (message.sequence, message))
        self.stats.sent += 1
        self._wake_one()
        return message_id

    # Receiving -------------------------------------------------------------

    def receive_nowait(self) -> Delivery | None:
        """The oldest ready message as a delivery, or ``None`` when none is ready."""
        if not self._ready:
            return None
        _, message = heapq.heappop(self._ready)
        message.attempts += 1
        tag = self._next_tag
        self._next_tag += 1
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            timer = None
        else:
            timer = loop.call_later(self.ack_timeout, self._expire, tag)
        self._in_flight[tag] = (message, timer)
        self.stats.delivered += 1
        if message.attempts > 1:
            self.stats.redelivered += 1
        return Delivery(
            self.name, message.message_id, tag, message.attempts, message.encoded
        )

    async def receive(self, timeout: float | None = None) -> Delivery | None:
        """Wait for the oldest ready message; ``None`` if ``timeout`` passes first."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while not self._ready:
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return None
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append(waiter)
            try:
                await asyncio.wait_for(waiter, remaining)
            except TimeoutError:
                return None
            except BaseException:
                # A wake-up meant for us must not be lost with us.
                if waiter.done() and not waiter.cancelled():
                    self._wake_one()
                raise
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
        return self.receive_nowait()

    def ack(self, delivery: Delivery) -> bool:
        """Settle a delivery. False if it is no longer pending (expired, acked)."""
        if delivery.queue != self.name:
            return False
        entry = self._in_flight.pop(delivery.tag, None)
        if entry is None:
            return False
        _, timer = entry
        if timer is not None:
            timer.cancel()
        self.stats.acked += 1
        return True

    def nack(self, delivery: Delivery) -> bool:
        """Give a delivery back at once, for redelivery. False if not pending."""
        entry = (
            self._in_flight.pop(delivery.tag, None)
            if delivery.queue == self.name
            else None
        )
        if entry is None:
            return False
        message, timer = entry
        if timer is not None:
            timer.cancel()
        self._requeue(message)
        return True

    def snapshot(self) -> QueueSnapshot:
        """The queue's contents now, as immutable values."""
        return QueueSnapshot(
            ready=tuple(m.message_id for _, m in sorted(self._ready)),
            in_flight=tuple(m.message_id for m, _ in self._in_flight.values()),
            dead=tuple(self.dead_letters),
        )

    # Internals -------------------------------------------------------------

    def _expire(self, tag: int) -> None:
        entry = self._in_flight.pop(tag, None)
        if entry is None:
            return
        self.stats.expired += 1
        logger.debug(
            "queue %s: delivery %s of %s expired", self.name, tag, entry[0].message_id
        )
        self._requeue(entry[0])

    def _requeue(self, message: _Message) -> None:
        if self.max_attempts is not None and message.attempts >= self.max_attempts:
            self.dead_letters.append(message.message_id)
            self.stats.dead_lettered += 1
            return
        heapq.heappush(self._ready, (message.sequence, message))
        self._wake_one()

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return


# A lossy link, producers and consumers ----------------------------------------


@dataclass
class LinkStats:
    sent: int = 0
    lost: int = 0


class Link:
    """One network hop inside the process: a delay and independent losses.

    :meth:`transmit` waits ``delay`` seconds of loop time and says whether the
    message got through; each transmission is lost with probability ``loss``,
    drawn from a generator seeded with ``seed``, so runs repeat exactly.
    """

    def __init__(
        self, *, delay: float = 0.0, loss: float = 0.0, seed: int | None = None
    ) -> None:
        self.delay = _positive(delay, "Link delay", allow_zero=True)
        if (
            isinstance(loss, bool)
            or not isinstance(loss, int | float)
            or not 0 <= loss <= 1
        ):
            raise ConfigurationError(
                f"Link loss: must be a probability in [0, 1], got {loss!r}"
            )
        self.loss = float(loss)
        self.rng = random.Random(seed)
        self.stats = LinkStats()

    async def transmit(self) -> bool:
        """Carry one message across; True if it arrived."""
        self.stats.sent += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        arrived = self.rng.random() >= self.loss
        if not arrived:
            self.stats.lost += 1
        return arrived


@dataclass(frozen=True)
class SendResult:
    """How a :meth:`Producer.send` went."""

    message_id: str
    attempts: int
    confirmed: bool


class Producer:
    """Sends to a queue over a lossy link, retrying until the broker confirms.

    Each attempt carries the message to the queue over ``link`` and the
    confirmation back over ``confirm_link`` (default: the same link). An
    attempt whose request or confirmation is lost ends when ``confirm_timeout``
    has passed since it began; then the producer tries again, up to
    ``retries`` more times, always with the same message id.
    """

    def __init__(
        self,
        queue: MessageQueue,
        *,
        link: Link | None = None,
        confirm_link: Link | None = None,
        retries: int = 3,
        confirm_timeout: float = 1.0,
        name: str = "producer",
    ) -> None:
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ConfigurationError(
                f"Producer {name} retries: must be an int >= 0, got {retries!r}"
            )
        self.queue = queue
        self.link = link if link is not None else Link()
        self.confirm_link = confirm_link if confirm_link is not None else self.link
        self.retries = retries
        self.confirm_timeout = _positive(
            confirm_timeout, f"Producer {name} confirm_timeout"
        )
        self.name = _identifier(name, "Producer name")
        self._counter = 0

    async def send(
        self, body: Any = None, *, message_id: str | None = None
    ) -> SendResult:
        """Send ``body``; the result says whether and after how many attempts."""
        _encode(body, f"body of a message from {self.name}")
        if message_id is None:
            message_id = f"{self.name}-{self._counter}"
            self._counter += 1
        loop = asyncio.get_running_loop()
        for attempt in range(1, self.retries + 2):
            started = loop.time()
            if await self.link.transmit():
                self.queue.send(body, message_id=message_id)
                if await self.confirm_link.transmit():
                    return SendResult(message_id, attempt, True)
            left = started + self.confirm_timeout - loop.time()
            if left > 0:
                await asyncio.sleep(left)
        return SendResult(message_id, self.retries + 1, False)


Handler = Callable[[Any], Any | Awaitable[Any]]


@dataclass(frozen=True)
class ConsumerState:
    """A consumer's state at one moment: its queue, memory and computation."""

    #: Ids of messages waiting in the consumer's queue, in delivery order.
    queue: tuple[str, ...]
    #: Ids of messages it remembers having processed.
    memory: frozenset[str]
    #: The id of the message being processed, if any.
    current: str | None
    #: Messages processed so far (duplicates skipped are not counted).
    processed: int

    def components(
        self,
    ) -> tuple[tuple[str, ...], frozenset[str], tuple[str | None, int]]:
        """``(q, m, c)``: queue, memory and computation."""
        return self.queue, self.memory, (self.current, self.processed)


class Consumer:
    """Takes deliveries from its queue, runs ``handler`` on each body, acks.

    The handler gets a fresh copy of the body and may be a function or a
    coroutine function. If it raises, the delivery is not acked and the
    message comes back after the queue's ack timeout. The ack crosses
    ``ack_link`` (default: a perfect one); a lost ack also brings the message
    back, although it was processed: at-least-once delivery.
    """

    def __init__(
        self,
        queue: MessageQueue,
        handler: Handler,
        *,
        ack_link: Link | None = None,
        name: str = "consumer",
    ) -> None:
        if not callable(handler):
            raise ConfigurationError(
                f"Consumer {name} handler: must be callable, got {handler!r}"
            )
        self.queue = queue
        self.handler = handler
        self.ack_link = ack_link if ack_link is not None else Link()
        self.name = _identifier(name, "Consumer name")
        self.processed = 0
        self.failed = 0
        self._current: str | None = None

    async def handle(self, delivery: Delivery) -> bool:
        """Process one delivery; True if the handler ran."""
        self._current = delivery.message_id
        try:
            try:
                result = self.handler(delivery.body)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                self.failed += 1
                logger.debug(
                    "consumer %s: handler failed on %s",
                    self.name,
                    delivery.message_id,
                    exc_info=True,
                )
                return False
            self._record(delivery.message_id)
            self.processed += 1
        finally:
            self._current = None
        await self._ack(delivery)
        return True

    async def drain(self) -> int:
        """Handle every ready message until none is ready; how many were handled."""
        handled = 0
        while (delivery := self.queue.receive_nowait()) is not None:
            await self.handle(delivery)
            handled += 1
        return handled

    async def run(self, *, idle_timeout: float | None = None) -> None:
        """Handle deliveries as they come; return after ``idle_timeout`` idle."""
        while (delivery := await self.queue.receive(idle_timeout)) is not None:
            await self.handle(delivery)

    def state(self) -> ConsumerState:
        """The consumer's state now (D1.3), as immutable values."""
        return ConsumerState(
            queue=self.queue.snapshot().ready,
            memory=self._memory(),
            current=self._current,
            processed=self.processed,
        )

    async def _ack(self, delivery: Delivery) -> None:
        if await self.ack_link.transmit():
            self.queue.ack(delivery)

    def _record(self, message_id: str) -> None:
        """Remember that ``message_id`` was processed (a plain consumer forgets)."""

    def _memory(self) -> frozenset[str]:
        return frozenset()


class DeduplicatingConsumer(Consumer):
    """A consumer that processes each message id once, however often delivered.

    It remembers the ids it processed (the last ``window`` of them, or all when
    ``window`` is ``None``) and acks a redelivery of one of them without running
    the handler again. With idempotency keys chosen by the producer, this turns
    at-least-once delivery into exactly-once effects, for duplicates that
    arrive within the window.
    """

    def __init__(
        self,
        queue: MessageQueue,
        handler: Handler,
        *,
        ack_link: Link | None = None,
        window: int | None = None,
        name: str = "consumer",
    ) -> None:
        super().__init__(queue, handler, ack_link=ack_link, name=name)
        if window is not None and (
            isinstance(window, bool) or not isinstance(window, int) or window < 1
        ):
            raise ConfigurationError(
                f"DeduplicatingConsumer {name} window: must be an int >= 1 or "
                f"None, got {window!r}"
            )
        self.window = window
        self.duplicates = 0
        self._seen: OrderedDict[str, None] = OrderedDict()

    async def handle(self, delivery: Delivery) -> bool:
        if delivery.message_id in self._seen:
            self._seen.move_to_end(delivery.message_id)
            self.duplicates += 1
            await self._ack(delivery)
            return False
        return await super().handle(delivery)

    def _record(self, message_id: str) -> None:
        self._seen[message_id] = None
        if self.window is not None and len(self._seen) > self.window:
            self._seen.popitem(last=False)

    def _memory(self) -> frozenset[str]:
        return frozenset(self._seen)


def system_state(consumers: Mapping[str, Consumer]) -> dict[str, ConsumerState]:
    """The state of a system of consumers (D1.4): each one's state, by name."""
    return {name: consumer.state() for name, consumer in consumers.items()}


# Event streams -----------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """An event as stored in a stream: immutable, numbered by its partition."""

    event_id: str
    event_type: str
    key: str
    partition: int
    sequence: int
    #: What the producer's clock read when it produced the event.
    timestamp: float
    encoded: str = field(repr=False)

    @property
    def payload(self) -> Any:
        """The event's payload: a fresh copy on every access."""
        return json.loads(self.encoded)


class EventStream:
    """An append-only stream of events in ``partitions`` partitions.

    Appends to one partition are numbered 0, 1, 2... in the order they
    happen; :meth:`read` and :meth:`subscribe` give a partition's events in
    that order. Events with one key always share a partition.
    """

    def __init__(self, name: str = "events", *, partitions: int = 1) -> None:
        self.name = _identifier(name, "EventStream name")
        if (
            isinstance(partitions, bool)
            or not isinstance(partitions, int)
            or partitions < 1
        ):
            raise ConfigurationError(
                f"EventStream {name} partitions: must be an int >= 1, "
                f"got {partitions!r}"
            )
        self.partitions = partitions
        self._logs: list[list[Event]] = [[] for _ in range(partitions)]
        self._changed: list[asyncio.Event | None] = [None] * partitions
        self._ids = 0

    def __repr__(self) -> str:
        sizes = ", ".join(str(len(log)) for log in self._logs)
        return f"<EventStream {self.name}: partitions [{sizes}]>"

    def partition_for(self, key: str) -> int:
        """The partition of ``key``: CRC-32 of its UTF-8 bytes, modulo the count."""
        if not isinstance(key, str):
            raise ConfigurationError(
                f"EventStream {self.name} key: must be a string, got {key!r}"
            )
        return zlib.crc32(key.encode()) % self.partitions

    def publish(
        self,
        event_type: str,
        payload: Any = None,
        *,
        key: str,
        event_id: str | None = None,
        timestamp: float | None = None,
    ) -> Event:
        """Append an event to its key's partition and return it as stored.

        ``timestamp`` is the producer's clock reading; by default the running
        loop's. It is recorded, never used to order.
        """
        _identifier(event_type, f"event_type of an event for stream {self.name}")
        encoded = _encode(payload, f"payload of a {event_type} event")
        if event_id is None:
            event_id = f"{self.name}-{self._ids}"
            self._ids += 1
        _identifier(event_id, f"event_id of a {event_type} event")
        if timestamp is None:
            timestamp = asyncio.get_running_loop().time()
        elif isinstance(timestamp, bool) or not isinstance(timestamp, int | float):
            raise ConfigurationError(
                f"timestamp of event {event_id}: must be a number, got {timestamp!r}"
            )
        partition = self.partition_for(key)
        log = self._logs[partition]
        event = Event(
            event_id, event_type, key, partition, len(log), float(timestamp), encoded
        )
        log.append(event)
        changed = self._changed[partition]
        if changed is not None:
            changed.set()
            self._changed[partition] = None
        return event

    def end(self, partition: int) -> int:
        """The sequence number the partition's next event will get."""
        return len(self._log(partition))

    def read(
        self, partition: int, from_sequence: int = 0, limit: int | None = None
    ) -> tuple[Event, ...]:
        """Events of ``partition`` from ``from_sequence`` on, in order."""
        log = self._log(partition)
        if (
            isinstance(from_sequence, bool)
            or not isinstance(from_sequence, int)
            or from_sequence < 0
        ):
            raise ConfigurationError(
                f"from_sequence: must be an int >= 0, got {from_sequence!r}"
            )
        stop = None if limit is None else from_sequence + limit
        return tuple(log[from_sequence:stop])

    async def subscribe(
        self, partition: int, from_sequence: int = 0
    ) -> AsyncIterator[Event]:
        """Yield the partition's events from ``from_sequence`` on, waiting for more."""
        position = from_sequence
        while True:
            batch = self.read(partition, position)
            if not batch:
                changed = self._changed[partition]
                if changed is None:
                    changed = self._changed[partition] = asyncio.Event()
                await changed.wait()
                continue
            # Read again after the batch: events appended while the caller
            # held an event are in the next batch, not missed.
            for event in batch:
                position = event.sequence + 1
                yield event

    def _log(self, partition: int) -> list[Event]:
        if (
            isinstance(partition, bool)
            or not isinstance(partition, int)
            or not 0 <= partition < self.partitions
        ):
            raise ConfigurationError(
                f"EventStream {self.name} has partitions "
                f"0-{self.partitions - 1}, not {partition!r}"
            )
        return self._logs[partition]
