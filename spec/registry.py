r"""Registry state and discovery (D2.1, D2.2, T2.1), as pure functions.

A registry holds *entries*: an instance (service name, instance id, endpoint),
whether it is marked healthy, and optionally a lease (a time to live and the
deadline it runs out at). Every operation is a function ``step(state, op) ->
(output, new_state)`` over immutable values, and every operation carries the
time ``at`` which it happens; nothing reads a clock.

Operations:

:class:`Register`
    Adds an instance, optionally with a lease of ``ttl`` time units. If an
    entry with the same (service, id) is live, nothing changes and the output
    is ``False``.
:class:`Deregister`
    Removes the entry; ``False`` if there is none.
:class:`Heartbeat`
    Renews the lease: the deadline becomes ``at + ttl``. ``False`` if there is
    no entry; ``True`` for an entry without a lease, which has nothing to renew.
:class:`SetHealth`
    Marks the entry healthy or not; ``False`` if there is none.
:class:`Discover`
    The set of live instances of a service (only the healthy ones, if asked).
:class:`ListServices`
    The sorted names of the services with a live instance.
:class:`Revision`
    The revision: how many changes have happened.

*Expiry.* An entry with a lease is live while ``at < deadline``. Before every
operation, the entries whose deadline has come are removed (:func:`expire`),
each removal counting as a change; so an operation at or after a deadline
sees the entry gone, and a heartbeat cannot bring it back.

*Revision.* Grows by one with every change of what discovery can return: a
registration, a removal (by deregistration or expiry) and a change of health.
A renewal changes no answer and leaves it alone.

Theorem 2.1 as the theory writes it equates ``Discover(Name(S))``, a set of
endpoints, with ``{Register(S, e) | e in Endpoints(S)}``, a set of values of
``Register``, which are registries: the two sides have different types. The
corrected statement this module is checked against: ``discover(name)`` after
any history is exactly the set of instances of ``name`` whose registration
took effect, that were not deregistered since, and whose lease (if any) was
renewed at every interval shorter than its ttl up to now.

The discovery *cache* of a client is modelled too (:func:`cached_discover`):
one entry per service, stamped with the time it was fetched, served while
younger than the cache's ttl. :func:`cached_discover_shared_stamp` is the
theory's sketch, which stamps all services with one shared time.

>>> a1 = Instance("users", "a1", Endpoint("10.0.0.1", 80))
>>> ok, r = step(EMPTY, Register(a1, ttl=10, at=0))
>>> ok, step(r, Discover("users", at=9))[0] == {a1}
(True, True)
>>> step(r, Discover("users", at=10))[0]
frozenset()
>>> _, r = step(r, Heartbeat("users", "a1", at=9))
>>> sorted(i.instance_id for i in step(r, Discover("users", at=18))[0])
['a1']
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any, TypeAlias

from spec.errors import SpecError

#: Exact time: an integer or a fraction of the time unit.
Time: TypeAlias = int | Fraction

#: Longest lease a registration may ask for (one day, in seconds).
MAX_TTL = 86_400

Key: TypeAlias = tuple[str, str]


class RegistrySpecError(SpecError):
    """An operation was given a value the registry model does not take."""


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    protocol: str = "http"


@dataclass(frozen=True)
class Instance:
    service: str
    instance_id: str
    endpoint: Endpoint

    @property
    def key(self) -> Key:
        return (self.service, self.instance_id)


@dataclass(frozen=True)
class Entry:
    """An instance as the registry holds it."""

    instance: Instance
    healthy: bool = True
    ttl: Time | None = None
    deadline: Time | None = None

    def live(self, at: Time) -> bool:
        return self.deadline is None or at < self.deadline


@dataclass(frozen=True)
class Registry:
    """Entries sorted by (service, id), and the revision."""

    entries: tuple[Entry, ...] = ()
    revision: int = 0

    def find(self, key: Key) -> Entry | None:
        for entry in self.entries:
            if entry.instance.key == key:
                return entry
        return None


EMPTY = Registry()


# Operations -------------------------------------------------------------------


@dataclass(frozen=True)
class Register:
    instance: Instance
    ttl: Time | None = None
    at: Time = 0


@dataclass(frozen=True)
class Deregister:
    service: str
    instance_id: str
    at: Time = 0


@dataclass(frozen=True)
class Heartbeat:
    service: str
    instance_id: str
    at: Time = 0


@dataclass(frozen=True)
class SetHealth:
    service: str
    instance_id: str
    healthy: bool
    at: Time = 0


@dataclass(frozen=True)
class Discover:
    service: str
    healthy_only: bool = False
    at: Time = 0


@dataclass(frozen=True)
class ListServices:
    at: Time = 0


@dataclass(frozen=True)
class Revision:
    at: Time = 0


Operation: TypeAlias = (
    Register | Deregister | Heartbeat | SetHealth | Discover | ListServices | Revision
)

#: The operations that may change the state (the others only read it, apart
#: from the expiry every operation performs first).
CHANGES = (Register, Deregister, Heartbeat, SetHealth)


def _check_time(at: object, what: str) -> Time:
    if isinstance(at, bool) or not isinstance(at, int | Fraction):
        raise RegistrySpecError(
            f"{what} must be an exact time (int or Fraction), got {at!r}"
        )
    return at


def _check_ttl(ttl: object) -> Time | None:
    if ttl is None:
        return None
    _check_time(ttl, "Register.ttl")
    assert isinstance(ttl, int | Fraction)
    if not 0 < ttl <= MAX_TTL:
        raise RegistrySpecError(f"Register.ttl must lie in (0, {MAX_TTL}], got {ttl}")
    return ttl


# The step function ------------------------------------------------------------


def expire(state: Registry, at: Time) -> Registry:
    """Remove every entry whose lease has run out by ``at``; one change each."""
    kept = tuple(e for e in state.entries if e.live(at))
    removed = len(state.entries) - len(kept)
    if not removed:
        return state
    return Registry(kept, state.revision + removed)


def _put(state: Registry, entry: Entry) -> Registry:
    """``state`` with ``entry`` added or replacing the entry of its key."""
    others = [e for e in state.entries if e.instance.key != entry.instance.key]
    entries = tuple(sorted([*others, entry], key=lambda e: e.instance.key))
    return Registry(entries, state.revision)


def register(state: Registry, op: Register) -> tuple[bool, Registry]:
    ttl = _check_ttl(op.ttl)
    if state.find(op.instance.key) is not None:
        return False, state
    deadline = None if ttl is None else op.at + ttl
    added = _put(state, Entry(op.instance, True, ttl, deadline))
    return True, replace(added, revision=state.revision + 1)


def deregister(state: Registry, op: Deregister) -> tuple[bool, Registry]:
    key = (op.service, op.instance_id)
    if state.find(key) is None:
        return False, state
    kept = tuple(e for e in state.entries if e.instance.key != key)
    return True, Registry(kept, state.revision + 1)


def heartbeat(state: Registry, op: Heartbeat) -> tuple[bool, Registry]:
    entry = state.find((op.service, op.instance_id))
    if entry is None:
        return False, state
    if entry.ttl is None:
        return True, state
    return True, _put(state, replace(entry, deadline=op.at + entry.ttl))


def set_health(state: Registry, op: SetHealth) -> tuple[bool, Registry]:
    entry = state.find((op.service, op.instance_id))
    if entry is None:
        return False, state
    if entry.healthy == op.healthy:
        return True, state
    marked = _put(state, replace(entry, healthy=op.healthy))
    return True, replace(marked, revision=state.revision + 1)


def discover(state: Registry, op: Discover) -> frozenset[Instance]:
    """The live instances of ``op.service`` (healthy ones only, if asked)."""
    return frozenset(
        e.instance
        for e in state.entries
        if e.instance.service == op.service
        and e.live(op.at)
        and (e.healthy or not op.healthy_only)
    )


def list_services(state: Registry, at: Time) -> tuple[str, ...]:
    return tuple(sorted({e.instance.service for e in state.entries if e.live(at)}))


def step(state: Registry, op: Operation) -> tuple[Any, Registry]:
    """Apply one operation at its time: expire first, then act."""
    current = expire(state, _check_time(op.at, f"{type(op).__name__}.at"))
    if isinstance(op, Register):
        return register(current, op)
    if isinstance(op, Deregister):
        return deregister(current, op)
    if isinstance(op, Heartbeat):
        return heartbeat(current, op)
    if isinstance(op, SetHealth):
        return set_health(current, op)
    if isinstance(op, Discover):
        return discover(current, op), current
    if isinstance(op, ListServices):
        return list_services(current, op.at), current
    if isinstance(op, Revision):
        return current.revision, current
    raise RegistrySpecError(f"step: {op!r} is not a registry operation")


def run(ops: list[Operation], state: Registry = EMPTY) -> tuple[list[Any], Registry]:
    """Apply ``ops`` in order; the outputs and the final state."""
    outputs = []
    for op in ops:
        output, state = step(state, op)
        outputs.append(output)
    return outputs, state


# The discovery cache ----------------------------------------------------------


@dataclass(frozen=True)
class Cache:
    """A client's cache: per service, the answer and when it was fetched."""

    ttl: Time
    answers: tuple[tuple[str, frozenset[Instance], Time], ...] = ()

    def lookup(self, service: str) -> tuple[frozenset[Instance], Time] | None:
        for name, answer, fetched_at in self.answers:
            if name == service:
                return answer, fetched_at
        return None


def cached_discover(
    cache: Cache, state: Registry, service: str, at: Time
) -> tuple[frozenset[Instance], Cache, Registry]:
    """Discover through the cache: the answer, the new cache, the new state.

    A cached answer younger than ``cache.ttl`` is served; otherwise the
    registry is asked and the answer stored with the time ``at``.
    """
    hit = cache.lookup(service)
    if hit is not None and at - hit[1] < cache.ttl:
        return hit[0], cache, state
    answer, state = step(state, Discover(service, at=at))
    others = tuple(a for a in cache.answers if a[0] != service)
    return answer, Cache(cache.ttl, (*others, (service, answer, at))), state


@dataclass(frozen=True)
class SharedStampCache:
    """The sketch's cache: answers per service, one fetch time for all."""

    ttl: Time
    answers: tuple[tuple[str, frozenset[Instance]], ...] = ()
    stamp: Time | None = None


def cached_discover_shared_stamp(
    cache: SharedStampCache, state: Registry, service: str, at: Time
) -> tuple[frozenset[Instance], SharedStampCache, Registry]:
    """The sketch's cached discovery: fresh while the *last* fetch of any
    service is younger than the ttl."""
    held = dict(cache.answers)
    if cache.stamp is not None and at - cache.stamp < cache.ttl and service in held:
        return held[service], cache, state
    answer, state = step(state, Discover(service, at=at))
    others = tuple(a for a in cache.answers if a[0] != service)
    return answer, SharedStampCache(cache.ttl, (*others, (service, answer)), at), state


# Flap damping of health marks -------------------------------------------------


@dataclass(frozen=True)
class Damper:
    """The health mark of one instance under flap damping.

    A healthy instance is marked unhealthy after ``failures`` consecutive
    failed probes; an unhealthy one healthy after ``successes`` consecutive
    passed probes. ``streak`` counts the consecutive probes so far that
    disagree with the mark; a probe that agrees resets it.
    """

    failures: int
    successes: int
    healthy: bool = True
    streak: int = 0

    def __post_init__(self) -> None:
        for name in ("failures", "successes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise RegistrySpecError(
                    f"Damper.{name} must be an integer >= 1, got {value!r}"
                )


def observe(damper: Damper, passed: bool) -> Damper:
    """The mark after one probe that ``passed`` or not.

    >>> d = Damper(failures=2, successes=1)
    >>> [observe(d, False).healthy, observe(observe(d, False), False).healthy]
    [True, False]
    """
    if passed == damper.healthy:
        return replace(damper, streak=0)
    streak = damper.streak + 1
    needed = damper.failures if damper.healthy else damper.successes
    if streak < needed:
        return replace(damper, streak=streak)
    return replace(damper, healthy=passed, streak=0)
