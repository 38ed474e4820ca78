r"""State obligations on the specification: D1.3, D1.4 and the spec side of T1.1.

- D1.3: a service state built from a queue, a memory and a computation reads
  each of them back, is immutable, and each kind of local event touches the
  components it is about and no other.
- D1.4: the system state is the product of its services' states: projecting
  on every service and rebuilding gives the same system state, whatever the
  order the services were given in.
- T1.1 (specification): a step of one service leaves every other component
  untouched. Z3 proves it for the subject's system step run on an array of
  states indexed by an uninterpreted sort of service names, with a service
  step the solver knows nothing about: so for every number of services and
  every local behaviour. Concrete runs check besides that other components are
  not merely equal but the very same objects.

The implementation's side of T1.1 (no mutable object reachable from two
instances or registries) is decided with the registry's obligations.
"""

from __future__ import annotations

from typing import Any

import z3
from hypothesis import strategies as st

from proofs.obligation import Method, obligation
from proofs.profiles import Profile
from proofs.search import search
from proofs.solvers import prove
from proofs.verdict import Outcome, Verdict

SUBJECT = "spec.state"

_KEYS = ("user-1", "user-2", "order-7")
_NAMES = ("users", "orders", "payments", "mail")


def _requests() -> st.SearchStrategy[tuple[str, int]]:
    return st.tuples(st.sampled_from(_KEYS), st.integers(0, 9))


def _parts(q: Any) -> st.SearchStrategy[tuple[Any, Any, Any]]:
    return st.tuples(
        st.lists(_requests(), max_size=4).map(tuple),
        st.dictionaries(st.sampled_from(_KEYS), st.integers(0, 9), max_size=3).map(
            q.Memory
        ),
        st.builds(q.Computation, st.none() | _requests(), st.integers(0, 5)),
    )


def _states(q: Any) -> st.SearchStrategy[Any]:
    return _parts(q).map(lambda p: q.ServiceState(*p))


def _events() -> st.SearchStrategy[tuple[Any, ...]]:
    return st.one_of(
        st.tuples(st.just("arrive"), _requests()),
        st.just(("start",)),
        st.just(("finish",)),
        st.tuples(st.just("read"), st.sampled_from(_KEYS)),
    )


def _state_text(s: Any) -> dict[str, Any]:
    return {
        "queue": [list(r) for r in s.queue],
        "memory": dict(s.memory),
        "computation": {
            "current": None
            if s.computation.current is None
            else list(s.computation.current),
            "completed": s.computation.completed,
        },
    }


@obligation(
    "D1.3/components-read-back",
    reading="A service state (q, m, c) built from a queue, a memory and a "
    "computation gives each back unchanged and rebuilds from them; it cannot "
    "be changed in place (fields and memory are read-only, mutable values are "
    "refused); and each local event touches only its components: an arrival "
    "only the queue, a read nothing, a start not the memory, a finish not the "
    "queue (and it stores the request's value in memory).",
    formal=r"\mathrm{State}(S_i, t) = (q_i, m_i, c_i),\ "
    r"\pi_q, \pi_m, \pi_c \circ \mathrm{build} = \mathrm{id}",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=SUBJECT,
)
def _components(q: Any, profile: Profile) -> Verdict:
    def prop(case: tuple[tuple[Any, Any, Any], tuple[Any, ...]]) -> str | None:
        (queue, memory, computation), event = case
        s = q.from_components(queue, memory, computation)
        if (s.queue, s.memory, s.computation) != (queue, memory, computation):
            return "a component did not read back as given"
        if s.components() != (queue, memory, computation):
            return "components() differs from the fields"
        if q.from_components(*s.components()) != s:
            return "rebuilding from the components gave another state"
        for attempt in (
            lambda: setattr(s, "queue", ()),
            lambda: memory.__setitem__("user-1", 1),
            lambda: q.ServiceState(queue, q.Memory({"user-1": [1]}), computation),
            lambda: q.ServiceState(list(queue), memory, computation),
        ):
            try:
                attempt()
            except (AttributeError, TypeError, ValueError):
                continue
            return "a service state was changed in place or built from mutable parts"
        _, after = q.service_step(s, event)
        kind = event[0]
        same = {
            "queue": after.queue == s.queue,
            "memory": after.memory == s.memory,
            "computation": after.computation == s.computation,
        }
        allowed = {
            "arrive": {"queue"},
            "read": set(),
            "start": {"queue", "computation"},
            "finish": {"memory", "computation"},
        }[kind]
        touched = {k for k, unchanged in same.items() if not unchanged}
        if touched - allowed:
            return f"event {kind} changed {sorted(touched - allowed)}"
        if kind == "finish" and s.computation.current is not None:
            key, value = s.computation.current
            if after.memory.get(key) != value:
                return "finishing a request did not store its value"
        return None

    found = search(st.tuples(_parts(q), _events()), prop, profile)
    if found.found:
        (queue, memory, computation), event = found.counterexample  # type: ignore[misc]
        return Verdict.refuted(
            "Hypothesis, shrunk",
            {
                "state": _state_text(q.ServiceState(queue, memory, computation)),
                "event": list(event),
                "problem": found.message,
            },
            searched={"examples": found.calls},
        )
    return Verdict.checked(
        "Hypothesis",
        searched={"examples": found.calls},
        bounds="queues of up to 4 requests, memories of up to 3 keys",
    )


def _systems(q: Any) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(_NAMES), _states(q), min_size=1, max_size=4)


@obligation(
    "D1.4/product-round-trips",
    reading="The system state is the product of its services' states: it has "
    "one component per service, projecting on a service gives that service's "
    "state, and rebuilding from all the projections gives the same system "
    "state, whatever order the services were listed in.",
    formal=r"\mathrm{SystemState} = \prod_i \mathrm{State}(S_i),\ "
    r"\langle \pi_1, \dots, \pi_n \rangle = \mathrm{id}",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=SUBJECT,
)
def _product(q: Any, profile: Profile) -> Verdict:
    def prop(states: dict[str, Any]) -> str | None:
        system = q.system_state(states)
        if sorted(system.names) != sorted(states):
            return f"components for {sorted(system.names)}, services {sorted(states)}"
        for name, state in states.items():
            if q.project(system, name) != state:
                return f"projection on {name} differs from its state"
        if q.system_state(q.projections(system)) != system:
            return "rebuilding from the projections gave another system state"
        if q.system_state(dict(reversed(list(states.items())))) != system:
            return "listing the services in another order gave another product"
        return None

    found = search(_systems(q), prop, profile)
    if found.found:
        return Verdict.refuted(
            "Hypothesis, shrunk",
            {
                "services": {
                    n: _state_text(s)
                    for n, s in sorted((found.counterexample or {}).items())
                },
                "problem": found.message,
            },
            searched={"examples": found.calls},
        )
    return Verdict.checked(
        "Hypothesis",
        searched={"examples": found.calls},
        bounds="systems of 1-4 services",
    )


class _ZSystem:
    """An array of states indexed by service names, as the system step sees it."""

    def __init__(self, states: Any) -> None:
        self.states = states

    def __getitem__(self, name: Any) -> Any:
        return z3.Select(self.states, name)

    def updated(self, name: Any, state: Any) -> _ZSystem:
        return _ZSystem(z3.Store(self.states, name, state))


@obligation(
    "T1.1/spec-steps-are-local",
    reading="In the specification a step of one service leaves every other "
    "service's state untouched, and the stepping service's new state and "
    "output depend on its own state and the event alone. Z3 proves it for the "
    "system step over an array of states (any number of services) and an "
    "uninterpreted local step (any service behaviour); concrete runs check "
    "besides that the other components stay the very same objects.",
    formal=r"\forall j \ne i:\ \mathrm{step}_i(\Sigma, e)_j = \Sigma_j,\quad "
    r"\mathrm{step}_i(\Sigma, e)_i = \delta(\Sigma_i, e)",
    method=Method.Z3,
    expected=Outcome.PROVED,
    subject=SUBJECT,
)
def _local_steps(q: Any, profile: Profile) -> Verdict:
    case = st.tuples(
        _systems(q),
        st.lists(st.tuples(st.sampled_from(_NAMES), _events()), max_size=12),
    )

    def prop(c: tuple[dict[str, Any], list[tuple[str, Any]]]) -> str | None:
        states_, steps = c
        system = q.system_state(states_)
        for k, (name, ev) in enumerate(steps):
            if name not in states_:
                continue
            _, after_ = q.system_step(system, name, ev)
            for other_name in system.names:
                if other_name != name and after_[other_name] is not system[other_name]:
                    return f"step {k} of {name} replaced the state of {other_name}"
            if after_[name] != q.service_step(system[name], ev)[1]:
                return f"step {k} of {name} is not its local step"
            system = after_
        return None

    found = search(case, prop, profile)
    if found.found:
        states_, steps = found.counterexample  # type: ignore[misc]
        return Verdict.refuted(
            "Hypothesis, shrunk",
            {
                "services": sorted(states_),
                "steps": [[n, list(e)] for n, e in steps],
                "problem": found.message,
            },
            searched={"examples": found.calls},
        )
    name_sort = z3.DeclareSort("Service")
    state_sort = z3.DeclareSort("State")
    event_sort = z3.DeclareSort("Event")
    output_sort = z3.DeclareSort("Output")
    next_state = z3.Function("local_next", state_sort, event_sort, state_sort)
    output_of = z3.Function("local_output", state_sort, event_sort, output_sort)
    states = z3.Array("system", name_sort, state_sort)
    stepping, other = z3.Consts("stepping other", name_sort)
    event = z3.Const("event", event_sort)

    def local(state: Any, e: Any) -> tuple[Any, Any]:
        return output_of(state, e), next_state(state, e)

    output, after = q.system_step(_ZSystem(states), stepping, event, local)
    claims = {
        "others untouched": z3.Implies(
            other != stepping, after[other] == states[other]
        ),
        "own state from own state and event": after[stepping]
        == next_state(states[stepping], event),
        "output from own state and event": output == output_of(states[stepping], event),
    }
    for label, claim in claims.items():
        answer = prove(claim, timeout_ms=profile.solver_timeout_ms)
        if answer.status == "refuted":
            return Verdict.refuted(
                "Z3", {"claim": label, "model": sorted(answer.counterexample)}
            )
        if answer.status == "unknown":
            return Verdict.unknown("Z3", f"{label}: {answer.reason}")

    return Verdict.proved(
        "Z3 over arrays and uninterpreted functions",
        bounds="every number of services, every local step function",
        detail=f"Proved: {', '.join(claims)}. Concrete runs ({found.calls} "
        "examples, up to 12 steps over 1-4 services) found other components "
        "kept as the same objects.",
    )
