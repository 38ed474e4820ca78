"""The clients over the in-memory transport: discovery, choice, the layers.

The registry is the real :class:`impl.registry.ServiceRegistry`. The balancer
is a small round robin with the call-tracking protocol of the project's
balancers (``track(instance)`` as a context manager), so that each call's
begin and end can be counted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest

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


class TurnTaker:
    """Round robin that counts calls in flight through ``track``."""

    def __init__(self) -> None:
        self.turn = 0
        self.in_flight: dict[str, int] = {}
        self.tracked = 0

    async def select_instance(
        self, instances: Sequence[ServiceInstance], request: Any = None
    ) -> ServiceInstance | None:
        if not instances:
            return None
        chosen = instances[self.turn % len(instances)]
        self.turn += 1
        return chosen

    @contextmanager
    def track(self, instance: ServiceInstance) -> Iterator[None]:
        self.tracked += 1
        key = instance.instance_id
        self.in_flight[key] = self.in_flight.get(key, 0) + 1
        try:
            yield
        finally:
            self.in_flight[key] -= 1


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
            TurnTaker(),
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
            await registry_of(), TurnTaker(), transport=InMemoryTransport(echo)
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
    async def main() -> tuple[int, dict[str, int]]:
        loop = asyncio.get_running_loop()

        async def handler(request: ServiceRequest) -> Any:
            if request.method == "fail":
                return InMemoryResponse(500, "no")
            if request.method == "hang":
                await asyncio.sleep(3600)
            return "ok"

        balancer = TurnTaker()
        client = MicroserviceClient(
            await registry_of("u1", "u2"),
            balancer,
            transport=InMemoryTransport(handler),
        )
        await client.call_service("users", "ok")
        with pytest.raises(RemoteError):
            await client.call_service("users", "fail")
        hanging = loop.create_task(client.call_service("users", "hang"))
        await asyncio.sleep(1)
        assert sum(balancer.in_flight.values()) == 1
        hanging.cancel()
        await asyncio.gather(hanging, return_exceptions=True)
        return balancer.tracked, balancer.in_flight

    assert run(main()) == (3, {"u1": 0, "u2": 0})


def test_the_plain_client_goes_through_the_breaker_it_is_given() -> None:
    async def main() -> tuple[str, int, int]:
        breaker = CircuitBreaker(failure_threshold=2, name="users")
        net = InMemoryTransport(lambda r: InMemoryResponse(503, "down"))
        client = MicroserviceClient(
            await registry_of("u1"), TurnTaker(), breaker, transport=net
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
            TurnTaker(),
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
            TurnTaker(),
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
            TurnTaker(),
            CircuitBreaker(),
            RetryPolicy(),
            BulkheadPattern(),
            TimeoutPattern(),
            FallbackPattern(),
            transport=InMemoryTransport(echo),
        )
        some = ResilientMicroserviceClient(
            registry,
            TurnTaker(),
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
            TurnTaker(),
            retry_policy=RetryPolicy(max_retries=5, base_delay=1, deadline=3),
            fallback=FallbackPattern(lambda *a: "too late"),
            transport=InMemoryTransport(hang),
        )
        return await client.call_service("users", "get_user"), loop.time()

    assert run(main()) == ("too late", 3.0)


def test_the_default_transport_is_real_http_and_closed_with_the_client() -> None:
    async def main() -> tuple[bool, bool]:
        registry = await registry_of("u1")
        own = MicroserviceClient(registry, TurnTaker())
        given = AiohttpTransport()
        other = MicroserviceClient(registry, TurnTaker(), transport=given)
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
    args: dict[str, Any] = {"registry": ServiceRegistry(), "load_balancer": TurnTaker()}
    args.update(kwargs)
    with pytest.raises(ConfigurationError, match=next(iter(kwargs))):
        MicroserviceClient(**args)


@pytest.mark.parametrize("layer", ["retry_policy", "bulkhead", "timeout", "fallback"])
def test_the_resilient_client_refuses_a_wrong_layer(layer: str) -> None:
    wrong: dict[str, Any] = {layer: object()}
    with pytest.raises(ConfigurationError, match=layer):
        ResilientMicroserviceClient(ServiceRegistry(), TurnTaker(), **wrong)
