"""Clients that call a service: discover, choose an instance, send, decode.

:class:`MicroserviceClient` does one call the way the source describes it:
ask the registry for the healthy instances of the service, let the balancer
choose one, and send ``POST /{method}`` with the data as a JSON body through
the transport; the answer is the decoded JSON. (The source returns a made-up
answer and never uses the breaker it is given; here the call is real and goes
through the breaker when there is one.) While the call is in flight the
balancer knows it, if it counts calls: a balancer with a ``track(instance)``
context manager (least connections) sees each call begin and end exactly once,
however the call ends.

:class:`ResilientMicroserviceClient` applies the resilience layers around each
call, in one order, each once, outermost first::

    fallback( retry( bulkhead( breaker( timeout( call ) ) ) ) )

- *fallback* answers once for the whole call, after everything inside gave up;
- *retry* repeats the inner part; its back-off sleeps hold no bulkhead permit;
- *bulkhead* holds one permit per attempt, so the breaker's rejections are
  cheap and a hanging attempt holds its permit only until the timeout;
- *breaker* sees each attempt once and counts a timed-out attempt as a failure
  (the source puts the timeout outside the breaker, where a hanging dependency
  could never trip it);
- *timeout* cuts off each attempt, discovery and instance choice included.

Every attempt discovers and chooses again, so a retry can land on another
instance. The source composes the layers by rebinding one name in a chain of
lambdas, so that every layer calls the outermost one again and a call with
retry configured never returns; here the layers are applied by one coroutine
that runs their permit protocols in turn (:meth:`ResilientMicroserviceClient.execute`),
which also spares four coroutine frames per call.

>>> import asyncio
>>> from impl.endpoints import ServiceEndpoint, ServiceInstance
>>> from impl.transport import InMemoryTransport
>>> class Registry:  # anything with get_healthy_instances will do
...     async def get_healthy_instances(self, name: str) -> tuple[ServiceInstance, ...]:
...         return (ServiceInstance(name, "u1", ServiceEndpoint("127.0.0.1", 8001)),)
>>> class First:
...     async def select_instance(self, instances, request=None):
...         return instances[0]
>>> net = InMemoryTransport(lambda r: {"user": r.body["id"], "from": r.instance_id})
>>> client = MicroserviceClient(Registry(), First(), transport=net)
>>> asyncio.run(client.call_service("users", "get_user", {"id": 123}))
{'user': 123, 'from': 'u1'}
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from impl.breaker import CircuitBreaker, CircuitBreakerState
from impl.endpoints import ServiceInstance
from impl.errors import (
    CallTimeoutError,
    ConfigurationError,
    NoHealthyInstanceError,
)
from impl.resilience import (
    _DONE,
    _RUNNING,
    BulkheadPattern,
    FallbackPattern,
    RetryPolicy,
    TimeoutPattern,
    _current_task,
)
from impl.transport import AiohttpTransport, Transport

_CLOSED = CircuitBreakerState.CLOSED

#: The layers of the resilient client, outermost first.
PIPELINE = ("fallback", "retry", "bulkhead", "breaker", "timeout")


class Registry(Protocol):
    """What a client needs of a registry."""

    async def get_healthy_instances(
        self, service_name: str
    ) -> Sequence[ServiceInstance]: ...


class Balancer(Protocol):
    """What a client needs of a load balancer."""

    async def select_instance(
        self, instances: Sequence[ServiceInstance], request: Any = None
    ) -> ServiceInstance | None: ...


def _tracker(
    balancer: object,
) -> Callable[[ServiceInstance], AbstractContextManager[object]] | None:
    track = getattr(balancer, "track", None)
    return track if callable(track) else None


class MicroserviceClient:
    """Calls services found in ``registry`` on instances chosen by ``load_balancer``.

    Args:
        registry: anything with ``async get_healthy_instances(name)``.
        load_balancer: anything with ``async select_instance(instances,
            request=None)``; if it also has ``track(instance)``, every call is
            made inside ``with load_balancer.track(instance):``.
        circuit_breaker: applied to every call when given.
        transport: how calls travel; by default real HTTP
            (:class:`~impl.transport.AiohttpTransport`), which the client
            closes in :meth:`aclose`. A transport passed in is left to its
            owner.
    """

    def __init__(
        self,
        registry: Registry,
        load_balancer: Balancer,
        circuit_breaker: CircuitBreaker | None = None,
        *,
        transport: Transport | None = None,
    ) -> None:
        if not callable(getattr(registry, "get_healthy_instances", None)):
            raise ConfigurationError(
                "MicroserviceClient registry: must have get_healthy_instances(name), "
                f"got {registry!r}"
            )
        if not callable(getattr(load_balancer, "select_instance", None)):
            raise ConfigurationError(
                "MicroserviceClient load_balancer: must have select_instance("
                f"instances), got {load_balancer!r}"
            )
        if circuit_breaker is not None and not isinstance(
            circuit_breaker, CircuitBreaker
        ):
            raise ConfigurationError(
                "MicroserviceClient circuit_breaker: must be a CircuitBreaker or "
                f"None, got {circuit_breaker!r}"
            )
        self.registry = registry
        self.load_balancer = load_balancer
        self.circuit_breaker = circuit_breaker
        self._owns_transport = transport is None
        self.transport: Transport = (
            AiohttpTransport() if transport is None else transport
        )
        self._track = _tracker(load_balancer)

    async def call_service(
        self, service_name: str, method: str, data: Any = None
    ) -> Any:
        """``POST /{method}`` with ``data`` on an instance of ``service_name``."""
        if self.circuit_breaker is None:
            return await self.call_once(service_name, method, data)
        return await self.circuit_breaker.call(
            self.call_once, service_name, method, data
        )

    async def call_once(self, service_name: str, method: str, data: Any = None) -> Any:
        """One attempt, without any resilience layer: discover, choose, send."""
        instances = await self.registry.get_healthy_instances(service_name)
        if not instances:
            raise NoHealthyInstanceError(
                f"service {service_name!r} has no healthy instance in the registry; "
                "register one or wait for a health check to pass"
            )
        instance = await self.load_balancer.select_instance(instances)
        if instance is None:
            raise NoHealthyInstanceError(
                f"the load balancer chose no instance of {service_name!r} among "
                f"{len(instances)} healthy one(s)"
            )
        track = self._track
        if track is None:
            return await self.transport.post(instance, method, data)
        with track(instance):
            return await self.transport.post(instance, method, data)

    async def aclose(self) -> None:
        """Close the transport if the client opened it."""
        if self._owns_transport:
            await self.transport.aclose()

    async def __aenter__(self) -> MicroserviceClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class ResilientMicroserviceClient(MicroserviceClient):
    """A client that applies fallback, retry, bulkhead, breaker and timeout.

    Every layer is optional; the ones given are applied in the order of
    :data:`PIPELINE`, each once (per call for fallback and retry, per attempt
    for the others). The breaker is the one given, never a copy.
    """

    def __init__(
        self,
        registry: Registry,
        load_balancer: Balancer,
        circuit_breaker: CircuitBreaker | None = None,
        retry_policy: RetryPolicy | None = None,
        bulkhead: BulkheadPattern | None = None,
        timeout: TimeoutPattern | None = None,
        fallback: FallbackPattern | None = None,
        *,
        transport: Transport | None = None,
    ) -> None:
        for value, kind, what in (
            (retry_policy, RetryPolicy, "retry_policy"),
            (bulkhead, BulkheadPattern, "bulkhead"),
            (timeout, TimeoutPattern, "timeout"),
            (fallback, FallbackPattern, "fallback"),
        ):
            if value is not None and not isinstance(value, kind):
                raise ConfigurationError(
                    f"ResilientMicroserviceClient {what}: must be a "
                    f"{kind.__name__} or None, got {value!r}"
                )
        super().__init__(registry, load_balancer, circuit_breaker, transport=transport)
        self.retry_policy = retry_policy
        self.bulkhead = bulkhead
        self.timeout = timeout
        self.fallback = fallback

    @property
    def layers(self) -> tuple[str, ...]:
        """The configured layers, outermost first."""
        present = {
            "fallback": self.fallback,
            "retry": self.retry_policy,
            "bulkhead": self.bulkhead,
            "breaker": self.circuit_breaker,
            "timeout": self.timeout,
        }
        return tuple(name for name in PIPELINE if present[name] is not None)

    async def call_service(
        self, service_name: str, method: str, data: Any = None
    ) -> Any:
        """One call through every configured layer."""
        return await self.execute(self.call_once, service_name, method, data)

    async def execute(
        self,
        func: Callable[..., Awaitable[Any]],
        /,
        *args: Any,
        _start: float | None = None,
    ) -> Any:
        """Apply the configured layers to ``func(*args)``.

        One coroutine runs the layers' permit protocols in :data:`PIPELINE`
        order; the behaviour is that of nesting the layers' own ``execute``
        methods in that order, without their frames. (``_start`` is internal:
        the start of an execution already under the retry deadline.)
        """
        retry = self.retry_policy
        fallback = self.fallback
        if _start is None:
            if fallback is not None:
                fallback.executions += 1
            if retry is not None:
                retry.executions += 1
                if retry.deadline is not None:
                    return await self._under_deadline(retry, retry.deadline, func, args)
        bulkhead = self.bulkhead
        breaker = self.circuit_breaker
        timeout = self.timeout
        attempt = 0
        try:
            while True:
                attempt += 1
                if retry is not None:
                    retry.attempts += 1
                try:
                    if bulkhead is not None:
                        # try_acquire(), inline.
                        if bulkhead._available and not bulkhead._waiters:
                            bulkhead._available -= 1
                            bulkhead.acquired += 1
                        else:
                            await bulkhead.acquire()
                    try:
                        if breaker is None:
                            episode = 0
                        elif breaker._state is _CLOSED:
                            # admit(), its common case inline (as in
                            # CircuitBreaker.call).
                            episode = breaker._episode
                            breaker._ep_admitted += 1
                        else:
                            episode = breaker.admit()
                        try:
                            if timeout is None:
                                result = await func(*args)
                            else:
                                # arm(), its common case inline: the loop
                                # is the pattern's and its timer is set
                                # (no task while the pattern has no loop
                                # yet or its loop stopped: arm() sets up).
                                task = _current_task(timeout._loop)
                                if task is None or timeout._timer is None:
                                    entry = timeout.arm()
                                else:
                                    entry = [
                                        timeout._time() + timeout.timeout,
                                        task,
                                        _RUNNING,
                                    ]
                                    timeout.armed += 1
                                    queue = timeout._queue
                                    while queue and queue[0][2]:
                                        queue.popleft()
                                    queue.append(entry)
                                try:
                                    result = await func(*args)
                                except BaseException as exc:
                                    timeout.disarm(entry, exc)
                                    raise
                                # disarm(entry, None), its common case inline.
                                if not entry[2]:  # still _RUNNING
                                    entry[2] = _DONE
                                else:
                                    timeout.disarm(entry, None)
                        except BaseException as exc:
                            if breaker is not None:
                                breaker.record_exception(episode, exc)
                            raise
                        if breaker is not None:
                            # record_success(episode), its common case inline
                            # (as in CircuitBreaker.call).
                            if episode == breaker._clean:
                                breaker._ep_succeeded += 1
                            else:
                                breaker.record_success(episode)
                        return result
                    finally:
                        if bulkhead is not None:
                            # release(), its common case inline: nobody waits
                            # and the permit is one of those in use.
                            if (
                                bulkhead._waiters
                                or bulkhead._available >= bulkhead.max_concurrent_calls
                            ):
                                bulkhead.release()
                            else:
                                bulkhead._available += 1
                except Exception as exc:
                    if retry is None:
                        raise
                    delay = retry.after_failure(attempt, exc, _start)
                    if delay is None:
                        raise
                await asyncio.sleep(delay)
        except Exception as exc:
            if fallback is None or not fallback.applies(exc):
                raise
            return await fallback.answer(*args)

    async def _under_deadline(
        self,
        retry: RetryPolicy,
        deadline: float,
        func: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
    ) -> Any:
        """:meth:`execute` with the retry's overall deadline over all of it."""
        start = asyncio.get_running_loop().time()
        try:
            try:
                async with asyncio.timeout_at(start + deadline):
                    return await self.execute(func, *args, _start=start)
            except TimeoutError as exc:
                if isinstance(exc, CallTimeoutError):
                    raise
                raise retry.deadline_error() from exc
        except CallTimeoutError as exc:
            if self.fallback is None or not self.fallback.applies(exc):
                raise
            return await self.fallback.answer(*args)
