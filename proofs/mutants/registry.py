"""Faulty variants of the registry: specification, in-memory implementation,
HTTP client, health checker and instances.

Several are the theory's own sketch: the register that overwrites, the cache
with one time stamp for every service, discovery that leaves endpoints as
plain dictionaries, the health probe that follows a URL to another host. The
others are mistakes the checks must be able to see: off-by-one lease
deadlines, a heartbeat that revives an expired instance, a snapshot copied on
every read, state shared between registries or with the caller.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

import aiohttp

from impl import discovery as impl_discovery
from impl import endpoints as impl_endpoints
from impl import health as impl_health
from impl import registry as impl_registry
from proofs.obligation import mutant
from spec import registry as spec

# The specification ---------------------------------------------------------------

SPEC = "spec.registry"

Handler = Callable[[spec.Registry, Any], tuple[Any, spec.Registry]]


def _stepper(
    *,
    expire: Callable[[spec.Registry, Any], spec.Registry] = spec.expire,
    register: Handler = spec.register,
    heartbeat: Handler = spec.heartbeat,
    discover: Callable[[spec.Registry, spec.Discover], frozenset[spec.Instance]] = (
        spec.discover
    ),
    expire_before: Callable[[Any], bool] = lambda op: True,
) -> dict[str, Any]:
    """A step function (and ``run``) built from the given pieces."""

    def step(state: spec.Registry, op: Any) -> tuple[Any, spec.Registry]:
        current = expire(state, op.at) if expire_before(op) else state
        if isinstance(op, spec.Register):
            return register(current, op)
        if isinstance(op, spec.Heartbeat):
            return heartbeat(current, op)
        if isinstance(op, spec.Discover):
            return discover(current, op), current
        if isinstance(op, spec.ListServices):
            live = {e.instance.service for e in current.entries if e.live(op.at)}
            return tuple(sorted(live)), current
        return spec.step(current, op)

    def run(
        ops: list[Any], state: spec.Registry = spec.EMPTY
    ) -> tuple[list[Any], spec.Registry]:
        outputs = []
        for op in ops:
            output, state = step(state, op)
            outputs.append(output)
        return outputs, state

    return {"step": step, "run": run, "expire": expire, "discover": discover}


def _register_overwriting(
    state: spec.Registry, op: spec.Register
) -> tuple[bool, spec.Registry]:
    kept = spec.Registry(
        tuple(e for e in state.entries if e.instance.key != op.instance.key),
        state.revision,
    )
    return spec.register(kept, op)


mutant(
    "spec-register-overwrites",
    defect="Registering an id that is already live replaces the entry and "
    "answers True, as the sketch's register would if it skipped its check.",
    subject=SPEC,
    register=_register_overwriting,
    **_stepper(register=_register_overwriting),
)


def _expire_after_deadline(state: spec.Registry, at: Any) -> spec.Registry:
    kept = tuple(e for e in state.entries if e.deadline is None or at <= e.deadline)
    removed = len(state.entries) - len(kept)
    return spec.Registry(kept, state.revision + removed) if removed else state


def _discover_at_deadline(
    state: spec.Registry, op: spec.Discover
) -> frozenset[spec.Instance]:
    return frozenset(
        e.instance
        for e in state.entries
        if e.instance.service == op.service
        and (e.deadline is None or op.at <= e.deadline)
        and (e.healthy or not op.healthy_only)
    )


mutant(
    "spec-lease-alive-at-deadline",
    defect="A lease is taken to hold at its deadline (now <= deadline), so an "
    "instance is discovered for one instant after its ttl has passed.",
    subject=SPEC,
    **_stepper(expire=_expire_after_deadline, discover=_discover_at_deadline),
)

mutant(
    "spec-heartbeat-revives-expired",
    defect="Heartbeats skip the expiry that precedes every operation, so a "
    "heartbeat that arrives after the deadline brings the instance back.",
    subject=SPEC,
    **_stepper(expire_before=lambda op: not isinstance(op, spec.Heartbeat)),
)


def _discover_ignoring_health(
    state: spec.Registry, op: spec.Discover
) -> frozenset[spec.Instance]:
    return spec.discover(state, replace(op, healthy_only=False))


mutant(
    "spec-health-filter-ignored",
    defect="Discovery with the health filter returns unhealthy instances too.",
    subject=SPEC,
    **_stepper(discover=_discover_ignoring_health),
)


def _heartbeat_counting(
    state: spec.Registry, op: spec.Heartbeat
) -> tuple[bool, spec.Registry]:
    ok, after = spec.heartbeat(state, op)
    return ok, replace(after, revision=after.revision + 1) if ok else after


mutant(
    "spec-revision-counts-renewals",
    defect="Every heartbeat raises the revision, although it changes no answer.",
    subject=SPEC,
    **_stepper(heartbeat=_heartbeat_counting),
)


def _shared_stamp_as_cache(ttl: Any) -> spec.SharedStampCache:
    return spec.SharedStampCache(ttl)


mutant(
    "spec-cache-shares-one-stamp",
    defect="The per-service cache is the sketch's: one time stamp for all services.",
    subject=SPEC,
    Cache=_shared_stamp_as_cache,
    cached_discover=spec.cached_discover_shared_stamp,
)

mutant(
    "spec-sketch-cache-rendered-correctly",
    defect="The sketch's shared-stamp cache is rendered with one stamp per "
    "service, so the suite would miss the sketch's flaw.",
    subject=SPEC,
    SharedStampCache=spec.Cache,
    cached_discover_shared_stamp=spec.cached_discover,
)


# The in-memory registry ----------------------------------------------------------

IMPL = "impl.registry"


class _OverwritingRegistry(impl_registry.ServiceRegistry):
    async def register(
        self, instance: impl_endpoints.ServiceInstance, ttl: float | None = None
    ) -> bool:
        await self.deregister(instance.service_name, instance.instance_id)
        return await super().register(instance, ttl)


mutant(
    "register-overwrites-existing",
    defect="Register replaces an instance already registered under the same "
    "id and answers True, instead of answering False and changing nothing.",
    subject=IMPL,
    ServiceRegistry=_OverwritingRegistry,
)


class _CopyingRegistry(impl_registry.ServiceRegistry):
    """The sketch's discovery: a fresh filtered copy on every call."""

    async def get_instances(
        self, service_name: str
    ) -> tuple[impl_endpoints.ServiceInstance, ...]:
        return tuple(list(await super().get_instances(service_name)))

    async def get_healthy_instances(
        self, service_name: str
    ) -> tuple[impl_endpoints.ServiceInstance, ...]:
        everyone = await self.get_instances(service_name)
        return tuple([i for i in everyone if i.status == "healthy"])


mutant(
    "snapshot-copied-per-read",
    defect="Discovery copies and filters the instance list on every call (the "
    "sketch's way): O(n) per read, and a reader cannot tell by identity that "
    "nothing changed.",
    subject=IMPL,
    ServiceRegistry=_CopyingRegistry,
)


class _LateExpiryRegistry(impl_registry.ServiceRegistry):
    def _expire(self, now: float) -> None:
        # Removes a lease only once its deadline is strictly in the past.
        super()._expire(now - 1e-9)


mutant(
    "lease-outlives-deadline",
    defect="Leases are removed only after their deadline, so an instance is "
    "still discovered at the instant its ttl runs out.",
    subject=IMPL,
    ServiceRegistry=_LateExpiryRegistry,
)


_SHARED_SERVICES: dict[str, Any] = {}


class _SharedStateRegistry(impl_registry.ServiceRegistry):
    """Every registry keeps its services in one module-level dict."""

    def __init__(self) -> None:
        super().__init__()
        _SHARED_SERVICES.clear()
        self._services = _SHARED_SERVICES


mutant(
    "registries-share-their-table",
    defect="All registries keep their services in one shared dictionary (a "
    "mutable default), so one registry's changes show up in another.",
    subject=IMPL,
    ServiceRegistry=_SharedStateRegistry,
)


# The discovery client ------------------------------------------------------------

CLIENT = "impl.discovery"


@dataclass
class _LooseInstance:
    """The sketch's way of building instances: whatever the JSON holds."""

    service_name: str
    instance_id: str
    endpoint: Any
    status: str = "healthy"
    load: float = 0.0
    last_heartbeat: float = 0.0

    @property
    def key(self) -> tuple[str, str]:
        return (self.service_name, self.instance_id)


class _DictEndpointDiscovery(impl_discovery.ServiceDiscovery):
    async def _fetch(self, service_name: str, healthy_only: bool) -> Any:
        url = self._base / "services" / service_name
        if healthy_only:
            url = url.with_query(healthy="true")
        status, body = await self._request("GET", url)
        if status != 200:
            return ()
        return tuple(_LooseInstance(**item) for item in body)


mutant(
    "discovery-endpoints-left-as-dicts",
    defect="Discovery builds instances straight from the JSON, leaving each "
    "endpoint a plain dict (the sketch's ServiceInstance(**data)), so nothing "
    "that needs an endpoint can use them.",
    subject=CLIENT,
    ServiceDiscovery=_DictEndpointDiscovery,
)


class _SharedStampDiscovery(impl_discovery.ServiceDiscovery):
    """The sketch's cache: one time stamp shared by every service."""

    _stamp = float("-inf")

    async def discover_service(
        self, service_name: str, *, healthy_only: bool = False
    ) -> Any:
        key = (service_name, healthy_only)
        now = asyncio.get_running_loop().time()
        entry = self._cache.get(key)
        if entry is not None and now - self._stamp < self.cache_ttl:
            return entry.instances
        instances = await self._fetch(service_name, healthy_only)
        self._cache[key] = impl_discovery.CacheEntry(instances, now)
        self._stamp = now
        return instances


mutant(
    "discovery-cache-shares-one-stamp",
    defect="The discovery cache keeps one time stamp for all services (the "
    "sketch's _last_cache_time), so fetching one service makes every other "
    "cached answer look fresh however old it is.",
    subject=CLIENT,
    ServiceDiscovery=_SharedStampDiscovery,
)


# The health checker --------------------------------------------------------------

HEALTH = "impl.health"


class _RedirectFollowingChecker(impl_health.HealthChecker):
    async def probe(self, instance: impl_endpoints.ServiceInstance) -> bool:
        self.counters["probes"] += 1
        try:
            async with self._open().get(
                instance.endpoint.health_url,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as response:
                return response.status == 200
        except (aiohttp.ClientError, TimeoutError, OSError):
            return False


mutant(
    "health-probe-follows-redirects",
    defect="The health probe follows redirects (aiohttp's default), so an "
    "instance can send it to another host, and that host's answer decides "
    "the instance's health.",
    subject=HEALTH,
    HealthChecker=_RedirectFollowingChecker,
)


class _UndampedChecker(impl_health.HealthChecker):
    async def _judge(
        self,
        registry: impl_health.HealthTarget,
        instance: impl_endpoints.ServiceInstance,
        passed: bool,
    ) -> None:
        if passed != instance.healthy:
            status = "healthy" if passed else "unhealthy"
            await registry.set_status(
                instance.service_name, instance.instance_id, status
            )


mutant(
    "health-marks-without-damping",
    defect="Each probe result is written straight to the registry (the "
    "sketch's checker): one failed probe takes an instance out of rotation.",
    subject=HEALTH,
    HealthChecker=_UndampedChecker,
)


# Endpoints and instances ---------------------------------------------------------

ENDPOINTS = "impl.endpoints"

_DEFAULT_METADATA: dict[str, Any] = {}


@dataclass(frozen=True)
class _ByReferenceEndpoint(impl_endpoints.ServiceEndpoint):
    """Keeps the caller's metadata dict itself; one shared dict by default."""

    def __post_init__(self) -> None:
        given = self.metadata
        object.__setattr__(self, "metadata", {})
        super().__post_init__()
        kept = given if given else _DEFAULT_METADATA
        object.__setattr__(self, "metadata", kept)


mutant(
    "metadata-kept-by-reference",
    defect="An endpoint keeps the caller's metadata dict instead of a frozen "
    "copy, and all endpoints built without metadata share one default dict "
    "(the mutable default of the sketch's dataclass, made shared).",
    subject=ENDPOINTS,
    ServiceEndpoint=_ByReferenceEndpoint,
)


def _shallow_freeze(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value or {}))


@dataclass(frozen=True)
class _ShallowEndpoint(impl_endpoints.ServiceEndpoint):
    """Copies the metadata one level deep: nested lists stay the caller's."""

    def __post_init__(self) -> None:
        given = self.metadata
        super().__post_init__()
        object.__setattr__(self, "metadata", _shallow_freeze(given))


mutant(
    "metadata-frozen-one-level",
    defect="Metadata is copied into a read-only mapping one level deep, so a "
    "nested list is still the caller's and can be changed through any "
    "instance holding it.",
    subject=ENDPOINTS,
    ServiceEndpoint=_ShallowEndpoint,
)
