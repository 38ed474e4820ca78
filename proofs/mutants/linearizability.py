"""Faulty variants of the linearizability checker and its models.

Each is a mistake a checker can make and still look plausible: it answers
quickly, and on most histories it answers right.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from proofs import linearizability as lin
from proofs.histories import History, Operation
from proofs.obligation import mutant

SUBJECT = "proofs.linearizability"


def _operations(history: History | Sequence[Operation]) -> tuple[Operation, ...]:
    return history.operations if isinstance(history, History) else tuple(history)


def _check_without_real_time(
    history: History | Sequence[Operation], model: lin.Model[Any], **options: Any
) -> lin.CheckResult:
    # Every operation treated as if its completion came after all others: the
    # order of the model's answers is all that is checked.
    loose = [dataclasses.replace(op, ret=None) for op in _operations(history)]
    return lin.check(loose, model, **options)


mutant(
    "checker-ignores-real-time-order",
    defect="The checker lets an operation take effect after one that was "
    "invoked after it completed, so it decides a weaker, unordered "
    "consistency instead of linearizability.",
    subject=SUBJECT,
    check=_check_without_real_time,
)


def _check_dropping_indeterminate(
    history: History | Sequence[Operation], model: lin.Model[Any], **options: Any
) -> lin.CheckResult:
    kept = [op for op in _operations(history) if op.status != "info"]
    return lin.check(kept, model, **options)


mutant(
    "checker-drops-indeterminate-operations",
    defect="Operations whose outcome is unknown (Jepsen's :info, timed out) "
    "are taken never to have happened, though they may have.",
    subject=SUBJECT,
    check=_check_dropping_indeterminate,
)


def _register_ignoring_failed_cas(state: Any, op: Operation) -> tuple[bool, Any]:
    if op.f == "cas" and op.status == "fail":
        return True, state
    return lin.CAS_REGISTER.step(state, op)


mutant(
    "register-failed-cas-says-nothing",
    defect="A failed compare-and-set is read as 'did nothing' rather than "
    "'the value was not the expected one', throwing away what it observed.",
    subject=SUBJECT,
    CAS_REGISTER=dataclasses.replace(
        lin.CAS_REGISTER, step=_register_ignoring_failed_cas
    ),
)


def _kv_append_overwrites(state: str, op: Operation) -> tuple[bool, str]:
    if op.f == "append" and op.status != "fail":
        return True, op.value
    return lin.KV_STORE.step(state, op)


mutant(
    "kv-append-overwrites",
    defect="The key-value model's append replaces the string instead of "
    "adding to its end.",
    subject=SUBJECT,
    KV_STORE=dataclasses.replace(lin.KV_STORE, step=_kv_append_overwrites),
)

mutant(
    "kv-split-by-process",
    defect="The key-value history is split by client process instead of by "
    "key, so each client is checked against a store of its own.",
    subject=SUBJECT,
    KV_STORE=dataclasses.replace(lin.KV_STORE, key=lambda op: op.process),
)
