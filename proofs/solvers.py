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


def prove(
    claim: Any, *, assumptions: tuple[Any, ...] = (), timeout_ms: int = 60_000
) -> SolverAnswer:
    """Decide ``assumptions => claim`` by checking ``assumptions and not claim``."""
    solver = z3.Solver()
    solver.set("timeout", timeout_ms)
    solver.add(*assumptions)
    solver.add(z3.Not(claim))
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
