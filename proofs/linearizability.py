r"""A linearizability checker: Wing and Gong's search with Lowe's memoisation.

A history is *linearizable* with respect to a sequential model when every
operation can be given one instant between its invocation and its completion
such that running the operations one at a time, in the order of those
instants, through the model's step function gives every output the clients
saw. Operations that never completed may be given an instant anywhere after
their invocation, or none (they are then placed after everything else, where
no one sees them), and their output is not checked.

The search, after J. M. Wing and C. Gong (1993): walk the history's events in
order; at an invocation, try to *linearize* that operation next (step the
model; if its output matches, remove the operation and start again from the
first remaining event); at a completion whose operation is not yet linearized,
every choice so far has been tried past the point it could be, so undo the
last linearized operation and try the invocation after it instead. The
history is linearizable when every operation has been removed, and is not
when there is nothing left to undo.

The search is exponential, and most of its branches repeat: linearizing A
then B often leaves the same model state as B then A. G. Lowe (2017) keeps
every pair (set of linearized operations, model state) reached so far and
never explores one twice, which is what makes the search practical. Porcupine
(A. Athalye's Go checker, whose test histories are our reference data) does
the same; the set here is a Python integer used as a bit set.

Two further savings. Where the model says that operations on different keys
never interact (a key-value store), the history is split by key and each part
is checked alone: linearizability is *local* (Herlihy and Wing), so the whole
is linearizable exactly when every part is. And the search has a budget (wall
time and a count of states), past which it answers UNKNOWN rather than
running for ever: the result is three-valued, and UNKNOWN is never a pass.

When a history is not linearizable the result says how far it got: the
longest prefix of the history that is linearizable (all operations that
completed before some event, with a choice of the pending ones), one
linearization of it, and the operation whose completion ends that prefix,
which no order of the operations before it can place.

A *model* is a sequential specification: an initial state and a step
function ``step(state, operation) -> (legal, next_state)``. States must be
hashable and compared by value. :func:`spec_model` wraps the specification's
own ``step(state, input) -> (output, next_state)`` functions into a model;
:data:`CAS_REGISTER` and :data:`KV_STORE` are provided for Jepsen's histories.

>>> from proofs.histories import parse_history
>>> stale = parse_history('''
... {:process 0, :type :invoke, :f :write, :value 1}
... {:process 0, :type :ok, :f :write, :value 1}
... {:process 1, :type :invoke, :f :read, :value nil}
... {:process 1, :type :ok, :f :read, :value nil}
... ''')
>>> result = check(stale, CAS_REGISTER)
>>> result.answer
<Answer.ILLEGAL: 'not linearizable'>
>>> result.unplaceable.describe()
'process 1 read -> nil (lines 4-5)'
>>> [op.describe() for op in result.prefix]
['process 0 write 1 -> 1 (lines 2-3)']
"""

from __future__ import annotations

import enum
import sys
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TextIO, TypeVar

from proofs.histories import (
    UNKNOWN,
    History,
    HistoryError,
    Operation,
    read_history,
    show_value,
)

S = TypeVar("S", bound=Hashable)

#: How many search steps run between two looks at the clock.
_CLOCK_EVERY = 2048


@dataclass(frozen=True)
class Model(Generic[S]):
    """A sequential specification for the checker.

    ``step(state, op)`` returns whether ``op`` (with its recorded output) is
    legal in ``state``, and the state after it. An operation whose output is
    :data:`~proofs.histories.UNKNOWN` must be legal in every state (the client
    never saw its answer). ``key``, when given, says which independent object
    an operation touches; the checker then splits the history by key and
    gives each part ``init``. ``validate`` returns a complaint for an
    operation the model does not know.
    """

    name: str
    init: S
    step: Callable[[S, Operation], tuple[bool, S]]
    key: Callable[[Operation], Hashable] | None = None
    validate: Callable[[Operation], str | None] = field(
        default=lambda op: None, repr=False
    )


class Answer(enum.Enum):
    OK = "linearizable"
    ILLEGAL = "not linearizable"
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class CheckResult:
    """What the checker concluded, and the evidence.

    ``states`` counts the distinct (linearized set, model state) pairs the
    search visited, over all parts. For OK, ``witness`` holds one
    linearization per part. For ILLEGAL, ``key`` is the part that failed,
    ``prefix`` a linearization of its longest linearizable prefix and
    ``unplaceable`` the operation that ends it. For UNKNOWN, ``reason`` says
    which budget ran out.
    """

    answer: Answer
    states: int
    operations: int
    partitions: int
    witness: tuple[tuple[Operation, ...], ...] = ()
    prefix: tuple[Operation, ...] = ()
    unplaceable: Operation | None = None
    key: Hashable = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.answer is Answer.OK

    def summary(self) -> str:
        """One line: the answer and the main evidence."""
        size = f"{self.operations} ops, {self.states} states"
        if self.answer is Answer.OK:
            return f"linearizable ({size})"
        if self.answer is Answer.UNKNOWN:
            return f"unknown: {self.reason} ({size})"
        op = self.unplaceable
        assert op is not None
        on = "" if self.key is None else f" on key {show_value(self.key)}"
        upto = f"line {op.ret_line - 1}" if op.ret_line else f"event {op.ret}"
        return (
            f"not linearizable{on}: {op.describe()} cannot be placed; the "
            f"history is linearizable up to {upto} ({len(self.prefix)} ops "
            f"placed; {size})"
        )

    def to_json(self) -> dict[str, Any]:
        """Plain JSON for a verdict's counterexample or a report."""
        out: dict[str, Any] = {
            "answer": self.answer.value,
            "operations": self.operations,
            "states": self.states,
            "partitions": self.partitions,
        }
        if self.answer is Answer.ILLEGAL:
            assert self.unplaceable is not None
            out["key"] = None if self.key is None else repr(self.key)
            out["linearizable_prefix"] = [op.describe() for op in self.prefix]
            out["cannot_be_placed"] = self.unplaceable.describe()
        if self.answer is Answer.UNKNOWN:
            out["reason"] = self.reason
        return out


class _OutOfBudget(Exception):
    pass


@dataclass
class _Budget:
    deadline: float | None
    max_states: int | None
    seconds: float | None
    states: int = 0

    def spent(self, part_states: int) -> str | None:
        if self.max_states is not None and self.states + part_states > self.max_states:
            return f"state budget of {self.max_states} states spent"
        if self.deadline is not None and time.monotonic() > self.deadline:
            return f"time budget of {self.seconds:g} s spent"
        return None


def check(
    history: History | Sequence[Operation],
    model: Model[Any],
    *,
    budget: float | None = 10.0,
    max_states: int | None = None,
    split: bool = True,
) -> CheckResult:
    """Decide whether ``history`` is linearizable with respect to ``model``.

    ``budget`` is the wall time allowed, in seconds, and ``max_states`` the
    number of search states (``None``: unlimited); the first to run out ends
    the search with UNKNOWN. For reproducible answers use ``max_states``
    alone. ``split=False`` checks the whole history in one search even when
    the model could split it (for comparison; the answer is the same).

    Raises :class:`~proofs.histories.HistoryError` for an operation the model
    does not know.
    """
    if isinstance(history, History):
        ops, source = history.operations, history.source
    else:
        ops, source = tuple(history), "<history>"
    for op in ops:
        complaint = model.validate(op)
        if complaint is not None:
            raise HistoryError(source, op.line, complaint)

    tracker = _Budget(
        None if budget is None else time.monotonic() + budget, max_states, budget
    )
    if model.key is not None and split:
        groups: dict[Hashable, list[Operation]] = {}
        for op in ops:
            groups.setdefault(model.key(op), []).append(op)
        parts = sorted(groups.items(), key=lambda kv: repr(kv[0]))
    elif model.key is not None:
        parts = [(None, list(ops))]
        model = _product(model)
    else:
        parts = [(None, list(ops))]

    witness: list[tuple[Operation, ...]] = []
    for key, part in parts:
        try:
            outcome = _search(part, model, tracker)
        except _OutOfBudget as exc:
            return CheckResult(
                Answer.UNKNOWN,
                tracker.states,
                len(ops),
                len(parts),
                key=key,
                reason=str(exc),
            )
        linearized, blocked = outcome
        if blocked is not None:
            return CheckResult(
                Answer.ILLEGAL,
                tracker.states,
                len(ops),
                len(parts),
                prefix=linearized,
                unplaceable=blocked,
                key=key,
            )
        witness.append(linearized)
    return CheckResult(
        Answer.OK, tracker.states, len(ops), len(parts), witness=tuple(witness)
    )


def _search(
    ops: Sequence[Operation], model: Model[Any], budget: _Budget
) -> tuple[tuple[Operation, ...], Operation | None]:
    """Wing and Gong's search over one part of a history.

    Returns a linearization and ``None`` when the part is linearizable;
    otherwise the linearization of its longest linearizable prefix and the
    operation that cannot be placed after it.
    """
    n = len(ops)
    if n == 0:
        return (), None

    # Entries 0..n-1 are invocations, n..2n-1 completions; 2n is the head of
    # a doubly linked list of the entries not yet removed, in history order.
    # Completions never observed come after every observed event.
    last = max(op.ret if op.ret is not None else op.call for op in ops) + 1
    timed = []
    for i, op in enumerate(ops):
        timed.append((op.call, 0, i))
        timed.append((op.ret if op.ret is not None else last + op.call, 1, i + n))
    timed.sort()
    order = [entry for _, _, entry in timed]
    position = [0] * (2 * n)
    for p, entry in enumerate(order):
        position[entry] = p

    head = 2 * n
    nxt = [-1] * (2 * n + 1)
    prv = [-1] * (2 * n + 1)
    previous = head
    for entry in order:
        nxt[previous] = entry
        prv[entry] = previous
        previous = entry

    step = model.step
    # The model is a function: each (operation, state) is stepped once.
    outcomes: list[dict[Any, tuple[bool, Any]]] = [{} for _ in range(n)]
    state: Any = model.init
    linearized = 0
    stack: list[tuple[int, Any]] = []
    seen: set[tuple[int, Any]] = set()
    best = -1
    best_prefix: tuple[Operation, ...] = ()
    blocked: Operation | None = None
    countdown = _CLOCK_EVERY
    entry = nxt[head]

    while entry != -1:
        countdown -= 1
        if not countdown:
            countdown = _CLOCK_EVERY
            reason = budget.spent(len(seen))
            if reason is not None:
                budget.states += len(seen)
                raise _OutOfBudget(reason)

        if entry < n:
            known = outcomes[entry]
            result = known.get(state)
            if result is None:
                result = known[state] = step(state, ops[entry])
            legal, after = result
            if legal:
                bits = linearized | (1 << entry)
                memo = (bits, after)
                if memo not in seen:
                    seen.add(memo)
                    stack.append((entry, state))
                    linearized, state = bits, after
                    # Remove the invocation and its completion.
                    p, q = prv[entry], nxt[entry]
                    nxt[p] = q
                    prv[q] = p
                    r = entry + n
                    p, q = prv[r], nxt[r]
                    nxt[p] = q
                    if q != -1:
                        prv[q] = p
                    entry = nxt[head]
                    continue
            entry = nxt[entry]
            continue

        # A completion whose operation is not linearized: undo the last choice.
        if position[entry] > best:
            best = position[entry]
            best_prefix = tuple(ops[i] for i, _ in stack)
            blocked = ops[entry - n]
        if not stack:
            budget.states += len(seen)
            return best_prefix, blocked
        entry, state = stack.pop()
        linearized ^= 1 << entry
        r = entry + n
        p, q = prv[r], nxt[r]
        nxt[p] = r
        if q != -1:
            prv[q] = r
        p, q = prv[entry], nxt[entry]
        nxt[p] = entry
        prv[q] = entry
        entry = nxt[entry]

    budget.states += len(seen)
    return tuple(ops[i] for i, _ in stack), None


def _product(model: Model[Any]) -> Model[Any]:
    """One model over all keys of a split model: a sorted tuple of key states."""
    key_of = model.key
    assert key_of is not None
    init = model.init

    def step(state: tuple[tuple[Any, Any], ...], op: Operation) -> tuple[bool, Any]:
        key = key_of(op)
        table = dict(state)
        legal, after = model.step(table.get(key, init), op)
        table[key] = after
        return legal, tuple(sorted(table.items(), key=lambda kv: repr(kv[0])))

    return Model(f"{model.name} (all keys)", (), step, validate=model.validate)


def spec_model(
    name: str,
    init: S,
    step: Callable[[S, Any], tuple[Any, S]],
    *,
    input_of: Callable[[Operation], Any],
    key: Callable[[Operation], Hashable] | None = None,
) -> Model[S]:
    """A model from a specification's ``step(state, input) -> (output, state)``.

    ``input_of`` builds the specification's input from a recorded operation.
    An operation is legal when the specification's output equals the recorded
    one; an indeterminate operation is legal always and takes the effect the
    specification gives it; a failed one (``fail``) took no effect.
    """

    def model_step(state: S, op: Operation) -> tuple[bool, S]:
        if op.status == "fail":
            return True, state
        output, after = step(state, input_of(op))
        if op.output is UNKNOWN:
            return True, after
        return output == op.output, after

    return Model(name, init, model_step, key=key)


# A compare-and-set register ---------------------------------------------------


def _register_step(state: Any, op: Operation) -> tuple[bool, Any]:
    f = op.f
    if f == "read":
        return (op.status != "ok" or op.output == state), state
    if f == "write":
        if op.status == "fail":
            return True, state
        return True, op.value
    # cas [from to]
    expected, new = op.value
    if op.status == "ok":
        return (state == expected), new
    if op.status == "fail":
        return (state != expected), state
    return True, (new if state == expected else state)


def _register_validate(op: Operation) -> str | None:
    if op.f not in ("read", "write", "cas"):
        return f"unknown operation :{op.f} for a cas-register (read, write or cas)"
    if op.f == "cas" and not (isinstance(op.value, tuple) and len(op.value) == 2):
        return f"a cas takes [from to], not {op.value!r}"
    return None


#: A single register holding any value, initially ``nil``: ``read`` returns
#: the value, ``write v`` sets it, ``cas [from to]`` sets ``to`` if the value
#: is ``from``. Jepsen's ``:fail`` on a cas means the comparison failed; on a
#: read (``:timed-out``) that nothing was observed; on a write that it did not
#: happen.
CAS_REGISTER: Model[Any] = Model(
    "cas-register", None, _register_step, validate=_register_validate
)


# A key-value store ------------------------------------------------------------


def _kv_key(op: Operation) -> Hashable:
    return op.key


def _kv_step(state: str, op: Operation) -> tuple[bool, str]:
    f = op.f
    if f == "get":
        output = "" if op.output is None else op.output
        return (op.status != "ok" or output == state), state
    if op.status == "fail":
        return True, state
    if f == "put":
        return True, op.value
    return True, state + op.value


def _kv_validate(op: Operation) -> str | None:
    if op.f not in ("put", "get", "append"):
        return f"unknown operation :{op.f} for a kv store (put, get or append)"
    if op.key is None:
        return f"the {op.f} names no :key"
    if op.f != "get" and not isinstance(op.value, str):
        return f"{op.f} takes a string value, not {op.value!r}"
    if (
        op.f == "get"
        and op.status == "ok"
        and not (op.output is None or isinstance(op.output, str))
    ):
        return f"a get returns a string, not {op.output!r}"
    return None


#: A map from keys to strings, each initially empty: ``put k v`` sets,
#: ``append k v`` adds ``v`` at the end, ``get k`` returns the string (``""``
#: or ``nil`` when absent). Keys are independent, so histories split by key.
KV_STORE: Model[str] = Model("kv", "", _kv_step, key=_kv_key, validate=_kv_validate)

#: The models ``mstheory check-history --model`` knows, by name.
MODELS: dict[str, Model[Any]] = {"cas-register": CAS_REGISTER, "kv": KV_STORE}


# Checking files ----------------------------------------------------------------


def check_files(
    paths: Sequence[str | Path],
    model: str | Model[Any],
    *,
    budget: float | None = 10.0,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Check each history file; print one line per file; return an exit status.

    The status is 0 when every file is linearizable, 1 when any is not or
    could not be decided within ``budget`` seconds (each file has its own),
    and 2 when any file could not be read as a history (the message names
    the file and line, and the other files are still checked).
    """
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    chosen = MODELS[model] if isinstance(model, str) else model
    status = 0
    for path in paths:
        try:
            result = check(read_history(path), chosen, budget=budget)
        except HistoryError as exc:
            print(f"mstheory: error: {exc}", file=err)
            status = 2
            continue
        print(f"{path}: {result.summary()}", file=out)
        if not result.ok and status == 0:
            status = 1
    return status
