"""The clients over the in-memory transport: discovery, choice, the layers.

The registry is the real :class:`impl.registry.ServiceRegistry`, the balancers
the real ones of :mod:`impl.balancing`; least connections shows that each call
is counted in flight from its start to its end, however it ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from impl.balancing import LeastConnectionsStrategy, RoundRobinStrategy
from impl.breaker import CircuitBreaker
from impl.client import PIPELINE, MicroserviceClient, ResilientMicroserviceClient
from impl.endpoints import ServiceEndpoint, ServiceInstance
from impl.errors import (
    CircuitOpenError,
    ConfigurationError,
    NoHealthyInstanceError,
    RemoteError,
)
from impl.registry import ServiceRegistry
from impl.resilience import (
    BulkheadPattern,
    FallbackPattern,
    RetryPolicy,
    TimeoutPattern,
)
from impl.transport import (
    AiohttpTransport,
    InMemoryResponse,
    InMemoryTransport,
    ServiceRequest,
)
from proofs.harness.vtime import run


class Nobody:
    async def select_instance(
        self, instances: Sequence[ServiceInstance], request: Any = None
    ) -> None:
        return None


async def registry_of(*ids: str) -> ServiceRegistry:
    registry = ServiceRegistry()
    for k, iid in enumerate(ids):
        endpoint = ServiceEndpoint("127.0.0.1", 8100 + k)
        await registry.register(ServiceInstance("users", iid, endpoint))
    return registry


def echo(request: ServiceRequest) -> Any:
    return {"from": request.instance_id, "method": request.method, "got": request.body}


def test_the_plain_client_calls_the_chosen_instance_and_returns_its_answer() -> None:
    async def main() -> list[Any]:
        client = MicroserviceClient(
            await registry_of("u1", "u2"),
            RoundRobinStrategy(),
            transport=InMemoryTransport(echo),
        )
        return [
            await client.call_service("users", "get_user", {"id": n}) for n in (1, 2)
        ]

    assert run(main()) == [
        {"from": "u1", "method": "get_user", "got": {"id": 1}},
        {"from": "u2", "method": "get_user", "got": {"id": 2}},
    ]


def test_no_healthy_instance_is_its_own_error() -> None:
    async def main() -> None:
        client = MicroserviceClient(
            await registry_of(), RoundRobinStrategy(), transport=InMemoryTransport(echo)
        )
        with pytest.raises(NoHealthyInstanceError, match="'users' has no healthy"):
            await client.call_service("users", "get_user")
        chooser = MicroserviceClient(
            await registry_of("u1"), Nobody(), transport=InMemoryTransport(echo)
        )
        with pytest.raises(NoHealthyInstanceError, match="chose no instance"):
            await chooser.call_service("users", "get_user")

    run(main())


def test_every_call_is_tracked_once_however_it_ends() -> None:
    async def main() -> tuple[int, int, int]:
        loop = asyncio.get_running_loop()

        async def handler(request: ServiceRequest) -> Any:
            if request.method == "fail":
                return InMemoryResponse(500, "no")
            if request.method == "hang":
                await asyncio.sleep(3600)
            return "ok"

        registry = await registry_of("u1", "u2")
        instances = await registry.get_healthy_instances("users")
        balancer = LeastConnectionsStrategy()
        client = MicroserviceClient(
            registry, balancer, transport=InMemoryTransport(handler)
        )

        def in_flight() -> int:
            return sum(balancer.in_flight(i) for i in instances)

        await client.call_service("users", "ok")
        with pytest.raises(RemoteError):
            await client.call_service("users", "fail")
        after_two = in_flight()
        hanging = loop.create_task(client.call_service("users", "hang"))
        await asyncio.sleep(1)
        during = in_flight()
        hanging.cancel()
        await asyncio.gather(hanging, return_exceptions=True)
        return after_two, during, in_flight()

    assert run(main()) == (0, 1, 0)


def test_the_plain_client_goes_through_the_breaker_it_is_given() -> None:
    async def main() -> tuple[str, int, int]:
        breaker = CircuitBreaker(failure_threshold=2, name="users")
        net = InMemoryTransport(lambda r: InMemoryResponse(503, "down"))
        client = MicroserviceClient(
            await registry_of("u1"), RoundRobinStrategy(), breaker, transport=net
        )
        for _ in range(2):
            with pytest.raises(RemoteError):
                await client.call_service("users", "get_user")
        with pytest.raises(CircuitOpenError):
            await client.call_service("users", "get_user")
        return breaker.state.value, breaker.counters.failed, net.stats.sent

    assert run(main()) == ("open", 2, 2)


def test_the_resilient_client_retries_onto_another_instance() -> None:
    async def main() -> tuple[Any, list[str]]:
        seen: list[str] = []

        def handler(request: ServiceRequest) -> Any:
            seen.append(request.instance_id)
            if request.instance_id == "u1":
                return InMemoryResponse(503, "u1 is down")
            return echo(request)

        client = ResilientMicroserviceClient(
            await registry_of("u1", "u2"),
            RoundRobinStrategy(),
            CircuitBreaker(failure_threshold=5),
            RetryPolicy(max_retries=2, base_delay=0.1),
            BulkheadPattern(4),
            TimeoutPattern(1.0),
            FallbackPattern(lambda *a: "fallback"),
            transport=InMemoryTransport(handler),
        )
        answer = await client.call_service("users", "get_user", {"id": 9})
        return answer, seen

    answer, seen = run(main())
    assert answer["from"] == "u2" and seen == ["u1", "u2"]


def test_the_fallback_answers_when_every_attempt_failed() -> None:
    async def main() -> tuple[Any, int, float]:
        loop = asyncio.get_running_loop()

        async def hang(request: ServiceRequest) -> Any:
            await asyncio.sleep(3600)

        retry = RetryPolicy(max_retries=2, base_delay=0.5, jitter=0)
        client = ResilientMicroserviceClient(
            await registry_of("u1"),
            RoundRobinStrategy(),
            retry_policy=retry,
            timeout=TimeoutPattern(1.0),
            fallback=FallbackPattern(lambda name, method, data: {"cached": data}),
            transport=InMemoryTransport(hang),
        )
        answer = await client.call_service("users", "get_user", {"id": 3})
        return answer, retry.attempts, loop.time()

    # Three attempts of 1 s each, with 0.5 s and 1 s between them.
    assert run(main()) == ({"cached": {"id": 3}}, 3, 4.5)


def test_the_resilient_client_lists_its_layers_in_order() -> None:
    async def main() -> tuple[tuple[str, ...], tuple[str, ...]]:
        registry = await registry_of("u1")
        full = ResilientMicroserviceClient(
            registry,
            RoundRobinStrategy(),
            CircuitBreaker(),
            RetryPolicy(),
            BulkheadPattern(),
            TimeoutPattern(),
            FallbackPattern(),
            transport=InMemoryTransport(echo),
        )
        some = ResilientMicroserviceClient(
            registry,
            RoundRobinStrategy(),
            timeout=TimeoutPattern(),
            retry_policy=RetryPolicy(),
            transport=InMemoryTransport(echo),
        )
        return full.layers, some.layers

    assert run(main()) == (PIPELINE, ("retry", "timeout"))


def test_an_overall_deadline_bounds_the_whole_call() -> None:
    async def main() -> tuple[Any, float]:
        loop = asyncio.get_running_loop()

        async def hang(request: ServiceRequest) -> Any:
            await asyncio.sleep(3600)

        client = ResilientMicroserviceClient(
            await registry_of("u1"),
            RoundRobinStrategy(),
            retry_policy=RetryPolicy(max_retries=5, base_delay=1, deadline=3),
            fallback=FallbackPattern(lambda *a: "too late"),
            transport=InMemoryTransport(hang),
        )
        return await client.call_service("users", "get_user"), loop.time()

    assert run(main()) == ("too late", 3.0)


def test_the_default_transport_is_real_http_and_closed_with_the_client() -> None:
    async def main() -> tuple[bool, bool]:
        registry = await registry_of("u1")
        own = MicroserviceClient(registry, RoundRobinStrategy())
        given = AiohttpTransport()
        other = MicroserviceClient(registry, RoundRobinStrategy(), transport=given)
        async with own, other:
            pass
        closed_own = own.transport.session is None  # type: ignore[attr-defined]
        untouched = given.session is None
        await given.aclose()
        return closed_own, untouched

    assert run(main()) == (True, True)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"registry": object()},
        {"load_balancer": object()},
        {"circuit_breaker": "breaker"},
    ],
)
def test_the_plain_client_refuses_what_it_cannot_use(kwargs: dict[str, Any]) -> None:
    args: dict[str, Any] = {
        "registry": ServiceRegistry(),
        "load_balancer": RoundRobinStrategy(),
    }
    args.update(kwargs)
    with pytest.raises(ConfigurationError, match=next(iter(kwargs))):
        MicroserviceClient(**args)


@pytest.mark.parametrize("layer", ["retry_policy", "bulkhead", "timeout", "fallback"])
def test_the_resilient_client_refuses_a_wrong_layer(layer: str) -> None:
    wrong: dict[str, Any] = {layer: object()}
    with pytest.raises(ConfigurationError, match=layer):
        ResilientMicroserviceClient(ServiceRegistry(), RoundRobinStrategy(), **wrong)
