"""The discovery client against a real registry server, on virtual time.

The server and the client share one virtual-time loop, so cache TTLs of
half a minute pass instantly while every request still crosses a real
socket on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from impl.discovery import ServiceDiscovery
from impl.endpoints import ServiceEndpoint, ServiceInstance
from impl.errors import ConfigurationError, RegistrationRefused, RegistryUnavailable
from impl.registry_server import RegistryServer
from proofs.harness import vtime

Scenario = Callable[[RegistryServer, ServiceDiscovery], Awaitable[None]]


def instance(
    service: str = "users", ident: str = "u1", port: int = 8001
) -> ServiceInstance:
    return ServiceInstance(
        service, ident, ServiceEndpoint("127.0.0.1", port, metadata={"w": [1, 2]})
    )


def with_client(scenario: Scenario, **options: float) -> None:
    async def main() -> None:
        async with RegistryServer() as server:
            client = ServiceDiscovery(server.url, **options)  # type: ignore[arg-type]
            try:
                await scenario(server, client)
            finally:
                await client.close()

    vtime.run(main())


def test_discovered_instances_have_real_endpoints() -> None:
    async def scenario(server: RegistryServer, client: ServiceDiscovery) -> None:
        await server.registry.register(instance())
        [got] = await client.discover_service("users")
        assert isinstance(got, ServiceInstance)
        assert isinstance(got.endpoint, ServiceEndpoint)
        assert got == instance()
        assert got.endpoint.health_url == "http://127.0.0.1:8001/health"
        assert await client.get_all_services() == ("users",)
        assert await client.discover_service("nobody") == ()

    with_client(scenario)


def test_cache_is_per_service_and_expires_after_its_ttl() -> None:
    async def scenario(server: RegistryServer, client: ServiceDiscovery) -> None:
        registry = server.registry
        await registry.register(instance("users", "u1"))
        await registry.register(instance("orders", "o1"))
        assert len(await client.discover_service("users")) == 1  # t = 0
        await registry.register(instance("users", "u2", 8002))
        await asyncio.sleep(20)
        assert len(await client.discover_service("orders")) == 1  # t = 20
        assert len(await client.discover_service("users")) == 1  # cached, 20 s old
        await asyncio.sleep(10)
        # t = 30: the users entry is 30 s old and must be fetched again, even
        # though orders was fetched 10 s ago (a shared stamp would say fresh).
        assert len(await client.discover_service("users")) == 2
        assert client.counters["fetches"] == 3

    with_client(scenario, cache_ttl=30)


def test_healthy_only_is_cached_apart_from_all() -> None:
    async def scenario(server: RegistryServer, client: ServiceDiscovery) -> None:
        await server.registry.register(instance("users", "u1"))
        await server.registry.register(instance("users", "u2", 8002))
        await server.registry.set_status("users", "u1", "unhealthy")
        assert len(await client.discover_service("users")) == 2
        healthy = await client.discover_service("users", healthy_only=True)
        assert [i.instance_id for i in healthy] == ["u2"]

    with_client(scenario)


def test_own_writes_are_read_back_at_once() -> None:
    async def scenario(server: RegistryServer, client: ServiceDiscovery) -> None:
        assert await client.discover_service("users") == ()
        assert await client.register(instance(), ttl=10)
        assert not await client.register(instance(port=9000))
        assert [i.instance_id for i in await client.discover_service("users")] == ["u1"]
        assert await client.heartbeat("users", "u1")
        assert await client.set_status("users", "u1", "unhealthy")
        assert await client.discover_service("users", healthy_only=True) == ()
        assert await client.deregister("users", "u1")
        assert not await client.deregister("users", "u1")
        assert not await client.heartbeat("users", "u1")
        assert await client.discover_service("users") == ()
        assert client.last_revision == 3

    with_client(scenario)


def test_refusals_raise_with_the_field() -> None:
    async def scenario(server: RegistryServer, client: ServiceDiscovery) -> None:
        with pytest.raises(RegistrationRefused, match="ttl") as caught:
            await client.register(instance(), ttl=-5)
        assert caught.value.field == "ttl"
        assert caught.value.status == 400
        with pytest.raises(RegistrationRefused, match="status"):
            await client.set_status("users", "u1", "sick")
        assert await server.registry.get_instances("users") == ()

    with_client(scenario)


def test_unreachable_registry_raises_once_the_cache_is_too_old() -> None:
    async def scenario(server: RegistryServer, client: ServiceDiscovery) -> None:
        await server.registry.register(instance())
        assert len(await client.discover_service("users")) == 1
        await server.stop()
        await asyncio.sleep(29)
        assert len(await client.discover_service("users")) == 1  # fresh, no request
        await asyncio.sleep(1)
        with pytest.raises(RegistryUnavailable, match="could not be reached"):
            await client.discover_service("users")
        with pytest.raises(RegistryUnavailable):
            await client.get_all_services()

    with_client(scenario, cache_ttl=30)


def test_stale_if_error_serves_the_cache_up_to_its_bound_then_raises() -> None:
    async def scenario(server: RegistryServer, client: ServiceDiscovery) -> None:
        await server.registry.register(instance())
        assert len(await client.discover_service("users")) == 1
        await server.stop()
        await asyncio.sleep(35)
        assert len(await client.discover_service("users")) == 1  # stale, served
        assert client.counters["stale_served"] == 1
        await asyncio.sleep(5)
        with pytest.raises(RegistryUnavailable):
            await client.discover_service("users")  # 40 s old: past the bound

    with_client(scenario, cache_ttl=30, stale_if_error=10)


def test_slow_registry_times_out_as_unavailable() -> None:
    async def main() -> None:
        async def accept(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter
        ) -> None:
            await asyncio.sleep(3600)  # never answers
            writer.close()

        silent = await asyncio.start_server(accept, "127.0.0.1", 0)
        port = silent.sockets[0].getsockname()[1]
        async with ServiceDiscovery(
            f"http://127.0.0.1:{port}", request_timeout=2
        ) as client:
            start = asyncio.get_running_loop().time()
            with pytest.raises(RegistryUnavailable, match="TimeoutError"):
                await client.discover_service("users")
            assert asyncio.get_running_loop().time() - start == pytest.approx(2)
        silent.close()

    vtime.run(main())


@pytest.mark.parametrize(
    ("url", "options"),
    [
        ("ftp://127.0.0.1", {}),
        ("127.0.0.1:8500", {}),
        ("http://127.0.0.1:8500", {"cache_ttl": -1}),
        ("http://127.0.0.1:8500", {"request_timeout": 0}),
        ("http://127.0.0.1:8500", {"stale_if_error": float("nan")}),
    ],
)
def test_bad_client_configuration_is_refused(
    url: str, options: dict[str, float]
) -> None:
    with pytest.raises(ConfigurationError):
        ServiceDiscovery(url, **options)  # type: ignore[arg-type]
