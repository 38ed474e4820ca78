"""Faulty variants of :mod:`spec.model`, one per kind of mistake."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import Any

from proofs.obligation import mutant
from spec import model

SUBJECT = "spec.model"


def _service_abs_resources(
    name: str, *, resources: Mapping[str, Any] | None = None, **parts: Any
) -> model.Service:
    fixed = {k: abs(Fraction(v)) for k, v in (resources or {}).items()}
    return model.service(name, resources=fixed, **parts)


mutant(
    "service-accepts-negative-resources",
    defect="Construction takes the absolute value of a negative resource amount "
    "instead of refusing it.",
    subject=SUBJECT,
    service=_service_abs_resources,
)


def _direct_only(g: model.SystemGraph, v: str) -> frozenset[str]:
    return model.dependencies(g, v)


mutant(
    "transitive-dependencies-one-hop",
    defect="Transitive dependencies stop after one call, missing longer chains.",
    subject=SUBJECT,
    transitive_dependencies=_direct_only,
    reaches=lambda g, a, b: b in _direct_only(g, a),
)


def _cycle_without_self_calls(g: model.SystemGraph) -> bool:
    stripped = model.SystemGraph(
        g.vertices, frozenset(e for e in g.edges if e[0] != e[1])
    )
    return model.topological_order(stripped) is None


mutant(
    "cycle-ignores-self-calls",
    defect="Cycle detection drops self-calls, so a service calling itself is "
    "reported acyclic.",
    subject=SUBJECT,
    has_cycle=_cycle_without_self_calls,
)


mutant(
    "dependency-reversed",
    defect="Dependency matches the callee's outputs against the caller's "
    "inputs (the arrow drawn backwards).",
    subject=SUBJECT,
    depends=lambda a, b: model.depends(b, a),
)


def _combine_keeping_first_resources(
    a: Any, b: Any, *, hide_satisfied: bool = True
) -> Any:
    inputs, outputs, logic, _, env = model.combine_parts(
        a, b, hide_satisfied=hide_satisfied
    )
    return (inputs, outputs, logic, a[3], env)


def _compose_dropping_last(
    members: Iterable[model.Service], *, name: str | None = None
) -> model.Service:
    members = list(members)
    whole = model.compose(members, name=name)
    if len(members) < 2:
        return whole
    kept = model.compose(members[:-1]).resources
    return model.Service(
        whole.name, whole.inputs, whole.outputs, whole.logic, kept, whole.environment
    )


mutant(
    "composition-loses-a-resource",
    defect="Composition keeps the first member's resources (binary step) or "
    "forgets the last member's (n-ary), instead of adding them.",
    subject=SUBJECT,
    combine_parts=_combine_keeping_first_resources,
    compose=_compose_dropping_last,
)


mutant(
    "composition-without-hiding",
    defect="Composition exposes every member output, including those another "
    "member satisfies (the literal reading used as if it were correct).",
    subject=SUBJECT,
    combine_parts=lambda a, b, *, hide_satisfied=True: model.combine_parts(
        a, b, hide_satisfied=False
    ),
    compose=model.compose_as_written,
)


mutant(
    "as-written-composition-hides",
    defect="The literal composition is rendered with hiding, so the suite "
    "would miss the flaw of the definition as written.",
    subject=SUBJECT,
    compose_as_written=model.compose,
)


def _service_outputs_from_inputs(
    name: str,
    *,
    inputs: Iterable[model.Interface] = (),
    outputs: Iterable[model.Interface] = (),
    logic: Iterable[str] = (),
    resources: Mapping[str, Any] | None = None,
    environment: Iterable[str] = (),
) -> model.Service:
    return model.service(
        name, inputs=inputs, outputs=inputs, logic=logic, resources=resources
    )


mutant(
    "service-outputs-from-inputs",
    defect="Construction fills the outputs from the inputs argument (a slip "
    "of one name) and drops the environment.",
    subject=SUBJECT,
    service=_service_outputs_from_inputs,
)


def _compose_without_environment(
    members: Iterable[model.Service], *, name: str | None = None
) -> model.Service:
    whole = model.compose(members, name=name)
    return model.Service(
        whole.name,
        whole.inputs,
        frozenset(),
        whole.logic,
        whole.resources,
        frozenset(),
    )


mutant(
    "compose-forgets-environment-and-outputs",
    defect="The composite keeps its members' inputs, logic and resources but "
    "loses their outputs and environment.",
    subject=SUBJECT,
    compose=_compose_without_environment,
)


def _system_without_self_calls(
    services: Iterable[model.Service | str], calls: Iterable[tuple[str, str]] = ()
) -> model.SystemGraph:
    kept = [c for c in calls if c[0] != c[1]]
    return model.system(services, kept)


mutant(
    "system-drops-self-calls",
    defect="Building a system silently drops calls from a service to itself.",
    subject=SUBJECT,
    system=_system_without_self_calls,
)
