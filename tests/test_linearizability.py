"""The linearizability checker against brute force, known histories and budgets."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from itertools import permutations
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proofs.cli import main as cli
from proofs.data import data_dir
from proofs.histories import (
    UNKNOWN,
    HistoryError,
    Operation,
    parse_history,
    read_history,
)
from proofs.linearizability import (
    CAS_REGISTER,
    KV_STORE,
    Answer,
    Model,
    check,
    check_files,
    spec_model,
)
from proofs.obligation import MissingDataError


def _reference(*parts: str) -> Path:
    try:
        root = data_dir()
    except MissingDataError as exc:
        pytest.skip(f"reference data absent: {exc}")
    return root.joinpath(*parts)


def _op(
    id: int,
    f: str,
    value: Any,
    output: Any,
    call: int,
    ret: int | None,
    status: str = "ok",
    key: Any = None,
) -> Operation:
    if ret is None:
        status, output = "info", UNKNOWN
    return Operation(id, id, f, value, output, status, call, ret, key)  # type: ignore[arg-type]


# A brute-force oracle ----------------------------------------------------------


def _brute_force(ops: Sequence[Operation], model: Model[Any]) -> bool:
    """Try every subset of the indeterminate operations and every order."""
    done = [op for op in ops if op.completed]
    maybe = [op for op in ops if not op.completed]
    for mask in range(2 ** len(maybe)):
        chosen = done + [op for i, op in enumerate(maybe) if mask >> i & 1]
        for order in permutations(chosen):
            if _respects_real_time(order) and _legal(order, model):
                return True
    return False


def _respects_real_time(order: Sequence[Operation]) -> bool:
    for i, later in enumerate(order):
        for earlier in order[:i]:
            if later.ret is not None and later.ret < earlier.call:
                return False
    return True


def _legal(order: Sequence[Operation], model: Model[Any]) -> bool:
    states: dict[Any, Any] = {}
    for op in order:
        key = model.key(op) if model.key else None
        legal, states[key] = model.step(states.get(key, model.init), op)
        if not legal:
            return False
    return True


@st.composite
def register_histories(draw: st.DrawFn) -> list[Operation]:
    count = draw(st.integers(1, 6))
    ends = draw(
        st.lists(
            st.tuples(st.integers(0, 12), st.integers(1, 6), st.booleans()),
            min_size=count,
            max_size=count,
        )
    )
    # Distinct positions: 2 * start for calls, 2 * end + 1 for returns.
    ops = []
    for i, (start, length, completes) in enumerate(ends):
        f = draw(st.sampled_from(("read", "write", "cas")))
        small = st.sampled_from((None, 1, 2))
        value: Any
        if f == "read":
            value, output, status = None, draw(small), "ok"
        elif f == "write":
            value = draw(st.sampled_from((1, 2)))
            output, status = value, "ok"
        else:
            value = (draw(small), draw(st.sampled_from((1, 2))))
            status = draw(st.sampled_from(("ok", "fail")))
            output = value
        ret = 2 * (start + length) + 1 if completes or f == "read" else None
        ops.append(_op(i, f, value, output, 2 * start, ret, status))
    return ops


@given(register_histories())
def test_checker_agrees_with_brute_force_on_registers(ops: list[Operation]) -> None:
    result = check(ops, CAS_REGISTER)
    assert result.answer is not Answer.UNKNOWN
    assert result.ok == _brute_force(ops, CAS_REGISTER), result.summary()
    if result.ok:
        (witness,) = result.witness
        assert sorted(op.id for op in witness) == sorted(op.id for op in ops)
        assert _respects_real_time(witness) and _legal(witness, CAS_REGISTER)
    else:
        blocked = result.unplaceable
        assert blocked is not None and blocked.ret is not None
        assert blocked not in result.prefix
        assert _legal(result.prefix, CAS_REGISTER)
        assert _respects_real_time(result.prefix)
        before = {op.id for op in ops if op.ret is not None and op.ret < blocked.ret}
        assert before <= {op.id for op in result.prefix}


@st.composite
def kv_histories(draw: st.DrawFn) -> list[Operation]:
    count = draw(st.integers(1, 6))
    ops = []
    for i in range(count):
        start = draw(st.integers(0, 10))
        ret = 2 * (start + draw(st.integers(1, 5))) + 1
        key = draw(st.sampled_from(("a", "b")))
        f = draw(st.sampled_from(("put", "get", "append")))
        if f == "get":
            value, output = None, draw(st.sampled_from(("", "x", "xy", "y")))
        else:
            value = output = draw(st.sampled_from(("x", "y")))
        ops.append(_op(i, f, value, output, 2 * start, ret, key=key))
    return ops


@given(kv_histories())
def test_splitting_by_key_gives_the_same_answer(ops: list[Operation]) -> None:
    split = check(ops, KV_STORE)
    whole = check(ops, KV_STORE, split=False)
    assert split.answer is whole.answer
    assert split.ok == _brute_force(ops, KV_STORE)
    assert split.partitions == len({op.key for op in ops})


# Known small histories -----------------------------------------------------------


def _register(text: str) -> Answer:
    return check(parse_history(text), CAS_REGISTER).answer


def test_concurrent_read_may_see_either_value() -> None:
    for seen in (1, 2):
        assert (
            _register(
                "{:process 0 :type :invoke :f :write :value 1}\n"
                "{:process 0 :type :ok :f :write :value 1}\n"
                "{:process 0 :type :invoke :f :write :value 2}\n"
                "{:process 1 :type :invoke :f :read :value nil}\n"
                f"{{:process 1 :type :ok :f :read :value {seen}}}\n"
                "{:process 0 :type :ok :f :write :value 2}\n"
            )
            is Answer.OK
        )


def test_indeterminate_write_may_take_effect_late_or_never() -> None:
    lost = (
        "{:process 0 :type :invoke :f :write :value 1}\n"
        "{:process 0 :type :info :f :write :value 1}\n"
        "{:process 1 :type :invoke :f :read :value nil}\n"
        "{:process 1 :type :ok :f :read :value %s}\n"
        "{:process 1 :type :invoke :f :read :value nil}\n"
        "{:process 1 :type :ok :f :read :value %s}\n"
    )
    assert _register(lost % ("nil", "nil")) is Answer.OK
    assert _register(lost % ("nil", "1")) is Answer.OK
    assert _register(lost % ("1", "nil")) is Answer.ILLEGAL


def test_failed_cas_means_the_comparison_did_not_hold() -> None:
    history = (
        "{:process 0 :type :invoke :f :write :value 1}\n"
        "{:process 0 :type :ok :f :write :value 1}\n"
        "{:process 0 :type :invoke :f :cas :value [%s 2]}\n"
        "{:process 0 :type :fail :f :cas :value [%s 2]}\n"
    )
    assert _register(history % (3, 3)) is Answer.OK
    assert _register(history % (1, 1)) is Answer.ILLEGAL


def test_timed_out_read_observes_nothing() -> None:
    history = (
        "INFO  jepsen.util - 0\t:invoke\t:write\t1\n"
        "INFO  jepsen.util - 0\t:ok\t:write\t1\n"
        "INFO  jepsen.util - 1\t:invoke\t:read\tnil\n"
        "INFO  jepsen.util - 1\t:fail\t:read\t:timed-out\n"
    )
    assert _register(history) is Answer.OK


def test_the_report_names_the_operation_and_the_prefix() -> None:
    result = check(
        parse_history(
            "{:process 0 :type :invoke :f :write :value 1}\n"
            "{:process 0 :type :ok :f :write :value 1}\n"
            "{:process 1 :type :invoke :f :read :value nil}\n"
            "{:process 1 :type :ok :f :read :value 1}\n"
            "{:process 0 :type :invoke :f :write :value 2}\n"
            "{:process 0 :type :ok :f :write :value 2}\n"
            "{:process 1 :type :invoke :f :read :value nil}\n"
            "{:process 1 :type :ok :f :read :value 1}\n",
            "stale.edn",
        ),
        CAS_REGISTER,
    )
    assert result.answer is Answer.ILLEGAL
    assert result.unplaceable is not None
    assert (result.unplaceable.line, result.unplaceable.ret_line) == (7, 8)
    assert [op.line for op in result.prefix] == [1, 3, 5]
    assert "linearizable up to line 7" in result.summary()
    assert json.loads(json.dumps(result.to_json()))["cannot_be_placed"] == (
        "process 1 read -> 1 (lines 7-8)"
    )


def test_unknown_operations_are_refused_with_their_line() -> None:
    history = parse_history(
        "{:process 0 :type :invoke :f :read :value nil}\n"
        "{:process 0 :type :ok :f :read :value nil}\n"
        "{:process 0 :type :invoke :f :incr :value 1}\n"
        "{:process 0 :type :ok :f :incr :value 1}\n",
        "h.edn",
    )
    with pytest.raises(HistoryError, match=r"h\.edn:3: unknown operation :incr"):
        check(history, CAS_REGISTER)
    with pytest.raises(HistoryError, match="unknown operation :read for a kv"):
        check(history, KV_STORE)


def test_spec_step_functions_serve_as_models() -> None:
    def counter(state: int, op: tuple[str, int]) -> tuple[int, int]:
        name, amount = op
        return (state + amount, state + amount) if name == "add" else (state, state)

    model = spec_model("counter", 0, counter, input_of=lambda op: (op.f, op.value))
    ops = [
        _op(0, "add", 2, 2, 0, 3),
        _op(1, "add", 3, 5, 1, 4),
        _op(2, "read", 0, 5, 5, 6),
        _op(3, "add", 1, UNKNOWN, 7, None),
    ]
    assert check(ops, model).ok
    wrong = [*ops[:2], _op(2, "read", 0, 3, 5, 6)]
    assert check(wrong, model).answer is Answer.ILLEGAL


def test_the_registry_model_is_the_specification_step() -> None:
    from proofs.obligations.interleavings import REGISTRY_MODEL

    # Two overlapping registrations of one id: exactly one may win.
    both = [
        _op(0, "register", "a", True, 0, 3, key="users"),
        _op(1, "register", "a", True, 1, 2, key="users"),
    ]
    assert check(both, REGISTRY_MODEL).answer is Answer.ILLEGAL
    one = [both[0], _op(1, "register", "a", False, 1, 2, key="users")]
    assert check(one, REGISTRY_MODEL).ok
    # A read after a completed registration and health change sees both;
    # services do not see each other's instances.
    later = [
        both[0],
        _op(1, "status", ("a", "unhealthy"), True, 4, 5, key="users"),
        _op(2, "get", None, ("a",), 6, 7, key="users"),
        _op(3, "healthy", None, (), 8, 9, key="users"),
        _op(4, "get", None, (), 10, 11, key="orders"),
    ]
    assert check(later, REGISTRY_MODEL).ok
    stale = [*later[:2], _op(3, "healthy", None, ("a",), 8, 9, key="users")]
    assert check(stale, REGISTRY_MODEL).answer is Answer.ILLEGAL
    # A duplicate in an answer is not the specification's set.
    twice = [both[0], _op(2, "get", None, ("a", "a"), 6, 7, key="users")]
    assert check(twice, REGISTRY_MODEL).answer is Answer.ILLEGAL


# Budgets -------------------------------------------------------------------------


def test_a_state_budget_answers_unknown_reproducibly() -> None:
    history = read_history(_reference("jepsen-etcd", "etcd_002.log"))
    first = check(history, CAS_REGISTER, budget=None, max_states=5_000)
    second = check(history, CAS_REGISTER, budget=None, max_states=5_000)
    assert first.answer is Answer.UNKNOWN and "state budget" in first.reason
    assert first == second
    assert first.states <= 5_000 + 2048


def test_a_time_budget_answers_unknown() -> None:
    history = read_history(_reference("jepsen-etcd", "etcd_002.log"))
    result = check(history, CAS_REGISTER, budget=0.0)
    assert result.answer is Answer.UNKNOWN and "time budget" in result.reason
    assert "unknown" in result.summary()


# Reference data --------------------------------------------------------------------


# The 50 etcd histories are checked against expected.json by the obligation
# D4.5/checker-matches-jepsen-etcd (tests/test_obligations.py runs it).


@pytest.mark.parametrize("name", ["c01-ok", "c01-bad", "c10-ok", "c10-bad"])
def test_kv_histories_are_linearizable_exactly_when_named_ok(name: str) -> None:
    result = check(read_history(_reference("kv", f"{name}.txt")), KV_STORE)
    assert result.answer is (Answer.OK if name.endswith("ok") else Answer.ILLEGAL)
    assert result.partitions > 1


# The command -----------------------------------------------------------------------


def test_check_history_exit_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ok = tmp_path / "ok.edn"
    ok.write_text(
        "{:process 0 :type :invoke :f :write :value 1}\n"
        "{:process 0 :type :ok :f :write :value 1}\n"
    )
    bad = tmp_path / "bad.edn"
    bad.write_text(
        "{:process 0 :type :invoke :f :write :value 1}\n"
        "{:process 0 :type :ok :f :write :value 1}\n"
        "{:process 1 :type :invoke :f :read :value nil}\n"
        "{:process 1 :type :ok :f :read :value 2}\n"
    )
    broken = tmp_path / "broken.edn"
    broken.write_text(
        "{:process 0 :type :invoke :f :write :value 1}\n{:process 0 :type :ok :f"
    )

    assert cli(["check-history", "--model", "cas-register", str(ok)]) == 0
    assert f"{ok}: linearizable" in capsys.readouterr().out
    assert cli(["check-history", "--model", "cas-register", str(ok), str(bad)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[1].startswith(f"{bad}: not linearizable")
    status = cli(["check-history", "--model", "cas-register", str(broken), str(bad)])
    assert status == 2
    captured = capsys.readouterr()
    assert f"{broken}:2:" in captured.err and "never closed" in captured.err
    assert f"{bad}: not linearizable" in captured.out
    assert cli(["check-history", "--model", "register", str(ok)]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_check_history_refuses_a_completion_contradicting_its_invocation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contradicted = tmp_path / "contradicted.edn"
    contradicted.write_text(
        "{:process 0 :type :invoke :f :write :value 99999}\n"
        "{:process 0 :type :ok :f :write :value 1}\n"
    )
    status = cli(["check-history", "--model", "cas-register", str(contradicted)])
    captured = capsys.readouterr()
    assert status == 2 and "linearizable" not in captured.out
    assert f"{contradicted}:2:" in captured.err
    assert "contradicts its invocation write 99999" in captured.err


def test_check_history_prints_unknown_when_the_budget_runs_out() -> None:
    out, err = io.StringIO(), io.StringIO()
    path = _reference("jepsen-etcd", "etcd_002.log")
    assert check_files([path], "cas-register", budget=0.0, out=out, err=err) == 1
    assert out.getvalue().startswith(f"{path}: unknown: time budget")
