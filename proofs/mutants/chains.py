"""Faulty variants of :mod:`impl.chains`: calls, fan-outs and the worker queue."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from impl import chains as ch
from proofs.obligation import mutant

SUBJECT = "impl.chains"


class _ServiceCallingInTurn(ch.ChainService):
    """Runs the calls of a stage one after another instead of at once."""

    async def _stage(self, stage: Sequence[str], request: Any) -> list[Any]:
        assert self.network is not None
        return [await self.network.call(self.name, c, request) for c in stage]


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

    async def call(self, caller: str, callee: str, request: Any = None) -> Any:
        task = asyncio.ensure_future(super().call(caller, callee, request))
        _PENDING.add(task)
        task.add_done_callback(_PENDING.discard)
        await asyncio.sleep(0)
        return {"service": callee, "request": request, "downstream": []}


_PENDING: set[asyncio.Future[Any]] = set()

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
