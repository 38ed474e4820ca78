"""Services calling services in one process, through the real call path, with
latencies measured exactly on the event loop's clock.

A :class:`Network` is a small deployment: a
:class:`~impl.registry.ServiceRegistry` where each added :class:`ChainService`
is registered as an instance, a round-robin balancer, and an
:class:`~impl.transport.InMemoryTransport` whose handler is the services
themselves. A call from one service to another (D3.1) is a call of the
network's :class:`~impl.client.ResilientMicroserviceClient`: the registry is
asked for the callee's healthy instances, the balancer chooses one, and the
transport carries ``POST /call`` with a JSON body there and back. The caller
is blocked until the answer is back, and the call costs:

- the network delay of the hop, half on the way out (the transport's latency)
  and half on the way back (:attr:`Network.delay`, a number or a function of
  caller and callee);
- the time the request waits for one of the callee's workers (``workers``,
  default 1: requests are served one at a time, first come first served);
- the callee's own ``processing_time``, during which it holds its worker.

After its own processing a service makes the calls of its plan, ``then``: a
sequence of *stages* run one after another, each stage a set of services
called at once and all awaited (a fan-out). The worker is released before the
downstream calls, as an asyncio server does, so a service's queue depends on
its own processing only. Each service records every request it answered as a
:class:`Visit` (arrival, start, finish), which is how queueing time is
observed; the network records every call it carried as a :class:`Call`.

Deadlines propagate (T3.1). A call made with ``timeout=`` has a deadline on
the loop's clock; the request carries it, and every call the callee makes on
its behalf gets the same deadline, so each hop has what is left of its
caller's budget, never a fresh timeout. A hop whose caller has nothing left is
not made: the caller fails at once with :class:`~impl.errors.CallTimeoutError`.
When the deadline passes, the first caller gets ``CallTimeoutError`` and,
because the in-memory transport runs each handler inside its caller's task,
the whole chain under it is cancelled: nothing keeps working for an answer
nobody will read. (All services here share one clock, so the deadline can
travel as an instant; across real machines it would travel as the remaining
duration and lose the outbound delay.)

On the virtual-time loop of the test harness, a chain whose delays and
processing times are binary fractions (multiples of 1/8 s, say) is measured
exactly: the caller's elapsed time is a sum of those numbers, with no
rounding and no scheduling noise.

>>> import asyncio
>>> net = Network(delay=0.02)
>>> plans = {"front": [["users", "orders"]], "users": [], "orders": []}
>>> for name, then in plans.items():
...     _ = net.add(ChainService(name, processing_time=0.01, then=then))
>>> async def measure() -> float:
...     loop = asyncio.get_running_loop()
...     start = loop.time()
...     await net.call("client", "front", {"id": 1})
...     return loop.time() - start
>>> asyncio.run(measure()) >= 0.06  # front's hop, then two hops side by side
True
>>> sorted(v.service for s in net.services.values() for v in s.visits)
['front', 'orders', 'users']
>>> net.transport.stats.answered  # three real calls through the transport
3
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from impl.balancing import RoundRobinStrategy
from impl.client import ResilientMicroserviceClient
from impl.endpoints import ServiceEndpoint, ServiceInstance, check_identifier
from impl.errors import (
    CallError,
    CallTimeoutError,
    ConfigurationError,
    NoHealthyInstanceError,
)
from impl.registry import ServiceRegistry
from impl.transport import InMemoryTransport, ServiceRequest

logger = logging.getLogger("impl")

Delay = float | Callable[[str, str], float]

#: The method every chain call posts to.
METHOD = "call"

#: The earliest deadline a timer of this task already enforces. A call under
#: it with the same deadline needs no timer of its own: the enclosing one
#: cancels the whole chain at that instant, and two timers firing at one
#: instant would race.
_ENFORCED: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "chain_deadline", default=None
)


def _seconds(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigurationError(
            f"{what}: must be a number of seconds >= 0, got {value!r}"
        )
    return float(value)


@dataclass(frozen=True)
class Visit:
    """One request served by a service, on the loop's clock."""

    service: str
    caller: str
    #: When the request reached the service.
    arrived: float
    #: When a worker took it (``started - arrived`` is its queueing time).
    started: float
    #: When the service's own processing ended.
    processed: float
    #: When the service answered, after its downstream calls.
    answered: float
    #: The deadline the request carried, if any.
    deadline: float | None = None

    @property
    def queue_time(self) -> float:
        return self.started - self.arrived


@dataclass(frozen=True)
class Call:
    """One call the network carried: who called whom, when, with what deadline."""

    caller: str
    callee: str
    at: float
    deadline: float | None

    @property
    def timeout(self) -> float | None:
        """The budget the call was made with: its deadline less its start."""
        return None if self.deadline is None else self.deadline - self.at


class _Workers:
    """A FIFO pool of ``size`` workers: the first to ask is the first served."""

    def __init__(self, size: int) -> None:
        self.free = size
        self._waiting: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> None:
        if self.free > 0 and not self._waiting:
            self.free -= 1
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.release()  # the worker was handed to us: hand it on
            elif waiter in self._waiting:
                self._waiting.remove(waiter)
            raise

    def release(self) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.free += 1


class ChainService:
    """A service in a :class:`Network`: queue, process, then call its plan.

    Args:
        name: the service's name in the network and the registry.
        processing_time: seconds of its own work per request.
        workers: requests it processes at once; others wait in FIFO order.
        then: stages of downstream calls made after processing; each stage is
            a collection of service names, called at once and all awaited.
    """

    def __init__(
        self,
        name: str,
        *,
        processing_time: float = 0.0,
        workers: int = 1,
        then: Iterable[Iterable[str]] = (),
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ConfigurationError(
                f"ChainService name: must be a non-empty string, got {name!r}"
            )
        check_identifier(name, "ChainService name")
        self.name = name
        self.processing_time = _seconds(
            processing_time, f"ChainService {name} processing_time"
        )
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ConfigurationError(
                f"ChainService {name} workers: must be an int >= 1, got {workers!r}"
            )
        self.workers = workers
        self.then: tuple[tuple[str, ...], ...] = tuple(tuple(stage) for stage in then)
        self.visits: list[Visit] = []
        self._pool = _Workers(workers)
        self.network: Network | None = None

    def __repr__(self) -> str:
        return f"<ChainService {self.name}: {len(self.visits)} served>"

    async def handle(
        self, caller: str, request: Any, deadline: float | None = None
    ) -> dict[str, Any]:
        """Serve one request: wait for a worker, process, then run the plan.

        The downstream calls carry ``deadline``, the one the request came with.
        """
        loop = asyncio.get_running_loop()
        arrived = loop.time()
        await self._pool.acquire()
        try:
            started = loop.time()
            if self.processing_time:
                await asyncio.sleep(self.processing_time)
            processed = loop.time()
        finally:
            self._pool.release()
        answers: list[Any] = []
        for stage in self.then:
            answers.append(await self._stage(stage, request, deadline))
        answered = loop.time()
        self.visits.append(
            Visit(self.name, caller, arrived, started, processed, answered, deadline)
        )
        return {"service": self.name, "request": request, "downstream": answers}

    async def _stage(
        self, stage: Sequence[str], request: Any, deadline: float | None = None
    ) -> list[Any]:
        if self.network is None:
            raise ConfigurationError(
                f"ChainService {self.name} calls {', '.join(stage)} but belongs to "
                "no Network; add it to one with Network.add"
            )
        network = self.network
        return list(
            await asyncio.gather(
                *(
                    network.call(self.name, callee, request, deadline=deadline)
                    for callee in stage
                )
            )
        )


class Network:
    """Services added to it, reached through a registry, a balancer and a transport.

    ``delay`` is a hop's network delay, there and back: a number of seconds
    for every hop, or a function of (caller, callee). Half is the transport's
    latency before the callee sees the request and half is waited before the
    caller sees the answer.

    Attributes:
        registry: where each added service is registered as one instance.
        transport: the in-memory transport whose handler is the services.
        client: the resilient client every call goes through (no layers
            configured: a chain's hops add nothing but their own latency).
        calls: every call carried, in the order they were made.
    """

    def __init__(self, *, delay: Delay = 0.0) -> None:
        if not callable(delay):
            _seconds(delay, "Network delay")
        self.delay = delay
        self.services: dict[str, ChainService] = {}
        self.registry = ServiceRegistry()
        self.transport = InMemoryTransport(self._serve, latency=self._outbound)
        self.client = ResilientMicroserviceClient(
            self.registry, RoundRobinStrategy(), transport=self.transport
        )
        self.calls: list[Call] = []
        #: Requests being handled right now, all services together.
        self.in_flight = 0
        self._unregistered: list[ChainService] = []

    def add(self, service: ChainService) -> ChainService:
        """Add ``service``; it is registered before the next call is made."""
        if service.name in self.services:
            raise ConfigurationError(
                f"Network already has a service named {service.name!r}"
            )
        service.network = self
        self.services[service.name] = service
        self._unregistered.append(service)
        return service

    async def _register_added(self) -> None:
        while self._unregistered:
            service = self._unregistered.pop(0)
            # The port only names the instance: no socket is ever opened.
            port = 8000 + len(self.services) - len(self._unregistered)
            instance = ServiceInstance(
                service.name, f"{service.name}-1", ServiceEndpoint("127.0.0.1", port)
            )
            await self.registry.register(instance)

    def hop_delay(self, caller: str, callee: str) -> float:
        delay = self.delay(caller, callee) if callable(self.delay) else self.delay
        return _seconds(delay, f"delay of the hop {caller} -> {callee}")

    def _outbound(self, request: ServiceRequest) -> float:
        return self.hop_delay(request.body["caller"], request.instance.service_name) / 2

    async def _serve(self, request: ServiceRequest) -> Any:
        """The transport's handler: the chosen instance's service answers."""
        body = request.body
        callee = request.instance.service_name
        half = self.hop_delay(body["caller"], callee) / 2
        self.in_flight += 1
        try:
            try:
                answer = await self.services[callee].handle(
                    body["caller"], body["request"], body["deadline"]
                )
            except Exception:
                if half:
                    await asyncio.sleep(half)  # a failure travels back too
                raise
        finally:
            self.in_flight -= 1
        if half:
            await asyncio.sleep(half)
        return answer

    async def call(
        self,
        caller: str,
        callee: str,
        request: Any = None,
        *,
        timeout: float | None = None,
        deadline: float | None = None,
    ) -> Any:
        """D3.1: a synchronous call; returns the callee's answer once it is back.

        ``timeout`` (seconds from now) and ``deadline`` (an instant on the
        loop's clock, the one a request came with) bound the call; with both,
        the earlier counts. Past it, :class:`~impl.errors.CallTimeoutError`.
        """
        if callee not in self.services:
            raise NoHealthyInstanceError(
                f"{caller} called {callee!r}, which is not in the network "
                f"(services: {', '.join(sorted(self.services)) or 'none'})"
            )
        await self._register_added()
        now = asyncio.get_running_loop().time()
        if timeout is not None:
            due = now + _seconds(timeout, f"timeout of {caller} -> {callee}")
            deadline = due if deadline is None else min(deadline, due)
        body = {"caller": caller, "request": request, "deadline": deadline}
        if deadline is None:
            self.calls.append(Call(caller, callee, now, None))
            return await self.client.call_service(callee, METHOD, body)
        if deadline <= now:
            raise CallTimeoutError(
                f"{caller} -> {callee}: the caller's deadline passed "
                f"{now - deadline} s ago; the call is not made",
                timeout=0.0,
            )
        self.calls.append(Call(caller, callee, now, deadline))
        enforced = _ENFORCED.get()
        if enforced is not None and enforced <= deadline:
            return await self.client.call_service(callee, METHOD, body)
        token = _ENFORCED.set(deadline)
        try:
            async with asyncio.timeout_at(deadline):
                return await self.client.call_service(callee, METHOD, body)
        except CallError:
            raise
        except TimeoutError as exc:
            raise CallTimeoutError(
                f"{caller} -> {callee}: no answer within {deadline - now} s, "
                "what was left of the caller's budget",
                timeout=deadline - now,
            ) from exc
        finally:
            _ENFORCED.reset(token)

    async def fan_out(
        self,
        caller: str,
        callees: Iterable[str],
        request: Any = None,
        *,
        timeout: float | None = None,
    ) -> list[Any]:
        """Call every service of ``callees`` at once and wait for all answers."""
        return list(
            await asyncio.gather(
                *(self.call(caller, c, request, timeout=timeout) for c in callees)
            )
        )


def nested_chain(
    network: Network, names: Sequence[str], processing_times: Sequence[float]
) -> None:
    """Add services ``names[0] -> names[1] -> ...``, each calling the next."""
    if len(names) != len(processing_times):
        raise ConfigurationError(
            f"nested_chain: {len(names)} names but {len(processing_times)} "
            "processing times"
        )
    for k, (name, p) in enumerate(zip(names, processing_times, strict=True)):
        then = [[names[k + 1]]] if k + 1 < len(names) else []
        network.add(ChainService(name, processing_time=p, then=then))
