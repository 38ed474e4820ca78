r"""Services, systems, dependency and composition (D1.1, D1.2, D1.5, D1.6).

A *service* is the five-tuple :math:`S = (I, O, P, R, E)`:

- ``inputs`` (I): the interfaces the service offers, each a name and a type;
- ``outputs`` (O): the interfaces it calls out through (what it needs);
- ``logic`` (P): its processing logic, as the set of its named handlers;
- ``resources`` (R): what it needs to run, a resource kind mapped to a
  non-negative amount;
- ``environment`` (E): the set of environment features it requires.

A *system* is a directed graph of service names whose edges are calls.

Service ``a`` *depends on* ``b`` when one of a's outputs is *compatible* with
one of b's inputs; here two interfaces are compatible exactly when they have
the same name and type.

Composition takes the union of inputs, logic and environments and the sum of
resources. Read literally, the composite's outputs are the union of its
members' outputs; then a composite of a caller and its callee still lists the
call between them as something it needs from outside. :func:`compose` hides
those satisfied outputs; :func:`compose_as_written` keeps them. Inputs are
never hidden: hiding an input one member uses internally would break
associativity (a later member may need it too), and an offered interface stays
offered.

The binary step :func:`combine_parts` is written with the operators ``|``,
``-`` and ``+`` only, so the solver encodings apply this very function to
symbolic sets and integers.

>>> api = Interface("users", "json")
>>> front = service("front", outputs=[api], resources={"cpu": 1})
>>> users = service("users", inputs=[api], resources={"cpu": 2})
>>> depends(front, users), depends(users, front)
(True, False)
>>> sorted(i.name for i in compose([front, users]).outputs)
[]
>>> sorted(i.name for i in compose_as_written([front, users]).outputs)
['users']
>>> compose([front, users]).resources["cpu"]
3
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from functools import reduce
from typing import Any, TypeAlias

from spec.errors import ModelError

Amount: TypeAlias = int | Fraction

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/+-]{0,127}$")


def _check_name(value: object, what: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise ModelError(
            f"{what} must be 1-128 characters of letters, digits and _.:/+- "
            f"starting with a letter or digit, got {value!r}"
        )
    return value


@dataclass(frozen=True, order=True)
class Interface:
    """A named, typed interface; two are compatible when both parts agree."""

    name: str
    type: str = "any"

    def __post_init__(self) -> None:
        _check_name(self.name, "interface name")
        _check_name(self.type, f"type of interface {self.name!r}")


class Resources(Mapping[str, Amount]):
    """Resource needs: kind to non-negative exact amount. Immutable; ``+`` adds.

    Kinds with amount zero are dropped, so ``Resources({"cpu": 0}) ==
    Resources()``.
    """

    __slots__ = ("_items",)
    _items: tuple[tuple[str, Amount], ...]

    def __init__(self, amounts: Mapping[str, Amount] | None = None) -> None:
        items = []
        for kind, amount in (amounts or {}).items():
            _check_name(kind, "resource kind")
            if isinstance(amount, bool) or not isinstance(amount, (int, Fraction)):
                raise ModelError(
                    f"resource {kind!r} must be an int or Fraction, "
                    f"got {type(amount).__name__} {amount!r}"
                )
            if amount < 0:
                raise ModelError(f"resource {kind!r} must be >= 0, got {amount}")
            if amount:
                items.append((kind, amount))
        object.__setattr__(self, "_items", tuple(sorted(items)))

    def __getitem__(self, kind: str) -> Amount:
        for k, amount in self._items:
            if k == kind:
                return amount
        raise KeyError(kind)

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __add__(self, other: Resources) -> Resources:
        total: dict[str, Amount] = dict(self._items)
        for kind, amount in other._items:
            total[kind] = total.get(kind, 0) + amount
        return Resources(total)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Resources) and self._items == other._items

    def __hash__(self) -> int:
        return hash(self._items)

    def __repr__(self) -> str:
        return f"Resources({dict(self._items)!r})"

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Resources is immutable")


@dataclass(frozen=True)
class Service:
    """A microservice as the five-tuple (I, O, P, R, E); see :func:`service`."""

    name: str
    inputs: frozenset[Interface]
    outputs: frozenset[Interface]
    logic: frozenset[str]
    resources: Resources
    environment: frozenset[str]

    def __post_init__(self) -> None:
        _check_name(self.name, "service name")
        for part in ("inputs", "outputs"):
            value = getattr(self, part)
            if not isinstance(value, frozenset) or not all(
                isinstance(i, Interface) for i in value
            ):
                raise ModelError(
                    f"{part} of service {self.name!r} must be a frozenset of "
                    f"Interface, got {value!r}"
                )
        for part, what in (
            ("logic", "handler"),
            ("environment", "environment feature"),
        ):
            value = getattr(self, part)
            if not isinstance(value, frozenset):
                raise ModelError(
                    f"{part} of service {self.name!r} must be a frozenset, "
                    f"got {type(value).__name__}"
                )
            for item in value:
                _check_name(item, f"{what} of service {self.name!r}")
        if not isinstance(self.resources, Resources):
            raise ModelError(
                f"resources of service {self.name!r} must be Resources, "
                f"got {type(self.resources).__name__}"
            )


def service(
    name: str,
    *,
    inputs: Iterable[Interface] = (),
    outputs: Iterable[Interface] = (),
    logic: Iterable[str] = (),
    resources: Mapping[str, Amount] | None = None,
    environment: Iterable[str] = (),
) -> Service:
    """Build a :class:`Service` from plain iterables and a mapping."""
    return Service(
        name=name,
        inputs=frozenset(inputs),
        outputs=frozenset(outputs),
        logic=frozenset(logic),
        resources=Resources(resources),
        environment=frozenset(environment),
    )


# Dependency (D1.5) ---------------------------------------------------------


def compatible(output: Interface, input: Interface) -> bool:
    """An output fits an input when name and type agree."""
    return output == input


def depends(a: Service, b: Service) -> bool:
    """``a -> b``: some output of ``a`` is compatible with some input of ``b``."""
    return not a.outputs.isdisjoint(b.inputs)


# Systems (D1.2) ------------------------------------------------------------


@dataclass(frozen=True)
class SystemGraph:
    """A system: service names as vertices, calls ``(caller, callee)`` as edges."""

    vertices: frozenset[str]
    edges: frozenset[tuple[str, str]]

    def __post_init__(self) -> None:
        for v in self.vertices:
            _check_name(v, "service name")
        for edge in self.edges:
            if not (isinstance(edge, tuple) and len(edge) == 2):
                raise ModelError(
                    f"an edge must be a (caller, callee) pair, got {edge!r}"
                )
            for end in edge:
                if end not in self.vertices:
                    raise ModelError(
                        f"edge {edge[0]!r} -> {edge[1]!r} names {end!r}, "
                        "which is not a service of the system"
                    )


def system(
    services: Iterable[Service | str], calls: Iterable[tuple[str, str]] = ()
) -> SystemGraph:
    """A system graph from services (or names) and their calls."""
    names: set[str] = set()
    for s in services:
        name = s.name if isinstance(s, Service) else s
        if name in names:
            raise ModelError(f"service {name!r} appears twice in the system")
        names.add(name)
    return SystemGraph(frozenset(names), frozenset(tuple(c) for c in calls))  # type: ignore[misc]


def dependency_graph(services: Iterable[Service]) -> SystemGraph:
    """The system whose edges are exactly the dependencies (D1.5) among services."""
    members = list(services)
    calls = [(a.name, b.name) for a in members for b in members if depends(a, b)]
    return system(members, calls)


def dependencies(g: SystemGraph, v: str) -> frozenset[str]:
    """The services ``v`` calls directly."""
    _require_vertex(g, v)
    return frozenset(b for a, b in g.edges if a == v)


def transitive_dependencies(g: SystemGraph, v: str) -> frozenset[str]:
    """Every service reachable from ``v`` by one or more calls."""
    _require_vertex(g, v)
    seen: set[str] = set()
    frontier = [v]
    while frontier:
        current = frontier.pop()
        for a, b in g.edges:
            if a == current and b not in seen:
                seen.add(b)
                frontier.append(b)
    return frozenset(seen)


def reaches(g: SystemGraph, a: str, b: str) -> bool:
    """Whether a chain of one or more calls leads from ``a`` to ``b``."""
    _require_vertex(g, b)
    return b in transitive_dependencies(g, a)


def topological_order(g: SystemGraph) -> tuple[str, ...] | None:
    """Callers before callees, ties by name; ``None`` when there is a cycle."""
    indegree = {v: 0 for v in g.vertices}
    for _, b in g.edges:
        indegree[b] += 1
    ready = sorted(v for v, d in indegree.items() if d == 0)
    order: list[str] = []
    while ready:
        v = ready.pop(0)
        order.append(v)
        for a, b in sorted(g.edges):
            if a == v:
                indegree[b] -= 1
                if indegree[b] == 0:
                    ready.append(b)
                    ready.sort()
    return tuple(order) if len(order) == len(g.vertices) else None


def has_cycle(g: SystemGraph) -> bool:
    """Whether some service can reach itself (a self-call counts)."""
    return topological_order(g) is None


def _require_vertex(g: SystemGraph, v: str) -> None:
    if v not in g.vertices:
        raise ModelError(f"{v!r} is not a service of the system")


# Composition (D1.6) ----------------------------------------------------------

#: The five parts of a service, in order: I, O, P, R, E.
Parts: TypeAlias = tuple[Any, Any, Any, Any, Any]


def parts(s: Service) -> Parts:
    return (s.inputs, s.outputs, s.logic, s.resources, s.environment)


def combine_parts(a: Parts, b: Parts, *, hide_satisfied: bool = True) -> Parts:
    """The binary composition step on five-tuples of parts.

    Uses only ``|``, ``-`` and ``+``, so it applies unchanged to frozensets and
    :class:`Resources`, and to the solver's symbolic sets and integers.
    """
    inputs = a[0] | b[0]
    outputs = a[1] | b[1]
    if hide_satisfied:
        outputs = outputs - inputs
    return (inputs, outputs, a[2] | b[2], a[3] + b[3], a[4] | b[4])


def compose(members: Iterable[Service], *, name: str | None = None) -> Service:
    """The composite of ``members``, with outputs they satisfy hidden."""
    return _compose(list(members), name, hide_satisfied=True)


def compose_as_written(
    members: Iterable[Service], *, name: str | None = None
) -> Service:
    """The composite read literally: outputs are the plain union."""
    return _compose(list(members), name, hide_satisfied=False)


def _compose(
    members: list[Service], name: str | None, *, hide_satisfied: bool
) -> Service:
    if not members:
        raise ModelError("a composition needs at least one service")
    for m in members:
        if not isinstance(m, Service):
            raise ModelError(f"can only compose Service values, got {m!r}")
    combined = reduce(
        lambda acc, p: combine_parts(acc, p, hide_satisfied=hide_satisfied),
        (parts(m) for m in members),
    )
    if hide_satisfied and len(members) == 1:
        combined = combine_parts(combined, _EMPTY_PARTS)
    inputs, outputs, logic, resources, environment = combined
    return Service(
        name or "+".join(m.name for m in members),
        inputs,
        outputs,
        logic,
        resources,
        environment,
    )


_EMPTY_PARTS: Parts = (frozenset(), frozenset(), frozenset(), Resources(), frozenset())
