"""Endpoints and instances: where a service runs, and one running copy of it.

Both are immutable values. An instance's health is changed by building a new
instance (:meth:`ServiceInstance.with_status`), so a snapshot handed out by a
registry never changes under its reader, and no mutable object is shared
between two instances (autonomy, T1.1): ``metadata`` is copied at construction
and exposed read-only.

Every field is validated at construction and a refusal names the field:

- ``host``: a DNS name or an IPv4/IPv6 literal, at most 253 characters;
- ``port``: an ``int`` in 1-65535;
- ``protocol``: ``"http"`` or ``"https"``;
- ``health_check_url``: a path (``/health``) or an absolute URL whose scheme,
  host and port are the endpoint's own; probes never go anywhere else;
- ``metadata``: a JSON object of at most :data:`MAX_METADATA_BYTES` encoded,
  frozen all the way down (objects become read-only mappings, arrays tuples),
  so no part of it can be changed through any instance that holds it.

>>> e = ServiceEndpoint("127.0.0.1", 8001, metadata={"weight": 3})
>>> e.base_url, e.health_url
('http://127.0.0.1:8001', 'http://127.0.0.1:8001/health')
>>> i = ServiceInstance("users", "users-1", e)
>>> i.healthy, i.with_status("unhealthy").healthy
(True, False)
"""

from __future__ import annotations

import ipaddress
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from impl.errors import ConfigurationError

PROTOCOLS = ("http", "https")
STATUSES = ("healthy", "unhealthy")
MAX_METADATA_BYTES = 4096

_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)"
    r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
_IDENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def _refuse(field_name: str, problem: str) -> ConfigurationError:
    return ConfigurationError(f"{field_name}: {problem}", field=field_name)


def check_identifier(value: object, field_name: str) -> str:
    """A service name or instance id: 1-128 of letters, digits, ``_.-``."""
    if not isinstance(value, str) or not _IDENT.match(value):
        raise _refuse(
            field_name,
            "must be 1-128 characters of letters, digits, '_', '.', '-', "
            f"starting with a letter or digit; got {value!r}",
        )
    return value


def check_host(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise _refuse("host", f"must be a non-empty string, got {value!r}")
    literal = value[1:-1] if value.startswith("[") and value.endswith("]") else value
    try:
        ipaddress.ip_address(literal)
    except ValueError:
        if not _HOSTNAME.match(value):
            raise _refuse(
                "host", f"{value!r} is neither a DNS name nor an IP address"
            ) from None
        return value
    return literal


def check_port(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise _refuse("port", f"must be an integer in 1-65535, got {value!r}")
    return value


def _check_metadata(value: object) -> Mapping[str, Any]:
    if value is None:
        return MappingProxyType({})
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise _refuse("metadata", "must be a mapping with string keys")
    try:
        encoded = json.dumps(thaw(value), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise _refuse("metadata", f"must be JSON data: {exc}") from None
    if len(encoded.encode()) > MAX_METADATA_BYTES:
        raise _refuse(
            "metadata",
            f"is {len(encoded.encode())} bytes encoded, "
            f"more than the limit of {MAX_METADATA_BYTES}",
        )
    # A private deep copy, frozen: nothing the caller holds can change it
    # afterwards, and nothing reachable from it can be changed at all.
    frozen: Mapping[str, Any] = _freeze(json.loads(encoded))
    return frozen


def _freeze(value: Any) -> Any:
    """JSON data with objects made read-only mappings and arrays tuples."""
    if isinstance(value, dict):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """Frozen metadata back as plain JSON data (dicts and lists), a fresh copy."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [thaw(v) for v in value]
    return value


@dataclass(frozen=True)
class ServiceEndpoint:
    """Where an instance listens."""

    host: str
    port: int
    protocol: str = "http"
    health_check_url: str | None = None
    # Left out of the hash (mappings have none); equality still compares it.
    metadata: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "host", check_host(self.host))
        check_port(self.port)
        if self.protocol not in PROTOCOLS:
            raise _refuse(
                "protocol",
                f"must be one of {', '.join(PROTOCOLS)}, got {self.protocol!r}",
            )
        object.__setattr__(self, "metadata", _check_metadata(self.metadata))
        if self.health_check_url is not None:
            self._check_health_url(self.health_check_url)

    def _check_health_url(self, url: object) -> None:
        if not isinstance(url, str) or not url:
            raise _refuse(
                "health_check_url", f"must be a non-empty string, got {url!r}"
            )
        if url.startswith("/"):
            return
        parts = urlsplit(url)
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise _refuse("health_check_url", f"has an invalid port: {url!r}") from None
        if (parts.scheme, (parts.hostname or "").lower(), port) != (
            self.protocol,
            self.host.lower(),
            self.port,
        ):
            raise _refuse(
                "health_check_url",
                f"{url!r} points away from the instance's own "
                f"{self.protocol}://{self._netloc}; health probes may only go "
                "to the instance itself (give a path such as '/health')",
            )

    @property
    def _netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.protocol}://{self._netloc}"

    @property
    def health_url(self) -> str:
        """The URL a health probe requests: always on this endpoint."""
        url = self.health_check_url or "/health"
        return self.base_url + url if url.startswith("/") else url

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.port,
            "protocol": self.protocol,
            "health_check_url": self.health_check_url,
            "metadata": thaw(self.metadata),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ServiceEndpoint:
        if not isinstance(data, Mapping):
            raise _refuse(
                "endpoint", f"must be a JSON object, got {type(data).__name__}"
            )
        unknown = sorted(
            set(data) - {"host", "port", "protocol", "health_check_url", "metadata"}
        )
        if unknown:
            raise _refuse("endpoint", f"unknown fields: {', '.join(unknown)}")
        if "host" not in data or "port" not in data:
            raise _refuse("endpoint", "needs both 'host' and 'port'")
        return cls(
            host=data["host"],
            port=data["port"],
            protocol=data.get("protocol", "http"),
            health_check_url=data.get("health_check_url"),
            metadata=data.get("metadata") or {},
        )


@dataclass(frozen=True)
class ServiceInstance:
    """One running copy of a service, registered under ``service_name``.

    An empty ``instance_id`` is replaced by a random one. ``last_heartbeat`` is
    a reading of the event loop's clock, set by whoever records a heartbeat.
    """

    service_name: str
    instance_id: str
    endpoint: ServiceEndpoint
    status: str = "healthy"
    load: float = 0.0
    last_heartbeat: float = 0.0

    def __post_init__(self) -> None:
        check_identifier(self.service_name, "service_name")
        if not self.instance_id:
            object.__setattr__(self, "instance_id", str(uuid.uuid4()))
        check_identifier(self.instance_id, "instance_id")
        if not isinstance(self.endpoint, ServiceEndpoint):
            raise _refuse(
                "endpoint",
                f"must be a ServiceEndpoint, got {type(self.endpoint).__name__}",
            )
        if self.status not in STATUSES:
            raise _refuse(
                "status", f"must be one of {', '.join(STATUSES)}, got {self.status!r}"
            )

    @property
    def key(self) -> tuple[str, str]:
        return (self.service_name, self.instance_id)

    @property
    def healthy(self) -> bool:
        return self.status == "healthy"

    def with_status(self, status: str) -> ServiceInstance:
        return replace(self, status=status)

    def to_dict(self) -> dict[str, Any]:
        return {
            "service_name": self.service_name,
            "instance_id": self.instance_id,
            "endpoint": self.endpoint.to_dict(),
            "status": self.status,
            "load": self.load,
            "last_heartbeat": self.last_heartbeat,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ServiceInstance:
        """Rebuild an instance, endpoint included, from :meth:`to_dict` output."""
        if not isinstance(data, Mapping):
            raise _refuse(
                "instance", f"must be a JSON object, got {type(data).__name__}"
            )
        for required in ("service_name", "instance_id", "endpoint"):
            if required not in data:
                raise _refuse(required, "is required")
        return cls(
            service_name=data["service_name"],
            instance_id=data["instance_id"],
            endpoint=ServiceEndpoint.from_dict(data["endpoint"]),
            status=data.get("status", "healthy"),
            load=float(data.get("load", 0.0)),
            last_heartbeat=float(data.get("last_heartbeat", 0.0)),
        )
