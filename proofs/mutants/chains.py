"""Faulty variants of :mod:`impl.chains`: calls, fan-outs, deadlines, the worker
queue, and the client every hop goes through."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from impl import chains as ch
from impl.client import ResilientMicroserviceClient
from proofs.obligation import mutant

SUBJECT = "impl.chains"


class _ServiceCallingInTurn(ch.ChainService):
    """Runs the calls of a stage one after another instead of at once."""

    async def _stage(
        self, stage: Sequence[str], request: Any, deadline: float | None = None
    ) -> list[Any]:
        assert self.network is not None
        network = self.network
        return [
            await network.call(self.name, c, request, deadline=deadline) for c in stage
        ]


def _chain_in_turn(network: ch.Network, names: Any, processing_times: Any) -> None:
    for k, (name, p) in enumerate(zip(names, processing_times, strict=True)):
        then = [[names[k + 1]]] if k + 1 < len(names) else []
        network.add(_ServiceCallingInTurn(name, processing_time=p, then=then))


mutant(
    "fan-out-awaits-in-turn",
    defect="A fan-out awaits each branch before starting the next, so parallel "
    "calls cost the sum of their latencies.",
    subject=SUBJECT,
    ChainService=_ServiceCallingInTurn,
    nested_chain=_chain_in_turn,
)


class _NetworkChargingDelayEachWay(ch.Network):
    """Charges the whole round-trip delay on the way out and again on the way back."""

    def hop_delay(self, caller: str, callee: str) -> float:
        return 2 * super().hop_delay(caller, callee)


mutant(
    "network-charges-round-trip-twice",
    defect="The network waits the hop's whole round-trip delay in each "
    "direction, doubling every hop's wire time.",
    subject=SUBJECT,
    Network=_NetworkChargingDelayEachWay,
)


class _NetworkNotWaitingForAnswer(ch.Network):
    """Returns as soon as the request is delivered, answering for the callee."""

    async def call(
        self, caller: str, callee: str, request: Any = None, **bounds: Any
    ) -> Any:
        task = asyncio.ensure_future(super().call(caller, callee, request, **bounds))
        _PENDING.add(task)
        task.add_done_callback(_forget)
        await asyncio.sleep(0)
        return {"service": callee, "request": request, "downstream": []}


_PENDING: set[asyncio.Future[Any]] = set()


def _forget(task: asyncio.Future[Any]) -> None:
    """Drop a finished fire-and-forget call, its failure read and ignored."""
    _PENDING.discard(task)
    if not task.cancelled():
        task.exception()


mutant(
    "sync-call-returns-early",
    defect="The 'synchronous' call fires the request and returns a made-up "
    "answer at once, without waiting for the callee.",
    subject=SUBJECT,
    Network=_NetworkNotWaitingForAnswer,
)


class _LastComeFirstServed(ch._Workers):
    def release(self) -> None:
        while self._waiting:
            waiter = self._waiting.pop()  # the newest waiter first
            if not waiter.done():
                waiter.set_result(None)
                return
        self.free += 1


class _ServiceServingNewestFirst(ch.ChainService):
    def __init__(self, name: str, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self._pool = _LastComeFirstServed(self.workers)


mutant(
    "workers-serve-newest-first",
    defect="A busy service hands a freed worker to the request that arrived "
    "last, so requests do not wait in arrival order.",
    subject=SUBJECT,
    ChainService=_ServiceServingNewestFirst,
)


class _ClientSendingTwice(ResilientMicroserviceClient):
    """Sends every call a second time once the first answer is back."""

    async def call_once(self, service_name: str, method: str, data: Any = None) -> Any:
        await super().call_once(service_name, method, data)
        return await super().call_once(service_name, method, data)


mutant(
    "client-sends-each-call-twice",
    defect="The client every hop goes through repeats each request after its "
    "answer is back (a confirmation no one asked for), so each hop's latency, "
    "and everything under it, is paid twice.",
    subject=SUBJECT,
    ResilientMicroserviceClient=_ClientSendingTwice,
)


class _ServiceRestartingTheClock(ch.ChainService):
    """Gives its callees its deadline moved on by its own processing time."""

    async def handle(
        self, caller: str, request: Any, deadline: float | None = None
    ) -> dict[str, Any]:
        if deadline is not None:
            deadline += self.processing_time
        return await super().handle(caller, request, deadline)


mutant(
    "deadline-ignores-own-processing",
    defect="A service does not charge its own processing against the budget "
    "it passes on: each callee gets the caller's remaining time as it was on "
    "arrival, so deadlines drift later along the chain.",
    subject=SUBJECT,
    ChainService=_ServiceRestartingTheClock,
)
