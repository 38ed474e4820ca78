"""The health checker against real instance servers on 127.0.0.1.

Each instance is a small aiohttp server whose ``/health`` answers what the
test says; everything runs on the virtual-time loop, so probe timeouts and
check intervals pass at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from aiohttp import web

from impl.endpoints import ServiceEndpoint, ServiceInstance
from impl.errors import ConfigurationError
from impl.health import HealthChecker, stays_on_instance
from impl.registry import ServiceRegistry
from proofs.harness import vtime

Behaviour = Callable[[web.Request], Awaitable[web.StreamResponse]]


@asynccontextmanager
async def server(behaviour: Behaviour) -> AsyncIterator[int]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", behaviour)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield int(runner.addresses[0][1])
    finally:
        await runner.cleanup()


def scripted(answers: list[int]) -> Behaviour:
    """Answer the listed statuses in turn, then 200 forever."""
    queue = list(answers)

    async def answer(request: web.Request) -> web.Response:
        return web.Response(status=queue.pop(0) if queue else 200)

    return answer


async def instance_on(registry: ServiceRegistry, port: int, ident: str = "i1") -> None:
    await registry.register(
        ServiceInstance("svc", ident, ServiceEndpoint("127.0.0.1", port))
    )


async def status(registry: ServiceRegistry, ident: str = "i1") -> str:
    [found] = [i for i in await registry.get_instances("svc") if i.instance_id == ident]
    return found.status


def test_flap_damping_needs_n_failures_then_m_successes() -> None:
    async def main() -> list[str]:
        seen = []
        registry = ServiceRegistry()
        async with server(scripted([500, 200, 500, 500, 500, 200, 500, 200])) as port:
            await instance_on(registry, port)
            checker = HealthChecker(failure_threshold=2, success_threshold=2)
            for _ in range(9):
                await checker.check_once(registry)
                seen.append(await status(registry))
            await checker.stop_health_check()
        return seen

    # 500 (1 of 2), 200 resets, 500, 500 -> unhealthy, 500, 200 (1 of 2),
    # 500 resets, 200, 200 -> healthy.
    assert vtime.run(main()) == [
        "healthy",
        "healthy",
        "healthy",
        "unhealthy",
        "unhealthy",
        "unhealthy",
        "unhealthy",
        "unhealthy",
        "healthy",
    ]


def test_probe_times_out_in_virtual_time() -> None:
    async def hang(request: web.Request) -> web.Response:
        await asyncio.sleep(3600)
        return web.Response()

    async def main() -> tuple[bool, float]:
        registry = ServiceRegistry()
        async with server(hang) as port:
            await instance_on(registry, port)
            checker = HealthChecker(timeout=1.5, failure_threshold=1)
            loop = asyncio.get_running_loop()
            started = loop.time()
            results = await checker.check_once(registry)
            took = loop.time() - started
            await checker.stop_health_check()
            assert await status(registry) == "unhealthy"
            return results[("svc", "i1")], took

    passed, took = vtime.run(main())
    assert not passed
    assert took == pytest.approx(1.5)


def test_redirect_to_another_host_is_a_failure_and_not_followed() -> None:
    hits = []

    async def elsewhere(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(text="fine")

    async def main() -> bool:
        registry = ServiceRegistry()
        async with server(elsewhere) as other:

            async def redirect(request: web.Request) -> web.Response:
                raise web.HTTPFound(f"http://127.0.0.1:{other}/health")

            async with server(redirect) as port:
                await instance_on(registry, port)
                checker = HealthChecker(failure_threshold=1)
                results = await checker.check_once(registry)
                await checker.stop_health_check()
                return results[("svc", "i1")]

    assert vtime.run(main()) is False
    assert hits == []


def test_probe_refuses_a_url_that_leaves_the_instance() -> None:
    endpoint = ServiceEndpoint("127.0.0.1", 8001, health_check_url="/status")
    instance = ServiceInstance("svc", "i1", endpoint)
    assert stays_on_instance(instance, endpoint.health_url)
    assert not stays_on_instance(instance, "http://127.0.0.1:9/health")
    assert not stays_on_instance(instance, "http://10.0.0.1:8001/health")
    assert not stays_on_instance(instance, "https://127.0.0.1:8001/health")
    with pytest.raises(ConfigurationError, match="health_check_url"):
        ServiceEndpoint("127.0.0.1", 8001, health_check_url="http://10.0.0.1/x")


def test_connection_refused_is_a_failed_probe() -> None:
    async def main() -> bool:
        async with server(scripted([])) as port:
            pass  # the server is gone: nothing listens on the port now
        registry = ServiceRegistry()
        await instance_on(registry, port)
        checker = HealthChecker(failure_threshold=1)
        results = await checker.check_once(registry)
        await checker.stop_health_check()
        return results[("svc", "i1")]

    assert vtime.run(main()) is False


def test_start_and_stop_leave_no_task_behind() -> None:
    async def main() -> tuple[int, list[str]]:
        registry = ServiceRegistry()
        async with server(scripted([500] * 100)) as port:
            await instance_on(registry, port)
            checker = HealthChecker(check_interval=10, failure_threshold=3)
            before = asyncio.all_tasks()
            await checker.start_health_check(registry)
            assert checker.running
            with pytest.raises(ConfigurationError, match="already running"):
                await checker.start_health_check(registry)
            await asyncio.sleep(25)  # rounds at t = 0, 10 and 20
            rounds = checker.counters["rounds"]
            assert await status(registry) == "unhealthy"
            await checker.stop_health_check()
            assert not checker.running
            # The instance server may still be closing its side of the probe
            # connection; nothing else may be left.
            left = [t.get_coro().__qualname__ for t in asyncio.all_tasks() - before]
            await checker.stop_health_check()  # stopping twice is harmless
            return rounds, [
                name for name in left if not name.startswith("RequestHandler.")
            ]

    rounds, leftover = vtime.run(main())
    assert rounds == 3
    assert leftover == []


def test_running_on_context_manager_stops_the_checker() -> None:
    async def main() -> int:
        registry = ServiceRegistry()
        async with server(scripted([])) as port:
            await instance_on(registry, port)
            checker = HealthChecker(check_interval=5)
            async with checker.running_on(registry):
                await asyncio.sleep(12)
            return checker.counters["rounds"]

    assert vtime.run(main()) == 3


def test_instances_that_leave_are_forgotten() -> None:
    async def main() -> int:
        registry = ServiceRegistry()
        async with server(scripted([500])) as port:
            await instance_on(registry, port, "i1")
            checker = HealthChecker(failure_threshold=2)
            await checker.check_once(registry)
            await registry.deregister("svc", "i1")
            await checker.check_once(registry)
            await checker.stop_health_check()
            return len(checker._streaks)

    assert vtime.run(main()) == 0


@pytest.mark.parametrize(
    "options",
    [
        {"check_interval": 0},
        {"timeout": -1},
        {"timeout": float("inf")},
        {"failure_threshold": 0},
        {"success_threshold": 1.5},
        {"max_concurrent_probes": True},
    ],
)
def test_bad_configuration_is_refused(options: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError):
        HealthChecker(**options)  # type: ignore[arg-type]
