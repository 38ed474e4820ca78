"""The asyncio reference implementation of microservice theory.

Importable as ``impl``. It keeps the public names of the theory's code sketch
(``ServiceRegistry``, ``RoundRobinStrategy``, ``CircuitBreaker`` and the rest)
and gets them right. Logic reads the running loop's clock, never the wall
clock, so the same code runs in production and, deterministically, on the
virtual-time loop of the test harness.

Every public name can be imported from here (``from impl import
CircuitBreaker``); each lives in the submodule listed in ``_EXPORTS`` and is
imported on first use, so importing :mod:`impl` stays cheap. Errors derive
from :class:`impl.errors.MicroserviceError`.
"""

from __future__ import annotations

import importlib
from typing import Any

from impl.errors import (
    BulkheadFullError,
    CallError,
    CallTimeoutError,
    CircuitOpenError,
    ConfigurationError,
    ConnectionFailed,
    InvalidWeightError,
    MicroserviceError,
    NoHealthyInstanceError,
    RegistrationRefused,
    RegistryError,
    RegistryUnavailable,
    RemoteError,
)

#: Public name -> submodule defining it.
_EXPORTS = {
    "ServiceEndpoint": "impl.endpoints",
    "ServiceInstance": "impl.endpoints",
    "ServiceRegistry": "impl.registry",
    "ServiceDiscovery": "impl.discovery",
    "RegistryServer": "impl.registry_server",
    "HealthChecker": "impl.health",
    "LoadBalancingStrategy": "impl.balancing",
    "RoundRobinStrategy": "impl.balancing",
    "WeightedRoundRobinStrategy": "impl.balancing",
    "LeastConnectionsStrategy": "impl.balancing",
    "PowerOfTwoChoicesStrategy": "impl.balancing",
    "AdaptiveLoadBalancer": "impl.balancing",
    "CircuitBreakerState": "impl.breaker",
    "CircuitBreaker": "impl.breaker",
    "IllegalTransitionError": "impl.breaker",
    "RetryPolicy": "impl.resilience",
    "BulkheadPattern": "impl.resilience",
    "TimeoutPattern": "impl.resilience",
    "FallbackPattern": "impl.resilience",
    "BulkheadReleaseError": "impl.resilience",
    "MicroserviceClient": "impl.client",
    "ResilientMicroserviceClient": "impl.client",
    "Transport": "impl.transport",
    "AiohttpTransport": "impl.transport",
    "InMemoryTransport": "impl.transport",
    "InMemoryResponse": "impl.transport",
    "ServiceRequest": "impl.transport",
    "MessageQueue": "impl.messaging",
    "Producer": "impl.messaging",
    "Consumer": "impl.messaging",
    "DeduplicatingConsumer": "impl.messaging",
    "EventStream": "impl.messaging",
    "Link": "impl.messaging",
}

__all__ = [
    "BulkheadFullError",
    "CallError",
    "CallTimeoutError",
    "CircuitOpenError",
    "ConfigurationError",
    "ConnectionFailed",
    "InvalidWeightError",
    "MicroserviceError",
    "NoHealthyInstanceError",
    "RegistrationRefused",
    "RegistryError",
    "RegistryUnavailable",
    "RemoteError",
    *_EXPORTS,
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'impl' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
