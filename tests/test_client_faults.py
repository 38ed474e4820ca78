"""Fault tests: the resilient client against real aiohttp instances on 127.0.0.1.

Each instance is an aiohttp server on port 0 whose behaviour a test switches
at will: answer, answer 500, hang past the client's timeout, reset the
connection, or answer slowly. Client and servers share the virtual-time loop,
so waiting out a hang or a recovery timeout costs no real time.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from impl.balancing import LeastConnectionsStrategy, RoundRobinStrategy
from impl.breaker import CircuitBreaker
from impl.client import ResilientMicroserviceClient
from impl.endpoints import ServiceEndpoint, ServiceInstance
from impl.errors import CallTimeoutError, CircuitOpenError, ConnectionFailed
from impl.registry import ServiceRegistry
from impl.resilience import (
    BulkheadPattern,
    FallbackPattern,
    RetryPolicy,
    TimeoutPattern,
)
from impl.transport import AiohttpTransport
from proofs.harness.vtime import run


@dataclass
class Instance:
    """A test instance server and the knobs that steer it."""

    instance_id: str
    mode: str = "ok"  # ok, error, hang, reset, slow
    slow_seconds: float = 0.5
    requests: int = 0
    inside: int = 0
    peak: int = 0
    runner: web.AppRunner | None = None
    port: int = 0
    seen: list[Any] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        self.inside += 1
        self.peak = max(self.peak, self.inside)
        try:
            body = await request.json()
            self.seen.append(body)
            if self.mode == "error":
                return web.Response(status=500, text=f"{self.instance_id} failing")
            if self.mode == "hang":
                await asyncio.sleep(3600)
            if self.mode == "reset":
                assert request.transport is not None
                request.transport.abort()
                await asyncio.sleep(0)
            if self.mode == "slow":
                await asyncio.sleep(self.slow_seconds)
            return web.json_response(
                {"by": self.instance_id, "method": request.match_info["method"], **body}
            )
        finally:
            self.inside -= 1

    @property
    def open_connections(self) -> int:
        assert self.runner is not None and self.runner.server is not None
        return len(self.runner.server.connections)

    def as_instance(self) -> ServiceInstance:
        return ServiceInstance(
            "users", self.instance_id, ServiceEndpoint("127.0.0.1", self.port)
        )


@asynccontextmanager
async def cluster(*ids: str) -> AsyncIterator[tuple[list[Instance], ServiceRegistry]]:
    """Servers for ``ids`` on 127.0.0.1, registered in a fresh registry."""
    registry = ServiceRegistry()
    instances = [Instance(i) for i in ids]
    async with AsyncExitStack() as stack:
        for inst in instances:
            app = web.Application()
            app.router.add_post("/{method}", inst.handle)
            inst.runner = web.AppRunner(
                app, shutdown_timeout=0.1, handler_cancellation=True
            )
            await inst.runner.setup()
            stack.push_async_callback(inst.runner.cleanup)
            site = web.TCPSite(inst.runner, "127.0.0.1", 0)
            await site.start()
            inst.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            await registry.register(inst.as_instance())
        yield instances, registry


def client_tasks() -> list[asyncio.Task[Any]]:
    """Tasks other than this one and the servers' connection handlers."""
    return [
        t
        for t in asyncio.all_tasks()
        if t is not asyncio.current_task()
        and t.get_coro().__qualname__ != "RequestHandler.start"  # type: ignore[union-attr]
    ]


def test_the_breaker_opens_on_500s_and_recovers_through_half_open() -> None:
    async def main() -> list[Any]:
        async with cluster("u1") as ([server], registry):
            breaker = CircuitBreaker(failure_threshold=3, recovery_timeout=30, name="u")
            client = ResilientMicroserviceClient(
                registry, RoundRobinStrategy(), breaker
            )
            server.mode = "error"
            outcomes = []
            for _ in range(5):
                try:
                    await client.call_service("users", "get", {"id": 1})
                except CircuitOpenError:
                    outcomes.append("rejected")
                except Exception as exc:
                    outcomes.append(type(exc).__name__)
            reached = server.requests
            await asyncio.sleep(30)
            server.mode = "ok"
            answer = await client.call_service("users", "get", {"id": 2})
            state = breaker.state.value
            await client.aclose()
            return [outcomes, reached, answer, state]

    outcomes, reached, answer, state = run(main())
    assert outcomes == ["RemoteError"] * 3 + ["rejected"] * 2
    assert reached == 3
    assert answer == {"by": "u1", "method": "get", "id": 2}
    assert state == "closed"


def test_a_hang_past_the_timeout_is_a_failure_the_breaker_counts() -> None:
    async def main() -> tuple[list[str], float, int, int]:
        loop = asyncio.get_running_loop()
        async with cluster("u1") as ([server], registry):
            server.mode = "hang"
            breaker = CircuitBreaker(failure_threshold=2, recovery_timeout=60)
            client = ResilientMicroserviceClient(
                registry, RoundRobinStrategy(), breaker, timeout=TimeoutPattern(2.0)
            )
            seen = []
            for _ in range(3):
                try:
                    await client.call_service("users", "get", {})
                except CallTimeoutError:
                    seen.append("timed out")
                except CircuitOpenError:
                    seen.append("rejected")
            elapsed = loop.time()
            await client.aclose()
            await asyncio.sleep(0.1)
            return seen, elapsed, server.requests, server.open_connections

    seen, elapsed, requests, connections = run(main())
    assert seen == ["timed out", "timed out", "rejected"]
    assert elapsed == 4.0 and requests == 2 and connections == 0


def test_a_reset_connection_is_retried_on_another_instance() -> None:
    async def main() -> tuple[Any, int, int]:
        async with cluster("u1", "u2") as (servers, registry):
            servers[0].mode = "reset"
            client = ResilientMicroserviceClient(
                registry,
                RoundRobinStrategy(),
                retry_policy=RetryPolicy(max_retries=2, base_delay=0.1, jitter=0),
            )
            answer = await client.call_service("users", "get", {"id": 5})
            await client.aclose()
            return answer, servers[0].requests, servers[1].requests

    assert run(main()) == ({"by": "u2", "method": "get", "id": 5}, 1, 1)


def test_a_reset_without_retry_is_connection_failed() -> None:
    async def main() -> None:
        async with cluster("u1") as ([server], registry):
            server.mode = "reset"
            client = ResilientMicroserviceClient(registry, RoundRobinStrategy())
            try:
                await client.call_service("users", "get", {})
            except ConnectionFailed:
                return
            finally:
                await client.aclose()
            raise AssertionError("the reset was not reported")

    run(main())


def test_the_bulkhead_limit_holds_against_a_slow_instance() -> None:
    async def main() -> tuple[int, list[str], int]:
        async with cluster("u1") as ([server], registry):
            server.mode = "slow"
            bulkhead = BulkheadPattern(2, max_wait_time=0.6)
            client = ResilientMicroserviceClient(
                registry,
                RoundRobinStrategy(),
                bulkhead=bulkhead,
                timeout=TimeoutPattern(2.0),
            )

            async def one() -> str:
                try:
                    await client.call_service("users", "get", {})
                    return "ok"
                except Exception as exc:
                    return type(exc).__name__

            results = await asyncio.gather(*(one() for _ in range(10)))
            await client.aclose()
            return server.peak, sorted(results), bulkhead.in_use

    peak, results, in_use = run(main())
    assert peak <= 2 and in_use == 0
    # Two at a time, 0.5 s each, waiters give up after 0.6 s: four get in.
    assert results.count("ok") == 4
    assert results.count("BulkheadFullError") == 6


def test_a_thousand_calls_with_random_cancellations_leave_nothing_behind() -> None:
    async def main() -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        rng = random.Random(1000)
        async with cluster("u1", "u2", "u3") as (servers, registry):
            servers[1].mode = "slow"
            servers[2].mode = "error"
            breaker = CircuitBreaker(failure_threshold=50, recovery_timeout=1)
            bulkhead = BulkheadPattern(8, max_wait_time=0.5)
            balancer = LeastConnectionsStrategy()
            transport = AiohttpTransport(limit=16)
            client = ResilientMicroserviceClient(
                registry,
                balancer,
                breaker,
                RetryPolicy(max_retries=1, base_delay=0.05, rng=rng),
                bulkhead,
                TimeoutPattern(1.0),
                FallbackPattern(lambda *a: "fallback"),
                transport=transport,
            )
            tasks = []
            for n in range(1000):
                tasks.append(
                    loop.create_task(client.call_service("users", "get", {"n": n}))
                )
                if rng.random() < 0.3:
                    # A recent call, cancelled at a random point of its life.
                    victim = tasks[-rng.randint(1, min(8, len(tasks)))]
                    loop.call_later(rng.random() * 0.05, victim.cancel)
                if n % 5 == 0:
                    await asyncio.sleep(0.02)
            results = await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.sleep(1.5)
            leftover = client_tasks()
            counters = breaker.counters
            report = {
                "cancelled": sum(
                    isinstance(r, asyncio.CancelledError) for r in results
                ),
                "answered": sum(isinstance(r, dict) for r in results),
                "fallback": sum(r == "fallback" for r in results),
                "other errors": [r for r in results if isinstance(r, Exception)],
                "leftover tasks": len(leftover),
                "permits in use": bulkhead.in_use,
                "permits free": bulkhead.available_capacity,
                "breaker in flight": breaker.in_flight,
                "admitted = ended": counters.admitted
                == counters.succeeded
                + counters.failed
                + counters.ignored
                + counters.cancelled,
                "balancer in flight": sum(
                    balancer.in_flight(s.as_instance()) for s in servers
                ),
            }
            await client.aclose()  # leaves the transport it was given open
            await transport.aclose()
            await asyncio.sleep(0.1)
            report["server connections"] = sum(s.open_connections for s in servers)
            report["tasks after closing"] = len(
                [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            )
            report["server requests"] = sum(s.requests for s in servers)
            return report

    report = run(main())
    assert report["cancelled"] > 50
    assert report["answered"] + report["fallback"] + report["cancelled"] == 1000
    assert report["other errors"] == []
    assert report["leftover tasks"] == 0
    assert report["permits in use"] == 0 and report["permits free"] == 8
    assert report["breaker in flight"] == 0
    assert report["admitted = ended"]
    assert report["balancer in flight"] == 0
    assert report["server connections"] == 0
    assert report["tasks after closing"] == 0
    assert report["answered"] > 100 and report["fallback"] > 100
    assert report["server requests"] > 200
