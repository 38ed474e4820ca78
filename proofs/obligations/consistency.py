r"""Consistency obligations: D4.5, D4.6 and CAP (T4.3) on the specification.

- *D4.5 as written* is refuted as a definition of strong consistency: a
  history whose read sees no write at all satisfies it, yet is not
  linearizable. Linearizability is then stated in its place, and its checker
  is tested both ways: histories produced by an atomic register are accepted,
  and on one-at-a-time histories it agrees with "every read returns the last
  write", stale reads rejected.
- *D4.6*: a cached reader converges once writes stop (every read ``ttl``
  after the last write returns the final value) and is never staler than its
  ``ttl``, but is not linearizable (a history). Anti-entropy agreement tends
  to 1 (SymPy), matching an enumeration of every replica's rounds.
- *T4.3*: in the two-replica model, Z3 searches the space of all protocols
  (a response for every view a replica can have, up to the bound) and finds
  none that is consistent and available in connected and partitioned
  executions alike; each pair of the three has a protocol, found by Z3 and
  then re-checked by enumeration, and a named protocol achieves it too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from itertools import combinations, product
from typing import Any

import sympy as sp
import z3
from hypothesis import strategies as st

from proofs.obligation import Method, obligation
from proofs.profiles import Profile
from proofs.search import search
from proofs.solvers import isolated
from proofs.verdict import Outcome, Verdict

SUBJECT = "spec.consistency"


# Histories -------------------------------------------------------------------

_times = st.integers(0, 6)


@st.composite
def _atomic_histories(draw: st.DrawFn, q: Any) -> tuple[Any, ...]:
    """Histories of an atomic register: each operation takes effect at a point
    inside its interval, reads return the value current at their point."""
    n = draw(st.integers(1, 5))
    drafts = []
    for k in range(n):
        start = draw(_times)
        end = start + draw(st.integers(0, 3))
        point = draw(st.integers(start, end))
        drafts.append((point, k, start, end, draw(st.booleans())))
    value = q.INITIAL
    out = []
    for point, k, start, end, is_write in sorted(drafts):
        del point
        if is_write:
            value = k + 1
            out.append(q.Operation("write", k + 1, start, end))
        else:
            out.append(q.Operation("read", value, start, end))
    return tuple(out)


@st.composite
def _sequential_histories(draw: st.DrawFn, q: Any) -> tuple[Any, ...]:
    """One operation at a time, reads returning any value written so far."""
    n = draw(st.integers(1, 6))
    t = 0
    out = []
    written = [q.INITIAL]
    for k in range(n):
        start = t + draw(st.integers(1, 2))
        end = start + draw(st.integers(0, 2))
        t = end
        if draw(st.booleans()):
            written.append(k + 1)
            out.append(q.Operation("write", k + 1, start, end))
        else:
            out.append(q.Operation("read", draw(st.sampled_from(written)), start, end))
    return tuple(out)


def _history_text(history: Sequence[Any]) -> list[str]:
    return [
        f"{op.kind} {op.value} over [{op.invoked}, {op.completed}]" for op in history
    ]


def _small_histories(q: Any, size: int) -> Iterator[tuple[Any, ...]]:
    """Every history of ``size`` operations on a small grid, smallest times first.

    Operations start at 0, 1 or 2 and last 0 or 1; the k-th operation, if a
    write, writes k + 1; a read returns the initial value or any value written
    in the history.
    """
    shapes = list(product(("write", "read"), (0, 1, 2), (0, 1)))
    for drafts in product(shapes, repeat=size):
        written = [k + 1 for k, (kind, _, _) in enumerate(drafts) if kind == "write"]
        reads = [k for k, (kind, _, _) in enumerate(drafts) if kind == "read"]
        for values in product((q.INITIAL, *written), repeat=len(reads)):
            chosen = dict(zip(reads, values, strict=True))
            yield tuple(
                q.Operation(
                    kind, k + 1 if kind == "write" else chosen[k], start, start + length
                )
                for k, (kind, start, length) in enumerate(drafts)
            )


@obligation(
    "D4.5/as-written-allows-invisible-writes",
    reading="D4.5 as written constrains order, not visibility: it only says a "
    "read that sees a write comes after it. A history whose read, made after a "
    "write completed, returns the initial value satisfies it, yet is not "
    "linearizable; as a definition of strong consistency it is refuted.",
    formal=r"\exists H:\ H \models \text{D4.5} \land H \not\models "
    r"\mathrm{Linearizable}",
    method=Method.EXHAUSTIVE,
    expected=Outcome.REFUTED,
    subject=SUBJECT,
    assumptions=("a single register, initially 0; written values are distinct",),
)
def _as_written(q: Any, profile: Profile) -> Verdict:
    tried = 0
    for size in (1, 2):
        for history in _small_histories(q, size):
            tried += 1
            if q.satisfies_as_written(history) and not q.linearizable(history):
                return Verdict.refuted(
                    "exhaustive enumeration, smallest histories first",
                    {
                        "history": _history_text(history),
                        "satisfies D4.5 as written": True,
                        "linearizable": False,
                    },
                    searched={"histories": tried},
                    detail="No read sees a write, so the written condition holds "
                    "vacuously; a linearizable register would have returned the "
                    "value written. The suite reads strong consistency as "
                    "linearizability (D4.5/linearizability-stated).",
                )
    return Verdict.checked(
        "exhaustive enumeration",
        searched={"histories": tried},
        bounds="histories of 1-2 operations, starts 0-2, durations 0-1",
        detail="Every history satisfying D4.5 as written was linearizable.",
    )


@obligation(
    "D4.5/linearizability-stated",
    reading="Strong consistency is read as linearizability: some order of the "
    "operations respects real time and the register's sequential "
    "specification. Its checker accepts every history an atomic register "
    "produces; on one-at-a-time histories it accepts exactly those whose every "
    "read returns the last write before it; and every linearizable history "
    "also satisfies D4.5 as written, which linearizability strengthens.",
    formal=r"H \models \mathrm{Lin} \iff \exists \text{ total order } <_H "
    r"\supseteq \to_{\mathrm{rt}}:\ \mathrm{Reg}(<_H) \text{ legal}",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=SUBJECT,
    assumptions=("a single register, initially 0; written values are distinct",),
)
def _linearizability(q: Any, profile: Profile) -> Verdict:
    def atomic(h: tuple[Any, ...]) -> str | None:
        if not q.linearizable(h):
            return "a history of an atomic register was rejected"
        if not q.satisfies_as_written(h):
            return "a linearizable history breaks D4.5 as written"
        return None

    def sequential(h: tuple[Any, ...]) -> str | None:
        value, fresh = q.INITIAL, True
        for op in h:
            if op.kind == "write":
                value = op.value
            elif op.value != value:
                fresh = False
        if q.linearizable(h) != fresh:
            return (
                f"linearizable says {q.linearizable(h)}; every read returns the "
                f"last write: {fresh}"
            )
        return None

    budget = max(1, profile.examples // 2)
    counts = {}
    for name, strategy, prop in (
        ("atomic-register histories", _atomic_histories(q), atomic),
        ("one-at-a-time histories", _sequential_histories(q), sequential),
    ):
        found = search(strategy, prop, profile, max_examples=budget)
        if found.found:
            return Verdict.refuted(
                "Hypothesis, shrunk",
                {
                    "kind of history": name,
                    "history": _history_text(found.counterexample or ()),
                    "problem": found.message,
                },
                searched={"examples": found.calls},
            )
        counts[name] = found.calls
    return Verdict.checked(
        "Hypothesis: generated atomic and sequential histories",
        searched=counts,
        bounds="up to 5 operations (atomic), 6 (sequential)",
    )


# D4.6 ------------------------------------------------------------------------


@st.composite
def _cache_schedules(draw: st.DrawFn) -> tuple[int, list[tuple[int, int]], list[int]]:
    """A ttl, writes (time, value) and read times, all on one integer clock."""
    ttl = draw(st.integers(1, 5))
    write_times = sorted(draw(st.lists(st.integers(0, 20), max_size=4, unique=True)))
    writes = [(t, k + 1) for k, t in enumerate(write_times)]
    reads = sorted(draw(st.lists(st.integers(0, 30), min_size=1, max_size=8)))
    return ttl, writes, reads


def _source(writes: list[tuple[int, int]], t: int, initial: Any) -> Any:
    value = initial
    for w, v in writes:
        if w <= t:
            value = v
    return value


def _cached_reads(
    q: Any, ttl: int, writes: list[tuple[int, int]], reads: list[int]
) -> list[Any]:
    reader = q.CachedReader(ttl=ttl)
    out = []
    for t in reads:
        value, reader = q.cached_read(reader, t, _source(writes, t, q.INITIAL))
        out.append(value)
    return out


def _schedule_text(c: tuple[int, list[tuple[int, int]], list[int]]) -> dict[str, Any]:
    ttl, writes, reads = c
    return {
        "ttl": ttl,
        "writes (time, value)": [list(w) for w in writes],
        "read times": reads,
    }


@obligation(
    "D4.6/cached-reader-converges",
    reading="Eventual consistency of a cached reader: once writes stop, every "
    "read made ttl or more after the last write returns the final value; and "
    "at any time a read returns a value the source held at some instant of the "
    "last ttl. The reader serves its copy exactly while the copy is younger "
    "than ttl.",
    formal=r"t \ge t_{\mathrm{last}} + \mathrm{ttl} \Rightarrow "
    r"\mathrm{read}(t) = v_{\mathrm{final}},\quad \mathrm{read}(t) \in "
    r"\{\mathrm{src}(t') \mid t - \mathrm{ttl} < t' \le t\}",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=SUBJECT,
    assumptions=("a fetch returns the source's value at the instant of the fetch",),
)
def _converges(q: Any, profile: Profile) -> Verdict:
    def prop(c: tuple[int, list[tuple[int, int]], list[int]]) -> str | None:
        ttl, writes, reads = c
        got = _cached_reads(q, ttl, writes, reads)
        last = writes[-1][0] if writes else 0
        final = _source(writes, last, q.INITIAL)
        # The definition, read directly: the copy is served while it is
        # younger than ttl, and fetched anew at age ttl.
        fetched_at: int | None = None
        copy: Any = None
        for t, value in zip(reads, got, strict=True):
            if fetched_at is None or t - fetched_at >= ttl:
                fetched_at, copy = t, _source(writes, t, q.INITIAL)
            if value != copy:
                return (
                    f"read at {t} returned {value}; a copy fetched at "
                    f"{fetched_at} (ttl {ttl}) holds {copy}"
                )
        for t, value in zip(reads, got, strict=True):
            window = {_source(writes, t - ttl, q.INITIAL)}
            window |= {v for w, v in writes if t - ttl < w <= t}
            if value not in window:
                return f"read at {t} returned {value}, older than ttl {ttl}"
            if t >= last + ttl and value != final:
                return f"read at {t} returned {value}, not the final {final}"
        return None

    found = search(_cache_schedules(), prop, profile)
    if found.found:
        return Verdict.refuted(
            "Hypothesis, shrunk",
            {**_schedule_text(found.counterexample), "problem": found.message},  # type: ignore[arg-type]
            searched={"examples": found.calls},
        )
    return Verdict.checked(
        "Hypothesis, write and read schedules",
        searched={"examples": found.calls},
        bounds="ttl 1-5, up to 4 writes and 8 reads on a clock of 0-30",
    )


@obligation(
    "D4.6/cached-reader-not-linearizable",
    reading="Eventually consistent is weaker than strong: a cached reader, "
    "taken with the writes as one history, is not linearizable, since it can "
    "return a value after a later write has completed.",
    formal=r"\exists H_{\mathrm{cache}}:\ H \not\models \mathrm{Linearizable}",
    method=Method.EXHAUSTIVE,
    expected=Outcome.REFUTED,
    subject=SUBJECT,
    assumptions=("writes and reads are instantaneous, at their schedule's times",),
)
def _not_linearizable(q: Any, profile: Profile) -> Verdict:
    def history(c: tuple[int, list[tuple[int, int]], list[int]]) -> tuple[Any, ...]:
        ttl, writes, reads = c
        got = _cached_reads(q, ttl, writes, reads)
        # Writes at even instants, reads at odd ones: no two operations share
        # an instant, so real-time order is the schedule's order.
        ops = [q.Operation("write", v, 2 * t, 2 * t) for t, v in writes]
        ops += [
            q.Operation("read", v, 2 * t + 1, 2 * t + 1)
            for t, v in zip(reads, got, strict=True)
        ]
        return tuple(sorted(ops, key=lambda op: op.invoked))

    tried = 0
    for size in (1, 2, 3):
        for ttl in (1, 2):
            for write_times in _subsets((0, 1, 2), size - 1):
                writes = [(t, k + 1) for k, t in enumerate(write_times)]
                for reads in _subsets((0, 1, 2, 3), 1, up_to=size):
                    tried += 1
                    c = (ttl, writes, list(reads))
                    if not q.linearizable(history(c)):
                        return Verdict.refuted(
                            "exhaustive enumeration, smallest schedules first",
                            {
                                **_schedule_text(c),
                                "history (write at 2t, read at 2t+1)": _history_text(
                                    history(c)
                                ),
                            },
                            searched={"schedules": tried},
                            detail="A read answered from the cache after a newer "
                            "write completed returns the older value.",
                        )
    return Verdict.checked(
        "exhaustive enumeration",
        searched={"schedules": tried},
        bounds="ttl 1-2, up to 2 writes and 3 reads at times 0-3",
        detail="Every cached reader's history was linearizable.",
    )


def _subsets(
    items: tuple[int, ...], size: int, *, up_to: int | None = None
) -> Iterator[tuple[int, ...]]:
    """Sorted subsets of ``items`` of ``size`` elements (or ``size..up_to``)."""
    for n in range(size, (up_to if up_to is not None else size) + 1):
        yield from combinations(items, n)


@obligation(
    "D4.6/anti-entropy-limit",
    reading="Read as a probability, D4.6 holds for anti-entropy: when each of k "
    "stale replicas catches up with probability p per round, all agree after t "
    "rounds with probability (1 - (1 - p)^t)^k (matching an enumeration of every "
    "replica's rounds), which tends to 1 as t grows for 0 < p < 1 (SymPy, "
    "symbolic k).",
    formal=r"\lim_{t \to \infty} \left(1 - (1-p)^t\right)^k = 1",
    method=Method.SYMPY,
    expected=Outcome.PROVED,
    subject=SUBJECT,
    assumptions=(
        "writes have stopped",
        "replicas catch up independently, with probability p per round",
    ),
)
def _anti_entropy(q: Any, profile: Profile) -> Verdict:
    from fractions import Fraction

    cases = 0
    for p in (Fraction(1, 2), Fraction(1, 3), Fraction(9, 10)):
        for k in (1, 2, 3):
            for t in (1, 2, 3):
                cases += 1
                formula = q.anti_entropy_agreement(p, k, t)
                counted = q.agreement_by_enumeration(p, k, t)
                if formula != counted:
                    return Verdict.refuted(
                        "exact enumeration",
                        {
                            "p": str(p),
                            "replicas": k,
                            "rounds": t,
                            "formula": str(formula),
                            "enumeration": str(counted),
                        },
                    )
    u = sp.Symbol("u", positive=True)
    k_sym = sp.Symbol("k", integer=True, positive=True)
    t_sym = sp.Symbol("t", integer=True, positive=True)
    limit = sp.limit(q.anti_entropy_agreement(1 / (1 + u), k_sym, t_sym), t_sym, sp.oo)
    if sp.simplify(limit - 1) != 0:
        return Verdict.refuted(
            "SymPy limit", {"limit as t -> oo": str(limit), "claimed": 1}
        )
    return Verdict.proved(
        "SymPy limit with p = 1/(1+u), u > 0, symbolic k",
        bounds="all 0 < p < 1, all k >= 1",
        detail=f"The closed form matches the enumeration in {cases} exact cases.",
    )


# CAP (T4.3) ------------------------------------------------------------------

_CAP_ASSUMPTIONS = (
    "two replicas of one register (initially 0), values 1 and 2",
    "one request at a time; a protocol answers from the serving replica's view",
    "connected: a replica learns of every earlier request before answering; "
    "partitioned: of its own requests only",
    "a refused write has no effect; a refused read returns nothing",
)

Z3_LOGIC_FIELDS = {
    "if_": z3.If,
    "and_": lambda xs: z3.And(*xs) if xs else z3.BoolVal(True),
    "or_": z3.Or,
    "eq": lambda a, b: a == b,
    "not_": z3.Not,
}


def _bound(profile: Profile) -> int:
    return min(profile.max_n, 3)


def _solve(
    q: Any, profile: Profile, *, consistency: bool, availability: bool, partitions: bool
) -> tuple[str, dict[Any, Any], str]:
    """Search every protocol: one response variable per view that can occur."""
    logic = q.Logic(**Z3_LOGIC_FIELDS)
    # The formulas are gathered here and solved in a context of their own.
    formulas: list[Any] = []
    table: dict[Any, Any] = {}

    def response(v: Any) -> Any:
        if v not in table:
            name = f"r{len(table)}"
            if v[1][-1].kind == "write":
                table[v] = z3.Bool(name)
            else:
                table[v] = z3.Int(name)
                formulas.append(
                    z3.Or(*(table[v] == x for x in (q.REFUSED, q.INITIAL, *q.VALUES)))
                )
        return table[v]

    modes = (False, True) if partitions else (False,)
    for execution in q.executions(_bound(profile)):
        for partitioned in modes:
            rs = [
                response(q.view(execution, i, partitioned))
                for i in range(len(execution))
            ]
            if consistency:
                formulas.append(q.consistent(execution, rs, logic))
            if availability:
                formulas.append(q.available(execution, rs, logic))
    # A context of its own: the witness does not depend on what else the
    # process asked Z3 before.
    fresh, ctx = isolated(formulas, timeout_ms=profile.solver_timeout_ms)
    answer = fresh.check()
    if answer == z3.unknown:
        return "unknown", {}, fresh.reason_unknown()
    if answer == z3.unsat:
        return "unsat", {}, ""
    model = fresh.model()
    witness = {
        v: (
            z3.is_true(model.eval(var.translate(ctx), model_completion=True))
            if v[1][-1].kind == "write"
            else model.eval(var.translate(ctx), model_completion=True).as_long()
        )
        for v, var in table.items()
    }
    return "sat", witness, ""


def _core_executions(q: Any) -> list[Any]:
    a_write = q.Request("A", "write", 1)
    b_read = q.Request("B", "read")
    return [(a_write, b_read), (b_read,)]


def _describe(q: Any, protocol: Callable[[Any], Any], partitions: bool) -> list[str]:
    modes = (False, True) if partitions else (False,)
    out = []
    for execution in _core_executions(q):
        for partitioned in modes:
            rs = _responses(q, protocol, execution, partitioned)
            steps = ", ".join(
                f"{r} -> {_response_text(q, r, x)}"
                for r, x in zip(execution, rs, strict=True)
            )
            out.append(f"{'partitioned' if partitioned else 'connected'}: {steps}")
    return out


def _response_text(q: Any, request: Any, response: Any) -> str:
    if request.kind == "write":
        return "accepted" if response else "refused"
    return "refused" if response == q.REFUSED else str(response)


@obligation(
    "T4.3/cap-impossible",
    reading="In the two-replica model, no protocol answers every request and "
    "stays linearizable in connected and partitioned executions alike: Z3 "
    "finds the constraints over every possible response table unsatisfiable.",
    formal=r"\neg\exists \mathrm{protocol}:\ C \land A \land P",
    method=Method.Z3,
    expected=Outcome.PROVED,
    subject=SUBJECT,
    assumptions=_CAP_ASSUMPTIONS,
)
def _cap(q: Any, profile: Profile) -> Verdict:
    status, witness, reason = _solve(
        q, profile, consistency=True, availability=True, partitions=True
    )
    bound = _bound(profile)
    if status == "unknown":
        return Verdict.unknown("Z3", reason)
    if status == "sat":
        return Verdict.refuted(
            "Z3 model: a protocol with all three",
            {
                "responses on the core executions": _describe(
                    q, lambda v: witness[v], True
                ),
                "views given a response": len(witness),
            },
            bounds=f"executions of 1-{bound} requests",
        )
    write_then_read, read_alone = _core_executions(q)
    same = q.view(write_then_read, 1, True) == q.view(read_alone, 0, True)
    return Verdict.proved(
        "Z3: unsatisfiable over every response table",
        bounds=f"executions of 1-{bound} requests, connected and partitioned",
        detail="The core: during a partition, B's view when it reads after "
        "'write 1 at A' is "
        + ("the same as" if same else "not the same as")
        + " its view when it reads with no write before. Availability makes A "
        "accept the write and B answer; linearizability needs 1 in the first "
        "execution and 0 in the second, from one response.",
    )


def _responses(
    q: Any, protocol: Callable[[Any], Any], execution: Any, partitioned: bool
) -> tuple[Any, ...]:
    return tuple(
        protocol(q.view(execution, i, partitioned)) for i in range(len(execution))
    )


def _first_failure(
    q: Any,
    protocol: Callable[[Any], Any],
    *,
    consistency: bool,
    availability: bool,
    partitions: bool,
    bound: int,
) -> Any:
    """The first execution on which ``protocol`` breaks a chosen property,
    enumerated through the subject's own definitions."""
    modes = (False, True) if partitions else (False,)
    for execution in q.executions(bound):
        for partitioned in modes:
            rs = _responses(q, protocol, execution, partitioned)
            if consistency and not q.consistent(execution, rs):
                return execution
            if availability and not q.available(execution, rs):
                return execution
    return None


def _pair(
    q: Any,
    profile: Profile,
    *,
    consistency: bool,
    availability: bool,
    partitions: bool,
    named: str,
) -> Verdict:
    bound = _bound(profile)
    status, witness, reason = _solve(
        q,
        profile,
        consistency=consistency,
        availability=availability,
        partitions=partitions,
    )
    if status == "unknown":
        return Verdict.unknown("Z3", reason)
    if status == "unsat":
        return Verdict.refuted(
            "Z3: unsatisfiable",
            {
                "consistency": consistency,
                "availability": availability,
                "partition tolerance": partitions,
                "problem": "no protocol achieves this pair",
            },
            bounds=f"executions of 1-{bound} requests",
        )

    def first_failure(protocol: Callable[[Any], Any]) -> Any:
        return _first_failure(
            q,
            protocol,
            consistency=consistency,
            availability=availability,
            partitions=partitions,
            bound=bound,
        )

    broken = first_failure(lambda v: witness[v])
    if broken is not None:
        return Verdict.unknown(
            "Z3 and enumeration",
            "Z3's protocol fails the enumeration on "
            + "; ".join(str(r) for r in broken),
        )
    protocol = getattr(q, named)
    broken = first_failure(protocol)
    if broken is not None:
        return Verdict.refuted(
            "enumeration",
            {
                "protocol": named,
                "fails on": [str(r) for r in broken],
            },
            bounds=f"executions of 1-{bound} requests",
        )
    return Verdict.proved(
        "Z3 witness, re-checked by enumeration; a named protocol too",
        bounds=f"executions of 1-{bound} requests",
        detail=f"Protocol '{named}' achieves the pair on every execution. Its "
        "responses on the core executions: "
        + "; ".join(_describe(q, protocol, partitions))
        + ".",
    )


@obligation(
    "T4.3/consistent-and-available-without-partitions",
    reading="Consistency and availability together are achievable when the "
    "network is never partitioned: a protocol exists (Z3), and 'latest_known' "
    "(accept every write, read the latest write known) is one.",
    formal=r"\exists \mathrm{protocol}:\ C \land A \text{ (connected only)}",
    method=Method.Z3,
    expected=Outcome.PROVED,
    subject=SUBJECT,
    assumptions=_CAP_ASSUMPTIONS,
)
def _ca(q: Any, profile: Profile) -> Verdict:
    return _pair(
        q,
        profile,
        consistency=True,
        availability=True,
        partitions=False,
        named="latest_known",
    )


@obligation(
    "T4.3/consistent-and-partition-tolerant",
    reading="Consistency with partition tolerance is achievable by giving up "
    "availability: a protocol exists (Z3), and 'leader_only' (replica A serves, "
    "B refuses) is one.",
    formal=r"\exists \mathrm{protocol}:\ C \land P",
    method=Method.Z3,
    expected=Outcome.PROVED,
    subject=SUBJECT,
    assumptions=_CAP_ASSUMPTIONS,
)
def _cp(q: Any, profile: Profile) -> Verdict:
    return _pair(
        q,
        profile,
        consistency=True,
        availability=False,
        partitions=True,
        named="leader_only",
    )


@obligation(
    "T4.3/available-and-partition-tolerant",
    reading="Availability with partition tolerance is achievable by giving up "
    "consistency: a protocol exists (Z3), and 'latest_known' is one, answering "
    "stale values during a partition.",
    formal=r"\exists \mathrm{protocol}:\ A \land P",
    method=Method.Z3,
    expected=Outcome.PROVED,
    subject=SUBJECT,
    assumptions=_CAP_ASSUMPTIONS,
)
def _ap(q: Any, profile: Profile) -> Verdict:
    return _pair(
        q,
        profile,
        consistency=False,
        availability=True,
        partitions=True,
        named="latest_known",
    )


# D4.6 on the implementation's discovery client ---------------------------------


@st.composite
def _discovery_scenarios(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Scenarios of registry writes and cached reads, one service each."""
    scenarios = []
    for _ in range(draw(st.integers(1, 3))):
        ttl = draw(st.sampled_from((1, 2, 5)))
        writes = draw(
            st.lists(
                st.tuples(
                    st.integers(0, 6),
                    st.sampled_from(("i1", "i2", "i3")),
                    st.booleans(),
                ),
                min_size=1,
                max_size=5,
            )
        )
        reads = [
            sorted(draw(st.lists(st.integers(0, 20), min_size=1, max_size=5)))
            for _ in range(2)
        ]
        scenarios.append({"ttl": ttl, "writes": sorted(writes), "reads": reads})
    return scenarios


def _discovery_run(q: Any, scenarios: list[dict[str, Any]]) -> str | None:
    from impl.endpoints import ServiceEndpoint, ServiceInstance
    from impl.registry_server import RegistryServer
    from proofs.harness.vtime import run

    async def scenario(server: Any, name: str, plan: dict[str, Any]) -> str | None:
        loop = asyncio.get_running_loop()
        registry = server.registry
        origin = loop.time()
        clients = [
            q.ServiceDiscovery(server.url, cache_ttl=plan["ttl"]) for _ in plan["reads"]
        ]
        last_write = origin + max(t for t, _, _ in plan["writes"])
        problems: list[str] = []

        async def writer() -> None:
            for t, ident, add in plan["writes"]:
                await asyncio.sleep(max(0.0, origin + t - loop.time()))
                if add:
                    await registry.register(
                        ServiceInstance(name, ident, ServiceEndpoint("127.0.0.1", 8000))
                    )
                else:
                    await registry.deregister(name, ident)

        async def reader(client: Any, times: list[int]) -> None:
            for t in times:
                await asyncio.sleep(max(0.0, origin + t + 0.5 - loop.time()))
                asked = loop.time()
                got = {i.instance_id for i in await client.discover_service(name)}
                if asked >= last_write + plan["ttl"]:
                    final = {i.instance_id for i in await registry.get_instances(name)}
                    if got != final:
                        problems.append(
                            f"read at {asked - origin:g} s, {plan['ttl']} s after the "
                            f"last write, saw {sorted(got)}; the registry has "
                            f"{sorted(final)}"
                        )

        try:
            await asyncio.gather(
                writer(),
                *(reader(c, ts) for c, ts in zip(clients, plan["reads"], strict=True)),
            )
        finally:
            for c in clients:
                await c.close()
        return problems[0] if problems else None

    async def main() -> str | None:
        async with RegistryServer() as server:
            for k, plan in enumerate(scenarios):
                problem = await scenario(server, f"svc-{k}", plan)
                if problem is not None:
                    return f"scenario {k}: {problem}"
        return None

    return run(main())


@obligation(
    "D4.6/impl-discovery-converges",
    reading="The implementation's cached discovery client, reading a real "
    "registry server over HTTP, is eventually consistent: once writes stop, "
    "every read made at least its cache TTL after the last write returns "
    "exactly the registry's instances.",
    formal=r"t \ge t_{\mathrm{last}} + \mathrm{ttl} \Rightarrow "
    r"\mathrm{discover}(t) = \mathrm{registry}(t)",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject="impl.discovery",
    assumptions=(
        "registry and clients share the virtual-time loop; requests cross real "
        "sockets on 127.0.0.1",
        "the registry stays reachable",
    ),
)
def _discovery_converges(q: Any, profile: Profile) -> Verdict:
    budget = max(5, profile.examples // 20)
    found = search(
        _discovery_scenarios(),
        lambda s: _discovery_run(q, s),
        profile,
        max_examples=budget,
    )
    if found.found:
        return Verdict.refuted(
            "Hypothesis against a real registry server, shrunk",
            {"scenarios": found.counterexample, "problem": found.message},
            searched={"examples": found.calls},
        )
    return Verdict.checked(
        "Hypothesis against a real registry server on the virtual-time loop",
        searched={"examples": found.calls},
        bounds="1-3 scenarios per example, TTL 1-5 s, up to 5 writes and 2 readers "
        "of up to 5 reads each",
    )
