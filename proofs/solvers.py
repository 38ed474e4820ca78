"""Z3 and SymPy, wrapped so that every answer becomes evidence.

:func:`prove` asks Z3 whether the negation of a claim is satisfiable, the only
honest way to use a solver as a prover: ``unsat`` proves the claim, ``sat``
refutes it and yields the model as a counterexample, ``unknown`` is kept with
Z3's reason. (``z3.prove`` prints its answer and returns nothing usable.)
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import z3

from proofs.verdict import JSONValue


@dataclass(frozen=True)
class SolverAnswer:
    #: ``"proved"``, ``"refuted"`` or ``"unknown"``.
    status: str
    counterexample: dict[str, JSONValue]
    reason: str = ""

    @property
    def proved(self) -> bool:
        return self.status == "proved"


def isolated(
    formulas: Any, *, timeout_ms: int = 60_000
) -> tuple[z3.Solver, z3.Context]:
    """A solver in a context of its own, holding copies of ``formulas``.

    Z3's default context keeps state from every earlier query in the process,
    and which model a satisfiable query gets can depend on it; copied into a
    fresh context, the same formulas get the same model in any process, which
    keeps counterexamples (and so the report) reproducible.
    """
    ctx = z3.Context()
    solver = z3.Solver(ctx=ctx)
    solver.set("timeout", timeout_ms)
    for formula in formulas:
        solver.add(_into(formula, ctx))
    return solver, ctx


def _into(formula: Any, ctx: z3.Context) -> Any:
    if isinstance(formula, z3.ExprRef):
        return formula.translate(ctx)
    return z3.BoolVal(bool(formula), ctx)


def prove(
    claim: Any, *, assumptions: tuple[Any, ...] = (), timeout_ms: int = 60_000
) -> SolverAnswer:
    """Decide ``assumptions => claim`` by checking ``assumptions and not claim``."""
    negated = z3.Not(claim) if isinstance(claim, z3.ExprRef) else not claim
    solver, _ = isolated((*assumptions, negated), timeout_ms=timeout_ms)
    answer = solver.check()
    if answer == z3.unsat:
        return SolverAnswer("proved", {})
    if answer == z3.sat:
        return SolverAnswer("refuted", model_to_json(solver.model()))
    return SolverAnswer("unknown", {}, solver.reason_unknown() or "solver gave up")


def model_to_json(model: z3.ModelRef) -> dict[str, JSONValue]:
    """A Z3 model as ``{name: value}``; reals as exact fraction strings."""
    out: dict[str, JSONValue] = {}
    for decl in sorted(model.decls(), key=lambda d: d.name()):
        out[decl.name()] = _value(model[decl])
    return out


def _value(v: Any) -> JSONValue:
    if z3.is_int_value(v):
        return int(v.as_long())
    if z3.is_rational_value(v):
        return str(Fraction(v.numerator_as_long(), v.denominator_as_long()))
    if z3.is_algebraic_value(v):
        return str(v.approx(12).as_decimal(12))
    if z3.is_true(v) or z3.is_false(v):
        return bool(z3.is_true(v))
    return str(v)


def z3_version() -> str:
    return str(z3.get_version_string())
