"""Services calling services in one process: chains and fan-outs whose latency
can be measured, exactly, on the event loop's clock.

A :class:`Network` carries synchronous calls between named
:class:`ChainService` objects. A call from one service to another (D3.1)
blocks its caller until the answer is back, and costs:

- the network delay of the hop, half on the way out and half on the way back
  (:attr:`Network.delay`, a number or a function of caller and callee);
- the time the request waits for one of the callee's workers (``workers``,
  default 1: requests are served one at a time, first come first served);
- the callee's own ``processing_time``, during which it holds its worker.

After its own processing a service makes the calls of its plan, ``then``: a
sequence of *stages* run one after another, each stage a set of services
called at once and all awaited (a fan-out). The worker is released before the
downstream calls, as an asyncio server does, so a service's queue depends on
its own processing only. Each service records every request it served as a
:class:`Visit` (arrival, start, finish), which is how queueing time is
observed.

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
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from impl.errors import ConfigurationError, NoHealthyInstanceError

logger = logging.getLogger("impl")

Delay = float | Callable[[str, str], float]


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

    @property
    def queue_time(self) -> float:
        return self.started - self.arrived


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
        name: the service's name in the network.
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

    async def handle(self, caller: str, request: Any) -> dict[str, Any]:
        """Serve one request: wait for a worker, process, then run the plan."""
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
            answers.append(await self._stage(stage, request))
        answered = loop.time()
        self.visits.append(
            Visit(self.name, caller, arrived, started, processed, answered)
        )
        return {"service": self.name, "request": request, "downstream": answers}

    async def _stage(self, stage: Sequence[str], request: Any) -> list[Any]:
        if self.network is None:
            raise ConfigurationError(
                f"ChainService {self.name} calls {', '.join(stage)} but belongs to "
                "no Network; add it to one with Network.add"
            )
        network = self.network
        return list(
            await asyncio.gather(
                *(network.call(self.name, callee, request) for callee in stage)
            )
        )


class Network:
    """Carries calls between the services added to it.

    ``delay`` is a hop's network delay, there and back: a number of seconds
    for every hop, or a function of (caller, callee). Half is waited before
    the callee sees the request and half before the caller sees the answer.
    """

    def __init__(self, *, delay: Delay = 0.0) -> None:
        if not callable(delay):
            _seconds(delay, "Network delay")
        self.delay = delay
        self.services: dict[str, ChainService] = {}

    def add(self, service: ChainService) -> ChainService:
        if service.name in self.services:
            raise ConfigurationError(
                f"Network already has a service named {service.name!r}"
            )
        service.network = self
        self.services[service.name] = service
        return service

    def hop_delay(self, caller: str, callee: str) -> float:
        delay = self.delay(caller, callee) if callable(self.delay) else self.delay
        return _seconds(delay, f"delay of the hop {caller} -> {callee}")

    async def call(self, caller: str, callee: str, request: Any = None) -> Any:
        """D3.1: a synchronous call; returns the callee's answer once it is back."""
        service = self.services.get(callee)
        if service is None:
            raise NoHealthyInstanceError(
                f"{caller} called {callee!r}, which is not in the network "
                f"(services: {', '.join(sorted(self.services)) or 'none'})"
            )
        half = self.hop_delay(caller, callee) / 2
        if half:
            await asyncio.sleep(half)
        answer = await service.handle(caller, request)
        if half:
            await asyncio.sleep(half)
        return answer

    async def fan_out(
        self, caller: str, callees: Iterable[str], request: Any = None
    ) -> list[Any]:
        """Call every service of ``callees`` at once and wait for all answers."""
        return list(
            await asyncio.gather(*(self.call(caller, c, request) for c in callees))
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
