"""The in-memory registry: registration, removal, leases, health, snapshots.

Every test runs on the virtual-time loop, so leases of minutes expire at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from impl.endpoints import ServiceEndpoint, ServiceInstance
from impl.errors import RegistrationRefused
from impl.registry import MAX_TTL, RegistryEvent, ServiceRegistry
from proofs.harness import vtime

T = TypeVar("T")


def instance(
    service: str = "users", ident: str = "u1", port: int = 8001
) -> ServiceInstance:
    return ServiceInstance(service, ident, ServiceEndpoint("127.0.0.1", port))


def run(scenario: Callable[[ServiceRegistry], Awaitable[T]]) -> T:
    async def main() -> T:
        return await scenario(ServiceRegistry())

    return vtime.run(main())


def test_register_twice_returns_false_and_keeps_the_first() -> None:
    async def scenario(r: ServiceRegistry) -> None:
        first = instance(port=8001)
        assert await r.register(first)
        assert not await r.register(instance(port=9999))
        assert await r.get_instances("users") == (first,)
        assert r.revision == 1
        assert r.counters["register_refused"] == 1

    run(scenario)


def test_deregister_missing_returns_false_and_changes_nothing() -> None:
    async def scenario(r: ServiceRegistry) -> None:
        await r.register(instance())
        before = await r.get_instances("users")
        assert not await r.deregister("users", "nobody")
        assert not await r.deregister("nobody", "u1")
        assert await r.get_instances("users") is before
        assert r.revision == 1
        assert await r.deregister("users", "u1")
        assert await r.get_instances("users") == ()
        assert await r.list_services() == ()
        assert not await r.deregister("users", "u1")

    run(scenario)


def test_instances_come_in_registration_order_not_sorted() -> None:
    # The linearizability checks compare discovery answers as the
    # specification's sets; the order is the implementation's own promise.
    async def scenario(r: ServiceRegistry) -> None:
        for ident, port in (("u3", 8003), ("u1", 8001), ("u2", 8002)):
            await r.register(instance("users", ident, port))
        await r.deregister("users", "u1")
        await r.register(instance("users", "u1", 8001))
        await r.set_status("users", "u3", "unhealthy")
        ids = [i.instance_id for i in await r.get_instances("users")]
        assert ids == ["u3", "u2", "u1"]
        healthy = [i.instance_id for i in await r.get_healthy_instances("users")]
        assert healthy == ["u2", "u1"]

    run(scenario)


def test_snapshot_is_the_same_object_until_the_service_changes() -> None:
    async def scenario(r: ServiceRegistry) -> None:
        await r.register(instance("users", "u1"))
        await r.register(instance("orders", "o1"))
        first = await r.get_healthy_instances("users")
        assert await r.get_healthy_instances("users") is first
        await r.register(instance("orders", "o2"))  # another service
        await r.heartbeat("users", "u1")  # a renewal changes no answer
        assert await r.get_healthy_instances("users") is first
        await r.register(instance("users", "u2", 8002))
        second = await r.get_healthy_instances("users")
        assert second is not first
        assert [i.instance_id for i in second] == ["u1", "u2"]
        assert isinstance(second, tuple)

    run(scenario)


def test_health_marks_filter_healthy_snapshot_and_bump_revision() -> None:
    async def scenario(r: ServiceRegistry) -> None:
        await r.register(instance("users", "u1"))
        await r.register(instance("users", "u2", 8002))
        assert await r.set_status("users", "u1", "unhealthy")
        assert [i.instance_id for i in await r.get_healthy_instances("users")] == ["u2"]
        assert len(await r.get_instances("users")) == 2
        revision = r.revision
        assert await r.set_status("users", "u1", "unhealthy")  # no change
        assert r.revision == revision
        assert not await r.set_status("users", "nobody", "healthy")
        with pytest.raises(RegistrationRefused, match="status"):
            await r.set_status("users", "u1", "sick")

    run(scenario)


def test_lease_expires_at_its_deadline_and_heartbeats_renew_it() -> None:
    async def scenario(r: ServiceRegistry) -> list[str]:
        seen = []
        await r.register(instance("users", "u1"), ttl=10)
        await r.register(instance("users", "u2", 8002))  # no lease
        await asyncio.sleep(9)
        assert await r.heartbeat("users", "u1")
        lease = r.lease("users", "u1")
        assert lease is not None and lease.deadline == 19.0
        await asyncio.sleep(9.5)
        seen.append(",".join(i.instance_id for i in await r.get_instances("users")))
        await asyncio.sleep(0.5)  # now == deadline: gone
        seen.append(",".join(i.instance_id for i in await r.get_instances("users")))
        assert not await r.heartbeat("users", "u1")
        assert r.counters["expired"] == 1
        assert r.revision == 3
        assert await r.heartbeat("users", "u2")
        await asyncio.sleep(3600)
        seen.append(",".join(i.instance_id for i in await r.get_instances("users")))
        return seen

    assert run(scenario) == ["u1,u2", "u2", "u2"]


def test_expired_id_can_register_again() -> None:
    async def scenario(r: ServiceRegistry) -> None:
        await r.register(instance(), ttl=1)
        await asyncio.sleep(1)
        assert await r.register(instance(port=9000), ttl=1)
        assert (await r.get_instances("users"))[0].endpoint.port == 9000

    run(scenario)


@pytest.mark.parametrize("ttl", [0, -1, MAX_TTL + 1, float("nan"), float("inf"), True])
def test_invalid_ttl_is_refused_and_changes_nothing(ttl: float) -> None:
    async def scenario(r: ServiceRegistry) -> None:
        with pytest.raises(RegistrationRefused, match="ttl"):
            await r.register(instance(), ttl=ttl)
        assert await r.get_instances("users") == ()
        assert r.revision == 0

    run(scenario)


def test_register_refuses_what_is_not_an_instance() -> None:
    async def scenario(r: ServiceRegistry) -> None:
        with pytest.raises(RegistrationRefused, match="ServiceInstance"):
            await r.register({"service_name": "users"})  # type: ignore[arg-type]

    run(scenario)


def test_listeners_hear_every_change_and_a_failing_one_stops_nothing() -> None:
    events: list[RegistryEvent] = []

    def broken(event: RegistryEvent) -> None:
        raise RuntimeError("listener bug")

    async def scenario(r: ServiceRegistry) -> None:
        r.add_listener(broken)
        r.add_listener(events.append)
        await r.register(instance(), ttl=5)
        await r.set_status("users", "u1", "unhealthy")
        await asyncio.sleep(5)
        assert await r.get_instances("users") == ()
        r.remove_listener(broken)

    run(scenario)
    assert [(e.kind, e.revision) for e in events] == [
        ("registered", 1),
        ("status", 2),
        ("expired", 3),
    ]


def test_concurrent_registrations_of_one_id_exactly_one_wins() -> None:
    async def scenario(r: ServiceRegistry) -> list[bool]:
        results = await asyncio.gather(
            *(r.register(instance(port=8000 + k)) for k in range(20))
        )
        assert len(await r.get_instances("users")) == 1
        return list(results)

    assert sorted(run(scenario)) == [False] * 19 + [True]


def test_registries_are_independent() -> None:
    async def scenario(r: ServiceRegistry) -> None:
        other = ServiceRegistry()
        shared = instance()
        await r.register(shared)
        await other.register(shared)
        await other.set_status("users", "u1", "unhealthy")
        assert (await r.get_instances("users"))[0].healthy
        assert await r.deregister("users", "u1")
        assert len(await other.get_instances("users")) == 1
        assert shared.healthy

    run(scenario)
