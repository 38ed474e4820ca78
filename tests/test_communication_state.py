"""Service and system state in the specification (D1.3, D1.4, T1.1)."""

from __future__ import annotations

import pytest

from spec import state as s
from spec.errors import StateError


def test_a_request_goes_through_queue_computation_and_memory() -> None:
    state = s.ServiceState().arrive(("k", 1)).arrive(("k", 2))
    _, state = s.service_step(state, ("start",))
    assert state.queue == (("k", 2),) and state.computation.current == ("k", 1)
    out, state = s.service_step(state, ("finish",))
    assert out == ("done", ("k", 1))
    assert s.service_step(state, ("read", "k"))[0] == 1


def test_system_state_round_trips_through_its_projections() -> None:
    system = s.system_state(
        {"b": s.ServiceState(), "a": s.ServiceState().arrive(("x", 0))}
    )
    assert system.names == ("a", "b")
    assert s.system_state(s.projections(system)) == system


def test_a_step_keeps_the_other_components_as_they_were() -> None:
    system = s.system_state({"a": s.ServiceState(), "b": s.ServiceState()})
    _, after = s.system_step(system, "a", ("arrive", ("x", 1)))
    assert after["b"] is system["b"]


@pytest.mark.parametrize(
    ("build", "word"),
    [
        (lambda: s.Memory({"k": [1]}), "immutable"),
        (lambda: s.ServiceState(queue=[("k", 1)]), "tuple"),  # type: ignore[arg-type]
        (lambda: s.Computation(completed=-1), "completed"),
        (lambda: s.service_step(s.ServiceState(), ("explode",)), "unknown event"),
        (lambda: s.system_state({"a": s.ServiceState()})["z"], "no service 'z'"),
    ],
)
def test_bad_states_are_refused_with_the_reason(build: object, word: str) -> None:
    with pytest.raises(StateError, match=word):
        build()  # type: ignore[operator]
