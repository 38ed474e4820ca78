"""The service registry: which instances of which services are running, and where.

A :class:`ServiceRegistry` lives in one event loop and keeps, per service, the
registered :class:`~impl.endpoints.ServiceInstance` values in registration
order. Three design choices set it apart from the theory's code sketch.

*Snapshots.* Discovery answers with a tuple that the registry builds once per
change of the service's instance set and hands out unchanged until the next
change. A read therefore costs the same whether a service has ten instances or
ten thousand, and a reader can tell in O(1) that nothing changed since its
last read: it is handed the very same object (``snapshot is last_snapshot``).
The sketch copies and filters the whole list on every call. Instances are
immutable values, so a snapshot cannot change under its reader; a health
change stores a new instance value and starts a new snapshot.

*Leases.* An instance may be registered with a time to live. Each heartbeat
moves its deadline to ``now + ttl``; at the deadline the instance is removed,
exactly as if it had been deregistered, and is never discovered again until it
registers anew. Deadlines sit in a heap, and every operation first removes the
instances whose deadline has come, so expiry costs O(log n) per lease and
nothing on a read when no lease is due. Time is the running loop's clock
(``loop.time()``); the virtual-time loop of the test harness can therefore
run an hour of leases in microseconds. An instance is live while
``now < deadline``: at the deadline itself it is gone.

*Revision.* A counter that grows by one with each change of what discovery
can return: a registration, a removal (deregistration or expiry, one per
instance) and a change of an instance's status. A lease renewal changes no
answer and leaves the revision alone, so a cache can compare revisions
without being disturbed by heartbeats. (etcd keeps its revision out of lease
keep-alives for the same reason.)

Operations are ``async`` for the sketch's call shape, but none of them awaits:
each runs to completion in one step of the event loop, so the registry is
linearizable without the sketch's lock: every operation takes effect at one
instant between its call and its return.

>>> import asyncio
>>> from impl.endpoints import ServiceEndpoint, ServiceInstance
>>> async def demo() -> tuple[bool, bool, int, bool]:
...     registry = ServiceRegistry()
...     first = ServiceInstance("users", "u1", ServiceEndpoint("127.0.0.1", 8001))
...     added = await registry.register(first)
...     again = await registry.register(first)
...     snapshot = await registry.get_healthy_instances("users")
...     same = snapshot is await registry.get_healthy_instances("users")
...     return added, again, registry.revision, same
>>> asyncio.run(demo())
(True, False, 1, True)
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

from impl.endpoints import STATUSES, ServiceInstance
from impl.errors import ConfigurationError, RegistrationRefused

logger = logging.getLogger("impl")

#: Longest lease a registration may ask for, in seconds (one day).
MAX_TTL = 86_400.0

#: The snapshot of a service nobody registered: one shared empty tuple.
EMPTY: tuple[ServiceInstance, ...] = ()


def check_ttl(value: object) -> float | None:
    """A lease length: ``None`` (no lease) or a number of seconds in (0, MAX_TTL]."""
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 < value <= MAX_TTL
    ):
        raise RegistrationRefused(
            f"ttl: must be a number of seconds in (0, {MAX_TTL:g}] or null for "
            f"no lease, got {value!r}",
            field="ttl",
        )
    return float(value)


@dataclass(frozen=True)
class Lease:
    """An instance's time to live and the loop time at which it runs out."""

    ttl: float
    deadline: float


@dataclass(frozen=True)
class RegistryEvent:
    """A change, reported to listeners after it happened.

    ``kind`` is ``"registered"``, ``"deregistered"``, ``"expired"`` or
    ``"status"``; ``instance`` is the value after the change (the removed
    value for removals); ``revision`` is the registry's revision after it.
    """

    kind: str
    instance: ServiceInstance
    revision: int


Listener = Callable[[RegistryEvent], None]


class _Service:
    """One service's instances and its two cached snapshots."""

    __slots__ = ("healthy", "instances", "snapshot")

    def __init__(self) -> None:
        self.instances: dict[str, ServiceInstance] = {}
        self.snapshot: tuple[ServiceInstance, ...] | None = None
        self.healthy: tuple[ServiceInstance, ...] | None = None

    def changed(self) -> None:
        self.snapshot = None
        self.healthy = None

    def all(self) -> tuple[ServiceInstance, ...]:
        if self.snapshot is None:
            self.snapshot = tuple(self.instances.values())
        return self.snapshot

    def healthy_only(self) -> tuple[ServiceInstance, ...]:
        if self.healthy is None:
            everyone = self.all()
            healthy = tuple(i for i in everyone if i.healthy)
            # When everyone is healthy the two snapshots are one object.
            self.healthy = everyone if len(healthy) == len(everyone) else healthy
        return self.healthy


class ServiceRegistry:
    """An in-memory registry of service instances, with optional leases.

    Every method must be called from inside a running event loop, whose clock
    drives the leases. Counters of what happened are in :attr:`counters`;
    listeners added with :meth:`add_listener` hear of every change.
    """

    def __init__(self) -> None:
        self._services: dict[str, _Service] = {}
        self._leases: dict[tuple[str, str], tuple[Lease, int]] = {}
        self._due: list[tuple[float, int, str, str]] = []
        self._tickets = itertools.count()
        self._revision = 0
        self._listeners: list[Listener] = []
        #: How many of each operation took effect, and how many were refused.
        self.counters: dict[str, int] = dict.fromkeys(
            (
                "registered",
                "register_refused",
                "deregistered",
                "expired",
                "status_changes",
                "heartbeats",
            ),
            0,
        )

    # Changes --------------------------------------------------------------

    async def register(
        self, instance: ServiceInstance, ttl: float | None = None
    ) -> bool:
        """Add ``instance``; False, changing nothing, if its id is taken.

        With ``ttl`` the instance holds a lease of that many seconds, renewed
        by :meth:`heartbeat`. An invalid ``ttl`` or a value that is not a
        :class:`ServiceInstance` raises :class:`RegistrationRefused`.
        """
        if not isinstance(instance, ServiceInstance):
            raise RegistrationRefused(
                f"instance: must be a ServiceInstance, got {type(instance).__name__}",
                field="instance",
            )
        lease_ttl = check_ttl(ttl)
        now = self._now()
        self._expire(now)

        service = self._services.get(instance.service_name)
        if service is not None and instance.instance_id in service.instances:
            self.counters["register_refused"] += 1
            return False

        if service is None:
            service = self._services[instance.service_name] = _Service()
        service.instances[instance.instance_id] = instance
        service.changed()
        if lease_ttl is not None:
            self._grant(instance.key, lease_ttl, now)
        self._record("registered", instance)
        return True

    async def deregister(self, service_name: str, instance_id: str) -> bool:
        """Remove an instance; False if it is not registered."""
        self._expire(self._now())
        removed = self._remove(service_name, instance_id)
        if removed is None:
            return False
        self._record("deregistered", removed)
        return True

    async def heartbeat(self, service_name: str, instance_id: str) -> bool:
        """Renew the instance's lease; False if it is not registered.

        An instance registered without a lease has nothing to renew; its
        heartbeat still answers True, since the instance is there.
        """
        now = self._now()
        self._expire(now)
        service = self._services.get(service_name)
        if service is None or instance_id not in service.instances:
            return False
        held = self._leases.get((service_name, instance_id))
        if held is not None:
            self._grant((service_name, instance_id), held[0].ttl, now)
        self.counters["heartbeats"] += 1
        return True

    async def set_status(
        self, service_name: str, instance_id: str, status: str
    ) -> bool:
        """Mark an instance ``"healthy"`` or ``"unhealthy"``; False if absent."""
        if status not in STATUSES:
            raise RegistrationRefused(
                f"status: must be one of {', '.join(STATUSES)}, got {status!r}",
                field="status",
            )
        self._expire(self._now())
        service = self._services.get(service_name)
        current = None if service is None else service.instances.get(instance_id)
        if service is None or current is None:
            return False
        if current.status != status:
            updated = current.with_status(status)
            service.instances[instance_id] = updated
            service.changed()
            self._record("status", updated)
        return True

    # Reads ----------------------------------------------------------------

    async def get_instances(self, service_name: str) -> tuple[ServiceInstance, ...]:
        """Every live instance of the service, in registration order.

        The answer is a snapshot: the same tuple object is returned until the
        service's instances change (a registration, a removal or a status
        change within this service).
        """
        self._expire(self._now())
        service = self._services.get(service_name)
        return EMPTY if service is None else service.all()

    async def get_healthy_instances(
        self, service_name: str
    ) -> tuple[ServiceInstance, ...]:
        """The live instances marked healthy, as a snapshot (see above)."""
        self._expire(self._now())
        service = self._services.get(service_name)
        return EMPTY if service is None else service.healthy_only()

    async def list_services(self) -> tuple[str, ...]:
        """Names of the services with at least one live instance, sorted."""
        self._expire(self._now())
        return tuple(sorted(self._services))

    def lease(self, service_name: str, instance_id: str) -> Lease | None:
        """The instance's current lease, or None (no lease, or not registered)."""
        self._expire(self._now())
        held = self._leases.get((service_name, instance_id))
        return None if held is None else held[0]

    @property
    def revision(self) -> int:
        """How many changes of the discoverable state have happened so far."""
        self._expire(self._now())
        return self._revision

    # Listeners ------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(event)`` after every change."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        try:
            self._listeners.remove(listener)
        except ValueError:
            raise ConfigurationError(
                f"remove_listener: {listener!r} was never added to this registry"
            ) from None

    # Internals ------------------------------------------------------------

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    def _grant(self, key: tuple[str, str], ttl: float, now: float) -> None:
        ticket = next(self._tickets)
        lease = Lease(ttl, now + ttl)
        self._leases[key] = (lease, ticket)
        heapq.heappush(self._due, (lease.deadline, ticket, *key))

    def _expire(self, now: float) -> None:
        due = self._due
        while due and due[0][0] <= now:
            _, ticket, service_name, instance_id = heapq.heappop(due)
            held = self._leases.get((service_name, instance_id))
            if held is None or held[1] != ticket:
                continue  # renewed or removed since this entry was pushed
            removed = self._remove(service_name, instance_id)
            if removed is not None:
                self._record("expired", removed)

    def _remove(self, service_name: str, instance_id: str) -> ServiceInstance | None:
        service = self._services.get(service_name)
        if service is None:
            return None
        removed = service.instances.pop(instance_id, None)
        if removed is None:
            return None
        if service.instances:
            service.changed()
        else:
            del self._services[service_name]
        self._leases.pop((service_name, instance_id), None)
        return removed

    def _record(self, kind: str, instance: ServiceInstance) -> None:
        self._revision += 1
        self.counters["status_changes" if kind == "status" else kind] += 1
        event = RegistryEvent(kind, instance, self._revision)
        logger.debug(
            "registry %s %s/%s at revision %d",
            kind,
            instance.service_name,
            instance.instance_id,
            self._revision,
        )
        for listener in tuple(self._listeners):
            try:
                listener(event)
            except Exception:
                # The change has happened; a failing listener has no caller
                # to report to, and must not stop the others hearing of it.
                logger.exception("registry listener %r failed on %s", listener, kind)


__all__ = [
    "EMPTY",
    "MAX_TTL",
    "Lease",
    "Listener",
    "RegistryEvent",
    "ServiceRegistry",
    "check_ttl",
]
