r"""Messaging obligations on the implementation (D1.3-D1.4, T1.1, D3.3-D3.5, T3.2-T3.3).

Everything runs on the virtual-time loop, so ack timeouts and retry waits
cost nothing and every run repeats exactly from its seed.

- *The queue* (D3.3, D3.4): operation sequences of sends, receives, acks,
  nacks and waits are compared step by step with a model: send returns at
  once with the given id, deliveries come oldest-first, an unacked delivery
  comes back exactly when its ack timeout passes, and keeps its place.
- *Delivery* (T3.2): a producer retrying over a link that loses each attempt
  with probability p delivers with a frequency inside a 99.9% Wilson interval
  around 1 - p^(r+1); a consumer without deduplication runs its handler twice
  for one message once confirmations or acks are lost; the deduplicating
  consumer runs it exactly once per message.
- *Events* (D3.5, T3.3): events are immutable and hand out copies; under
  concurrent producers with skewed or stepped-back clocks, subscribers see
  each partition in append order, numbered without gaps, whatever the
  timestamps.
- *State and autonomy* (D1.3, D1.4, T1.1): a consumer's state (queue, memory,
  computation) matches a model and is a snapshot; the state of a system of
  consumers is the product of theirs; a step at one leaves the others as they
  were, and no mutable object passes between sender and receivers.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import random
from collections import Counter
from typing import Any

from hypothesis import strategies as st

from proofs.harness.vtime import run
from proofs.obligation import Method, obligation
from proofs.profiles import Profile
from proofs.search import search
from proofs.verdict import Outcome, Verdict

SUBJECT = "impl.messaging"

#: The queue's ack timeout in the operation sequences. Waits are whole
#: seconds and deliveries happen at whole seconds, so a deadline (a whole
#: number plus one half) never coincides with the end of a wait.
ACK_TIMEOUT = 2.5

# Sends and receives are drawn more often than the rest, so that sequences
# build up a queue, deliver from it, and then let deliveries expire.
_ops = st.lists(
    st.one_of(
        st.just(("send",)),
        st.just(("send",)),
        st.just(("receive",)),
        st.just(("receive",)),
        st.tuples(st.just("ack"), st.integers(0, 7)),
        st.tuples(st.just("nack"), st.integers(0, 7)),
        st.tuples(st.just("wait"), st.integers(1, 3)),
    ),
    max_size=30,
)


def _seed(profile: Profile) -> int:
    """A fixed seed under a derandomized profile, a fresh one otherwise."""
    return 20240601 if profile.derandomize else random.SystemRandom().randrange(2**32)


def _wilson(successes: int, n: int, z: float = 3.2905) -> tuple[float, float]:
    """Wilson score interval; z = 3.2905 is two-sided 99.9%."""
    phat = successes / n
    centre = (phat + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


# D3.3, D3.4 ------------------------------------------------------------------


def _queue_run(q: Any, ops: list[tuple[Any, ...]]) -> str | None:
    """Run ``ops`` on a real queue and on the model; the first disagreement."""

    async def main() -> str | None:
        loop = asyncio.get_running_loop()
        queue = q.MessageQueue("orders", ack_timeout=ACK_TIMEOUT)
        ready: list[tuple[int, str]] = []  # (first-send order, id)
        in_flight: dict[
            int, tuple[int, str, float]
        ] = {}  # tag -> (order, id, deadline)
        attempts: Counter[str] = Counter()
        deliveries: list[Any] = []
        sent = 0

        def expire(now: float) -> None:
            for tag, (order, mid, deadline) in list(in_flight.items()):
                if deadline <= now:
                    del in_flight[tag]
                    ready.append((order, mid))
            ready.sort()

        for k, op in enumerate(ops):
            now = loop.time()
            if op[0] == "send":
                mid = f"m{sent}"
                got = queue.send({"n": sent}, message_id=mid)
                if got != mid or loop.time() != now:
                    return f"step {k}: send returned {got!r} or let time pass"
                ready.append((sent, mid))
                sent += 1
            elif op[0] == "receive":
                delivery = queue.receive_nowait()
                if not ready:
                    if delivery is not None:
                        return f"step {k}: received {delivery.message_id} when empty"
                    continue
                order, mid = ready.pop(0)
                if delivery is None or delivery.message_id != mid:
                    seen = None if delivery is None else delivery.message_id
                    return f"step {k}: received {seen}, the oldest ready is {mid}"
                attempts[mid] += 1
                if delivery.attempt != attempts[mid] or delivery.body != {"n": order}:
                    return (
                        f"step {k}: delivery {mid} has attempt {delivery.attempt}, "
                        f"body {delivery.body}"
                    )
                in_flight[delivery.tag] = (order, mid, now + ACK_TIMEOUT)
                deliveries.append(delivery)
            elif op[0] in ("ack", "nack"):
                if not deliveries:
                    continue
                delivery = deliveries[op[1] % len(deliveries)]
                pending = delivery.tag in in_flight
                settle = queue.ack if op[0] == "ack" else queue.nack
                if settle(delivery) != pending:
                    return (
                        f"step {k}: {op[0]} of {delivery.message_id} (tag "
                        f"{delivery.tag}) answered {not pending}"
                    )
                if pending:
                    order, mid, _ = in_flight.pop(delivery.tag)
                    if op[0] == "nack":
                        ready.append((order, mid))
                        ready.sort()
            else:
                await asyncio.sleep(op[1])
                expire(loop.time())
            snap = queue.snapshot()
            if list(snap.ready) != [mid for _, mid in ready]:
                model = [m for _, m in ready]
                return f"after step {k}: ready {list(snap.ready)}, model {model}"
            if sorted(snap.in_flight) != sorted(
                mid for _, mid, _ in in_flight.values()
            ):
                return f"after step {k}: in flight {sorted(snap.in_flight)}"
        return None

    return run(main())


def _ops_text(ops: list[tuple[Any, ...]]) -> list[str]:
    return [" ".join(str(x) for x in op) for op in ops]


@obligation(
    "D3.4/impl-queue-is-fifo",
    reading="The implementation's queue agrees with a FIFO model with "
    "acknowledgement over any sequence of sends, receives, acks, nacks and "
    "waits: send returns the message's id at once without letting time pass "
    "(D3.3); the oldest ready message is delivered first; a delivery not acked "
    "within the ack timeout, or nacked, makes the message ready again in its "
    "original place; acking a delivery that is no longer pending says so.",
    formal=r"\mathrm{receive}(\langle m_1, \dots, m_n \rangle) = m_1,\ "
    r"t \ge t_{\mathrm{deliver}} + T_{\mathrm{ack}} \Rightarrow m \in \mathrm{ready}",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=SUBJECT,
    assumptions=("the queue runs on the virtual-time loop",),
)
def _fifo(q: Any, profile: Profile) -> Verdict:
    found = search(_ops, lambda ops: _queue_run(q, ops), profile)
    if found.found:
        return Verdict.refuted(
            "Hypothesis against a model, shrunk",
            {
                "ack timeout (s)": ACK_TIMEOUT,
                "operations": _ops_text(found.counterexample or []),
                "problem": found.message,
            },
            searched={"examples": found.calls},
        )
    return Verdict.checked(
        "Hypothesis against a model, virtual time",
        searched={"examples": found.calls},
        bounds="up to 30 operations",
    )


# T3.2 ------------------------------------------------------------------------

#: (loss per attempt, retries, confirmation loss)
_SETTINGS = ((0.5, 2, 0.0), (0.3, 1, 0.2), (0.8, 3, 0.0))


def _delivery_frequency(
    q: Any, loss: float, retries: int, confirm_loss: float, trials: int, seed: int
) -> int:
    async def main() -> int:
        queue = q.MessageQueue("inbox", ack_timeout=60)
        producer = q.Producer(
            queue,
            link=q.Link(loss=loss, seed=seed),
            confirm_link=q.Link(loss=confirm_loss, seed=seed + 1),
            retries=retries,
            confirm_timeout=0.5,
        )
        for i in range(trials):
            await producer.send({"trial": i}, message_id=f"t{i}")
        return len(set(queue.snapshot().ready))

    return run(main())


@obligation(
    "T3.2/impl-lossy-delivery-frequency",
    reading="The implementation's producer, retrying over an in-process link "
    "that loses each attempt independently with probability p, gets a message "
    "onto the queue with a frequency whose 99.9% Wilson interval contains "
    "1 - p^(r+1), for each setting tried; lost confirmations (which cause "
    "resends) do not change the figure.",
    formal=r"\hat P \pm z_{0.9995}\,\mathrm{se} \ni 1 - p^{r+1}",
    method=Method.SIMULATION,
    expected=Outcome.CHECKED,
    subject=SUBJECT,
    assumptions=(
        "each attempt's request is lost independently with probability p",
        "the producer makes one attempt and up to r retries, stopping when confirmed",
        "the link is the in-process Link of impl.messaging (seeded generator)",
    ),
)
def _frequency(q: Any, profile: Profile) -> Verdict:
    seed = _seed(profile)
    trials = max(200, profile.trials // 2)
    rows = []
    outside = []
    for k, (loss, retries, confirm_loss) in enumerate(_SETTINGS):
        delivered = _delivery_frequency(
            q, loss, retries, confirm_loss, trials, seed + 10 * k
        )
        low, high = _wilson(delivered, trials)
        expected = 1 - loss ** (retries + 1)
        row = {
            "p": loss,
            "r": retries,
            "confirmation loss": confirm_loss,
            "1 - p^(r+1)": round(expected, 6),
            "delivered": f"{delivered}/{trials}",
            "99.9% interval": [round(low, 4), round(high, 4)],
        }
        rows.append(row)
        if not low <= expected <= high:
            outside.append(row)
    searched = {"trials per setting": trials, "settings": len(_SETTINGS), "seed": seed}
    if outside:
        return Verdict.refuted(
            "simulation on the virtual-time loop",
            outside,
            searched=searched,
            detail="The observed delivery frequency excludes the formula.",
        )
    return Verdict.checked(
        "simulation on the virtual-time loop, Wilson intervals",
        searched=searched,
        detail="Settings: "
        + "; ".join(
            f"p={r['p']}, r={r['r']}: {r['delivered']} delivered, interval "
            f"{r['99.9% interval']}, formula {r['1 - p^(r+1)']}"
            for r in rows
        ),
    )


def _duplicate_run(
    q: Any, consumer_class: str, seed: int, messages: int
) -> dict[str, Any]:
    """Producer with lossy confirmations, consumer with lossy acks."""

    async def main() -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        queue = q.MessageQueue("payments", ack_timeout=5)
        producer = q.Producer(
            queue,
            link=q.Link(loss=0.1, seed=seed),
            confirm_link=q.Link(loss=0.3, seed=seed + 1),
            retries=3,
            confirm_timeout=1,
        )
        runs: dict[str, list[float]] = {}

        def handler(body: Any) -> None:
            runs.setdefault(body["id"], []).append(loop.time())

        consumer = getattr(q, consumer_class)(
            queue, handler, ack_link=q.Link(loss=0.3, seed=seed + 2)
        )
        results = [
            await producer.send({"id": f"pay-{i}"}, message_id=f"pay-{i}")
            for i in range(messages)
        ]
        reached = set(queue.snapshot().ready)
        await consumer.run(idle_timeout=30)
        return {
            "runs": runs,
            "attempts": {r.message_id: r.attempts for r in results},
            "reached": reached,
            "stats": queue.stats,
        }

    return run(main())


@obligation(
    "T3.2/impl-at-least-once-duplicates",
    reading="At-least-once delivery without idempotency is not exactly once: "
    "when a confirmation or an ack is lost, the implementation's plain "
    "consumer runs its handler more than once for one message.",
    formal=r"\exists m:\ \#\mathrm{handled}(m) > 1",
    method=Method.SIMULATION,
    expected=Outcome.REFUTED,
    subject=SUBJECT,
    assumptions=(
        "confirmations lost with probability 0.3, acks with 0.3, requests with 0.1",
        "the consumer is the plain Consumer, without deduplication",
    ),
)
def _duplicates(q: Any, profile: Profile) -> Verdict:
    base = _seed(profile)
    for k in range(10):
        outcome = _duplicate_run(q, "Consumer", base + k, 10)
        twice = sorted(mid for mid, times in outcome["runs"].items() if len(times) > 1)
        if twice:
            mid = twice[0]
            return Verdict.refuted(
                "simulation on the virtual-time loop",
                {
                    "message": mid,
                    "producer attempts": outcome["attempts"][mid],
                    "handler ran at (s)": outcome["runs"][mid],
                    "messages processed twice or more": len(twice),
                    "queue redeliveries": outcome["stats"].redelivered,
                },
                searched={"runs": k + 1, "messages per run": 10, "seed": base + k},
                detail="A lost confirmation makes the producer send the message "
                "again; a lost ack makes the queue deliver it again. Each copy "
                "runs the handler unless the consumer deduplicates by message id "
                "(T3.2/impl-dedup-processes-once).",
            )
    return Verdict.checked(
        "simulation on the virtual-time loop",
        searched={"runs": 10, "messages per run": 10, "seed": base},
        detail="No message was processed twice.",
    )


@obligation(
    "T3.2/impl-dedup-processes-once",
    reading="With the producer's message id as idempotency key, the "
    "deduplicating consumer runs its handler exactly once for every message "
    "that reached the queue, however many copies were sent and however often "
    "they were redelivered.",
    formal=r"\forall m \in \mathrm{reached}:\ \#\mathrm{handled}(m) = 1",
    method=Method.SIMULATION,
    expected=Outcome.CHECKED,
    subject=SUBJECT,
    assumptions=(
        "confirmations lost with probability 0.3, acks with 0.3, requests with 0.1",
        "the consumer remembers every id it processed (no window)",
    ),
)
def _dedup(q: Any, profile: Profile) -> Verdict:
    base = _seed(profile)
    runs = max(3, profile.trials // 1000)
    messages = 0
    redelivered = 0
    for k in range(runs):
        outcome = _duplicate_run(q, "DeduplicatingConsumer", base + k, 10)
        redelivered += outcome["stats"].redelivered
        for mid in sorted(outcome["reached"]):
            messages += 1
            times = outcome["runs"].get(mid, [])
            if len(times) != 1:
                return Verdict.refuted(
                    "simulation on the virtual-time loop",
                    {
                        "message": mid,
                        "producer attempts": outcome["attempts"][mid],
                        "handler ran at (s)": times,
                    },
                    searched={"runs": k + 1, "seed": base + k},
                )
    return Verdict.checked(
        "simulation on the virtual-time loop",
        searched={
            "runs": runs,
            "messages": messages,
            "redeliveries": redelivered,
            "seed": base,
        },
    )


# D3.5, T3.3 ------------------------------------------------------------------


@obligation(
    "D3.5/impl-events-immutable",
    reading="The implementation's events are immutable facts: assigning a field "
    "fails, every read of the payload is a fresh copy (changing one changes no "
    "other, nor the stored event), and a payload that is not JSON data is "
    "refused at publication.",
    formal=r"e = (\mathrm{id}, \mathrm{type}, \mathrm{payload}, \mathrm{ts}) "
    r"\text{ immutable}",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=SUBJECT,
)
def _events_immutable(q: Any, profile: Profile) -> Verdict:
    payloads = st.dictionaries(
        st.sampled_from(("a", "b", "items")),
        st.one_of(st.integers(), st.lists(st.integers(), max_size=3)),
        min_size=1,
        max_size=3,
    )

    def prop(payload: dict[str, Any]) -> str | None:
        async def main() -> str | None:
            stream = q.EventStream("orders", partitions=2)
            original = {
                k: (list(v) if isinstance(v, list) else v) for k, v in payload.items()
            }
            event = stream.publish("created", payload, key="order-1")
            payload["added-after-publish"] = True
            first = event.payload
            first["changed"] = 1
            again = stream.read(event.partition)[0].payload
            if again != original or event.payload != original:
                return f"the stored payload changed to {again}"
            for attr in ("payload", "sequence", "timestamp"):
                try:
                    setattr(event, attr, 0)
                except AttributeError:
                    continue
                return f"assigning {attr} of an event succeeded"
            try:
                stream.publish("created", {"bad": object()}, key="order-1")
            except ValueError:
                return None
            return "a payload that is not JSON was accepted"

        return run(main())

    found = search(payloads, prop, profile)
    if found.found:
        return Verdict.refuted(
            "Hypothesis",
            {"payload": str(found.counterexample), "problem": found.message},
            searched={"examples": found.calls},
        )
    return Verdict.checked(
        "Hypothesis", searched={"examples": found.calls}, bounds="small JSON payloads"
    )


@st.composite
def _producer_plans(draw: st.DrawFn) -> dict[str, Any]:
    producers = draw(st.integers(2, 3))
    return {
        "partitions": draw(st.integers(1, 3)),
        "offsets": [draw(st.integers(-3, 3)) for _ in range(producers)],
        "plans": [
            draw(
                st.lists(
                    st.tuples(
                        st.sampled_from(("cart-1", "cart-2", "user-9")),
                        st.integers(0, 3),
                        st.integers(0, 2),
                    ),
                    min_size=1,
                    max_size=6,
                )
            )
            for _ in range(producers)
        ],
    }


def _stream_run(q: Any, plan: dict[str, Any]) -> tuple[str | None, int]:
    """Concurrent producers with skewed clocks; subscribers on every partition."""

    async def main() -> tuple[str | None, int]:
        loop = asyncio.get_running_loop()
        stream = q.EventStream("carts", partitions=plan["partitions"])
        appended: dict[int, list[str]] = {p: [] for p in range(plan["partitions"])}
        by_key: dict[str, list[str]] = {}
        total = sum(len(p) for p in plan["plans"])
        seen: dict[int, list[Any]] = {p: [] for p in range(plan["partitions"])}
        done = asyncio.Event()

        async def producer(index: int, steps: list[tuple[str, int, int]]) -> None:
            setback = 0
            for k, (key, pause, step_back) in enumerate(steps):
                await asyncio.sleep(pause)
                setback += step_back
                clock = loop.time() + plan["offsets"][index] - setback
                event = stream.publish(
                    "changed",
                    {"by": index, "n": k},
                    key=key,
                    event_id=f"p{index}-{k}",
                    timestamp=clock,
                )
                appended[event.partition].append(event.event_id)
                by_key.setdefault(key, []).append(event.event_id)

        async def subscriber(partition: int) -> None:
            async for event in stream.subscribe(partition):
                seen[partition].append(event)
                if sum(len(s) for s in seen.values()) == total:
                    done.set()

        subscribers = [
            asyncio.create_task(subscriber(p)) for p in range(plan["partitions"])
        ]
        await asyncio.gather(*(producer(i, s) for i, s in enumerate(plan["plans"])))
        await asyncio.wait_for(done.wait(), timeout=60)
        for task in subscribers:
            task.cancel()
        await asyncio.gather(*subscribers, return_exceptions=True)

        inversions = 0
        for p, events in seen.items():
            ids = [e.event_id for e in events]
            if ids != appended[p]:
                return f"partition {p}: subscriber saw {ids}, appended {appended[p]}", 0
            if [e.sequence for e in events] != list(range(len(events))):
                return f"partition {p}: sequences {[e.sequence for e in events]}", 0
            if [e.event_id for e in stream.read(p)] != appended[p]:
                return f"partition {p}: read gives another order", 0
            inversions += sum(
                a.timestamp > b.timestamp for a, b in itertools.pairwise(events)
            )
        position = {
            e.event_id: (e.partition, e.sequence) for es in seen.values() for e in es
        }
        for key, ids in by_key.items():
            if len({position[i][0] for i in ids}) != 1:
                return f"key {key} is in several partitions", 0
        return None, inversions

    return run(main())


@obligation(
    "T3.3/impl-partition-order",
    reading="In the implementation, with concurrent producers whose clocks are "
    "skewed and stepped back, every subscriber sees its partition's events in "
    "the order they were appended, numbered 0, 1, 2... without gaps, and every "
    "key stays in one partition; timestamps, meanwhile, do go backwards.",
    formal=r"\forall i < j \text{ in a partition}:\ \mathrm{seq}(e_i) < "
    r"\mathrm{seq}(e_j),\ \mathrm{seq}(e_{k+1}) = \mathrm{seq}(e_k) + 1",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=SUBJECT,
    assumptions=(
        "producers stamp events with their own clocks, offset by up to 3 s and "
        "stepped back at will",
    ),
)
def _partition_order(q: Any, profile: Profile) -> Verdict:
    inversions = 0

    def prop(plan: dict[str, Any]) -> str | None:
        nonlocal inversions
        problem, seen = _stream_run(q, plan)
        inversions += seen
        return problem

    found = search(
        _producer_plans(), prop, profile, max_examples=max(20, profile.examples // 4)
    )
    if found.found:
        plan = found.counterexample or {}
        return Verdict.refuted(
            "Hypothesis, shrunk",
            {
                "partitions": plan.get("partitions"),
                "clock offsets": plan.get("offsets"),
                "producers (key, pause s, clock step back s)": plan.get("plans"),
                "problem": found.message,
            },
            searched={"examples": found.calls},
        )
    return Verdict.checked(
        "Hypothesis, concurrent producers on the virtual-time loop",
        searched={"examples": found.calls, "timestamp inversions seen": inversions},
        bounds="1-3 partitions, 2-3 producers of up to 6 events",
    )


# D1.3, D1.4, T1.1 ------------------------------------------------------------


def _consumer_state_run(q: Any, ops: list[tuple[Any, ...]]) -> str | None:
    async def main() -> str | None:
        queue = q.MessageQueue("inbox", ack_timeout=ACK_TIMEOUT)
        during: list[Any] = []
        consumer: Any = None

        def handler(body: Any) -> None:
            during.append((body["id"], consumer.state()))

        consumer = q.DeduplicatingConsumer(queue, handler)
        ready: list[str] = []
        processed: list[str] = []
        earlier = consumer.state()
        earlier_copy = (
            earlier.queue,
            set(earlier.memory),
            earlier.current,
            earlier.processed,
        )
        sent = 0
        for k, op in enumerate(ops):
            if op[0] == "send":
                mid = f"m{sent % 4}" if op[1] else f"m{sent}"
                queue.send({"id": mid}, message_id=mid)
                ready.append(mid)
                sent += 1
            else:
                delivery = queue.receive_nowait()
                if delivery is None:
                    continue
                mid = ready.pop(0)
                await consumer.handle(delivery)
                if mid not in processed:
                    processed.append(mid)
                    if during[-1][0] != mid or during[-1][1].current != mid:
                        return (
                            f"step {k}: while handling {mid} the state's "
                            f"computation was {during[-1][1].current}"
                        )
            state = consumer.state()
            q_, m_, c_ = state.components()
            if list(q_) != ready:
                return f"after step {k}: queue {list(q_)}, expected {ready}"
            if m_ != frozenset(processed):
                return (
                    f"after step {k}: memory {sorted(m_)}, "
                    f"processed {sorted(processed)}"
                )
            if c_ != (None, len(processed)):
                return (
                    f"after step {k}: computation {c_}, expected idle after "
                    f"{len(processed)}"
                )
        if (
            earlier.queue,
            set(earlier.memory),
            earlier.current,
            earlier.processed,
        ) != earlier_copy:
            return "a state taken at the start changed as the consumer worked"
        return None

    return run(main())


@obligation(
    "D1.3/impl-consumer-state",
    reading="An implementation consumer's state is its queue (ids waiting, in "
    "delivery order), its memory (ids processed) and its computation (the "
    "message in progress and the count processed): after any sequence of sends "
    "and deliveries it matches a model, the computation names the message "
    "while the handler runs, and a state once taken never changes.",
    formal=r"\mathrm{State}(S, t) = (q, m, c)",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=SUBJECT,
)
def _consumer_state(q: Any, profile: Profile) -> Verdict:
    ops = st.lists(
        st.one_of(st.tuples(st.just("send"), st.booleans()), st.just(("deliver",))),
        max_size=20,
    )
    found = search(ops, lambda o: _consumer_state_run(q, o), profile)
    if found.found:
        return Verdict.refuted(
            "Hypothesis against a model, shrunk",
            {
                "operations": _ops_text(found.counterexample or []),
                "problem": found.message,
            },
            searched={"examples": found.calls},
        )
    return Verdict.checked(
        "Hypothesis against a model, virtual time",
        searched={"examples": found.calls},
        bounds="up to 20 sends (some repeating an id) and deliveries",
    )


def _system_run(q: Any, steps: list[tuple[int, bool]]) -> dict[str, str]:
    """Run sends and deliveries at three consumers; problems found, by kind.

    ``"product"``: the system state is not the product of the consumers'
    states. ``"autonomy"``: a step at one consumer changed another, or a
    mutable object was shared.
    """

    async def main() -> dict[str, str]:
        names = ("users", "orders", "mail")
        handled: dict[str, list[Any]] = {n: [] for n in names}
        consumers = {
            n: q.DeduplicatingConsumer(q.MessageQueue(n), handled[n].append, name=n)
            for n in names
        }
        problems: dict[str, str] = {}
        body: dict[str, Any] = {"items": [1, 2], "note": "shared?"}
        for k, (target, deliver) in enumerate(steps):
            name = names[target % len(names)]
            before = q.system_state(consumers)
            if set(before) != set(names):
                problems.setdefault(
                    "product", f"the system state has components {sorted(before)}"
                )
            for n in names:
                if before.get(n) != consumers[n].state():
                    problems.setdefault(
                        "product", f"the projection on {n} differs from its own state"
                    )
            if deliver:
                delivery = consumers[name].queue.receive_nowait()
                if delivery is not None:
                    await consumers[name].handle(delivery)
                    if handled[name]:
                        handled[name][-1]["items"].append(k)
            else:
                consumers[name].queue.send(body, message_id=f"{name}-{k}")
                body["items"].append(-k)
            after = q.system_state(consumers)
            for n in names:
                if n != name and after.get(n) != before.get(n):
                    problems.setdefault(
                        "autonomy", f"step {k} at {name} changed the state of {n}"
                    )
        objects = [
            id(x) for bs in handled.values() for b in bs for x in (b, b["items"])
        ]
        if (
            len(objects) != len(set(objects))
            or id(body) in objects
            or id(body["items"]) in objects
        ):
            problems.setdefault(
                "autonomy", "a mutable object was shared between sender and receivers"
            )
        return problems

    return run(main())


_system_steps = st.lists(st.tuples(st.integers(0, 2), st.booleans()), max_size=20)


@obligation(
    "D1.4/impl-system-state-product",
    reading="The state of a system of implementation consumers is the product "
    "of theirs: one component per consumer, each equal to that consumer's own "
    "state, at every step of any run.",
    formal=r"\mathrm{SystemState}(t) = \prod_i \mathrm{State}(S_i, t)",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=SUBJECT,
)
def _system_product(q: Any, profile: Profile) -> Verdict:
    found = search(
        _system_steps, lambda steps: _system_run(q, steps).get("product"), profile
    )
    if found.found:
        return Verdict.refuted(
            "Hypothesis, shrunk",
            {
                "steps (consumer, deliver?)": found.counterexample,
                "problem": found.message,
            },
            searched={"examples": found.calls},
        )
    return Verdict.checked(
        "Hypothesis, virtual time",
        searched={"examples": found.calls},
        bounds="3 consumers, up to 20 sends and deliveries",
    )


@obligation(
    "T1.1/impl-consumers-share-nothing",
    reading="Implementation consumers are autonomous: a send to or a delivery "
    "at one consumer leaves every other consumer's state as it was, and no "
    "mutable object passes between a sender and its receivers or between two "
    "receivers of the same body (changing one copy changes no other).",
    formal=r"\forall j \ne i:\ \mathrm{State}(S_j) \text{ unchanged by a step of } "
    r"S_i;\ \mathrm{objects}(S_i) \cap \mathrm{objects}(S_j) = \emptyset",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=SUBJECT,
)
def _share_nothing(q: Any, profile: Profile) -> Verdict:
    found = search(
        _system_steps, lambda steps: _system_run(q, steps).get("autonomy"), profile
    )
    if found.found:
        return Verdict.refuted(
            "Hypothesis, shrunk",
            {
                "steps (consumer, deliver?)": found.counterexample,
                "problem": found.message,
            },
            searched={"examples": found.calls},
        )
    return Verdict.checked(
        "Hypothesis, virtual time",
        searched={"examples": found.calls},
        bounds="3 consumers, up to 20 sends and deliveries of one shared body",
    )
