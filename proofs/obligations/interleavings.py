r"""The implementation under concurrent clients: interleavings and histories.

Each obligation here runs several clients at once on the virtual-time loop
and lets :mod:`proofs.harness.scheduler` decide which ready callback runs
next, so that every ``await`` is a point where another client may cut in.
Hypothesis draws what each client does and the schedule together, and
shrinks both when something goes wrong; a failure is reported with the
shrunk scripts, the schedule string that replays it, and what broke.

For the registry, "what broke" is decided by the linearizability checker:
each run records the clients' operations as a history, and the history must
be explainable by the registry's sequential semantics, every operation
taking effect at one instant between its call and its return (T2.1's
"discovery returns what was registered", read for concurrent clients, and
D4.5's strong consistency, read as linearizability).

The checker's model is the specification itself: :func:`spec.registry.step`
from the empty registry, each recorded call translated into the
specification's operation (``set_status`` into ``SetHealth``, the two reads
into ``Discover``), so the oracle is the same step function the
specification's own obligations are about. ``register`` of a taken id answers
False and changes nothing, ``deregister`` and ``set_status`` of a missing one
answer False, reads answer the set of ids (the healthy ones only, for the
healthy read). Services are independent, so histories are checked service by
service.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from functools import cache, partial
from itertools import product
from typing import Any

from hypothesis import strategies as st

from impl.discovery import ServiceDiscovery
from impl.endpoints import ServiceEndpoint, ServiceInstance
from impl.registry_server import RegistryServer
from proofs.harness import vtime
from proofs.harness.scheduler import (
    explore,
    replay,
    search_inputs_and_schedules,
)
from proofs.histories import History, Operation, Recorder
from proofs.linearizability import Model, check, spec_model
from proofs.obligation import Method, obligation
from proofs.profiles import Profile
from proofs.search import search
from proofs.verdict import Outcome, Verdict
from spec import registry as spec_registry


def _runs(profile: Profile) -> int:
    """Scenario runs per search: half the profile's examples, at least 50.

    Each run starts a fresh event loop and several clients, so a run costs
    what a few dozen plain examples do.
    """
    return max(profile.examples // 2, 50)


# The registry's sequential semantics: the specification's step function -------


def _spec_endpoint(service: str, ident: str) -> spec_registry.Endpoint:
    """The endpoint :func:`_instance` gives, as the specification spells it."""
    port = 8000 + SERVICES.index(service) * 10 + IDS.index(ident)
    return spec_registry.Endpoint("127.0.0.1", port)


def _spec_input(op: Operation) -> spec_registry.Operation:
    """The specification's operation for a recorded call on service ``op.key``."""
    service, f = str(op.key), op.f
    if f == "register":
        instance = spec_registry.Instance(
            service, op.value, _spec_endpoint(service, op.value)
        )
        return spec_registry.Register(instance)
    if f == "deregister":
        return spec_registry.Deregister(service, op.value)
    if f == "status":
        ident, status = op.value
        return spec_registry.SetHealth(service, ident, status == "healthy")
    return spec_registry.Discover(service, healthy_only=f == "healthy")


def _spec_step(
    state: spec_registry.Registry, op: spec_registry.Operation
) -> tuple[Any, spec_registry.Registry]:
    """:func:`spec.registry.step`, its discovery answers seen as recorded.

    The specification answers a discovery with a set of instances; a recorded
    read is the sorted tuple of the ids the implementation returned, so a
    duplicate in an answer still shows. The order the implementation returns
    (registration order) is its own promise, not the specification's, and is
    not part of this comparison.
    """
    output, after = spec_registry.step(state, op)
    if isinstance(op, spec_registry.Discover):
        output = tuple(sorted(i.instance_id for i in output))
    return output, after


#: The registry as the linearizability checker's model: the specification's
#: step function from the empty registry, split by service (no leases are
#: taken, so nothing expires, and operations on one service neither read nor
#: change another's entries).
REGISTRY_MODEL: Model[spec_registry.Registry] = spec_model(
    "registry (spec.registry.step)",
    spec_registry.EMPTY,
    _spec_step,
    input_of=_spec_input,
    key=lambda op: op.key,
)

# Client scripts ------------------------------------------------------------------

SERVICES = ("users", "orders")
IDS = ("a", "b")

#: One client operation: (f, service, id, status); unused fields are "".
Step = tuple[str, str, str, str]

_steps: st.SearchStrategy[Step] = st.one_of(
    st.tuples(
        st.sampled_from(("register", "deregister")),
        st.sampled_from(SERVICES),
        st.sampled_from(IDS),
        st.just(""),
    ),
    st.tuples(
        st.just("status"),
        st.sampled_from(SERVICES),
        st.sampled_from(IDS),
        st.sampled_from(("unhealthy", "healthy")),
    ),
    st.tuples(
        st.sampled_from(("get", "healthy")),
        st.sampled_from(SERVICES),
        st.just(""),
        st.just(""),
    ),
)

#: What each of two or three clients does, in order.
Scripts = tuple[tuple[Step, ...], ...]

scripts: st.SearchStrategy[Scripts] = st.lists(
    st.lists(_steps, min_size=1, max_size=4).map(tuple), min_size=2, max_size=3
).map(tuple)


@cache
def _instance(service: str, ident: str) -> ServiceInstance:
    port = 8000 + SERVICES.index(service) * 10 + IDS.index(ident)
    return ServiceInstance(service, ident, ServiceEndpoint("127.0.0.1", port))


def _ids(snapshot: Sequence[ServiceInstance]) -> tuple[str, ...]:
    """A discovery answer as recorded: the ids returned, sorted."""
    return tuple(sorted(i.instance_id for i in snapshot))


def _value(step: Step) -> Any:
    """The recorded argument: the id, (id, status), or nothing for reads."""
    f, _, ident, status = step
    if f == "status":
        return (ident, status)
    if f in ("register", "deregister"):
        return ident
    return None


def _registry_call(registry: Any, step: Step) -> Callable[[], Coroutine[Any, Any, Any]]:
    f, service, ident, status = step
    if f == "register":
        return lambda: registry.register(_instance(service, ident))
    if f == "deregister":
        return lambda: registry.deregister(service, ident)
    if f == "status":
        return lambda: registry.set_status(service, ident, status)
    if f == "get":
        return lambda: registry.get_instances(service)
    return lambda: registry.get_healthy_instances(service)


def _show_step(process: int, step: Step) -> str:
    return f"client {process}: {step[0]} {' '.join(x for x in step[1:] if x)}"


async def _run_clients(registry: Any, plan: Scripts, recorder: Recorder) -> History:
    async def client(process: int, script: tuple[Step, ...]) -> None:
        for step in script:
            # A client yields between requests, as one talking over a network
            # would; the scheduler decides who runs next.
            await asyncio.sleep(0)
            output = _ids if step[0] in ("get", "healthy") else None
            await recorder.call(
                process,
                step[0],
                _value(step),
                _registry_call(registry, step),
                key=step[1],
                output=output,
            )

    await asyncio.gather(*(client(p, s) for p, s in enumerate(plan)))
    return recorder.history()


def _linearizable_registry(
    q: Any, plan: Scripts
) -> Callable[[], Coroutine[Any, Any, str | None]]:
    async def scenario() -> str | None:
        history = await _run_clients(q.ServiceRegistry(), plan, Recorder())
        result = check(history, REGISTRY_MODEL, budget=None, max_states=100_000)
        if result.ok:
            return None
        return f"{result.summary()}; history: " + "; ".join(
            op.describe() for op in history.operations
        )

    return scenario


#: The race that matters most: two clients register the same id while a third
#: reads. Explored exhaustively up to this many delays.
RACE: Scripts = (
    (("register", "users", "a", ""), ("get", "users", "", "")),
    (("register", "users", "a", ""), ("deregister", "users", "a", "")),
    (("get", "users", "", ""), ("healthy", "users", "", "")),
)
RACE_DELAY_BOUND = 3


@obligation(
    "T2.1/registry-linearizable-under-interleavings",
    reading="Two or three clients call register, deregister, set_status and "
    "the two discovery reads of the in-memory registry at once, yielding "
    "between calls, in every order the scheduler tries: the history of "
    "calls and answers is linearizable with respect to the registry's "
    "sequential semantics.",
    method=Method.INTERLEAVINGS,
    expected=Outcome.CHECKED,
    subject="impl.registry",
    assumptions=(
        "clients share one event loop; every await is a possible switch",
        "no leases: instances stay until deregistered",
    ),
)
def _registry_linearizable(q: Any, profile: Profile) -> Verdict:
    found = search_inputs_and_schedules(
        lambda plan: _linearizable_registry(q, plan),
        scripts,
        profile,
        max_examples=_runs(profile),
    )
    if found.failure is not None and found.example is not None:
        plan = found.example
        again = replay(_linearizable_registry(q, plan), found.failure.schedule)
        return Verdict.refuted(
            "controlled interleavings, linearizability check",
            {
                "clients": [
                    [_show_step(p, step) for step in script]
                    for p, script in enumerate(plan)
                ],
                "schedule": str(found.failure.schedule),
                "problem": found.failure.complaint,
                "replays": again == found.failure.complaint,
            },
            searched={"runs": found.runs},
        )

    race = explore(_linearizable_registry(q, RACE), bound=RACE_DELAY_BOUND)
    if race.failure is not None:
        return Verdict.refuted(
            "exhaustive interleavings, linearizability check",
            {
                "clients": [
                    [_show_step(p, step) for step in script]
                    for p, script in enumerate(RACE)
                ],
                "schedule": str(race.failure.schedule),
                "problem": race.failure.complaint,
            },
            searched=race.searched(),
        )
    if not race.complete:
        return Verdict.unknown(
            "exhaustive interleavings",
            f"the schedule cap stopped the search of the register race at "
            f"{race.schedules} schedules, before delay bound {RACE_DELAY_BOUND}",
        )
    return Verdict.checked(
        "controlled interleavings, linearizability check",
        searched={
            "random_runs": found.runs,
            "race_schedules": race.schedules,
            "race_delay_bound": RACE_DELAY_BOUND,
        },
        bounds="2-3 clients, 1-4 calls each, 2 services, 2 ids; the "
        "register race of three clients under every schedule of at most "
        f"{RACE_DELAY_BOUND} delays",
    )


# The registry over HTTP -----------------------------------------------------------

#: The HTTP client's method for each script step.
_HTTP_CALLS: dict[str, Callable[[Any, Step], Coroutine[Any, Any, Any]]] = {
    "register": lambda c, s: c.register(_instance(s[1], s[2])),
    "deregister": lambda c, s: c.deregister(s[1], s[2]),
    "status": lambda c, s: c.set_status(s[1], s[2], s[3]),
    "get": lambda c, s: c.discover_service(s[1]),
    "healthy": lambda c, s: c.discover_service(s[1], healthy_only=True),
}


async def _http_history(
    server_class: Any, plan: Scripts, *, reader_ttl: float = 0.0
) -> History:
    """Run ``plan`` against a fresh server, one HTTP client per script.

    Client 0 caches discovered answers for ``reader_ttl`` seconds; the others
    never cache. Calls of one client follow each other; clients overlap.
    """
    recorder = Recorder()
    async with server_class() as server:
        clients = [
            ServiceDiscovery(server.url, cache_ttl=reader_ttl if p == 0 else 0.0)
            for p in range(len(plan))
        ]
        try:

            async def client(process: int, script: tuple[Step, ...]) -> None:
                for step in script:
                    call = _HTTP_CALLS[step[0]]
                    output = _ids if step[0] in ("get", "healthy") else None
                    await recorder.call(
                        process,
                        step[0],
                        _value(step),
                        partial(call, clients[process], step),
                        key=step[1],
                        output=output,
                    )

            await asyncio.gather(*(client(p, s) for p, s in enumerate(plan)))
        finally:
            for c in clients:
                await c.close()
    return recorder.history()


def _http_examples(profile: Profile) -> int:
    """Histories per HTTP search: each starts a server and its clients."""
    return max(profile.examples // 8, 20)


@obligation(
    "T2.1/http-registry-linearizable",
    reading="Two or three HTTP clients call the registry service at once "
    "(register, deregister, status, discovery, healthy-only discovery; no "
    "client cache): the history of calls and answers is linearizable with "
    "respect to the registry's sequential semantics.",
    method=Method.LINEARIZABILITY,
    expected=Outcome.CHECKED,
    subject="impl.registry_server",
    assumptions=(
        "server and clients on one event loop, over real sockets on 127.0.0.1",
        "the order of concurrent requests is whatever the kernel delivers: "
        "these histories are sampled, not scheduled",
    ),
)
def _http_registry_linearizable(q: Any, profile: Profile) -> Verdict:
    histories = 0
    operations = 0

    def prop(plan: Scripts) -> str | None:
        nonlocal histories, operations
        history = vtime.run(_http_history(q.RegistryServer, plan))
        histories += 1
        operations += len(history)
        result = check(history, REGISTRY_MODEL, budget=None, max_states=100_000)
        if result.ok:
            return None
        return f"{result.summary()}; history: " + "; ".join(
            op.describe() for op in history.operations
        )

    found = search(scripts, prop, profile, max_examples=_http_examples(profile))
    if found.found:
        plan = found.counterexample
        assert plan is not None
        return Verdict.refuted(
            "linearizability check of HTTP histories",
            {
                "clients": [
                    [_show_step(p, step) for step in script]
                    for p, script in enumerate(plan)
                ],
                "problem": found.message,
            },
            searched={"histories": histories},
        )
    return Verdict.checked(
        "linearizability check of HTTP histories",
        searched={"histories": histories, "operations": operations},
        bounds="2-3 clients, 1-4 calls each, 2 services, 2 ids",
    )


# Cached discovery ----------------------------------------------------------------

#: What the cached reader (client 0) and a writer (client 1) may do.
_CACHED_ALPHABET: tuple[tuple[int, Step], ...] = (
    (0, ("get", "users", "", "")),
    (1, ("register", "users", "a", "")),
    (1, ("deregister", "users", "a", "")),
)
_CACHED_MAX_LENGTH = 4
#: The cached reader's TTL, in (virtual) seconds.
READER_TTL = 30.0


@obligation(
    "D4.5/cached-discovery-not-linearizable",
    reading="The discovery client with a cache (TTL 30 s) is not linearizable: "
    "some history of a cached reader and a writer, each call starting after "
    "the previous one returned, has no linearization. The shortest such "
    "history over the reader's discovery and the writer's register and "
    "deregister is searched for, length by length.",
    method=Method.LINEARIZABILITY,
    expected=Outcome.REFUTED,
    subject="impl.discovery",
    assumptions=("the cache TTL is longer than the whole history",),
)
def _cached_discovery(q: Any, profile: Profile) -> Verdict:
    tried = 0
    for length in range(1, _CACHED_MAX_LENGTH + 1):
        for word in product(_CACHED_ALPHABET, repeat=length):
            tried += 1
            history = vtime.run(_sequential_history(q.ServiceDiscovery, word))
            result = check(history, REGISTRY_MODEL, budget=None)
            if not result.ok:
                return Verdict.refuted(
                    "linearizability check, shortest history first",
                    {
                        "history": [op.describe() for op in history.operations],
                        "cannot_be_placed": result.unplaceable.describe()
                        if result.unplaceable
                        else None,
                        "checker": result.summary(),
                    },
                    searched={"histories": tried, "length": length},
                    detail="Each call starts after the previous one returned, "
                    "so real time fixes the order: a read after a completed "
                    "write must see it, and a cached read does not.",
                )
    return Verdict.checked(
        "linearizability check of every sequential history",
        searched={"histories": tried, "max_length": _CACHED_MAX_LENGTH},
        bounds=f"histories of 1-{_CACHED_MAX_LENGTH} calls",
    )


async def _sequential_history(
    discovery_class: Any, word: Sequence[tuple[int, Step]]
) -> History:
    recorder = Recorder()
    async with RegistryServer() as server:
        reader = discovery_class(server.url, cache_ttl=READER_TTL)
        writer = discovery_class(server.url, cache_ttl=0.0)
        try:
            for process, step in word:
                client = reader if process == 0 else writer
                call = _HTTP_CALLS[step[0]]
                await recorder.call(
                    process,
                    step[0],
                    _value(step),
                    partial(call, client, step),
                    key=step[1],
                    output=_ids if step[0] == "get" else None,
                )
        finally:
            await reader.close()
            await writer.close()
    return recorder.history()
