r"""Service state, system state and autonomy (D1.3, D1.4, T1.1).

The state of a service at a moment is three things (D1.3):

- its *queue*: the requests it has received and not yet started, oldest first;
- its *memory*: what it keeps between requests, a mapping from keys to values;
- its *computation*: the request it is working on (if any) and how many it has
  finished.

The state of a system is the product of its services' states (D1.4): one
component per service, found by the service's name (:class:`SystemState`).
Projecting on a service gives its component; building a system state from the
projections gives the same system state back.

Autonomy (T1.1) is then a property of the system's step function: a step of
one service (:func:`system_step`) computes that service's new state from its
own state and the event alone, and leaves every other component as it was.
:func:`system_step` reaches the system state only through indexing by name and
:meth:`SystemState.updated`, so the proof can run it on a solver's array of
states and a service step the solver knows nothing about.

All values here are immutable: a state can be shared, compared and kept as
evidence without anyone changing it afterwards.

>>> s = ServiceState().arrive(("user-1", "Ada")).start()
>>> s.computation.current
('user-1', 'Ada')
>>> out, s = service_step(s, ("finish",))
>>> out, s.memory["user-1"], s.computation.completed
(('done', ('user-1', 'Ada')), 'Ada', 1)
>>> system = system_state({"users": s, "orders": ServiceState()})
>>> out, after = system_step(system, "orders", ("arrive", ("o-1", 3)))
>>> after["users"] is system["users"], after["orders"].queue
(True, (('o-1', 3),))
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeAlias

from spec.errors import StateError

#: A request a service handles: store ``value`` under ``key``.
Request: TypeAlias = tuple[str, Any]
#: An event of one service: ``("arrive", request)``, ``("start",)``,
#: ``("finish",)`` or ``("read", key)``.
LocalEvent: TypeAlias = tuple[Any, ...]


def _hashable(value: object, what: str) -> None:
    try:
        hash(value)
    except TypeError:
        raise StateError(
            f"{what} must be immutable (hashable), got {type(value).__name__}"
        ) from None


class Memory(Mapping[str, Any]):
    """A service's memory: an immutable mapping from string keys to values."""

    __slots__ = ("_items",)
    _items: tuple[tuple[str, Any], ...]

    def __init__(self, items: Mapping[str, Any] | None = None) -> None:
        pairs = []
        for key, value in (items or {}).items():
            if not isinstance(key, str):
                raise StateError(f"a memory key must be a string, got {key!r}")
            _hashable(value, f"the value under memory key {key!r}")
            pairs.append((key, value))
        object.__setattr__(self, "_items", tuple(sorted(pairs, key=lambda p: p[0])))

    def __getitem__(self, key: str) -> Any:
        for k, value in self._items:
            if k == key:
                return value
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Memory) and self._items == other._items

    def __hash__(self) -> int:
        return hash(self._items)

    def __repr__(self) -> str:
        return f"Memory({dict(self._items)!r})"

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Memory is immutable; use ServiceState.remember")

    def with_item(self, key: str, value: Any) -> Memory:
        """A memory with ``key`` set to ``value``."""
        return Memory({**dict(self._items), key: value})


@dataclass(frozen=True)
class Computation:
    """What a service is doing: the request in progress and how many it finished."""

    current: Request | None = None
    completed: int = 0

    def __post_init__(self) -> None:
        if (
            isinstance(self.completed, bool)
            or not isinstance(self.completed, int)
            or self.completed < 0
        ):
            raise StateError(f"completed must be an int >= 0, got {self.completed!r}")
        if self.current is not None:
            _check_request(self.current, "the current request")


def _check_request(request: object, what: str) -> None:
    if not (
        isinstance(request, tuple) and len(request) == 2 and isinstance(request[0], str)
    ):
        raise StateError(f"{what} must be a (key, value) pair, got {request!r}")
    _hashable(request[1], f"the value of {what}")


@dataclass(frozen=True)
class ServiceState:
    """D1.3: the state ``(q, m, c)`` of one service."""

    queue: tuple[Request, ...] = ()
    memory: Memory = field(default_factory=Memory)
    computation: Computation = field(default_factory=Computation)

    def __post_init__(self) -> None:
        if not isinstance(self.queue, tuple):
            raise StateError(
                f"queue must be a tuple of requests, got {type(self.queue).__name__}"
            )
        for k, request in enumerate(self.queue):
            _check_request(request, f"queued request {k}")
        if not isinstance(self.memory, Memory):
            raise StateError(
                f"memory must be a Memory, got {type(self.memory).__name__}"
            )
        if not isinstance(self.computation, Computation):
            raise StateError(
                "computation must be a Computation, got "
                f"{type(self.computation).__name__}"
            )

    def components(self) -> tuple[tuple[Request, ...], Memory, Computation]:
        """The three components ``(q, m, c)``."""
        return self.queue, self.memory, self.computation

    def arrive(self, request: Request) -> ServiceState:
        """A request joins the back of the queue."""
        _check_request(request, "an arriving request")
        return replace(self, queue=(*self.queue, request))

    def start(self) -> ServiceState:
        """An idle service starts the oldest queued request (else: unchanged)."""
        if self.computation.current is not None or not self.queue:
            return self
        head, *rest = self.queue
        return replace(
            self,
            queue=tuple(rest),
            computation=replace(self.computation, current=head),
        )

    def remember(self, key: str, value: Any) -> ServiceState:
        return replace(self, memory=self.memory.with_item(key, value))


def from_components(
    queue: tuple[Request, ...], memory: Memory, computation: Computation
) -> ServiceState:
    """The service state with these three components."""
    return ServiceState(queue, memory, computation)


def service_step(state: ServiceState, event: LocalEvent) -> tuple[Any, ServiceState]:
    """One step of one service: ``(output, new state)``.

    ``("arrive", request)`` queues it; ``("start",)`` begins the oldest;
    ``("finish",)`` completes the current request, storing its value under
    its key, and outputs ``("done", request)``; ``("read", key)`` outputs the
    remembered value (``None`` if absent). Anything else is refused.
    """
    if not isinstance(event, tuple) or not event:
        raise StateError(f"an event is a non-empty tuple, got {event!r}")
    kind = event[0]
    if kind == "arrive" and len(event) == 2:
        return None, state.arrive(event[1])
    if kind == "start" and len(event) == 1:
        return None, state.start()
    if kind == "finish" and len(event) == 1:
        current = state.computation.current
        if current is None:
            return None, state
        key, value = current
        done = replace(
            state.remember(key, value),
            computation=Computation(None, state.computation.completed + 1),
        )
        return ("done", current), done
    if kind == "read" and len(event) == 2:
        return state.memory.get(event[1]), state
    raise StateError(
        f"unknown event {event!r}; expected ('arrive', request), ('start',), "
        "('finish',) or ('read', key)"
    )


# System state (D1.4) ---------------------------------------------------------


@dataclass(frozen=True)
class SystemState:
    """D1.4: the product of the services' states, one component per name."""

    components: tuple[tuple[str, ServiceState], ...] = ()

    def __post_init__(self) -> None:
        names = [name for name, _ in self.components]
        if names != sorted(set(names)):
            raise StateError(
                "components must be sorted by service name with no name twice, "
                f"got {names}; build system states with system_state()"
            )
        for name, state in self.components:
            if not isinstance(state, ServiceState):
                raise StateError(
                    f"the component of {name!r} must be a ServiceState, "
                    f"got {type(state).__name__}"
                )

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.components)

    def __getitem__(self, name: str) -> ServiceState:
        """The projection on service ``name``."""
        for n, state in self.components:
            if n == name:
                return state
        raise StateError(
            f"no service {name!r} in this system (it has: {', '.join(self.names)})"
        )

    def updated(self, name: str, state: ServiceState) -> SystemState:
        """The system state with ``name``'s component replaced by ``state``."""
        self[name]
        return SystemState(
            tuple((n, state if n == name else s) for n, s in self.components)
        )


def system_state(states: Mapping[str, ServiceState]) -> SystemState:
    """The product of the given service states, keyed by service name."""
    for name in states:
        if not isinstance(name, str) or not name:
            raise StateError(f"a service name must be a non-empty string, got {name!r}")
    return SystemState(tuple(sorted(states.items(), key=lambda item: item[0])))


def project(system: SystemState, name: str) -> ServiceState:
    """The component of service ``name``."""
    return system[name]


def projections(system: SystemState) -> dict[str, ServiceState]:
    """Every component, by service name."""
    return {name: project(system, name) for name in system.names}


LocalStep: TypeAlias = Callable[[Any, Any], tuple[Any, Any]]


def system_step(
    system: Any, name: Any, event: Any, local: LocalStep = service_step
) -> tuple[Any, Any]:
    """A step of service ``name``: its local step on its own component only.

    T1.1: the output and the new component depend on that component and the
    event alone, and every other component is left as it was.
    """
    output, new = local(system[name], event)
    return output, system.updated(name, new)
