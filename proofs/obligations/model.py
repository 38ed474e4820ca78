r"""Obligations for services, systems, dependency and composition (D1.1-D1.6).

The graph queries are compared with brute force written here from the
definitions alone: a path is a sequence of distinct services joined by edges,
found by trying every such sequence. The composition laws are proved by Z3 on
the specification's own binary step :func:`spec.model.combine_parts`, applied to
symbolic sets (an uninterpreted sort of interfaces) and symbolic integers.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from functools import reduce
from itertools import permutations
from typing import Any

import z3
from hypothesis import strategies as st

from proofs.obligation import Method, obligation
from proofs.profiles import Profile
from proofs.search import search
from proofs.solvers import prove
from proofs.verdict import Outcome, Verdict

SUBJECT = "spec.model"

NAMES = ("a", "b", "c", "d", "e", "f")


# Strategies -------------------------------------------------------------------


def interfaces(q: Any) -> st.SearchStrategy[Any]:
    """Few names and types, so that compatibility happens often."""
    return st.builds(
        q.Interface,
        st.sampled_from(("users", "orders", "pay")),
        st.sampled_from(("json", "grpc")),
    )


def services(
    q: Any, name: st.SearchStrategy[str] | None = None
) -> st.SearchStrategy[Any]:
    return st.builds(
        q.service,
        name if name is not None else st.sampled_from(NAMES),
        inputs=st.frozensets(interfaces(q), max_size=3),
        outputs=st.frozensets(interfaces(q), max_size=3),
        logic=st.frozensets(st.sampled_from(("h1", "h2", "h3")), max_size=2),
        resources=st.dictionaries(
            st.sampled_from(("cpu", "mem")), st.integers(0, 8), max_size=2
        ),
        environment=st.frozensets(st.sampled_from(("py3", "linux")), max_size=2),
    )


def distinct_services(q: Any, max_size: int) -> st.SearchStrategy[list[Any]]:
    return st.lists(
        services(q), min_size=1, max_size=max_size, unique_by=lambda s: s.name
    )


def graph_parts() -> st.SearchStrategy[tuple[list[str], frozenset[tuple[str, str]]]]:
    """Service names (1-6) and calls among them (up to 12, self-calls too)."""

    @st.composite
    def build(draw: st.DrawFn) -> tuple[list[str], frozenset[tuple[str, str]]]:
        names = draw(
            st.lists(st.sampled_from(NAMES), min_size=1, max_size=6, unique=True)
        )
        edges = draw(
            st.frozensets(
                st.tuples(st.sampled_from(names), st.sampled_from(names)), max_size=12
            )
        )
        return names, edges

    return build()


def _describe_service(s: Any) -> str:
    def ifaces(xs: Any) -> str:
        return "{" + ", ".join(f"{i.name}:{i.type}" for i in sorted(xs)) + "}"

    return (
        f"{s.name}(I={ifaces(s.inputs)}, O={ifaces(s.outputs)}, R={dict(s.resources)})"
    )


# Brute force from the definitions --------------------------------------------


def _simple_paths(g: Any, start: str) -> Iterator[tuple[str, ...]]:
    """Every path start -> v1 -> ... -> vk with v1..vk distinct (k >= 1)."""
    others = sorted(g.vertices)
    for k in range(1, len(others) + 1):
        for seq in permutations(others, k):
            path = (start, *seq)
            if all((path[i], path[i + 1]) in g.edges for i in range(k)):
                yield path


def _brute_reachable(g: Any, start: str) -> frozenset[str]:
    return frozenset(path[-1] for path in _simple_paths(g, start))


# D1.1 ------------------------------------------------------------------------

_PART_NAMES = ("name", "inputs", "outputs", "logic", "resources", "environment")

_CORRUPTIONS = (
    "none",
    "negative resource",
    "empty name",
    "bad handler",
    "non-interface input",
    "empty resource kind",
)


@obligation(
    "D1.1/construction-validates",
    reading="A well-formed five-tuple builds a service whose parts read back "
    "unchanged; an ill-formed one (empty name, negative resource, a handler that "
    "is not a name, an input that is not an interface) is refused with an error "
    "naming the part.",
    formal=r"S = (I, O, P, R, E),\quad R: \mathrm{Kind} \to \mathbb{Q}_{\ge 0}",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=SUBJECT,
)
def _construction(q: Any, profile: Profile) -> Verdict:
    case = st.tuples(
        st.sampled_from(NAMES),
        st.frozensets(interfaces(q), max_size=3),
        st.frozensets(interfaces(q), max_size=3),
        st.frozensets(st.sampled_from(("handle", "audit")), max_size=2),
        st.dictionaries(
            st.sampled_from(("cpu", "mem")),
            st.fractions(0, 8, max_denominator=4),
            max_size=2,
        ),
        st.frozensets(st.sampled_from(("py3", "linux")), max_size=2),
        st.sampled_from(_CORRUPTIONS),
    )

    def prop(c: tuple[Any, ...]) -> str | None:
        name, inputs, outputs, logic, resources, environment, corruption = c
        kwargs: dict[str, Any] = {
            "inputs": inputs,
            "outputs": outputs,
            "logic": logic,
            "resources": resources,
            "environment": environment,
        }
        expect_word = ""
        if corruption == "negative resource":
            kwargs["resources"] = {**resources, "cpu": Fraction(-1, 2)}
            expect_word = "cpu"
        elif corruption == "empty name":
            name, expect_word = "", "service name"
        elif corruption == "bad handler":
            kwargs["logic"], expect_word = {"not a name!"}, "handler"
        elif corruption == "non-interface input":
            kwargs["inputs"], expect_word = {"users"}, "inputs"
        elif corruption == "empty resource kind":
            kwargs["resources"], expect_word = {"": 1}, "resource kind"
        try:
            s = q.service(name, **kwargs)
        except ValueError as exc:
            if not expect_word:
                return f"a well-formed service was refused: {exc}"
            if expect_word not in str(exc):
                return f"error for {corruption} does not name {expect_word!r}: {exc}"
            return None
        if expect_word:
            return f"an ill-formed service ({corruption}) was accepted"
        got = (
            s.name,
            s.inputs,
            s.outputs,
            s.logic,
            dict(s.resources),
            s.environment,
        )
        want = (
            name,
            inputs,
            outputs,
            logic,
            {k: v for k, v in resources.items() if v},
            environment,
        )
        for part, g, w in zip(_PART_NAMES, got, want, strict=True):
            if g != w:
                return f"the {part} did not read back unchanged: {g!r} for {w!r}"
        return None

    found = search(case, prop, profile)
    if found.found:
        name, *_, resources, _, corruption = found.counterexample  # type: ignore[misc]
        return Verdict.refuted(
            "Hypothesis",
            {
                "name": name,
                "resources": {k: str(v) for k, v in resources.items()},
                "corruption": corruption,
                "problem": found.message,
            },
            searched={"examples": found.calls},
        )
    return Verdict.checked(
        "Hypothesis",
        searched={"examples": found.calls},
        bounds=f"corruptions tried: {', '.join(_CORRUPTIONS[1:])}",
    )


# D1.2 ------------------------------------------------------------------------


@obligation(
    "D1.2/graph-queries-match-brute-force",
    reading="For systems of up to six services, direct dependencies, transitive "
    "dependencies, reachability, cycle detection and topological order agree "
    "with an enumeration of every simple path; edges to services outside the "
    "system are refused.",
    formal=r"v \in \mathrm{deps}^+(u) \iff "
    r"\exists u = v_0 \to v_1 \to \dots \to v_k = v,\ k \ge 1",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=SUBJECT,
)
def _graph_queries(q: Any, profile: Profile) -> Verdict:
    def prop(case: tuple[list[str], frozenset[tuple[str, str]]]) -> str | None:
        names, calls = case
        g = q.system(names, calls)
        if g.vertices != frozenset(names) or g.edges != calls:
            return (
                f"system({names}, {sorted(calls)}) built services "
                f"{sorted(g.vertices)} with calls {sorted(g.edges)}"
            )
        cyclic = False
        for v in sorted(g.vertices):
            direct = frozenset(b for a, b in g.edges if a == v)
            if q.dependencies(g, v) != direct:
                return f"dependencies of {v} wrong"
            brute = _brute_reachable(g, v)
            if q.transitive_dependencies(g, v) != brute:
                return (
                    f"transitive dependencies of {v}: got "
                    f"{sorted(q.transitive_dependencies(g, v))}, "
                    f"paths give {sorted(brute)}"
                )
            for w in sorted(g.vertices):
                if q.reaches(g, v, w) != (w in brute):
                    return f"reaches({v}, {w}) wrong"
            cyclic = cyclic or v in brute
        if q.has_cycle(g) != cyclic:
            return f"has_cycle says {q.has_cycle(g)}, paths say {cyclic}"
        order = q.topological_order(g)
        if (order is None) != cyclic:
            return "topological order exists exactly when there is no cycle: violated"
        if order is not None:
            pos = {v: i for i, v in enumerate(order)}
            if sorted(order) != sorted(g.vertices) or any(
                pos[a] >= pos[b] for a, b in g.edges
            ):
                return f"topological order {order} puts a callee before its caller"
        try:
            q.system(sorted(g.vertices), [*g.edges, (min(g.vertices), "zz-outside")])
        except ValueError:
            return None
        return "an edge to a service outside the system was accepted"

    found = search(graph_parts(), prop, profile)
    if found.found:
        names, calls = found.counterexample  # type: ignore[misc]
        return Verdict.refuted(
            "Hypothesis against brute force",
            {
                "services": sorted(names),
                "calls": [f"{a}->{b}" for a, b in sorted(calls)],
                "problem": found.message,
            },
            searched={"examples": found.calls},
        )
    return Verdict.checked(
        "Hypothesis against brute-force path enumeration",
        searched={"examples": found.calls},
        bounds="systems of 1-6 services, up to 12 calls",
    )


# D1.5 ------------------------------------------------------------------------


@obligation(
    "D1.5/dependency-is-compatibility",
    reading="S_i depends on S_j exactly when some output of S_i has the name and "
    "type of some input of S_j, and the dependency graph of a set of services "
    "has exactly those edges.",
    formal=r"S_i \to S_j \iff \exists o \in O_i, \iota \in I_j:\ "
    r"\mathrm{name}(o)=\mathrm{name}(\iota) \land "
    r"\mathrm{type}(o)=\mathrm{type}(\iota)",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=SUBJECT,
)
def _dependency(q: Any, profile: Profile) -> Verdict:
    def brute(a: Any, b: Any) -> bool:
        return any(
            o.name == i.name and o.type == i.type for o in a.outputs for i in b.inputs
        )

    def prop(members: list[Any]) -> str | None:
        for a in members:
            for b in members:
                if q.depends(a, b) != brute(a, b):
                    return f"depends({a.name}, {b.name}) is {q.depends(a, b)}"
        expected = {(a.name, b.name) for a in members for b in members if brute(a, b)}
        if set(q.dependency_graph(members).edges) != expected:
            return "dependency graph edges differ from the definition"
        return None

    found = search(distinct_services(q, 4), prop, profile)
    if found.found:
        return Verdict.refuted(
            "Hypothesis",
            {
                "services": [_describe_service(s) for s in found.counterexample or []],
                "problem": found.message,
            },
            searched={"examples": found.calls},
        )
    return Verdict.checked(
        "Hypothesis against the definition",
        searched={"examples": found.calls},
        bounds="1-4 services",
    )


# D1.6 ------------------------------------------------------------------------


@obligation(
    "D1.6/as-written-exposes-internal-interfaces",
    reading="Read literally, the composite's outputs are the union of its "
    "members' outputs, so a composite can list as needed from outside an "
    "interface that one of its members provides to another: the search looks "
    "for an output of one member that is an input of a different member.",
    formal=r"\exists C,\ i \neq j:\ O_i \cap I_j \neq \emptyset \land "
    r"O_i \cap I_j \subseteq O_C",
    method=Method.HYPOTHESIS,
    expected=Outcome.REFUTED,
    subject=SUBJECT,
)
def _as_written(q: Any, profile: Profile) -> Verdict:
    def prop(members: list[Any]) -> str | None:
        composite = q.compose_as_written(members)
        leaked = composite.outputs & composite.inputs
        for a, needer in enumerate(members):
            for b, provider in enumerate(members):
                between = leaked & needer.outputs & provider.inputs
                if a != b and between:
                    names = ", ".join(f"{i.name}:{i.type}" for i in sorted(between))
                    return (
                        f"the composite needs {names} from outside although "
                        f"its member {provider.name} provides it to its member "
                        f"{needer.name}"
                    )
        return None

    found = search(distinct_services(q, 3), prop, profile)
    if found.found:
        return Verdict.refuted(
            "Hypothesis, shrunk",
            {
                "members": [_describe_service(s) for s in found.counterexample or []],
                "problem": found.message,
            },
            searched={"examples": found.calls},
            detail="One member needs an interface that another member offers, "
            "so inside the composite the need is met; the composite as written "
            "still lists it among its outputs, as if it had to be found outside. "
            "The corrected composition hides outputs that the members satisfy "
            "among themselves (D1.6/composition-laws).",
        )
    return Verdict.checked(
        "Hypothesis",
        searched={"examples": found.calls},
        detail="No composite exposed an internal interface.",
    )


class _ZSet:
    """A Z3 set supporting the operators the specification's code uses."""

    def __init__(self, expr: Any) -> None:
        self.expr = expr

    def __or__(self, other: _ZSet) -> _ZSet:
        return _ZSet(z3.SetUnion(self.expr, other.expr))

    def __sub__(self, other: _ZSet) -> _ZSet:
        return _ZSet(z3.SetDifference(self.expr, other.expr))


class _ZResources:
    """Symbolic non-negative amounts of two resource kinds."""

    KINDS = ("cpu", "mem")

    def __init__(self, amounts: tuple[Any, ...]) -> None:
        self.amounts = amounts

    def __add__(self, other: _ZResources) -> _ZResources:
        return _ZResources(
            tuple(a + b for a, b in zip(self.amounts, other.amounts, strict=True))
        )


def _symbolic_parts(tag: str) -> tuple[Any, tuple[Any, ...]]:
    iface = z3.DeclareSort("Interface")
    label = z3.DeclareSort("Label")
    parts = (
        _ZSet(z3.Const(f"I_{tag}", z3.SetSort(iface))),
        _ZSet(z3.Const(f"O_{tag}", z3.SetSort(iface))),
        _ZSet(z3.Const(f"P_{tag}", z3.SetSort(label))),
        _ZResources(tuple(z3.Int(f"R_{tag}_{k}") for k in _ZResources.KINDS)),
        _ZSet(z3.Const(f"E_{tag}", z3.SetSort(label))),
    )
    return parts, tuple(r >= 0 for r in parts[3].amounts)


def _parts_equal(x: Any, y: Any) -> Any:
    sets = [x[i].expr == y[i].expr for i in (0, 1, 2, 4)]
    amounts = [a == b for a, b in zip(x[3].amounts, y[3].amounts, strict=True)]
    return z3.And(*sets, *amounts)


@obligation(
    "D1.6/composition-laws",
    reading="With satisfied outputs hidden, binary composition is associative "
    "and commutative, its resources are the sum of its members', its inputs "
    "the union of theirs, and its outputs exactly the members' outputs that no "
    "member provides.",
    formal=r"(A \oplus B) \oplus C = A \oplus (B \oplus C),\ A \oplus B = B \oplus A,"
    r"\ R_{A \oplus B} = R_A + R_B,\ O_{A \oplus B} = (O_A \cup O_B) \setminus "
    r"(I_A \cup I_B)",
    method=Method.Z3,
    expected=Outcome.PROVED,
    subject=SUBJECT,
)
def _composition_laws(q: Any, profile: Profile) -> Verdict:
    (a, na), (b, nb), (c, nc) = (_symbolic_parts(t) for t in "ABC")
    nonneg = na + nb + nc

    def combine(x: Any, y: Any) -> Any:
        return q.combine_parts(x, y)

    ab = combine(a, b)
    x = z3.Const("x", z3.DeclareSort("Interface"))
    in_ab_out = z3.IsMember(x, ab[1].expr)
    expected_out = z3.And(
        z3.Or(z3.IsMember(x, a[1].expr), z3.IsMember(x, b[1].expr)),
        z3.Not(z3.Or(z3.IsMember(x, a[0].expr), z3.IsMember(x, b[0].expr))),
    )
    laws = {
        "associative": _parts_equal(combine(ab, c), combine(a, combine(b, c))),
        "commutative": _parts_equal(ab, combine(b, a)),
        "resources add": z3.And(
            *(
                s == p + r
                for s, p, r in zip(
                    ab[3].amounts, a[3].amounts, b[3].amounts, strict=True
                )
            )
        ),
        "inputs are the union": ab[0].expr == z3.SetUnion(a[0].expr, b[0].expr),
        "outputs are the unsatisfied ones": in_ab_out == expected_out,
    }
    for law, claim in laws.items():
        answer = prove(claim, assumptions=nonneg, timeout_ms=profile.solver_timeout_ms)
        if answer.status == "refuted":
            return Verdict.refuted(f"Z3 ({law})", {"law": law, **answer.counterexample})
        if answer.status == "unknown":
            return Verdict.unknown("Z3", f"{law}: {answer.reason}")
    return Verdict.proved(
        "Z3 over finite-set and integer theory, on spec.model.combine_parts",
        bounds="all sets of interfaces and labels, all non-negative amounts "
        "(two resource kinds; kinds are independent)",
        detail="Laws proved: " + ", ".join(laws) + ".",
    )


@obligation(
    "D1.6/composition-of-services",
    reading="On concrete services, the composite's five parts are what the "
    "definition gives (unions, resources added, outputs the members provide "
    "hidden) and equal the fold of the binary step the solver proves laws of; "
    "composing a list equals composing any regrouping or reordering of it.",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=SUBJECT,
)
def _composition_concrete(q: Any, profile: Profile) -> Verdict:
    def prop(case: tuple[list[Any], int]) -> str | None:
        members, split = case
        whole = q.compose(members)
        k = 1 + split % len(members)
        regrouped = (
            q.compose([q.compose(members[:k]), q.compose(members[k:])])
            if k < len(members)
            else q.compose(members)
        )
        if q.parts(regrouped) != q.parts(whole):
            return f"regrouping after {k} members changes the composite"
        if q.parts(q.compose(members[::-1])) != q.parts(whole):
            return "reversing the members changes the composite"
        total: dict[str, int] = {}
        for m in members:
            for kind, amount in m.resources.items():
                total[kind] = total.get(kind, 0) + amount
        if dict(whole.resources) != {k2: v for k2, v in total.items() if v}:
            return f"resources {dict(whole.resources)} are not the sum {total}"
        provided = frozenset().union(*(m.inputs for m in members))
        if whole.outputs & provided:
            return "an output the members provide is still exposed"
        # Every part, from the definition: unions, outputs less what the
        # members provide, resources added.
        want = (
            provided,
            frozenset().union(*(m.outputs for m in members)) - provided,
            frozenset().union(*(m.logic for m in members)),
            {k2: v for k2, v in total.items() if v},
            frozenset().union(*(m.environment for m in members)),
        )
        got = (
            whole.inputs,
            whole.outputs,
            whole.logic,
            dict(whole.resources),
            whole.environment,
        )
        for part, g, w in zip(_PART_NAMES[1:], got, want, strict=True):
            if g != w:
                return f"the composite's {part} are {g!r}, the definition gives {w!r}"
        folded = reduce(q.combine_parts, [q.parts(m) for m in members])
        if len(members) > 1 and folded != q.parts(whole):
            return "compose disagrees with the fold of combine_parts"
        return None

    found = search(
        st.tuples(distinct_services(q, 5), st.integers(0, 10)), prop, profile
    )
    if found.found:
        members, _ = found.counterexample  # type: ignore[misc]
        return Verdict.refuted(
            "Hypothesis",
            {
                "members": [_describe_service(s) for s in members],
                "problem": found.message,
            },
            searched={"examples": found.calls},
        )
    return Verdict.checked(
        "Hypothesis", searched={"examples": found.calls}, bounds="1-5 services"
    )
