"""A faulty variant of the resilient client's failover across replicas."""

from __future__ import annotations

from typing import Any

from impl import client
from proofs.obligation import mutant


class _RetriesOneReplica(client.ResilientMicroserviceClient):
    """Chooses a replica once per call and sends every retry back to it."""

    _chosen: Any = None

    async def call_service(
        self, service_name: str, method: str, data: Any = None
    ) -> Any:
        self._chosen = None
        return await super().call_service(service_name, method, data)

    async def call_once(self, service_name: str, method: str, data: Any = None) -> Any:
        if self._chosen is None:
            instances = await self.registry.get_healthy_instances(service_name)
            self._chosen = await self.load_balancer.select_instance(instances)
        return await self.transport.post(self._chosen, method, data)


mutant(
    "retry-returns-to-the-same-replica",
    defect="The client picks a replica once per call and retries on that same "
    "replica, so retries never reach another one and redundancy buys nothing.",
    subject="impl.client",
    ResilientMicroserviceClient=_RetriesOneReplica,
)
