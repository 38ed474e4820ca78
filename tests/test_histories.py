"""Reading histories: Jepsen log lines, EDN op maps, malformed files, recording."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from proofs.data import data_dir
from proofs.harness.vtime import run
from proofs.histories import (
    UNKNOWN,
    HistoryError,
    Keyword,
    Recorder,
    parse_history,
    read_edn,
    read_history,
)
from proofs.obligation import MissingDataError

JEPSEN = (
    "INFO  jepsen.util - 0\t:invoke\t:write\t3\n"
    "INFO  jepsen.util - 1\t:invoke\t:cas\t[3 4]\n"
    "INFO  jepsen.util - 0\t:ok\t:write\t3\n"
    "2014-06-10 INFO  jepsen.core - some other log output\n"
    "INFO  jepsen.util - 1\t:fail\t:cas\t[3 4]\n"
    "INFO  jepsen.util - 2\t:invoke\t:write\t1\n"
    "INFO  jepsen.util - 2\t:info\t:write\t:timed-out\n"
    "INFO  jepsen.util - 3\t:invoke\t:read\tnil\n"
    "INFO  jepsen.util - :nemesis\t:info\t:start\tnil\n"
    "INFO  jepsen.util - 3\t:ok\t:read\t3\n"
)


def _reference(*parts: str) -> Path:
    try:
        root = data_dir()
    except MissingDataError as exc:
        pytest.skip(f"reference data absent: {exc}")
    return root.joinpath(*parts)


# Jepsen log lines -------------------------------------------------------------


def test_jepsen_lines_pair_into_operations() -> None:
    ops = parse_history(JEPSEN, "t.log").operations
    assert [(op.process, op.f, op.status) for op in ops] == [
        (0, "write", "ok"),
        (1, "cas", "fail"),
        (2, "write", "info"),
        (3, "read", "ok"),
    ]
    write, cas, lost, read = ops
    assert (write.value, write.output, write.line, write.ret_line) == (3, 3, 1, 3)
    assert cas.value == (3, 4)
    assert lost.output is UNKNOWN and lost.ret is None
    assert read.value is None and read.output == 3
    assert [op.id for op in ops] == [0, 1, 2, 3]


def test_an_invocation_never_completed_is_indeterminate() -> None:
    (op,) = parse_history("INFO  jepsen.util - 4\t:invoke\t:write\t2\n").operations
    assert op.status == "info" and op.ret is None and op.output is UNKNOWN


def test_describe_names_process_operation_result_and_lines() -> None:
    ops = parse_history(JEPSEN, "t.log").operations
    assert ops[1].describe() == "process 1 cas [3 4] -> fail (lines 2-5)"
    assert ops[2].describe() == "process 2 write 1 -> ? (lines 6-7)"


# EDN op maps -------------------------------------------------------------------


EDN_LINES = """\
{:process 0, :type :invoke, :f :append, :key "k", :value "x 0 0 y", :time 12}
{:process 1, :type :invoke, :f :get, :key "k", :value nil}
{:process 0, :type :ok, :f :append, :key "k", :value "x 0 0 y"}
{:process 1, :type :ok, :f :get, :key "k", :value "x 0 0 y"}
"""


def test_edn_maps_one_per_line() -> None:
    ops = parse_history(EDN_LINES).operations
    assert [(op.f, op.key, op.value, op.output) for op in ops] == [
        ("append", "k", "x 0 0 y", "x 0 0 y"),
        ("get", "k", None, "x 0 0 y"),
    ]
    assert [(op.line, op.ret_line) for op in ops] == [(1, 3), (2, 4)]


def test_edn_maps_in_one_vector_as_knossos_writes_them() -> None:
    text = "[" + EDN_LINES.replace("\n", "\n ") + "]\n"
    assert parse_history(text).operations == parse_history(EDN_LINES).operations


def test_edn_values_keywords_strings_and_comments() -> None:
    forms = read_edn('; a comment\n[:ok "a\\"b\\n" -3 2.5 nil true #{1} (1 2)]')
    assert forms == [
        (2, (Keyword("ok"), 'a"b\n', -3, 2.5, None, True, frozenset({1}), (1, 2)))
    ]


def test_edn_cas_register_history() -> None:
    text = (
        "{:process 0 :type :invoke :f :cas :value [1 2]}\n"
        "{:process 0 :type :fail :f :cas :value [1 2]}\n"
    )
    (op,) = parse_history(text).operations
    assert (op.f, op.value, op.status) == ("cas", (1, 2), "fail")


# Malformed input ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("INFO  jepsen.util - 0\t:invoke\t:read\n", 1, "cut short"),
        ("INFO  jepsen.util - 0\t:invoke\t:cas\t[1 2\n", 1, "never closed"),
        ('{:process 0, :type :invoke, :f :get, :key "k\n', 1, "not closed"),
        (
            "{:process 0, :type :invoke, :f :read, :value nil}\n"
            "{:process 0, :type :ok, :f :read, :value 1",
            2,
            "never closed",
        ),
        ("INFO  jepsen.util - 0\t:begin\t:read\tnil\n", 1, "unknown op type"),
        ("{:process 0, :type :ok, :f :read, :value 1}\n", 1, "never invoked"),
        (
            "{:process 0, :type :invoke, :f :read, :value nil}\n"
            "{:process 0, :type :invoke, :f :write, :value 1}\n",
            2,
            "has not completed",
        ),
        (
            "{:process 0, :type :invoke, :f :read, :value nil}\n"
            "{:process 0, :type :ok, :f :write, :value 1}\n",
            2,
            "pending invocation (line 1) is read",
        ),
        (
            "{:process 0, :type :invoke, :f :write, :value 99999}\n"
            "{:process 0, :type :ok, :f :write, :value 1}\n",
            2,
            "ok write 1 contradicts its invocation write 99999 (line 1)",
        ),
        (
            "INFO  jepsen.util - 3\t:invoke\t:cas\t[1 2]\n"
            "INFO  jepsen.util - 3\t:ok\t:cas\t[1 3]\n",
            2,
            "ok cas [1 3] contradicts its invocation cas [1 2] (line 1)",
        ),
        (
            '{:process 0, :type :invoke, :f :put, :key "k", :value "a"}\n'
            '{:process 0, :type :ok, :f :put, :key "k", :value "b"}\n',
            2,
            "contradicts its invocation put",
        ),
        ("{:process 0, :f :read, :value nil}\n", 1, "no :type"),
        ("[1 2]\n", 1, "expected an op map"),
        ("{:process 0 :type}\n", 1, "even number"),
        ('{:process 0, :type :ok, :f :get, :value "\\q"}\n', 1, "unknown escape"),
        ("{:process 0, :type :invoke}}\n", 1, "closes nothing"),
        ("hello world\n", 1, "neither EDN"),
        ("\n\n", 0, "empty"),
        (
            "INFO  jepsen.core - start\n"
            "INFO  jepsen.util - :nemesis\t:info\t:kill\tnil",
            0,
            "no client operations",
        ),
    ],
)
def test_malformed_histories_are_refused_naming_the_line(
    text: str, line: int, words: str
) -> None:
    with pytest.raises(HistoryError) as caught:
        parse_history(text, "bad.edn")
    assert caught.value.source == "bad.edn"
    assert caught.value.line == line
    assert words in caught.value.message
    assert str(caught.value).startswith("bad.edn")


def test_completions_that_do_not_repeat_the_invocation_are_fine() -> None:
    # A read is invoked with nil and completes with what it read; a completion
    # may leave the value out; fail and info completions carry no contract.
    history = parse_history(
        "{:process 0, :type :invoke, :f :read, :value nil}\n"
        "{:process 0, :type :ok, :f :read, :value 3}\n"
        "{:process 1, :type :invoke, :f :write, :value 4}\n"
        "{:process 1, :type :ok, :f :write, :value nil}\n"
        "{:process 2, :type :invoke, :f :write, :value 5}\n"
        "{:process 2, :type :info, :f :write, :value :timed-out}\n"
        "{:process 3, :type :invoke, :f :cas, :value [1 2]}\n"
        "{:process 3, :type :ok, :f :cas, :value [1 2]}\n"
    )
    assert [(op.f, op.value, op.status) for op in history.operations] == [
        ("read", None, "ok"),
        ("write", 4, "ok"),
        ("write", 5, "info"),
        ("cas", (1, 2), "ok"),
    ]


def test_unreadable_file_is_a_history_error(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match="cannot read the file"):
        read_history(tmp_path / "missing.log")
    binary = tmp_path / "binary.log"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(HistoryError, match="cannot read the file"):
        read_history(binary)


# Reference data ----------------------------------------------------------------


def test_every_reference_history_parses() -> None:
    etcd = sorted(_reference("jepsen-etcd").glob("*.log"))
    kv = sorted(_reference("kv").glob("*.txt"))
    assert len(etcd) == 50 and len(kv) == 4
    for path in etcd:
        history = read_history(path)
        assert {op.f for op in history.operations} <= {"read", "write", "cas"}
        assert history.events() <= sum(1 for _ in path.open())
    for path in kv:
        history = read_history(path)
        assert all(op.key is not None for op in history.operations)
        assert history.events() == sum(1 for _ in path.open())


# Recording live runs -----------------------------------------------------------


def test_recorder_orders_events_as_the_loop_ran_them() -> None:
    rec = Recorder(outcomes=(KeyError,))
    store: dict[str, int] = {}

    async def put(k: str, v: int) -> None:
        await asyncio.sleep(0)
        store[k] = v

    async def get(k: str) -> int:
        await asyncio.sleep(0)
        return store[k]

    async def hang() -> None:
        await asyncio.sleep(3600)

    async def main() -> None:
        await rec.call(0, "put", 1, lambda: put("a", 1), key="a")
        with pytest.raises(KeyError):
            await rec.call(1, "get", None, lambda: get("b"), key="b")
        task = asyncio.create_task(rec.call(2, "get", None, hang))
        await asyncio.sleep(1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(main())
    ops = rec.history().operations
    assert [(op.f, op.key, op.status, op.output) for op in ops] == [
        ("put", "a", "ok", None),
        ("get", "b", "ok", "KeyError"),
        ("get", None, "info", UNKNOWN),
    ]
    assert ops[0].call < ops[0].ret < ops[1].call  # type: ignore[operator]
    assert ops[2].ret is None


def test_recorder_begin_and_end_bracket_an_operation() -> None:
    rec = Recorder()
    first = rec.begin(0, "admit", 1)
    second = rec.begin(1, "admit", 2, key="k")
    rec.end(second, "yes")
    third = rec.begin(2, "admit", 3)
    rec.abandon(first)
    rec.begin(3, "admit", 4)  # never ended
    rec.end(third, "no")
    ops = rec.history().operations
    assert [(op.process, op.status, op.output) for op in ops] == [
        (0, "info", UNKNOWN),
        (1, "ok", "yes"),
        (2, "ok", "no"),
        (3, "info", UNKNOWN),
    ]
    assert ops[1].key == "k" and ops[1].call < ops[1].ret < ops[2].call  # type: ignore[operator]
    assert [op.id for op in ops] == [0, 1, 2, 3]
