"""Faulty variants of :mod:`spec.state`: service state, system state, autonomy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from proofs.obligation import mutant
from spec import state as s

SUBJECT = "spec.state"


def _broadcast(
    system: Any, name: Any, event: Any, local: Any = s.service_step
) -> tuple[Any, Any]:
    # Every service receives the event, as if they shared one inbox.
    output, _ = local(system[name], event)
    for other in system.names:
        system = system.updated(other, local(system[other], event)[1])
    return output, system


mutant(
    "system-step-broadcasts",
    defect="A step of one service is applied to every service, as if all "
    "shared one queue: a change inside one service changes the others.",
    subject=SUBJECT,
    system_step=_broadcast,
)


def _drop_idle(states: Mapping[str, s.ServiceState]) -> s.SystemState:
    return s.system_state({n: st for n, st in states.items() if st != s.ServiceState()})


mutant(
    "product-drops-idle-services",
    defect="The system state leaves out services whose state is still initial, "
    "so the product has fewer components than the system has services.",
    subject=SUBJECT,
    system_state=_drop_idle,
)

mutant(
    "projection-forgets-memory",
    defect="Projecting the system state on a service returns its queue and "
    "computation with an empty memory.",
    subject=SUBJECT,
    project=lambda system, name: replace(system[name], memory=s.Memory()),
    projections=lambda system: {
        n: replace(system[n], memory=s.Memory()) for n in system.names
    },
)

mutant(
    "rebuild-reverses-queue",
    defect="Building a state from its components reverses the queue, so the "
    "oldest request is no longer at the front.",
    subject=SUBJECT,
    from_components=lambda queue, memory, computation: s.ServiceState(
        tuple(reversed(queue)), memory, computation
    ),
)


def _finish_forgets(state: s.ServiceState, event: Any) -> tuple[Any, s.ServiceState]:
    if event == ("finish",) and state.computation.current is not None:
        current = state.computation.current
        return ("done", current), replace(
            state, computation=s.Computation(None, state.computation.completed + 1)
        )
    return s.service_step(state, event)


mutant(
    "finish-forgets-memory",
    defect="Finishing a request counts it as done but never stores its value in "
    "the service's memory.",
    subject=SUBJECT,
    service_step=_finish_forgets,
)
