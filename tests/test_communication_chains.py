"""Chains and fan-outs of in-process services, measured on the virtual clock."""

from __future__ import annotations

import asyncio

import pytest

from impl.chains import ChainService, Network, nested_chain
from impl.errors import (
    CallTimeoutError,
    ConfigurationError,
    NoHealthyInstanceError,
)
from proofs.harness.vtime import run


def test_a_nested_chain_costs_the_sum_of_its_hops() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        net = Network(delay=0.5)
        nested_chain(net, ["a", "b", "c"], [0.25, 0.125, 1.0])
        await net.call("client", "a")
        return loop.time()

    assert run(main()) == 3 * 0.5 + 0.25 + 0.125 + 1.0


def test_a_fan_out_costs_its_slowest_branch() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        net = Network(delay=lambda a, b: {"x": 1.0, "y": 3.0}.get(b, 0.0))
        for name in ("x", "y"):
            net.add(ChainService(name, processing_time=0.5))
        await net.fan_out("client", ["x", "y"])
        return loop.time()

    assert run(main()) == 3.5


def test_two_workers_serve_two_requests_at_once() -> None:
    async def main() -> list[float]:
        net = Network()
        service = net.add(ChainService("db", processing_time=1.0, workers=2))
        await asyncio.gather(*(net.call(f"c{k}", "db") for k in range(3)))
        return sorted(v.queue_time for v in service.visits)

    assert run(main()) == [0.0, 0.0, 1.0]


def test_a_cancelled_waiter_takes_no_worker_with_it() -> None:
    async def main() -> int:
        net = Network()
        service = net.add(ChainService("db", processing_time=1.0))
        first = asyncio.create_task(net.call("c0", "db"))
        waiting = asyncio.create_task(net.call("c1", "db"))
        await asyncio.sleep(0.5)
        waiting.cancel()
        await first
        await net.call("c2", "db")
        return len(service.visits)

    assert run(main()) == 2


def test_calling_a_missing_service_says_which_exist() -> None:
    net = Network()
    net.add(ChainService("users"))
    with pytest.raises(NoHealthyInstanceError, match=r"not in the network.*users"):
        run(net.call("client", "orders"))


@pytest.mark.parametrize(
    "build",
    [
        lambda: ChainService("a", processing_time=-1),
        lambda: ChainService("a", workers=0),
        lambda: Network(delay=-0.5),
    ],
)
def test_bad_configuration_is_refused(build: object) -> None:
    with pytest.raises(ConfigurationError):
        build()  # type: ignore[operator]


def test_a_service_outside_any_network_cannot_call_on() -> None:
    lonely = ChainService("a", then=[["b"]])
    with pytest.raises(ConfigurationError, match="belongs to no Network"):
        run(lonely.handle("client", None))


def test_every_hop_goes_through_the_registry_and_the_transport() -> None:
    async def main() -> tuple[int, tuple[str, ...], list[str]]:
        net = Network(delay=0.25)
        nested_chain(net, ["a", "b", "c"], [0.0, 0.0, 0.0])
        await net.call("client", "a")
        return (
            net.transport.stats.answered,
            await net.registry.list_services(),
            [f"{c.caller}->{c.callee}" for c in net.calls],
        )

    answered, registered, calls = run(main())
    assert answered == 3
    assert registered == ("a", "b", "c")
    assert calls == ["client->a", "a->b", "b->c"]


def test_each_hop_gets_what_is_left_of_its_callers_budget() -> None:
    async def main() -> list[float | None]:
        net = Network(delay=0.5)
        nested_chain(net, ["a", "b", "c"], [0.25, 0.5, 0.0])
        await net.call("client", "a", timeout=10.0)
        return [c.timeout for c in net.calls]

    # a is reached after 0.25 s and works 0.25 s; b after 0.25 s, works 0.5 s.
    assert run(main()) == [10.0, 9.5, 8.75]


def test_a_chain_past_its_deadline_times_out_and_stops_working() -> None:
    async def main() -> tuple[float, int, int]:
        loop = asyncio.get_running_loop()
        net = Network(delay=0.5)
        nested_chain(net, ["a", "b", "c"], [1.0, 1.0, 1.0])
        with pytest.raises(CallTimeoutError):
            await net.call("client", "a", timeout=2.0)
        ended, running = loop.time(), net.in_flight
        await asyncio.sleep(10)
        return ended, running, sum(len(s.visits) for s in net.services.values())

    # The caller stops at its deadline; nothing under it answers later.
    assert run(main()) == (2.0, 0, 0)


def test_a_deadline_already_passed_makes_no_call() -> None:
    async def main() -> int:
        net = Network()
        net.add(ChainService("a"))
        loop = asyncio.get_running_loop()
        with pytest.raises(CallTimeoutError, match="not made"):
            await net.call("client", "a", deadline=loop.time())
        return net.transport.stats.sent

    assert run(main()) == 0
