"""Faulty variants that only show when calls overlap at an ``await``."""

from __future__ import annotations

import asyncio
from typing import Any

from impl import discovery, registry, registry_server
from impl.endpoints import ServiceInstance
from proofs.obligation import mutant


class _RegistryCheckingThenActing(registry.ServiceRegistry):
    """Checks that the id is free, awaits, then stores without looking again.

    The await stands for any step between the check and the store (a write to
    a journal, a call to a peer). Another registration of the same id can run
    in between; both then answer True, and the second silently replaces the
    first.
    """

    async def register(
        self, instance: ServiceInstance, ttl: float | None = None
    ) -> bool:
        current = await self.get_instances(instance.service_name)
        if any(i.instance_id == instance.instance_id for i in current):
            return False
        await asyncio.sleep(0)
        # Store unconditionally: whatever is there now is overwritten.
        await self.deregister(instance.service_name, instance.instance_id)
        return await super().register(instance, ttl)


mutant(
    "registry-check-then-act-across-await",
    defect="register checks that the id is free, awaits, and then stores the "
    "instance without checking again, so two concurrent registrations of one "
    "id both succeed.",
    subject="impl.registry",
    ServiceRegistry=_RegistryCheckingThenActing,
)


class _ServerOverRacyRegistry(registry_server.RegistryServer):
    """The registry service, backed by the check-then-act registry above."""

    def __init__(
        self, registry: registry.ServiceRegistry | None = None, **options: Any
    ) -> None:
        super().__init__(registry or _RegistryCheckingThenActing(), **options)


mutant(
    "registry-server-check-then-act-across-await",
    defect="The registry service stores a registration after an await that "
    "follows its check that the id is free, so two clients registering one "
    "id at once are both told they succeeded.",
    subject="impl.registry_server",
    RegistryServer=_ServerOverRacyRegistry,
)


class _DiscoveryIgnoringItsCache(discovery.ServiceDiscovery):
    """Asks the registry on every call, whatever ``cache_ttl`` says."""

    async def discover_service(
        self, service_name: str, *, healthy_only: bool = False
    ) -> tuple[ServiceInstance, ...]:
        self.invalidate(service_name)
        return await super().discover_service(service_name, healthy_only=healthy_only)


mutant(
    "discovery-cache-never-used",
    defect="The discovery client takes a cache TTL and never serves from its "
    "cache: every discovery is a request to the registry, so the TTL buys "
    "nothing (and the client is, as a side effect, linearizable).",
    subject="impl.discovery",
    ServiceDiscovery=_DiscoveryIgnoringItsCache,
)
