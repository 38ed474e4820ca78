r"""Registration, discovery and its consistency (D2.1, D2.2, T2.1), and autonomy
of the implementation's instances and registries (T1.1).

Theorem 2.1 as written equates a set of endpoints with a set of registries
(``Register`` returns a registry), so it cannot be true or false as it
stands. The reading decided here:

    after any history of registrations, removals, renewals, health marks and
    time passing, ``discover(name)`` is the set of instances of ``name``
    whose registration took effect, that were not deregistered since, and
    whose lease was renewed at every interval shorter than its ttl.

*On the specification* the theorem is decided by enumerating every history
within stated bounds and comparing the specification's answers with that
sentence, written below as a function of the history alone
(:func:`_reference_live`). The enumeration is complete for its bounds, which
the verdict states.

*On the implementation* the in-memory registry, and the HTTP server with its
client, are run side by side with the specification in Hypothesis stateful
runs on the virtual-time loop; every answer must match. The client's cache
must never serve an answer older than its ttl; the theory's cache, with one
time stamp for all services, does (a counterexample is kept). The health
checker's marks must follow the damping rule of the specification, with
probes that never leave the instance.

Autonomy (T1.1) on the implementation: no mutable object is reachable from
an instance, so none from two; no mutable object is reachable from two
registries. "Reachable" means through what a holder can get at: attributes,
container items and mapping values (a read-only mapping view does not expose
the mapping behind it).
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import itertools
import json
from collections.abc import Callable, Sequence
from fractions import Fraction
from types import MappingProxyType
from typing import Any

from hypothesis import Phase
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    rule,
    run_state_machine_as_test,
)

from proofs.harness.vtime import VirtualTimeLoop
from proofs.obligation import Method, obligation
from proofs.profiles import Profile
from proofs.search import search
from proofs.verdict import Outcome, Verdict

SPEC = "spec.registry"
IMPL = "impl.registry"
CLIENT = "impl.discovery"
HEALTH = "impl.health"
ENDPOINTS = "impl.endpoints"

SERVICES = ("a", "b")
IDS = ("1", "2")
HOSTS = (("10.0.0.1", 80), ("10.0.0.2", 8080))


# The reference: Theorem 2.1 as a function of the history ----------------------


def _key_of(op: Any) -> tuple[str, str]:
    if hasattr(op, "instance"):
        key: tuple[str, str] = op.instance.key
        return key
    return (op.service, op.instance_id)


def _is(op: Any, name: str) -> bool:
    return type(op).__name__ == name


def _reference_live(
    history: tuple[Any, ...],
    effective: tuple[bool, ...],
    key: tuple[str, str],
    t: Any,
) -> int:
    """Index of the registration of ``key`` live at ``t`` after ``history``, or -1.

    ``effective[i]`` says whether ``history[i]`` is a registration that took
    effect: one made when its key was not live (computed by this function on
    the prefix, as the history grows). The registration live at ``t`` is the
    last one that took effect, provided no deregistration of its key followed
    it and, if it has a lease, no gap between it, its renewals and ``t``
    reached the ttl.
    """
    for i in range(len(history) - 1, -1, -1):
        if effective[i] and history[i].instance.key == key:
            return i if _registration_alive(history, i, t) else -1
    return -1


def _took_effect(
    history: tuple[Any, ...], effective: tuple[bool, ...], op: Any
) -> bool:
    """Whether ``op``, appended to ``history``, is a registration that takes effect."""
    return (
        _is(op, "Register")
        and _reference_live(history, effective, op.instance.key, op.at) < 0
    )


def _registration_alive(history: tuple[Any, ...], i: int, t: Any) -> bool:
    op = history[i]
    later = [o for o in history[i + 1 :] if _key_of(o) == op.instance.key]
    if any(_is(o, "Deregister") for o in later):
        return False
    if op.ttl is None:
        return True
    renewals = [op.at, *(o.at for o in later if _is(o, "Heartbeat")), t]
    return all(b - a < op.ttl for a, b in itertools.pairwise(renewals))


def _reference_health(history: tuple[Any, ...], i: int) -> bool:
    healthy = True
    key = history[i].instance.key
    for o in history[i + 1 :]:
        if _is(o, "SetHealth") and _key_of(o) == key:
            healthy = o.healthy
    return healthy


def _reference_discover(
    history: tuple[Any, ...],
    effective: tuple[bool, ...],
    keys: Sequence[tuple[str, str]],
    service: str,
    healthy_only: bool,
    t: Any,
) -> set[Any]:
    found = set()
    for key in keys:
        if key[0] != service:
            continue
        i = _reference_live(history, effective, key, t)
        if i >= 0 and (not healthy_only or _reference_health(history, i)):
            found.add(history[i].instance)
    return found


def _reference_revision(
    history: tuple[Any, ...], effective: tuple[bool, ...], t: Any
) -> int:
    """Changes so far: each registration that took effect, each of them that
    has ended by ``t``, and each health mark that changed a live instance."""
    changes = 0
    for i, op in enumerate(history):
        if not effective[i]:
            continue
        changes += 1
        if not _registration_alive(history, i, t):
            changes += 1
        healthy = True
        for j in range(i + 1, len(history)):
            mark = history[j]
            if (
                _is(mark, "SetHealth")
                and _key_of(mark) == op.instance.key
                and _registration_alive(history[:j], i, mark.at)
                and mark.healthy != healthy
            ):
                healthy = mark.healthy
                changes += 1
    return changes


# Exhaustive enumeration of histories ------------------------------------------


def _alphabet(q: Any, keys: Sequence[tuple[str, str]]) -> list[tuple[Any, ...]]:
    """The operations a history is built from (times are filled in later)."""
    x = q.Endpoint(*HOSTS[0])
    y = q.Endpoint(*HOSTS[1])
    symbols: list[tuple[Any, ...]] = []
    for service, ident in keys:
        symbols += [
            ("register", q.Instance(service, ident, x), None),
            ("register", q.Instance(service, ident, x), 2),
            ("register", q.Instance(service, ident, y), None),
            ("deregister", service, ident),
            ("heartbeat", service, ident),
            ("mark", service, ident, False),
            ("mark", service, ident, True),
        ]
    symbols.append(("tick",))
    return symbols


def _make(q: Any, symbol: tuple[Any, ...], t: int) -> Any:
    kind = symbol[0]
    if kind == "register":
        return q.Register(symbol[1], symbol[2], at=t)
    if kind == "deregister":
        return q.Deregister(symbol[1], symbol[2], at=t)
    if kind == "heartbeat":
        return q.Heartbeat(symbol[1], symbol[2], at=t)
    return q.SetHealth(symbol[1], symbol[2], symbol[3], at=t)


def _describe_op(op: Any) -> str:
    name = type(op).__name__
    if name == "Register":
        i = op.instance
        lease = "" if op.ttl is None else f", ttl={op.ttl}"
        return (
            f"t={op.at}: register {i.service}/{i.instance_id} at "
            f"{i.endpoint.host}:{i.endpoint.port}{lease}"
        )
    if name == "SetHealth":
        mark = "healthy" if op.healthy else "unhealthy"
        return f"t={op.at}: mark {op.service}/{op.instance_id} {mark}"
    return f"t={op.at}: {name.lower()} {op.service}/{op.instance_id}"


def _describe_instances(instances: Any) -> list[str]:
    return sorted(
        f"{i.service}/{i.instance_id}@{i.endpoint.host}:{i.endpoint.port}"
        for i in instances
    )


def _explore(
    q: Any, keys: Sequence[tuple[str, str]], depth: int
) -> tuple[int, dict[str, Any] | None]:
    """Depth-first search of every history up to ``depth`` symbols."""
    names = sorted({k[0] for k in keys})
    symbols = _alphabet(q, keys)
    visited = 0

    def check(
        state: Any, history: tuple[Any, ...], effective: tuple[bool, ...], t: int
    ) -> dict[str, Any] | None:
        for name in names:
            for healthy_only in (False, True):
                got, _ = q.step(state, q.Discover(name, healthy_only, at=t))
                expected = _reference_discover(
                    history, effective, keys, name, healthy_only, t
                )
                if set(got) != expected:
                    return {
                        "history": [_describe_op(op) for op in history],
                        "query": f"t={t}: discover {name}"
                        + (" (healthy only)" if healthy_only else ""),
                        "specification answers": _describe_instances(got),
                        "registered and unexpired": _describe_instances(expected),
                    }
        services, _ = q.step(state, q.ListServices(at=t))
        live = sorted(
            {k[0] for k in keys if _reference_live(history, effective, k, t) >= 0}
        )
        if list(services) != live:
            return {
                "history": [_describe_op(op) for op in history],
                "query": f"t={t}: list services",
                "specification answers": list(services),
                "services with a live instance": live,
            }
        revision, _ = q.step(state, q.Revision(at=t))
        expected_revision = _reference_revision(history, effective, t)
        if revision != expected_revision:
            return {
                "history": [_describe_op(op) for op in history],
                "query": f"t={t}: revision",
                "specification answers": revision,
                "changes in the history": expected_revision,
            }
        return None

    def dfs(
        state: Any,
        history: tuple[Any, ...],
        effective: tuple[bool, ...],
        t: int,
        budget: int,
    ) -> dict[str, Any] | None:
        nonlocal visited
        visited += 1
        bad = check(state, history, effective, t)
        if bad is not None or budget == 0:
            return bad
        for symbol in symbols:
            if symbol[0] == "tick":
                bad = dfs(state, history, effective, t + 1, budget - 1)
            else:
                op = _make(q, symbol, t)
                _, after = q.step(state, op)
                bad = dfs(
                    after,
                    (*history, op),
                    (*effective, _took_effect(history, effective, op)),
                    t,
                    budget - 1,
                )
            if bad is not None:
                return bad
        return None

    found = dfs(q.EMPTY, (), (), 0, depth)
    return visited, found


def _depths(profile: Profile) -> tuple[int, int]:
    """(depth over three keys, depth over one key) for this profile."""
    return (3, 4) if profile.max_n < 12 else (4, 6)


@obligation(
    "T2.1/discover-is-registered-unexpired",
    reading="Corrected Theorem 2.1: after every history, discover(name) is the "
    "set of instances of name whose registration took effect, that were not "
    "deregistered since, and whose lease (if any) was renewed at every "
    "interval shorter than its ttl; discover with the health filter keeps "
    "those last marked healthy; the listed services are those with such an "
    "instance; the revision counts registrations, removals (by deregistration "
    "or expiry) and health changes.",
    formal=r"\mathrm{Discover}(h, n, t) = \{\, i \mid \mathrm{Name}(i) = n,\ "
    r"\mathrm{effective}(h, r_i),\ \neg\exists\, \mathrm{dereg}_i \succ r_i,\ "
    r"\forall\, (a, b) \in \mathrm{renewals}(h, r_i, t):\ b - a < \mathrm{ttl}_i \,\}",
    method=Method.EXHAUSTIVE,
    expected=Outcome.CHECKED,
    subject=SPEC,
    assumptions=("time is discrete (integer steps); leases of 2 units; two endpoints",),
)
def _discover_is_registered(q: Any, profile: Profile) -> Verdict:
    multi, single = _depths(profile)
    keys_many = (("a", "1"), ("a", "2"), ("b", "1"))
    seen_many, bad = _explore(q, keys_many, multi)
    seen_one = 0
    if bad is None:
        seen_one, bad = _explore(q, (("a", "1"),), single)
    searched = {
        "histories over three keys": seen_many,
        "histories over one key": seen_one,
    }
    bounds = (
        f"every history of up to {multi} operations or clock ticks over "
        f"services a (ids 1, 2) and b (id 1), and every history of up to "
        f"{single} over one instance"
    )
    if bad is not None:
        return Verdict.refuted(
            "exhaustive enumeration of histories", bad, searched=searched, bounds=bounds
        )
    # Every history within the bound is visited, but the bound is not a proof
    # for longer histories: the verdict is CHECKED, with the counts.
    return Verdict.checked(
        "exhaustive enumeration of histories (bounded model checking)",
        searched=searched,
        bounds=bounds,
        detail="Each operation is one of: register (endpoint x without lease, x "
        "with a 2-unit lease, or y without lease), deregister, heartbeat, mark "
        "healthy, mark unhealthy, or a clock tick. After every prefix the "
        "specification's discover (with and without the health filter), "
        "service list and revision are compared with the statement evaluated "
        "on the history itself. As written the theorem is ill-typed: "
        "Register(S, e) is a registry, so its right side is a set of "
        "registries, its left a set of endpoints. "
        + f"Histories visited: {seen_many} over three keys, {seen_one} over one.",
    )


# Strategies over the specification ---------------------------------------------


def _spec_instances(q: Any) -> st.SearchStrategy[Any]:
    return st.builds(
        q.Instance,
        st.sampled_from(SERVICES),
        st.sampled_from(IDS),
        st.sampled_from(HOSTS).map(lambda hp: q.Endpoint(*hp)),
    )


def _histories(q: Any, max_size: int = 12) -> st.SearchStrategy[list[Any]]:
    """Lists of timed changes, times non-decreasing, leases of 1-3 units.

    Drawn as a list of plain tuples and built afterwards, so that shrinking
    removes and simplifies changes one at a time.
    """
    change = st.tuples(
        st.sampled_from((0, 0, 0, 1, 2)),
        st.sampled_from(("register", "deregister", "heartbeat", "mark")),
        st.sampled_from(SERVICES),
        st.sampled_from(IDS),
        st.integers(0, 1),
        st.sampled_from((None, None, 1, 2, 3)),
        st.booleans(),
    )

    def build(changes: list[tuple[Any, ...]]) -> list[Any]:
        t = 0
        ops: list[Any] = []
        for gap, kind, service, ident, host, ttl, healthy in changes:
            t += gap
            if kind == "register":
                inst = q.Instance(service, ident, q.Endpoint(*HOSTS[host]))
                ops.append(q.Register(inst, ttl, at=t))
            elif kind == "deregister":
                ops.append(q.Deregister(service, ident, at=t))
            elif kind == "heartbeat":
                ops.append(q.Heartbeat(service, ident, at=t))
            else:
                ops.append(q.SetHealth(service, ident, healthy, at=t))
        return ops

    return st.lists(change, max_size=max_size).map(build)


def _minimise(items: list[Any], fails: Callable[[list[Any]], bool]) -> list[Any]:
    """Drop elements one at a time while ``fails`` still holds (Hypothesis's
    shrinking can leave redundant steps in a list it built by mapping)."""
    current = list(items)
    changed = True
    while changed:
        changed = False
        for n in range(len(current)):
            candidate = current[:n] + current[n + 1 :]
            if fails(candidate):
                current, changed = candidate, True
                break
    return current


def _end_time(history: list[Any]) -> int:
    return int(history[-1].at) if history else 0


@obligation(
    "D2.1/register-takes-effect-once",
    reading="Registration is a step on registry state: registering an instance "
    "whose (service, id) is live returns False and changes nothing; otherwise "
    "it returns True, adds exactly that instance, raises the revision by one, "
    "and its lease keeps it discoverable until ttl has passed, not at ttl.",
    formal=r"\mathrm{Register}(R, i) = \begin{cases} (\mathrm{False}, R) & "
    r"\mathrm{key}(i) \in \mathrm{live}(R) \\ (\mathrm{True}, R \cup \{i\}) & "
    r"\text{otherwise} \end{cases}",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=SPEC,
)
def _register_once(q: Any, profile: Profile) -> Verdict:
    cases = st.tuples(
        _histories(q),
        _spec_instances(q),
        st.sampled_from((None, 1, 2, 3)),
        st.integers(0, 3),
    )

    def prop(case: tuple[list[Any], Any, Any, int]) -> str | None:
        history, instance, ttl, gap = case
        _, state = q.run(history)
        at = _end_time(history) + gap
        before = q.expire(state, at)
        service = instance.service

        def live(s: Any, when: Any, name: str = service) -> frozenset[Any]:
            return frozenset(q.discover(s, q.Discover(name, at=when)))

        taken = any(i.key == instance.key for i in live(before, at))
        added, after = q.step(state, q.Register(instance, ttl, at=at))
        if taken:
            if added is not False or after != before:
                return "registering a taken id changed the registry or returned True"
            return None
        if added is not True:
            return "registering a free id returned False"
        if live(after, at) != live(before, at) | {instance}:
            return "registering did not add exactly the instance"
        other = "b" if service == "a" else "a"
        if live(after, at, other) != live(before, at, other):
            return "registering changed another service"
        if (
            q.step(after, q.Revision(at=at))[0]
            != q.step(before, q.Revision(at=at))[0] + 1
        ):
            return "registering did not raise the revision by one"
        if ttl is not None:
            if instance not in live(after, at + ttl - Fraction(1, 2)):
                return "a leased instance vanished before its ttl passed"
            if instance in live(after, at + ttl):
                return "a leased instance was still discovered when its ttl had passed"
        return None

    found = search(cases, prop, profile)
    if found.found:
        history, instance, ttl, gap = found.counterexample  # type: ignore[misc]
        history = _minimise(
            history, lambda h: prop((h, instance, ttl, gap)) is not None
        )
        return Verdict.refuted(
            "Hypothesis",
            {
                "history": [_describe_op(op) for op in history],
                "then": _describe_op(
                    q.Register(instance, ttl, at=_end_time(history) + gap)
                ),
                "problem": prop((history, instance, ttl, gap)),
            },
            searched={"examples": found.calls},
        )
    return Verdict.checked(
        "Hypothesis",
        searched={"examples": found.calls},
        bounds="histories of 0-12 changes",
    )


@obligation(
    "D2.2/discover-is-a-query",
    reading="Discovery is a query on registry state: it returns the live "
    "instances registered under the name (only the healthy ones when asked), "
    "changes nothing but the removal of expired entries, and asking twice "
    "at one time answers the same.",
    formal=r"\mathrm{Discover}(R, n, t) = \{\, e.\mathrm{instance} \mid e \in R,\ "
    r"\mathrm{Name}(e) = n,\ t < e.\mathrm{deadline} \,\}",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=SPEC,
)
def _discover_query(q: Any, profile: Profile) -> Verdict:
    cases = st.tuples(_histories(q), st.integers(0, 3))

    def prop(case: tuple[list[Any], int]) -> str | None:
        history, gap = case
        _, state = q.run(history)
        at = _end_time(history) + gap
        for name, healthy_only in itertools.product(SERVICES, (False, True)):
            query = f"discover {name}" + (" (healthy only)" if healthy_only else "")
            got, after = q.step(state, q.Discover(name, healthy_only, at=at))
            if after != q.expire(state, at):
                return f"{query} changed the registry beyond removing expired entries"
            expected = {
                e.instance
                for e in after.entries
                if e.instance.service == name and (e.healthy or not healthy_only)
            }
            if set(got) != expected:
                return (
                    f"{query} answered {_describe_instances(got)}, its entries "
                    f"give {_describe_instances(expected)}"
                )
            again, after_again = q.step(after, q.Discover(name, healthy_only, at=at))
            if again != got or after_again != after:
                return f"{query} asked twice at one time answered differently"
        return None

    found = search(cases, prop, profile)
    if found.found:
        history, gap = found.counterexample  # type: ignore[misc]
        history = _minimise(history, lambda h: prop((h, gap)) is not None)
        return Verdict.refuted(
            "Hypothesis",
            {
                "history": [_describe_op(op) for op in history],
                "asked at": f"t={_end_time(history) + gap}",
                "problem": prop((history, gap)),
            },
            searched={"examples": found.calls},
        )
    return Verdict.checked(
        "Hypothesis",
        searched={"examples": found.calls},
        bounds="histories of 0-12 changes",
    )


# Cached discovery: staleness ---------------------------------------------------

#: A program for a cache: changes, waits and reads, as plain tuples.
Program = list[tuple[Any, ...]]


def _programs() -> st.SearchStrategy[tuple[int, Program]]:
    """A cache ttl of 2-4 units and a program of 1-10 rounds.

    Each round waits (0, 1, ttl - 1 or ttl units), reads one service or both
    in either order, and makes at most one change, before or after its reads.
    Reading both services in one round is what exposes a shared time stamp,
    so rounds do it more often than not.
    """

    @st.composite
    def build(draw: st.DrawFn) -> tuple[int, Program]:
        ttl = draw(st.integers(2, 4))
        change = st.one_of(
            st.none(),
            st.tuples(
                st.just("register"),
                st.sampled_from(SERVICES),
                st.sampled_from(IDS),
                st.sampled_from((None, 2, 5)),
            ),
            st.tuples(
                st.just("deregister"), st.sampled_from(SERVICES), st.sampled_from(IDS)
            ),
        )
        both, one = [SERVICES, SERVICES[::-1]], [(name,) for name in SERVICES]
        reads = st.sampled_from((*both, *both, *one))
        program: Program = []
        for _ in range(draw(st.integers(1, 10))):
            wait = draw(st.sampled_from((0, 1, ttl - 1, ttl, ttl)))
            if wait:
                program.append(("wait", wait))
            made = draw(change)
            made_first = draw(st.booleans())
            if made is not None and made_first:
                program.append(made)
            program += [("read", name) for name in draw(reads)]
            if made is not None and not made_first:
                program.append(made)
        return ttl, program

    return build()


def _describe_program(ttl: int, program: Program) -> list[str]:
    lines, t = [f"cache ttl {ttl}"], 0
    for step in program:
        if step[0] == "wait":
            t += step[1]
            continue
        lease = (
            f" with a lease of {step[3]}" if step[0] == "register" and step[3] else ""
        )
        target = step[1] if step[0] == "read" else f"{step[1]}/{step[2]}"
        lines.append(f"t={t}: {step[0]} {target}{lease}")
    return lines


class _Timeline:
    """The registry's states over time, per the specification, to judge answers.

    An answer read at ``t`` through a cache of ttl ``ttl`` is fresh enough when
    the registry gave that answer at some instant ``s`` with ``t - ttl < s <=
    t``. Times are whole units, so the instants worth sampling are the whole
    ones in that window and one just after its start.
    """

    def __init__(self, spec: Any) -> None:
        self.spec = spec
        self.states: list[tuple[int, Any]] = [(0, spec.EMPTY)]

    def change(self, op: Any, t: int) -> Any:
        output, state = self.spec.step(self.states[-1][1], op)
        self.states.append((t, state))
        return output

    def answers(
        self, service: str, t: int, ttl: int
    ) -> set[frozenset[tuple[Any, ...]]]:
        samples: list[Fraction] = [Fraction(t - ttl) + Fraction(1, 2)]
        samples += [Fraction(s) for s in range(t - ttl + 1, t + 1) if s >= 0]
        found = set()
        for s in samples:
            if s < 0:
                continue
            earlier = [state for when, state in self.states if when < s]
            at_s = [state for when, state in self.states if when == s]
            for state in ([earlier[-1]] if earlier else []) + at_s:
                got = self.spec.discover(state, self.spec.Discover(service, at=s))
                found.add(frozenset(_spec_key(i) for i in got))
        return found


def _spec_key(i: Any) -> tuple[Any, ...]:
    return (i.service, i.instance_id, i.endpoint.host, i.endpoint.port)


def _is_real_instance(i: Any) -> bool:
    from impl.endpoints import ServiceEndpoint, ServiceInstance

    return isinstance(i, ServiceInstance) and isinstance(i.endpoint, ServiceEndpoint)


def _impl_key(i: Any) -> tuple[Any, ...]:
    return (i.service_name, i.instance_id, i.endpoint.host, i.endpoint.port)


def _spec_staleness(
    spec: Any, make_cache: Callable[[int], Any], read: Callable[..., Any]
) -> Callable[[tuple[int, Program]], str | None]:
    def prop(case: tuple[int, Program]) -> str | None:
        ttl, program = case
        timeline = _Timeline(spec)
        cache = make_cache(ttl)
        t = 0
        for step in program:
            kind = step[0]
            if kind == "wait":
                t += step[1]
            elif kind == "register":
                inst = spec.Instance(step[1], step[2], spec.Endpoint(*HOSTS[0]))
                timeline.change(spec.Register(inst, step[3], at=t), t)
            elif kind == "deregister":
                timeline.change(spec.Deregister(step[1], step[2], at=t), t)
            else:
                answer, cache, state = read(cache, timeline.states[-1][1], step[1], t)
                timeline.states.append((t, state))
                got = frozenset(_spec_key(i) for i in answer)
                allowed = timeline.answers(step[1], t, ttl)
                if got not in allowed:
                    return _stale_message(step[1], t, ttl, got, allowed)
        return None

    return prop


def _stale_message(
    service: str, t: int, ttl: int, got: frozenset[Any], allowed: set[frozenset[Any]]
) -> str:
    def show(keys: frozenset[Any]) -> str:
        return "{" + ", ".join(sorted(f"{k[0]}/{k[1]}" for k in keys)) + "}"

    return (
        f"at t={t} the cache answered {show(got)} for {service}, but in "
        f"({t - ttl}, {t}] the registry answered only "
        + " or ".join(sorted(show(a) for a in allowed))
    )


def _staleness_verdict(
    found: Any, what: str, prop: Callable[[tuple[int, Program]], str | None]
) -> Verdict:
    if found.found:
        ttl, program = found.counterexample
        program = _minimise(program, lambda p: prop((ttl, p)) is not None)
        return Verdict.refuted(
            "Hypothesis",
            {"steps": _describe_program(ttl, program), "problem": prop((ttl, program))},
            searched={"examples": found.calls},
            detail=f"{what} served an answer older than its ttl.",
        )
    return Verdict.checked(
        "Hypothesis",
        searched={"examples": found.calls},
        bounds="programs of 1-10 rounds (a wait, reads of one or both "
        "services, at most one change); cache ttl 2-4; services a and b",
    )


@obligation(
    "T2.1/cached-discovery-within-ttl",
    reading="Through a cache with one time stamp per service, every answer is "
    "one the registry gave less than ttl ago: staleness is at most the ttl.",
    formal=r"\forall t:\ \mathrm{cached}(n, t) \in "
    r"\{\mathrm{Discover}(n, s) \mid t - \mathrm{ttl} < s \le t\}",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=SPEC,
)
def _cache_within_ttl(q: Any, profile: Profile) -> Verdict:
    prop = _spec_staleness(q, lambda ttl: q.Cache(ttl), q.cached_discover)
    return _staleness_verdict(search(_programs(), prop, profile), "The cache", prop)


@obligation(
    "T2.1/shared-stamp-cache-is-stale",
    reading="The theory's sketch caches every service under one shared time "
    "stamp: fetching one service makes the others look fresh, so an answer "
    "can be older than the ttl.",
    method=Method.HYPOTHESIS,
    expected=Outcome.REFUTED,
    subject=SPEC,
)
def _shared_stamp_stale(q: Any, profile: Profile) -> Verdict:
    prop = _spec_staleness(
        q, lambda ttl: q.SharedStampCache(ttl), q.cached_discover_shared_stamp
    )
    return _staleness_verdict(
        search(_programs(), prop, profile), "The shared-stamp cache", prop
    )


# The implementation against the specification: stateful runs -------------------


class _Mismatch(Exception):
    """The implementation answered differently from the specification."""


class _Target:
    """One way of driving a registry: in memory, or over HTTP with the client."""

    async def register(self, instance: Any, ttl: int | None) -> Any: ...
    async def deregister(self, service: str, ident: str) -> Any: ...
    async def heartbeat(self, service: str, ident: str) -> Any: ...
    async def set_status(self, service: str, ident: str, status: str) -> Any: ...
    async def discover(self, service: str, healthy_only: bool) -> Any: ...
    async def services(self) -> Any: ...
    async def revision(self) -> Any: ...
    async def close(self) -> None: ...


class _InMemory(_Target):
    def __init__(self, subject: Any) -> None:
        self.registry = subject.ServiceRegistry()

    async def register(self, instance: Any, ttl: int | None) -> Any:
        return await self.registry.register(instance, ttl)

    async def deregister(self, service: str, ident: str) -> Any:
        return await self.registry.deregister(service, ident)

    async def heartbeat(self, service: str, ident: str) -> Any:
        return await self.registry.heartbeat(service, ident)

    async def set_status(self, service: str, ident: str, status: str) -> Any:
        return await self.registry.set_status(service, ident, status)

    async def discover(self, service: str, healthy_only: bool) -> Any:
        if healthy_only:
            return await self.registry.get_healthy_instances(service)
        return await self.registry.get_instances(service)

    async def services(self) -> Any:
        return await self.registry.list_services()

    async def revision(self) -> Any:
        return self.registry.revision


class _Swappable:
    """Stands in for a registry and forwards to whichever is current."""

    def __init__(self, registry: Any) -> None:
        self.current = registry

    def __getattr__(self, name: str) -> Any:
        return getattr(self.current, name)


class _OverHttp(_Target):
    """A real registry server on 127.0.0.1 and the subject's client, uncached.

    One server and one client serve every run of an obligation (starting a
    server costs more than a short run); each run gets a fresh registry
    behind the server.
    """

    def __init__(self, subject: Any) -> None:
        from impl.registry import ServiceRegistry
        from impl.registry_server import RegistryServer

        self.subject = subject
        self.behind = _Swappable(ServiceRegistry())
        self.server = RegistryServer(self.behind)  # type: ignore[arg-type]
        self.client: Any = None

    async def start(self) -> None:
        url = await self.server.start()
        self.client = self.subject.ServiceDiscovery(url, cache_ttl=0)

    def fresh(self) -> _OverHttp:
        from impl.registry import ServiceRegistry

        self.behind.current = ServiceRegistry()
        return self

    async def stop(self) -> None:
        if self.client is not None:
            await self.client.close()
        await self.server.stop()

    async def register(self, instance: Any, ttl: int | None) -> Any:
        return await self.client.register(instance, ttl)

    async def deregister(self, service: str, ident: str) -> Any:
        return await self.client.deregister(service, ident)

    async def heartbeat(self, service: str, ident: str) -> Any:
        return await self.client.heartbeat(service, ident)

    async def set_status(self, service: str, ident: str, status: str) -> Any:
        return await self.client.set_status(service, ident, status)

    async def discover(self, service: str, healthy_only: bool) -> Any:
        return await self.client.discover_service(service, healthy_only=healthy_only)

    async def services(self) -> Any:
        return await self.client.get_all_services()

    async def revision(self) -> Any:
        await self.client.get_all_services()
        return self.client.last_revision


def _impl_instance(service: str, ident: str, host: int, metadata: bool) -> Any:
    from impl.endpoints import ServiceEndpoint, ServiceInstance

    h, p = HOSTS[host]
    meta: dict[str, Any] = {"zone": ["z1", "z2"], "weight": 2} if metadata else {}
    return ServiceInstance(service, ident, ServiceEndpoint(h, p, metadata=meta))


#: Search phases without Hypothesis's shrinking, for checks whose runs are
#: costly (real sockets, whole state-machine runs): shrinking would replay
#: hundreds of runs. The failing run is cut down afterwards by
#: :func:`_minimise` instead.
UNSHRUNK = (Phase.explicit, Phase.reuse, Phase.generate)


def _run_agreement(
    profile: Profile,
    loop: VirtualTimeLoop,
    make_target: Callable[[], _Target],
    *,
    examples: int,
    identity: bool,
) -> tuple[int, int, dict[str, Any] | None]:
    """Run the stateful comparison; (runs, steps, counterexample or None).

    Every run shares ``loop``: building a loop costs more than a short run.
    Its clock keeps going between runs; the model's times are counted from
    the start of each run, which shifts every time and deadline alike.
    """
    from spec import registry as model

    counts = {"runs": 0, "steps": 0}
    failures: list[dict[str, Any]] = []
    failed_actions: list[list[tuple[str, tuple[Any, ...]]]] = []

    class Agreement(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            counts["runs"] += 1
            self.loop = loop
            self.target = make_target()
            self.model: Any = model.EMPTY
            self.now = 0
            self.log: list[str] = []
            self.actions: list[tuple[str, tuple[Any, ...]]] = []
            self.registered: dict[tuple[str, str], Any] = {}
            self.reads: dict[tuple[str, bool], tuple[Any, int]] = {}

        def act(self, description: str, call: Any) -> Any:
            counts["steps"] += 1
            self.log.append(f"t={self.now}: {description}")
            try:
                return self.loop.run_until_complete(call)
            except Exception as exc:
                self.fail(f"raised {type(exc).__name__}: {exc}")

        def apply(self, op: Any) -> Any:
            output, self.model = model.step(self.model, op)
            return output

        def fail(self, problem: str) -> Any:
            failures.append({"steps": list(self.log), "problem": problem})
            failed_actions.append(list(self.actions))
            raise _Mismatch(problem)

        def expect(self, got: Any, want: Any, what: str) -> None:
            if got != want:
                self.fail(f"{what}: implementation {got!r}, specification {want!r}")

        @rule(
            service=st.sampled_from(SERVICES),
            ident=st.sampled_from(IDS),
            host=st.integers(0, 1),
            ttl=st.sampled_from((None, 1, 2, 3)),
            metadata=st.booleans(),
        )
        def register(
            self, service: str, ident: str, host: int, ttl: int | None, metadata: bool
        ) -> None:
            self.actions.append(("register", (service, ident, host, ttl, metadata)))
            instance = _impl_instance(service, ident, host, metadata)
            lease = "" if ttl is None else f" with a lease of {ttl}"
            got = self.act(
                f"register {service}/{ident} at {HOSTS[host][0]}{lease}",
                self.target.register(instance, ttl),
            )
            spec_instance = model.Instance(service, ident, model.Endpoint(*HOSTS[host]))
            want = self.apply(model.Register(spec_instance, ttl, at=self.now))
            self.expect(got, want, "register returned")
            if want:
                self.registered[(service, ident)] = instance
            self.read_back(service)

        @rule(service=st.sampled_from(SERVICES), ident=st.sampled_from(IDS))
        def deregister(self, service: str, ident: str) -> None:
            self.actions.append(("deregister", (service, ident)))
            got = self.act(
                f"deregister {service}/{ident}", self.target.deregister(service, ident)
            )
            want = self.apply(model.Deregister(service, ident, at=self.now))
            self.expect(got, want, "deregister returned")
            self.read_back(service)

        @rule(service=st.sampled_from(SERVICES), ident=st.sampled_from(IDS))
        def heartbeat(self, service: str, ident: str) -> None:
            self.actions.append(("heartbeat", (service, ident)))
            got = self.act(
                f"heartbeat {service}/{ident}", self.target.heartbeat(service, ident)
            )
            want = self.apply(model.Heartbeat(service, ident, at=self.now))
            self.expect(got, want, "heartbeat returned")
            self.read_back(service)

        @rule(
            service=st.sampled_from(SERVICES),
            ident=st.sampled_from(IDS),
            healthy=st.booleans(),
        )
        def mark(self, service: str, ident: str, healthy: bool) -> None:
            self.actions.append(("mark", (service, ident, healthy)))
            status = "healthy" if healthy else "unhealthy"
            got = self.act(
                f"mark {service}/{ident} {status}",
                self.target.set_status(service, ident, status),
            )
            want = self.apply(model.SetHealth(service, ident, healthy, at=self.now))
            self.expect(got, want, "set_status returned")
            self.read_back(service)

        @rule(seconds=st.integers(1, 3))
        def wait(self, seconds: int) -> None:
            self.actions.append(("wait", (seconds,)))
            # Stop at every lease deadline on the way, and read everything
            # there: the instant a lease runs out is where expiry goes wrong.
            target = self.now + seconds
            deadlines = {
                e.deadline
                for e in self.model.entries
                if e.deadline is not None and self.now < e.deadline < target
            }
            for stop in [*sorted(deadlines), target]:
                self.act(f"wait {stop - self.now}", asyncio.sleep(stop - self.now))
                self.now = stop
                for service in SERVICES:
                    self.read_back(service)

        @rule(service=st.sampled_from(SERVICES), healthy_only=st.booleans())
        def discover(self, service: str, healthy_only: bool) -> None:
            self.actions.append(("discover", (service, healthy_only)))
            self.read(service, healthy_only)

        def read_back(self, service: str) -> None:
            """Read a service after a change or a wait: the effect is checked
            at once, whichever rules a run happens to draw."""
            for healthy_only in (False, True) if identity else (False,):
                self.read(service, healthy_only)

        def read(self, service: str, healthy_only: bool) -> None:
            what = f"discover {service}" + (" (healthy only)" if healthy_only else "")
            got = self.act(what, self.target.discover(service, healthy_only))
            want = self.apply(model.Discover(service, healthy_only, at=self.now))
            if not isinstance(got, tuple):
                self.fail(f"{what} answered a {type(got).__name__}, not a tuple")
            from impl.endpoints import ServiceEndpoint, ServiceInstance

            for i in got:
                if not isinstance(i, ServiceInstance) or not isinstance(
                    i.endpoint, ServiceEndpoint
                ):
                    self.fail(
                        f"{what} answered {type(i).__name__} with endpoint "
                        f"{type(getattr(i, 'endpoint', None)).__name__}, not a "
                        "ServiceInstance with a ServiceEndpoint"
                    )
                stored = self.registered.get(i.key)
                if stored is None or i.endpoint != stored.endpoint:
                    self.fail(
                        f"{what} answered an endpoint never registered: {i.endpoint}"
                    )
            self.expect(
                sorted(_impl_key(i) for i in got),
                sorted(_spec_key(i) for i in want),
                what,
            )
            if identity:
                again = self.act(
                    what + " again", self.target.discover(service, healthy_only)
                )
                if again is not got:
                    self.fail(
                        f"{what}, asked twice in a row, handed out two different "
                        "objects although nothing changed in between"
                    )
            revision = model.step(self.model, model.Revision(at=self.now))[0]
            previous = self.reads.get((service, healthy_only))
            if (
                identity
                and previous is not None
                and previous[1] == revision
                and got is not previous[0]
            ):
                self.fail(
                    f"{what} handed out a new object although nothing "
                    "changed since the last read"
                )
            self.reads[(service, healthy_only)] = (got, revision)

        @rule()
        def services(self) -> None:
            self.actions.append(("services", ()))
            got = self.act("list services", self.target.services())
            want = self.apply(model.ListServices(at=self.now))
            self.expect(tuple(got), want, "list services")

        @rule()
        def revision(self) -> None:
            self.actions.append(("revision", ()))
            got = self.act("revision", self.target.revision())
            want = self.apply(model.Revision(at=self.now))
            self.expect(got, want, "revision")

        def teardown(self) -> None:
            self.loop.run_until_complete(self.target.close())

    def replay(actions: list[tuple[str, tuple[Any, ...]]]) -> dict[str, Any] | None:
        machine = Agreement()
        try:
            for name, args in actions:
                getattr(machine, name)(*args)
        except _Mismatch:
            return failures[-1]
        finally:
            machine.teardown()
        return None

    try:
        run_state_machine_as_test(
            Agreement,
            settings=profile.hypothesis(max_examples=examples, phases=UNSHRUNK),
        )
    except _Mismatch:
        # Hypothesis's shrinking would replay hundreds of runs; dropping one
        # action at a time from the failing run, while it still fails, gives
        # a short counterexample for far less.
        shortest = _minimise(failed_actions[-1], lambda a: replay(a) is not None)
        return counts["runs"], counts["steps"], replay(shortest) or failures[-1]
    return counts["runs"], counts["steps"], None


def _agreement_verdict(
    runs: int, steps: int, bad: dict[str, Any] | None, where: str
) -> Verdict:
    searched = {"runs": runs, "steps": steps}
    if bad is not None:
        return Verdict.refuted("Hypothesis stateful", bad, searched=searched)
    return Verdict.checked(
        "Hypothesis stateful, virtual-time loop",
        searched=searched,
        bounds=f"{where}; services a and b, ids 1 and 2, leases of 1-3 s, "
        "waits of 1-3 s",
    )


@obligation(
    "T2.1/impl-registry-agrees-with-spec",
    reading="The in-memory registry answers every operation as the "
    "specification does, through registrations, removals, heartbeats, health "
    "marks and time passing on the virtual-time loop; and a discovery answer "
    "is the very same tuple object until something changes.",
    method=Method.STATEFUL,
    expected=Outcome.CHECKED,
    subject=IMPL,
)
def _impl_agrees(subject: Any, profile: Profile) -> Verdict:
    loop = VirtualTimeLoop()
    try:
        runs, steps, bad = _run_agreement(
            profile,
            loop,
            lambda: _InMemory(subject),
            examples=max(50, profile.examples // 2),
            identity=True,
        )
    finally:
        loop.close()
    return _agreement_verdict(runs, steps, bad, "in memory")


@obligation(
    "T2.1/http-registry-agrees-with-spec",
    reading="The registry served over HTTP and driven through its client "
    "answers every operation as the specification does, and discovery "
    "through the client yields real instances whose endpoints are the ones "
    "registered.",
    method=Method.STATEFUL,
    expected=Outcome.CHECKED,
    subject=CLIENT,
    assumptions=("the client's cache is off (ttl 0): staleness is checked apart",),
)
def _http_agrees(subject: Any, profile: Profile) -> Verdict:
    loop = VirtualTimeLoop()
    rig = _OverHttp(subject)
    try:
        loop.run_until_complete(rig.start())
        runs, steps, bad = _run_agreement(
            profile,
            loop,
            rig.fresh,
            examples=max(20, profile.examples // 5),
            identity=False,
        )
    finally:
        loop.run_until_complete(rig.stop())
        loop.close()
    return _agreement_verdict(runs, steps, bad, "over HTTP on 127.0.0.1")


@obligation(
    "T2.1/client-cache-within-ttl",
    reading="Through the HTTP client's cache, every answer is one the registry "
    "gave less than the cache's ttl ago, for every service separately, "
    "whatever the order in which services are read.",
    formal=r"\forall t:\ \mathrm{discover\_service}(n)@t \in "
    r"\{\mathrm{Discover}(n, s) \mid t - \mathrm{ttl} < s \le t\}",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=CLIENT,
    assumptions=("the registry stays reachable",),
)
def _client_cache_within_ttl(subject: Any, profile: Profile) -> Verdict:
    from impl.registry_server import RegistryServer
    from spec import registry as model

    async def scenario(ttl: int, program: Program) -> str | None:
        timeline = _Timeline(model)
        start = asyncio.get_running_loop().time()
        async with RegistryServer() as server:
            client = subject.ServiceDiscovery(server.url, cache_ttl=ttl)
            try:
                t = 0
                for step in program:
                    kind = step[0]
                    if kind == "wait":
                        await asyncio.sleep(step[1])
                        t += step[1]
                    elif kind == "register":
                        instance = _impl_instance(step[1], step[2], 0, False)
                        await server.registry.register(instance, step[3])
                        inst = model.Instance(
                            step[1], step[2], model.Endpoint(*HOSTS[0])
                        )
                        timeline.change(model.Register(inst, step[3], at=t), t)
                    elif kind == "deregister":
                        await server.registry.deregister(step[1], step[2])
                        timeline.change(model.Deregister(step[1], step[2], at=t), t)
                    else:
                        answer = await client.discover_service(step[1])
                        if not all(_is_real_instance(i) for i in answer):
                            return f"at t={t} discovery answered {answer!r}"
                        got = frozenset(_impl_key(i) for i in answer)
                        allowed = timeline.answers(step[1], t, ttl)
                        if got not in allowed:
                            return _stale_message(step[1], t, ttl, got, allowed)
                    if asyncio.get_running_loop().time() - start != t:
                        return "the virtual clock drifted from the program's time"
            finally:
                await client.close()
        return None

    loop = VirtualTimeLoop()
    try:

        def prop(case: tuple[int, Program]) -> str | None:
            return loop.run_until_complete(scenario(*case))

        found = search(
            _programs(),
            prop,
            profile,
            max_examples=max(40, profile.examples // 4),
            phases=UNSHRUNK,
        )
        return _staleness_verdict(found, "The client's cache", prop)
    finally:
        loop.close()


# Health checking ---------------------------------------------------------------

#: What an instance's health route does on one probe.
BEHAVIOURS = ("ok", "fail", "hang", "redirect")


def _health_cases() -> st.SearchStrategy[tuple[int, int, list[list[str]]]]:
    """Thresholds and, for two instances, what each probe round meets."""

    @st.composite
    def build(draw: st.DrawFn) -> tuple[int, int, list[list[str]]]:
        failures = draw(st.integers(1, 3))
        successes = draw(st.integers(1, 3))
        rounds = draw(st.integers(1, 8))
        behaviour = st.sampled_from(BEHAVIOURS)
        scripts = [
            draw(st.lists(behaviour, min_size=rounds, max_size=rounds))
            for _ in range(2)
        ]
        return failures, successes, scripts

    return build()


@obligation(
    "T2.1/health-marks-follow-probes",
    reading="The health checker marks instances as the damping rule of the "
    "specification says (N consecutive failed probes before unhealthy, M "
    "passed ones before healthy); a probe passes only on a 2xx answer from "
    "the instance itself within the timeout; no probe ever reaches another "
    "host, even when the instance answers with a redirect to one.",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=HEALTH,
    assumptions=("probes run one round at a time (check_once)",),
)
def _health_marks(subject: Any, profile: Profile) -> Verdict:
    from aiohttp import web

    from impl.endpoints import ServiceEndpoint, ServiceInstance
    from impl.registry import ServiceRegistry
    from spec import registry as model

    timeout = 2.0

    async def scenario(case: tuple[int, int, list[list[str]]]) -> str | None:
        failures, successes, scripts = case
        elsewhere_hits = 0

        async def elsewhere(request: web.Request) -> web.Response:
            nonlocal elsewhere_hits
            elsewhere_hits += 1
            return web.Response(text="ok")

        runners: list[web.AppRunner] = []

        async def serve(app: web.Application) -> int:
            runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            runners.append(runner)
            return int(runner.addresses[0][1])

        other = web.Application()
        other.router.add_get("/{tail:.*}", elsewhere)
        other_port = await serve(other)

        def health_app(script: list[str]) -> web.Application:
            queue = list(script)

            async def health(request: web.Request) -> web.StreamResponse:
                what = queue.pop(0) if queue else "ok"
                if what == "fail":
                    return web.Response(status=503)
                if what == "hang":
                    await asyncio.sleep(3600)
                if what == "redirect":
                    raise web.HTTPFound(f"http://127.0.0.1:{other_port}/health")
                return web.Response(text="ok")

            app = web.Application()
            app.router.add_get("/health", health)
            return app

        registry = ServiceRegistry()
        dampers = {}
        for n, script in enumerate(scripts):
            port = await serve(health_app(script))
            instance = ServiceInstance(
                "svc", f"i{n}", ServiceEndpoint("127.0.0.1", port)
            )
            await registry.register(instance)
            dampers[instance.key] = model.Damper(failures, successes)

        checker = subject.HealthChecker(
            timeout=timeout, failure_threshold=failures, success_threshold=successes
        )
        loop = asyncio.get_running_loop()
        try:
            for round_no in range(len(scripts[0])):
                started = loop.time()
                await checker.check_once(registry)
                if loop.time() - started > timeout + 0.5:
                    return f"round {round_no + 1} took {loop.time() - started:g} s"
                for n, script in enumerate(scripts):
                    key = ("svc", f"i{n}")
                    dampers[key] = model.observe(dampers[key], script[round_no] == "ok")
                marks = {i.key: i.healthy for i in await registry.get_instances("svc")}
                for key, damper in dampers.items():
                    if marks[key] != damper.healthy:
                        return (
                            f"after round {round_no + 1} instance {key[1]} is "
                            f"{'healthy' if marks[key] else 'unhealthy'}; the damping "
                            f"rule says {'healthy' if damper.healthy else 'unhealthy'}"
                        )
                if elsewhere_hits:
                    return f"a probe reached another host in round {round_no + 1}"
        finally:
            await checker.stop_health_check()
            for runner in runners:
                await runner.cleanup()
            # Health routes still hanging belong to these servers; end them.
            current = asyncio.current_task()
            stray = [t for t in asyncio.all_tasks() if t is not current]
            for task in stray:
                task.cancel()
            await asyncio.gather(*stray, return_exceptions=True)
        return None

    loop = VirtualTimeLoop()
    try:

        def prop(case: tuple[int, int, list[list[str]]]) -> str | None:
            return loop.run_until_complete(scenario(case))

        found = search(
            _health_cases(), prop, profile, max_examples=max(10, profile.examples // 10)
        )
    finally:
        loop.close()
    if found.found:
        failures, successes, scripts = found.counterexample  # type: ignore[misc]
        return Verdict.refuted(
            "Hypothesis, real HTTP on 127.0.0.1",
            {
                "failures to mark unhealthy": failures,
                "successes to mark healthy": successes,
                "probe answers of instance i0": scripts[0],
                "probe answers of instance i1": scripts[1],
                "problem": found.message,
            },
            searched={"examples": found.calls},
        )
    return Verdict.checked(
        "Hypothesis, real HTTP on 127.0.0.1, virtual-time loop",
        searched={"examples": found.calls},
        bounds="two instances, 1-8 rounds, thresholds 1-3, probe answers ok, "
        "503, no answer (timeout 2 s), redirect to another local server",
    )


# Autonomy of implementation objects (T1.1) ---------------------------------------

_ATOMS = (str, bytes, int, float, complex, bool, type(None), Fraction, enum.Enum)


def _is_frozen_value(obj: object) -> bool:
    params = getattr(type(obj), "__dataclass_params__", None)
    return dataclasses.is_dataclass(obj) and bool(params and params.frozen)


def _mutable_reachable(root: object) -> dict[int, str]:
    """Mutable objects a holder of ``root`` can reach, by id, with a path.

    Values (atoms, tuples, frozensets, frozen dataclasses, read-only mapping
    views) are walked through, not counted. Anything else is counted as
    mutable and walked through its items, values and attributes.
    """
    found: dict[int, str] = {}
    seen: set[int] = set()
    todo: list[tuple[object, str]] = [(root, "root")]
    while todo:
        obj, path = todo.pop()
        if isinstance(obj, _ATOMS) or callable(obj):
            continue
        if id(obj) in seen or isinstance(obj, type):
            continue
        seen.add(id(obj))
        children: list[tuple[object, str]] = []
        if isinstance(obj, tuple | frozenset):
            children = [(x, f"{path}[{n}]") for n, x in enumerate(obj)]
        elif isinstance(obj, MappingProxyType):
            children = [(v, f"{path}[{k!r}]") for k, v in obj.items()]
        elif _is_frozen_value(obj):
            children = [
                (getattr(obj, f.name), f"{path}.{f.name}")
                for f in dataclasses.fields(obj)  # type: ignore[arg-type]
            ]
        else:
            found[id(obj)] = f"{path} ({type(obj).__name__})"
            if isinstance(obj, dict):
                children = [(v, f"{path}[{k!r}]") for k, v in obj.items()]
                children += [(k, f"{path} key") for k in obj]
            elif isinstance(obj, list | set | bytearray):
                children = [(x, f"{path}[{n}]") for n, x in enumerate(obj)]
            else:
                attrs = dict(getattr(obj, "__dict__", {}))
                for slot in getattr(type(obj), "__slots__", ()):
                    if hasattr(obj, slot):
                        attrs[slot] = getattr(obj, slot)
                children = [(v, f"{path}.{k}") for k, v in attrs.items()]
        todo.extend(children)
    return found


def _endpoint_kwargs() -> st.SearchStrategy[dict[str, Any]]:
    json_leaf = st.one_of(st.integers(-5, 5), st.text("abc", max_size=3), st.booleans())
    nested = st.recursive(
        json_leaf,
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.text("xyz", min_size=1, max_size=2), inner, max_size=3)
        ),
        max_leaves=6,
    )
    return st.fixed_dictionaries(
        {
            "host": st.sampled_from(("127.0.0.1", "users.internal", "::1")),
            "port": st.integers(1, 65535),
        },
        optional={
            "metadata": st.dictionaries(
                st.text("kw", min_size=1, max_size=3), nested, max_size=3
            ),
            "protocol": st.sampled_from(("http", "https")),
        },
    )


@obligation(
    "T1.1/impl-instances-share-nothing",
    reading="No mutable object is reachable from a ServiceInstance, so none is "
    "reachable from two: not the caller's metadata (copied and frozen, nested "
    "values included), not a default, not what with_status or a JSON round "
    "trip shares with the original; changing the caller's metadata afterwards "
    "changes no instance.",
    formal=r"\forall i \ne j:\ \mathrm{Mut}(i) \cap \mathrm{Mut}(j) = \emptyset,"
    r"\quad \mathrm{Mut}(i) = \emptyset",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=ENDPOINTS,
)
def _instances_share_nothing(subject: Any, profile: Profile) -> Verdict:
    def prop(case: tuple[dict[str, Any], dict[str, Any]]) -> str | None:
        first_kwargs, second_kwargs = case
        given = first_kwargs.get("metadata")
        before = json.dumps(given, sort_keys=True)
        first = subject.ServiceInstance(
            "svc", "i1", subject.ServiceEndpoint(**first_kwargs)
        )
        second = subject.ServiceInstance(
            "svc", "i2", subject.ServiceEndpoint(**second_kwargs)
        )
        copies = {
            "first": first,
            "second": second,
            "first.with_status": first.with_status("unhealthy"),
            "first from its JSON": subject.ServiceInstance.from_dict(first.to_dict()),
        }
        reached = {name: _mutable_reachable(i) for name, i in copies.items()}
        for name, objects in reached.items():
            if objects:
                return f"{name} reaches the mutable {min(objects.values())}"
        seen_as = json.dumps(first.to_dict()["endpoint"]["metadata"], sort_keys=True)
        if given is not None:
            _scribble(given)
            if (
                json.dumps(first.to_dict()["endpoint"]["metadata"], sort_keys=True)
                != seen_as
            ):
                return "changing the caller's metadata changed the instance"
        if given is not None and seen_as != before:
            return "the instance's metadata differs from what the caller gave"
        return None

    found = search(st.tuples(_endpoint_kwargs(), _endpoint_kwargs()), prop, profile)
    if found.found:
        first_kwargs, second_kwargs = found.counterexample  # type: ignore[misc]
        return Verdict.refuted(
            "Hypothesis, object-graph walk",
            {
                "first endpoint": repr(first_kwargs),
                "second endpoint": repr(second_kwargs),
                "problem": found.message,
            },
            searched={"examples": found.calls},
        )
    return Verdict.checked(
        "Hypothesis, object-graph walk",
        searched={"examples": found.calls},
        bounds="endpoints with default, flat or nested JSON metadata",
    )


def _scribble(data: Any) -> None:
    """Change caller-held JSON data in place, at every level."""
    if isinstance(data, dict):
        for value in list(data.values()):
            _scribble(value)
        data["scribbled"] = True
    elif isinstance(data, list):
        for value in data:
            _scribble(value)
        data.append("scribbled")


@obligation(
    "T1.1/impl-registries-share-nothing",
    reading="Two registries fed the same instance values share no mutable "
    "object, and a change to one is invisible in the other.",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=IMPL,
)
def _registries_share_nothing(subject: Any, profile: Profile) -> Verdict:
    changes = st.lists(
        st.tuples(
            st.sampled_from(("register", "deregister", "unhealthy", "heartbeat")),
            st.sampled_from(SERVICES),
            st.sampled_from(IDS),
            st.sampled_from((None, 5)),
        ),
        max_size=8,
    )

    async def scenario(ops: list[tuple[str, str, str, int | None]]) -> str | None:
        first, second = subject.ServiceRegistry(), subject.ServiceRegistry()
        for kind, service, ident, ttl in ops:
            instance = _impl_instance(service, ident, 0, True)
            for registry in (first, second):
                if kind == "register":
                    await registry.register(instance, ttl)
                elif kind == "deregister":
                    await registry.deregister(service, ident)
                elif kind == "unhealthy":
                    await registry.set_status(service, ident, "unhealthy")
                else:
                    await registry.heartbeat(service, ident)
        for service in SERVICES:
            await first.get_healthy_instances(service)
        shared = set(_mutable_reachable(first)) & set(_mutable_reachable(second))
        if shared:
            where = _mutable_reachable(first)
            return f"both registries reach the mutable {min(where[i] for i in shared)}"
        before = {s: await second.get_instances(s) for s in SERVICES}
        await first.register(_impl_instance("a", "fresh", 1, False))
        for service in SERVICES:
            for instance in await first.get_instances(service):
                await first.set_status(service, instance.instance_id, "unhealthy")
        after = {s: await second.get_instances(s) for s in SERVICES}
        if after != before:
            return "a change to one registry showed in the other"
        return None

    loop = VirtualTimeLoop()
    try:

        def prop(ops: list[tuple[str, str, str, int | None]]) -> str | None:
            return loop.run_until_complete(scenario(ops))

        found = search(
            changes, prop, profile, max_examples=max(20, profile.examples // 2)
        )
    finally:
        loop.close()
    if found.found:
        return Verdict.refuted(
            "Hypothesis, object-graph walk",
            {
                "changes applied to both": [
                    f"{k} {s}/{i}" + (f" ttl={t}" if t else "")
                    for k, s, i, t in found.counterexample or []
                ],
                "problem": found.message,
            },
            searched={"examples": found.calls},
        )
    return Verdict.checked(
        "Hypothesis, object-graph walk",
        searched={"examples": found.calls},
        bounds="two registries, 0-8 changes applied to both",
    )
