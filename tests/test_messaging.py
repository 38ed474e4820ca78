"""The in-process queue, producer, consumers and event stream, in virtual time."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from impl.errors import ConfigurationError
from impl.messaging import (
    Consumer,
    DeduplicatingConsumer,
    EventStream,
    Link,
    MessageQueue,
    Producer,
)
from proofs.harness.vtime import run


def test_an_unacked_delivery_comes_back_exactly_at_its_ack_timeout() -> None:
    async def main() -> list[tuple[float, int]]:
        loop = asyncio.get_running_loop()
        queue = MessageQueue("q", ack_timeout=30)
        queue.send("x")
        seen = []
        for _ in range(3):
            delivery = await queue.receive()
            assert delivery is not None
            seen.append((loop.time(), delivery.attempt))
        return seen

    assert run(main()) == [(0.0, 1), (30.0, 2), (60.0, 3)]


def test_acked_deliveries_do_not_come_back_and_late_acks_say_so() -> None:
    async def main() -> tuple[bool, bool, object, int]:
        queue = MessageQueue("q", ack_timeout=1)
        queue.send("x")
        first = queue.receive_nowait()
        assert first is not None
        await asyncio.sleep(2)  # expired: the message is ready again
        second = queue.receive_nowait()
        assert second is not None
        late, current = queue.ack(first), queue.ack(second)
        await asyncio.sleep(5)
        return late, current, queue.receive_nowait(), queue.stats.redelivered

    assert run(main()) == (False, True, None, 1)


def test_a_redelivered_message_keeps_its_place() -> None:
    async def main() -> list[str]:
        queue = MessageQueue("q", ack_timeout=10)
        for body in ("a", "b", "c"):
            queue.send(body, message_id=body)
        a = queue.receive_nowait()
        assert a is not None
        queue.nack(a)
        order = []
        while (d := queue.receive_nowait()) is not None:
            order.append(d.message_id)
            queue.ack(d)
        return order

    assert run(main()) == ["a", "b", "c"]


def test_messages_are_dead_lettered_after_max_attempts() -> None:
    async def main() -> tuple[list[str], object]:
        queue = MessageQueue("q", ack_timeout=1, max_attempts=2)
        queue.send("poison", message_id="p")
        for _ in range(2):
            assert await queue.receive(timeout=5) is not None
        return queue.dead_letters, await queue.receive(timeout=5)

    assert run(main()) == (["p"], None)


def test_receive_times_out_and_a_cancelled_receiver_passes_its_wakeup_on() -> None:
    async def main() -> tuple[object, str | None]:
        queue = MessageQueue("q")
        empty = await queue.receive(timeout=3)
        first = asyncio.create_task(queue.receive())
        second = asyncio.create_task(queue.receive())
        await asyncio.sleep(0)
        queue.send("x", message_id="only")
        first.cancel()
        got = await asyncio.wait_for(second, timeout=1)
        return empty, None if got is None else got.message_id

    assert run(main()) == (None, "only")


def test_bodies_are_copies() -> None:
    queue = MessageQueue("q")
    body = {"items": [1]}
    queue.send(body)
    body["items"].append(2)
    delivery = queue.receive_nowait()
    assert delivery is not None
    copy = delivery.body
    copy["items"].append(3)
    assert delivery.body == {"items": [1]}


@pytest.mark.parametrize(
    ("build", "word"),
    [
        (lambda: MessageQueue("q", ack_timeout=0), "ack_timeout"),
        (lambda: MessageQueue("q", max_attempts=0), "max_attempts"),
        (lambda: MessageQueue("q").send({"x": object()}), "JSON"),
        (lambda: Link(loss=1.5), "probability"),
        (lambda: Producer(MessageQueue("q"), retries=-1), "retries"),
        (lambda: Consumer(MessageQueue("q"), "not callable"), "callable"),  # type: ignore[arg-type]
        (lambda: EventStream("s", partitions=0), "partitions"),
        (lambda: EventStream("s").read(3), "partitions 0-0"),
    ],
)
def test_bad_arguments_are_refused_naming_the_field(build: Any, word: str) -> None:
    with pytest.raises(ConfigurationError, match=word):
        build()


def test_the_producer_retries_until_confirmed_and_reports_attempts() -> None:
    async def main() -> tuple[Any, int, float]:
        loop = asyncio.get_running_loop()
        queue = MessageQueue("q")
        producer = Producer(queue, link=Link(loss=1.0), retries=2, confirm_timeout=1)
        result = await producer.send("x")
        return result, len(queue), loop.time()

    result, queued, elapsed = run(main())
    assert (result.attempts, result.confirmed, queued, elapsed) == (3, False, 0, 3.0)


def test_lost_acks_make_duplicates_that_only_deduplication_absorbs() -> None:
    async def main(consumer_class: type[Consumer]) -> list[Any]:
        queue = MessageQueue("q", ack_timeout=2)
        handled: list[Any] = []
        consumer = consumer_class(
            queue, handled.append, ack_link=Link(loss=0.5, seed=3)
        )
        for i in range(20):
            queue.send(i, message_id=f"m{i}")
        await consumer.run(idle_timeout=10)
        return handled

    plain = run(main(Consumer))
    dedup = run(main(DeduplicatingConsumer))
    assert sorted(set(plain)) == list(range(20)) and len(plain) > 20
    assert sorted(dedup) == list(range(20))


def test_a_deduplication_window_forgets_the_oldest_ids() -> None:
    async def main() -> list[int]:
        queue = MessageQueue("q")
        handled: list[int] = []
        consumer = DeduplicatingConsumer(queue, handled.append, window=1)
        for mid, body in (("a", 1), ("b", 2), ("a", 3)):
            queue.send(body, message_id=mid)
        await consumer.drain()
        return handled

    assert run(main()) == [1, 2, 3]


def test_a_failing_handler_leaves_the_message_for_redelivery() -> None:
    async def main() -> tuple[int, int, list[Any]]:
        queue = MessageQueue("q", ack_timeout=1)
        calls: list[Any] = []

        def flaky(body: Any) -> None:
            calls.append(body)
            if len(calls) == 1:
                raise RuntimeError("first try fails")

        consumer = DeduplicatingConsumer(queue, flaky)
        queue.send("x")
        await consumer.run(idle_timeout=5)
        return consumer.failed, consumer.processed, calls

    assert run(main()) == (1, 1, ["x", "x"])


def test_subscribers_see_appends_in_order_as_they_happen() -> None:
    async def main() -> list[tuple[int, str]]:
        stream = EventStream("s", partitions=1)
        seen: list[tuple[int, str]] = []

        async def follow() -> None:
            async for event in stream.subscribe(0):
                seen.append((event.sequence, event.payload))
                if len(seen) == 3:
                    return

        task = asyncio.create_task(follow())
        for i, word in enumerate(("a", "b", "c")):
            await asyncio.sleep(1)
            stream.publish("said", word, key="k", timestamp=100.0 - i)
        await asyncio.wait_for(task, timeout=5)
        return seen

    assert run(main()) == [(0, "a"), (1, "b"), (2, "c")]


def test_one_key_one_partition() -> None:
    stream = EventStream("s", partitions=4)
    partitions = {
        stream.publish("t", i, key="user-7", timestamp=0.0).partition for i in range(5)
    }
    assert partitions == {stream.partition_for("user-7")}


def test_consumer_state_has_queue_memory_and_computation() -> None:
    async def main() -> Any:
        queue = MessageQueue("q")
        consumer = DeduplicatingConsumer(queue, lambda body: None)
        queue.send(1, message_id="a")
        queue.send(2, message_id="b")
        delivery = queue.receive_nowait()
        assert delivery is not None
        await consumer.handle(delivery)
        return consumer.state().components()

    assert run(main()) == (("b",), frozenset({"a"}), (None, 1))
