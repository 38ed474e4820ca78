r"""Consistency: histories of a register, cached readers, and CAP (D4.5, D4.6, T4.3).

*Strong consistency* (D4.5). The theory writes it as "a read that sees a
write happens after that write". That constrains *order* and says nothing of
*visibility*: a store whose reads never see any write satisfies it. The
suite therefore reads strong consistency as *linearizability* (Herlihy and
Wing): every operation takes effect at one instant between its invocation and
its completion, and the results are those of the register's sequential
specification applied at those instants. :func:`linearizable` decides it for
a history of a single register by trying every order that respects real time
(Wing and Gong's search, without memoisation: this is the definition, kept
clear, not the fast checker). :func:`satisfies_as_written` is the theory's
condition read literally.

*Eventual consistency* (D4.6). A :class:`CachedReader` answers from a copy it
refreshes once the copy is ``ttl`` old. Once writes stop, every read made
``ttl`` or more after the last write returns the final value: the reader
converges, although while writes go on it answers stale values, which no
linearizable store may. In a probabilistic reading, replicas that each catch
up with probability ``p`` per round agree after ``t`` rounds with probability
``(1 - (1 - p)^t)^k`` (:func:`anti_entropy_agreement`), which tends to 1.

*CAP* (T4.3). A bounded model in the manner of Gilbert and Lynch: two
replicas ``A`` and ``B`` of one register (initially ``0``), clients sending
one request at a time (write a value at a replica, or read at a replica). A
*protocol* decides each response from what the serving replica knows, its
:func:`view`: in a connected network every replica hears of every earlier
request before answering (the most a protocol could wish for); in a
partitioned one it knows only the requests it served itself. A protocol is
*consistent* when every execution's answered requests are linearizable, and
*available* when it answers every request. *Partition tolerance* is keeping
the chosen guarantees in partitioned executions too. :func:`consistent` and
:func:`available` are written once over a small :class:`Logic`, so the solver
encodings apply these very definitions to symbolic responses.

>>> h = (Operation("write", 1, 0, 1), Operation("read", INITIAL, 2, 3))
>>> satisfies_as_written(h), linearizable(h)
(True, False)
>>> r = CachedReader(ttl=10)
>>> value, r = cached_read(r, now=0, current=1)
>>> cached_read(r, now=5, current=2)[0], cached_read(r, now=10, current=2)[0]
(1, 2)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from itertools import product
from typing import Any, TypeAlias

from spec.errors import ConsistencyError

Exact: TypeAlias = int | Fraction

#: The register's value before any write.
INITIAL = 0


# Histories and linearizability (D4.5) ---------------------------------------


@dataclass(frozen=True)
class Operation:
    """One completed operation on a register, as a client saw it.

    ``kind`` is ``"write"`` (``value`` written) or ``"read"`` (``value``
    returned); it was invoked at ``invoked`` and completed at ``completed``.
    """

    kind: str
    value: Any
    invoked: Exact
    completed: Exact

    def __post_init__(self) -> None:
        if self.kind not in ("read", "write"):
            raise ConsistencyError(
                f"an operation is a 'read' or a 'write', got {self.kind!r}"
            )
        for part in ("invoked", "completed"):
            t = getattr(self, part)
            if isinstance(t, bool) or not isinstance(t, (int, Fraction)):
                raise ConsistencyError(
                    f"{part} of a {self.kind} must be an exact time, got {t!r}"
                )
        if self.completed < self.invoked:
            raise ConsistencyError(
                f"a {self.kind} of {self.value!r} completed at {self.completed}, "
                f"before it was invoked at {self.invoked}"
            )


History: TypeAlias = tuple[Operation, ...]


def precedes(a: Operation, b: Operation) -> bool:
    """Real-time order: ``a`` completed before ``b`` was invoked."""
    return a.completed < b.invoked


def register_step(state: Any, op: Operation) -> tuple[bool, Any]:
    """The register's sequential specification: ``(op legal here, new state)``."""
    if op.kind == "write":
        return True, op.value
    return op.value == state, state


def linearizable(history: Sequence[Operation], initial: Any = INITIAL) -> bool:
    """Whether some order of the operations respects real time and the register.

    Depth-first over the operations that may go next: those no remaining
    operation precedes in real time.
    """
    ops = tuple(history)

    def search(remaining: frozenset[int], state: Any) -> bool:
        if not remaining:
            return True
        for i in sorted(remaining):
            if any(precedes(ops[j], ops[i]) for j in remaining if j != i):
                continue
            legal, after = register_step(state, ops[i])
            if legal and search(remaining - {i}, after):
                return True
        return False

    return search(frozenset(range(len(ops))), initial)


def satisfies_as_written(history: Sequence[Operation]) -> bool:
    """D4.5 read literally: a read that sees a write comes after that write.

    A read *sees* a write when it returns the written value (written values
    are distinct). "After" is taken in the sense real-time order gives it
    here: the read did not complete before the write was invoked (operations
    meeting at one instant may still take effect one after the other). The
    condition says nothing of reads that see no write at all.
    """
    writes = [op for op in history if op.kind == "write"]
    return all(
        w.invoked <= r.completed
        for r in history
        if r.kind == "read"
        for w in writes
        if w.value == r.value
    )


# Cached readers and eventual consistency (D4.6) ------------------------------


@dataclass(frozen=True)
class CachedReader:
    """A reader that answers from a copy fetched at most ``ttl`` ago."""

    ttl: Exact
    value: Any = None
    fetched_at: Exact | None = None

    def __post_init__(self) -> None:
        if isinstance(self.ttl, bool) or not isinstance(self.ttl, (int, Fraction)):
            raise ConsistencyError(f"ttl must be an exact time, got {self.ttl!r}")
        if self.ttl <= 0:
            raise ConsistencyError(f"ttl must be > 0, got {self.ttl}")


def cached_read(
    reader: CachedReader, now: Exact, current: Any
) -> tuple[Any, CachedReader]:
    """Read at ``now``; ``current`` is the source's value at that instant.

    The copy is used while it is younger than ``ttl``; otherwise the reader
    fetches ``current`` and keeps it with the time it fetched.
    """
    if reader.fetched_at is not None and now < reader.fetched_at:
        raise ConsistencyError(
            f"read at {now} is before the last fetch at {reader.fetched_at}; "
            "time only moves forward"
        )
    if reader.fetched_at is not None and now - reader.fetched_at < reader.ttl:
        return reader.value, reader
    return current, replace(reader, value=current, fetched_at=now)


def anti_entropy_agreement(p: Any, replicas: Any, rounds: Any) -> Any:
    """P(all replicas caught up after ``rounds``), each catching up w.p. ``p``.

    After writes stop, each of ``replicas`` stale replicas independently
    catches up in each round with probability ``p`` and stays caught up.
    """
    return (1 - (1 - p) ** rounds) ** replicas


def agreement_by_enumeration(p: Exact, replicas: int, rounds: int) -> Fraction:
    """The same probability, by enumerating every replica's per-round outcome."""
    p = Fraction(p)
    total = Fraction(0)
    for outcome in product((True, False), repeat=replicas * rounds):
        weight = Fraction(1)
        for synced in outcome:
            weight *= p if synced else 1 - p
        caught_up = all(
            any(outcome[r * rounds : (r + 1) * rounds]) for r in range(replicas)
        )
        if caught_up:
            total += weight
    return total


# CAP (T4.3) --------------------------------------------------------------------

REPLICAS = ("A", "B")
#: Values clients write; the register starts at :data:`INITIAL`.
VALUES = (1, 2)
#: A read's response when the replica refuses to answer.
REFUSED = -1


@dataclass(frozen=True, order=True)
class Request:
    """A client request to one replica: write ``value``, or read (value None)."""

    replica: str
    kind: str
    value: int | None = None

    def __post_init__(self) -> None:
        if self.replica not in REPLICAS:
            raise ConsistencyError(
                f"replica must be one of {', '.join(REPLICAS)}, got {self.replica!r}"
            )
        if (self.kind, self.value is None) not in (("write", False), ("read", True)):
            raise ConsistencyError(
                f"a request is a write with a value or a read without one, got "
                f"{self.kind!r} with value {self.value!r}"
            )

    def __str__(self) -> str:
        return (
            f"write {self.value} at {self.replica}"
            if self.kind == "write"
            else f"read at {self.replica}"
        )


Execution: TypeAlias = tuple[Request, ...]
#: What the serving replica knows when it answers: itself, and the requests
#: it knows of in order, the one it is answering last.
View: TypeAlias = tuple[str, tuple[Request, ...]]


def requests(values: Iterable[int] = VALUES) -> tuple[Request, ...]:
    """Every request a client can send."""
    out = [Request(r, "write", v) for r in REPLICAS for v in values]
    out += [Request(r, "read") for r in REPLICAS]
    return tuple(out)


def executions(
    max_length: int, values: Iterable[int] = VALUES
) -> tuple[Execution, ...]:
    """Every sequence of 1 to ``max_length`` requests, one at a time."""
    kinds = requests(values)
    return tuple(e for n in range(1, max_length + 1) for e in product(kinds, repeat=n))


def view(execution: Execution, index: int, partitioned: bool) -> View:
    """What the replica serving request ``index`` knows when it answers.

    Connected: every earlier request (each replica tells the other of every
    request before answering it). Partitioned: nothing crosses, so only the
    requests this replica served itself.
    """
    serving = execution[index].replica
    known = execution[: index + 1]
    if partitioned:
        known = tuple(r for r in known if r.replica == serving)
    return serving, known


@dataclass(frozen=True)
class Logic:
    """The operations :func:`consistent` and :func:`available` are written in."""

    if_: Callable[[Any, Any, Any], Any]
    and_: Callable[[Sequence[Any]], Any]
    or_: Callable[[Any, Any], Any]
    eq: Callable[[Any, Any], Any]
    not_: Callable[[Any], Any]


PYTHON = Logic(
    if_=lambda c, a, b: a if c else b,
    and_=all,
    or_=lambda a, b: a or b,
    eq=lambda a, b: a == b,
    not_=lambda a: not a,
)

#: A response: for a write, whether it was accepted; for a read, the value
#: returned or :data:`REFUSED`.
Response: TypeAlias = Any


def consistent(
    execution: Execution, responses: Sequence[Response], logic: Logic = PYTHON
) -> Any:
    """Whether the answered requests of a one-at-a-time execution are linearizable.

    Requests do not overlap, so the only order respecting real time is the
    order of the execution: every answered read must return the value of the
    last accepted write before it (:data:`INITIAL` if none). A refused write
    has no effect (the replica refuses before applying it); a refused read
    returns nothing and constrains nothing.
    """
    value: Any = INITIAL
    conditions = []
    for request, response in zip(execution, responses, strict=True):
        if request.kind == "write":
            value = logic.if_(response, request.value, value)
        else:
            conditions.append(
                logic.or_(logic.eq(response, REFUSED), logic.eq(response, value))
            )
    return logic.and_(conditions)


def available(
    execution: Execution, responses: Sequence[Response], logic: Logic = PYTHON
) -> Any:
    """Whether every request was answered: writes accepted, reads not refused."""
    return logic.and_(
        [
            response
            if request.kind == "write"
            else logic.not_(logic.eq(response, REFUSED))
            for request, response in zip(execution, responses, strict=True)
        ]
    )


Protocol: TypeAlias = Callable[[View], Response]


def run(
    protocol: Protocol, execution: Execution, partitioned: bool
) -> tuple[Response, ...]:
    """The protocol's response to each request of the execution."""
    return tuple(
        protocol(view(execution, i, partitioned)) for i in range(len(execution))
    )


def satisfies(
    protocol: Protocol,
    *,
    consistency: bool,
    availability: bool,
    partition_tolerance: bool,
    max_length: int,
) -> Execution | None:
    """The first execution on which the protocol breaks a chosen property.

    Executions are all those up to ``max_length`` in a connected network and,
    with ``partition_tolerance``, in a partitioned one too. ``None`` when the
    protocol keeps every chosen property on all of them.
    """
    modes = (False, True) if partition_tolerance else (False,)
    for execution in executions(max_length):
        for partitioned in modes:
            responses = run(protocol, execution, partitioned)
            if consistency and not consistent(execution, responses):
                return execution
            if availability and not available(execution, responses):
                return execution
    return None


def latest_known(v: View) -> Response:
    """Accept every write; read the last write this replica knows of."""
    _, known = v
    current = known[-1]
    if current.kind == "write":
        return True
    writes = [r.value for r in known if r.kind == "write"]
    return writes[-1] if writes else INITIAL


def leader_only(v: View) -> Response:
    """Replica ``A`` serves everything; ``B`` refuses everything."""
    serving, known = v
    if serving != "A":
        return False if known[-1].kind == "write" else REFUSED
    if known[-1].kind == "write":
        return True
    writes = [r.value for r in known if r.kind == "write" and r.replica == "A"]
    return writes[-1] if writes else INITIAL
