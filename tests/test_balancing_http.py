"""Least connections over real HTTP calls: the counts are the calls under way.

Three aiohttp servers on 127.0.0.1 hold every request until the test opens a
gate, and count the requests they are holding. The balancer must see exactly
the calls the servers see, spread them, and give each back once however the
call ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest
from aiohttp import web

from impl.balancing import AdaptiveLoadBalancer, LeastConnectionsStrategy
from impl.endpoints import ServiceEndpoint, ServiceInstance


class Held:
    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.holding = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.holding += 1
        try:
            await self.gate.wait()
        finally:
            self.holding -= 1
        return web.json_response({"ok": True})


@asynccontextmanager
async def servers(count: int) -> AsyncIterator[list[tuple[ServiceInstance, Held]]]:
    runners, out = [], []
    for i in range(count):
        held = Held()
        app = web.Application()
        app.router.add_post("/work", held.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        instance = ServiceInstance("work", f"w{i}", ServiceEndpoint("127.0.0.1", port))
        runners.append(runner)
        out.append((instance, held))
    try:
        yield out
    finally:
        for runner in runners:
            await runner.cleanup()


async def settle(condition: object, *, tries: int = 500) -> None:
    for _ in range(tries):
        if callable(condition) and condition():
            return
        await asyncio.sleep(0.002)
    raise AssertionError("condition never held")


def test_least_connections_counts_and_spreads_real_calls() -> None:
    async def main() -> None:
        balancer = LeastConnectionsStrategy()
        async with servers(3) as pool, aiohttp.ClientSession() as http:
            snapshot = tuple(i for i, _ in pool)

            async def call() -> None:
                instance = await balancer.select_instance(snapshot)
                assert instance is not None
                async with (
                    balancer.track(instance),
                    http.post(instance.endpoint.base_url + "/work") as reply,
                ):
                    reply.raise_for_status()

            calls = [asyncio.create_task(call()) for _ in range(6)]
            await settle(lambda: sum(h.holding for _, h in pool) == 6)
            for instance, held in pool:
                assert held.holding == 2
                assert balancer.in_flight(instance) == 2

            stuck = asyncio.create_task(call())
            await settle(lambda: sum(h.holding for _, h in pool) == 7)
            stuck.cancel()
            with pytest.raises(asyncio.CancelledError):
                await stuck
            assert sum(balancer.in_flight(i) for i, _ in pool) == 6

            for _, held in pool:
                held.gate.set()
            await asyncio.gather(*calls)
            assert [balancer.in_flight(i) for i, _ in pool] == [0, 0, 0]

    asyncio.run(main())


def test_adaptive_learns_from_failed_real_calls() -> None:
    async def main() -> None:
        balancer = AdaptiveLoadBalancer(window_size=4)
        async with servers(2) as pool, aiohttp.ClientSession() as http:
            for _, held in pool:
                held.gate.set()
            snapshot = tuple(i for i, _ in pool)
            bad = snapshot[0]
            for _ in range(4):
                with pytest.raises(aiohttp.ClientResponseError):
                    async with (
                        balancer.track(bad),
                        http.post(bad.endpoint.base_url + "/missing") as reply,
                    ):
                        reply.raise_for_status()
            picks = [await balancer.select_instance(snapshot) for _ in range(3)]
            assert [p.instance_id for p in picks if p] == ["w1", "w1", "w1"]

    asyncio.run(main())
