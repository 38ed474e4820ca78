"""The registry's HTTP client, with a per-service discovery cache.

:class:`ServiceDiscovery` talks to a :mod:`impl.registry_server`: it discovers
instances (``GET /services/{name}``), lists services (``GET /services``) and
registers, deregisters, renews and marks instances through the server's other
routes. Discovered instances are real :class:`~impl.endpoints.ServiceInstance`
values with real :class:`~impl.endpoints.ServiceEndpoint` endpoints, validated
as they are built; a malformed answer is an error, never a half-built object.

The cache
    Each service has its own entry, stamped with the loop time at which its
    request was *sent* (the registry answered at some instant after that). An
    entry younger than ``cache_ttl`` is served without asking the registry;
    an older one is fetched again. So every answer reflects the registry as
    it was at most ``cache_ttl`` seconds earlier. The theory's sketch stamps
    all services with one shared time, so fetching one service makes every
    other service's entry look fresh, however old it is.

When the registry cannot be reached
    (connection refused, timeout, a 5xx answer, a malformed body) the client
    serves the cached entry if it is younger than ``cache_ttl +
    stale_if_error`` and otherwise raises
    :class:`~impl.errors.RegistryUnavailable`. With the default
    ``stale_if_error = 0`` it therefore never serves an answer older than
    ``cache_ttl``: it raises instead. A larger value trades that bound for
    availability during a registry outage, and the bound becomes ``cache_ttl
    + stale_if_error``. ``get_all_services`` is not cached and raises at once.

A client's own changes (register, deregister, heartbeat, status) drop its
cached entries for that service, so a client reads its own writes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from yarl import URL

from impl.endpoints import ServiceInstance
from impl.errors import (
    ConfigurationError,
    RegistrationRefused,
    RegistryError,
    RegistryUnavailable,
)

logger = logging.getLogger("impl")


@dataclass(frozen=True)
class CacheEntry:
    """One cached answer and the loop time its request was sent."""

    instances: tuple[ServiceInstance, ...]
    fetched_at: float


def _non_negative(value: object, name: str, *, positive: bool = False) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
        or (positive and value == 0)
    ):
        rule = "> 0" if positive else ">= 0"
        raise ConfigurationError(
            f"ServiceDiscovery.{name}: must be a finite number of seconds {rule}, "
            f"got {value!r}"
        )
    return float(value)


class ServiceDiscovery:
    """A client of the registry service at ``registry_url``.

    Args:
        registry_url: the server's base URL, ``http://127.0.0.1:8500``.
        cache_ttl: seconds a discovered answer is served from the cache.
        stale_if_error: extra seconds a cached answer may be served while the
            registry cannot be reached.
        request_timeout: seconds one request may take before the registry is
            treated as unreachable.
        token: bearer token sent on the routes that change the registry.
        session: an aiohttp session to use; by default the client opens its
            own on first use and closes it in :meth:`close`.
    """

    def __init__(
        self,
        registry_url: str,
        *,
        cache_ttl: float = 30.0,
        stale_if_error: float = 0.0,
        request_timeout: float = 5.0,
        token: str | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        parts = urlsplit(registry_url) if isinstance(registry_url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigurationError(
                "ServiceDiscovery.registry_url: must be an http(s) URL such as "
                f"'http://127.0.0.1:8500', got {registry_url!r}"
            )
        self.registry_url = registry_url.rstrip("/")
        self.cache_ttl = _non_negative(cache_ttl, "cache_ttl")
        self.stale_if_error = _non_negative(stale_if_error, "stale_if_error")
        self.request_timeout = _non_negative(
            request_timeout, "request_timeout", positive=True
        )
        self._token = token
        self._session = session
        self._own_session = session is None
        self._base = URL(self.registry_url)
        self._cache: dict[tuple[str, bool], CacheEntry] = {}
        #: The registry revision of the last answer received, or None.
        self.last_revision: int | None = None
        #: Cache hits, fetches, stale answers served during outages, failures.
        self.counters: dict[str, int] = dict.fromkeys(
            ("hits", "fetches", "stale_served", "unavailable"), 0
        )

    # Discovery ------------------------------------------------------------

    async def discover_service(
        self, service_name: str, *, healthy_only: bool = False
    ) -> tuple[ServiceInstance, ...]:
        """The service's instances (only the healthy ones if asked), cached.

        An unknown service has no instances: the answer is empty. Raises
        :class:`RegistryUnavailable` when the registry cannot be reached and
        no cached answer is young enough (see the module documentation).
        """
        key = (service_name, healthy_only)
        now = asyncio.get_running_loop().time()
        entry = self._cache.get(key)
        if entry is not None and now - entry.fetched_at < self.cache_ttl:
            self.counters["hits"] += 1
            return entry.instances

        try:
            instances = await self._fetch(service_name, healthy_only)
        except RegistryUnavailable:
            self.counters["unavailable"] += 1
            now = asyncio.get_running_loop().time()
            if (
                entry is not None
                and now - entry.fetched_at < self.cache_ttl + self.stale_if_error
            ):
                self.counters["stale_served"] += 1
                return entry.instances
            raise
        self._cache[key] = CacheEntry(instances, now)
        return instances

    async def get_all_services(self) -> tuple[str, ...]:
        """Names of the services the registry knows, sorted (never cached)."""
        status, body = await self._request("GET", self._base / "services")
        if status != 200:
            raise self._refusal(status, body)
        if not isinstance(body, list) or not all(isinstance(n, str) for n in body):
            raise RegistryUnavailable(
                f"registry {self.registry_url}: GET /services answered "
                f"{body!r}, not a list of names"
            )
        return tuple(body)

    def cached(
        self, service_name: str, *, healthy_only: bool = False
    ) -> CacheEntry | None:
        """The cache entry for the service, however old, or None."""
        return self._cache.get((service_name, healthy_only))

    def invalidate(self, service_name: str | None = None) -> None:
        """Forget cached answers: for one service, or all of them."""
        if service_name is None:
            self._cache.clear()
            return
        for healthy_only in (False, True):
            self._cache.pop((service_name, healthy_only), None)

    # Changes --------------------------------------------------------------

    async def register(
        self, instance: ServiceInstance, ttl: float | None = None
    ) -> bool:
        """Register ``instance``; False if the registry already has its id."""
        body: dict[str, Any] = {
            "instance_id": instance.instance_id,
            "endpoint": instance.endpoint.to_dict(),
            "status": instance.status,
            "load": instance.load,
            "ttl": ttl,
        }
        url = self._base / "services" / instance.service_name / "instances"
        status, answer = await self._request("POST", url, body)
        self.invalidate(instance.service_name)
        if status == 201:
            return True
        if status == 409:
            return False
        raise self._refusal(status, answer)

    async def deregister(self, service_name: str, instance_id: str) -> bool:
        """Deregister an instance; False if the registry does not have it."""
        return await self._change("DELETE", service_name, instance_id, ())

    async def heartbeat(self, service_name: str, instance_id: str) -> bool:
        """Renew an instance's lease; False if the registry does not have it."""
        return await self._change("POST", service_name, instance_id, ("heartbeat",))

    async def set_status(
        self, service_name: str, instance_id: str, status: str
    ) -> bool:
        """Mark an instance healthy or unhealthy; False if it is not there."""
        return await self._change(
            "PUT", service_name, instance_id, ("status",), {"status": status}
        )

    async def _change(
        self,
        method: str,
        service_name: str,
        instance_id: str,
        tail: tuple[str, ...],
        body: Mapping[str, Any] | None = None,
    ) -> bool:
        url = self._base / "services" / service_name / "instances" / instance_id
        for part in tail:
            url = url / part
        status, answer = await self._request(method, url, body)
        self.invalidate(service_name)
        if status == 200:
            return True
        if (
            status == 404
            and isinstance(answer, dict)
            and answer.get("field") == ("instance_id")
        ):
            return False
        raise self._refusal(status, answer)

    # Transport ------------------------------------------------------------

    async def _fetch(
        self, service_name: str, healthy_only: bool
    ) -> tuple[ServiceInstance, ...]:
        url = self._base / "services" / service_name
        if healthy_only:
            url = url.with_query(healthy="true")
        self.counters["fetches"] += 1
        status, body = await self._request("GET", url)
        if (
            status == 404
            and isinstance(body, dict)
            and body.get("field") == ("service_name")
        ):
            return ()
        if status != 200:
            raise self._refusal(status, body)
        if not isinstance(body, list):
            raise RegistryUnavailable(
                f"registry {self.registry_url}: GET /services/{service_name} "
                f"answered {type(body).__name__}, not a list of instances"
            )
        try:
            instances = tuple(ServiceInstance.from_dict(item) for item in body)
        except (ConfigurationError, TypeError, ValueError) as exc:
            raise RegistryUnavailable(
                f"registry {self.registry_url}: GET /services/{service_name} "
                f"answered an instance that does not validate: {exc}"
            ) from None
        strays = [i.key for i in instances if i.service_name != service_name]
        if strays:
            raise RegistryUnavailable(
                f"registry {self.registry_url}: GET /services/{service_name} "
                f"answered instances of other services: {strays}"
            )
        return instances

    async def _request(
        self, method: str, url: URL, body: Mapping[str, Any] | None = None
    ) -> tuple[int, Any]:
        headers = {"Accept": "application/json"}
        if self._token and method != "GET":
            headers["Authorization"] = f"Bearer {self._token}"
        session = self._open()
        try:
            async with session.request(
                method,
                url,
                json=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.request_timeout),
            ) as response:
                raw = await response.read()
                revision = response.headers.get("X-Registry-Revision")
                status = response.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise RegistryUnavailable(
                f"registry {self.registry_url} could not be reached for "
                f"{method} {url.path}: {type(exc).__name__}: {exc}"
            ) from exc
        if revision is not None and revision.isdigit():
            self.last_revision = int(revision)
        if status >= 500:
            raise RegistryUnavailable(
                f"registry {self.registry_url} failed on {method} {url.path} "
                f"with status {status}"
            )
        try:
            return status, json.loads(raw) if raw else None
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise RegistryUnavailable(
                f"registry {self.registry_url} answered {method} {url.path} "
                f"with a body that is not JSON (status {status})"
            ) from None

    def _refusal(self, status: int, body: Any) -> RegistryError:
        message = body.get("error") if isinstance(body, dict) else None
        field = body.get("field") if isinstance(body, dict) else None
        return RegistrationRefused(
            f"registry {self.registry_url} refused the request with status "
            f"{status}: {message or body!r}",
            field=field if isinstance(field, str) else None,
            status=status,
        )

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            if not self._own_session:
                raise ConfigurationError(
                    "ServiceDiscovery: the session it was given has been closed"
                )
            self._session = aiohttp.ClientSession()
        return self._session

    async def close(self) -> None:
        """Close the client's own session (a session passed in is left open)."""
        if self._own_session and self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def __aenter__(self) -> ServiceDiscovery:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
