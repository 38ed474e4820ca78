"""Concurrent histories: recorded from our own runs, or read from Jepsen's files.

A *history* is what clients saw: each operation was invoked at one moment and
completed at a later one (or never). Between the two it may have taken effect
at any instant; whether some choice of instants explains every answer is the
question :mod:`proofs.linearizability` decides. Here we only build histories.

An :class:`Operation` pairs an invocation with its completion. Its ``call`` and
``ret`` are positions in one total order of events (a line number, or a
counter bumped on every event); ``ret`` is ``None`` when the operation never
completed. ``status`` is Jepsen's:

``ok``
    It took effect, and ``output`` is what it returned.
``fail``
    It definitely did not take the effect it asked for (Jepsen's ``:fail``).
    What that means for a given operation is the model's business: a failed
    compare-and-set, for instance, says the comparison did not hold.
``info``
    Indeterminate: it may or may not have taken effect, at any instant after
    its invocation, and its ``output`` is :data:`UNKNOWN`. An invocation with
    no completion by the end of the history is indeterminate too.

Two file formats are read, chosen by the first line that is not blank:

- Jepsen's log lines, ``INFO  jepsen.util - <process>\\t:<type>\\t:<f>\\t<value>``
  (the histories of ``jepsen-etcd/``). Lines that are not ``jepsen.util`` op
  lines are ignored, as Jepsen's logs interleave other output.
- EDN op maps as Jepsen and Knossos write them: ``{:process 0, :type :invoke,
  :f :read, :value nil}``, one per line or all inside one vector, optionally
  with ``:key`` (the ``kv/`` histories) and extra fields (``:time``,
  ``:index``) that are ignored.

Operations of the ``:nemesis`` process (Jepsen's fault injector) are not client
operations and are skipped. Anything else that does not make sense (a cut-off
line, an unknown type, a completion whose invocation is missing, a process that
invokes twice without completing, an ok write or cas whose value is not the
one it was invoked with) raises :class:`HistoryError` naming the file
and line.

:class:`Recorder` builds histories from live asyncio runs, for the same
checker.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final, Literal, TypeAlias, TypeVar

T = TypeVar("T")

Status: TypeAlias = Literal["ok", "fail", "info"]


class _Unknown:
    """The output of an operation whose completion was never observed."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __reduce__(self) -> str:
        return "UNKNOWN"


#: The output of an indeterminate operation (the one value, compared by ``is``).
UNKNOWN: Final = _Unknown()


class HistoryError(ValueError):
    """A history file (or recorded history) that cannot be read as one.

    ``source`` names the file, ``line`` the 1-based line (0 when the problem is
    the file as a whole).
    """

    def __init__(self, source: str, line: int, message: str) -> None:
        self.source = source
        self.line = line
        self.message = message
        where = f"{source}:{line}" if line else source
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class Operation:
    """One operation of a history: invocation, completion, and what was seen.

    ``value`` is the invocation's argument; ``output`` the completion's value
    (:data:`UNKNOWN` when indeterminate). ``key`` names the object operated on
    when the history spans several (``None`` for a single object). ``line``
    and ``ret_line`` locate the two events in their file, when there is one.
    """

    id: int
    process: Hashable
    f: str
    value: Any
    output: Any
    status: Status
    call: int
    ret: int | None
    key: Hashable = None
    line: int = 0
    ret_line: int = 0

    @property
    def completed(self) -> bool:
        return self.ret is not None

    def describe(self) -> str:
        """A short human form: ``process 3 cas [1 2] -> fail (lines 40-42)``."""
        on = "" if self.key is None else f" {show_value(self.key)}"
        arg = "" if self.value is None else f" {show_value(self.value)}"
        if self.status == "info":
            result = "?"
        elif self.status == "fail":
            result = "fail"
        else:
            result = show_value(self.output)
        if self.line and self.ret_line:
            where = f" (lines {self.line}-{self.ret_line})"
        elif self.line:
            where = f" (line {self.line})"
        else:
            where = ""
        return (
            f"process {show_value(self.process)} {self.f}{on}{arg} -> {result}{where}"
        )

    def to_json(self) -> dict[str, Any]:
        """Plain JSON, for verdicts and reports."""
        return {
            "process": _plain(self.process),
            "f": self.f,
            "key": _plain(self.key),
            "value": _plain(self.value),
            "output": "?" if self.output is UNKNOWN else _plain(self.output),
            "status": self.status,
            "call": self.call,
            "return": self.ret,
            **({"line": self.line} if self.line else {}),
        }


@dataclass(frozen=True)
class History:
    """The operations read from one source, in order of invocation."""

    source: str
    operations: tuple[Operation, ...]

    def __len__(self) -> int:
        return len(self.operations)

    def events(self) -> int:
        """Invocations plus observed completions."""
        return sum(1 + op.completed for op in self.operations)


def show_value(value: Any) -> str:
    """A value as EDN writes it: ``nil``, ``[1 2]``, ``:timed-out``, ``"x"``."""
    if value is None:
        return "nil"
    if isinstance(value, tuple):
        return "[" + " ".join(show_value(v) for v in value) + "]"
    if isinstance(value, Keyword):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"') + '"'
    return str(value)


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, Keyword):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)


# EDN -------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Keyword:
    """An EDN keyword such as ``:invoke`` (``name`` is ``"invoke"``)."""

    name: str

    def __str__(self) -> str:
        return ":" + self.name


class EDNError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        self.line = line
        self.message = message
        super().__init__(f"line {line}: {message}")


_TOKEN = re.compile(
    r"""
    (?P<space>[\s,]+|;[^\n]*)
  | (?P<open>\#\{|[\[{(])
  | (?P<close>[\]})])
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<badstring>")
  | (?P<tag>\#[A-Za-z][\w.\-/]*)
  | (?P<discard>\#_)
  | (?P<atom>[^\s,;"\[\]{}()\#][^\s,;"\[\]{}()]*)
    """,
    re.VERBOSE | re.DOTALL,
)
_INT = re.compile(r"^[+-]?\d+N?$")
_FLOAT = re.compile(r"^[+-]?\d+(\.\d*)?([eE][+-]?\d+)?M?$")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "b": "\b", "f": "\f"}
_CLOSERS = {"[": "]", "{": "}", "(": ")", "#{": "}"}


def _unescape(body: str, line: int) -> str:
    out = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt == "u":
            out.append(chr(int(body[i + 2 : i + 6], 16)))
            i += 6
        elif nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        else:
            raise EDNError(line, f"unknown escape \\{nxt} in a string")
    return "".join(out)


def read_edn(text: str, first_line: int = 1) -> list[tuple[int, Any]]:
    """Every top-level EDN value of ``text``, each with the line it starts on.

    Maps become ``dict``, vectors and lists ``tuple``, sets ``frozenset``,
    keywords :class:`Keyword`; ``#inst`` and other tags keep their value.
    Symbols other than ``nil``, ``true`` and ``false`` become :class:`Keyword`
    too (histories use them only as names).

    >>> read_edn('{:f :cas, :value [1 2]} nil')[0][1][Keyword("value")]
    (1, 2)
    >>> read_edn('[1 :a] nil')
    [(1, (1, Keyword(name='a'))), (1, None)]
    """
    line = first_line
    stack: list[tuple[str, int, list[Any]]] = []
    top: list[tuple[int, Any]] = []
    pos = 0
    pending_tags = 0
    discard = 0

    def emit(value: Any, at: int) -> None:
        nonlocal discard
        if discard:
            discard -= 1
            return
        if stack:
            stack[-1][2].append(value)
        else:
            top.append((at, value))

    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:  # pragma: no cover - the atom pattern matches any other char
            raise EDNError(line, f"cannot read {text[pos : pos + 20]!r}")
        kind = m.lastgroup
        token = m.group()
        at = line
        line += token.count("\n")
        pos = m.end()
        if kind == "space":
            continue
        if kind == "tag":
            pending_tags += 1
            continue
        if kind == "discard":
            discard += 1
            continue
        if kind == "badstring":
            raise EDNError(at, "a string is not closed (the line was cut short?)")
        if kind == "open":
            stack.append((token, at, []))
            continue
        if kind == "close":
            if not stack:
                raise EDNError(at, f"{token!r} closes nothing")
            opener, start, items = stack.pop()
            if _CLOSERS[opener] != token:
                raise EDNError(
                    at, f"{opener!r} opened on line {start} is closed by {token!r}"
                )
            value: Any
            if opener == "{":
                if len(items) % 2:
                    raise EDNError(start, "a map needs an even number of forms")
                value = dict(zip(items[::2], items[1::2], strict=True))
            elif opener == "#{":
                value = frozenset(items)
            else:
                value = tuple(items)
            emit(value, start)
            continue
        if pending_tags:
            pending_tags -= 1
        if kind == "string":
            emit(_unescape(token[1:-1], at), at)
        else:
            emit(_atom(token, at), at)
    if stack:
        opener, start, _ = stack[-1]
        raise EDNError(
            start, f"{opener!r} is never closed (the file or line was cut short?)"
        )
    return top


def _atom(token: str, line: int) -> Any:
    if token == "nil":
        return None
    if token == "true":
        return True
    if token == "false":
        return False
    if token.startswith(":"):
        if len(token) == 1:
            raise EDNError(line, "a keyword needs a name after ':'")
        return Keyword(token[1:])
    if _INT.match(token):
        return int(token.rstrip("N"))
    if _FLOAT.match(token):
        return float(token.rstrip("M"))
    if token.startswith("\\"):
        return token[1:]
    return Keyword(token)


# Events and pairing ----------------------------------------------------------

_TYPES: dict[str, str] = {
    "invoke": "invoke",
    "ok": "ok",
    "fail": "fail",
    "info": "info",
}


@dataclass(frozen=True)
class Event:
    """One line of a history: an invocation or a completion."""

    line: int
    process: Hashable
    type: str
    f: str
    value: Any
    key: Hashable = None


_JEPSEN = re.compile(r"jepsen\.util\s+-\s+(?P<rest>.*)$")


def _jepsen_events(source: str, lines: Iterable[str]) -> list[Event]:
    events = []
    for number, raw in enumerate(lines, start=1):
        text = raw.rstrip("\r\n")
        m = _JEPSEN.search(text)
        if m is None:
            continue
        fields = m.group("rest").split("\t")
        if len(fields) < 4:
            raise HistoryError(
                source,
                number,
                "an op line has process, type, f and value separated by tabs; "
                f"this one has {len(fields)} field(s) (was it cut short?)",
            )
        process_text, type_text, f_text = (x.strip() for x in fields[:3])
        value_text = "\t".join(fields[3:]).strip()
        try:
            parsed = read_edn(f"{process_text} {type_text} {f_text}", number)
            values = read_edn(value_text, number) if value_text else []
        except EDNError as exc:
            raise HistoryError(source, number, exc.message) from None
        if len(parsed) != 3 or len(values) != 1:
            raise HistoryError(
                source, number, f"cannot read {text.strip()!r} as an op line"
            )
        process, kind, f = (v for _, v in parsed)
        events.append(_event(source, number, process, kind, f, values[0][1], None))
    return events


def _edn_events(source: str, text: str) -> list[Event]:
    try:
        forms = read_edn(text)
    except EDNError as exc:
        raise HistoryError(source, exc.line, exc.message) from None
    if len(forms) == 1 and isinstance(forms[0][1], tuple):
        # One vector of op maps, as Knossos writes a history.
        maps = forms[0][1]
        lines = _map_lines(text, len(maps))
        forms = list(zip(lines, maps, strict=True))
    events = []
    for line, form in forms:
        if not isinstance(form, dict):
            raise HistoryError(
                source, line, f"expected an op map, found {show_value(form)}"
            )
        get = {k.name if isinstance(k, Keyword) else str(k): v for k, v in form.items()}
        for required in ("process", "type", "f"):
            if required not in get:
                raise HistoryError(source, line, f"the op map has no :{required}")
        event = _event(
            source,
            line,
            get["process"],
            get["type"],
            get["f"],
            get.get("value"),
            get.get("key"),
        )
        events.append(event)
    return events


def _map_lines(text: str, count: int) -> list[int]:
    """Line numbers of the op maps inside a top-level vector, best effort."""
    inner = text[text.index("[") + 1 :]
    offset = text[: text.index("[")].count("\n") + 1
    try:
        forms = read_edn(inner.rsplit("]", 1)[0], offset)
    except EDNError:
        return [offset] * count
    lines = [line for line, _ in forms]
    return lines if len(lines) == count else [offset] * count


def _event(
    source: str,
    line: int,
    process: Any,
    kind: Any,
    f: Any,
    value: Any,
    key: Any,
) -> Event:
    kind_name = kind.name if isinstance(kind, Keyword) else None
    if kind_name not in _TYPES:
        raise HistoryError(
            source,
            line,
            f"unknown op type {show_value(kind)}; "
            "expected :invoke, :ok, :fail or :info",
        )
    if not isinstance(f, Keyword | str):
        raise HistoryError(source, line, f"the op's :f must be a keyword, not {f!r}")
    if not isinstance(process, int | Keyword):
        raise HistoryError(
            source,
            line,
            f"the op's :process must be an integer, not {show_value(process)}",
        )
    f_name = f.name if isinstance(f, Keyword) else f
    try:
        hash(value)
        hash(key)
    except TypeError:
        raise HistoryError(
            source, line, f"the op's value {show_value(value)} cannot be compared"
        ) from None
    return Event(line, process, kind_name, f_name, value, key)


#: Operations whose ``ok`` completion repeats the invocation's value (the
#: written value, a cas's ``[expected new]``), as Jepsen and Knossos log them.
#: A read's invocation carries nil and its completion the value read.
_ECHOED: Final = frozenset({"write", "cas", "put", "append"})


def pair(source: str, events: Sequence[Event]) -> History:
    """Match each completion with its process's pending invocation.

    An invocation still pending at the end of the history never completed: it
    becomes an ``info`` operation.
    """
    pending: dict[Hashable, tuple[int, Event]] = {}
    done: dict[int, Operation] = {}
    ids = itertools.count()
    for position, event in enumerate(events):
        process = event.process
        if process == Keyword("nemesis"):
            continue
        if event.type == "invoke":
            if process in pending:
                _, earlier = pending[process]
                raise HistoryError(
                    source,
                    event.line,
                    f"process {show_value(process)} invokes {event.f} while its "
                    f"{earlier.f} of line {earlier.line} has not completed",
                )
            pending[process] = (position, event)
            continue
        if process not in pending:
            raise HistoryError(
                source,
                event.line,
                f"{event.type} of {event.f} by process {show_value(process)} "
                "completes an operation that was never invoked",
            )
        call, invocation = pending.pop(process)
        if invocation.f != event.f:
            raise HistoryError(
                source,
                event.line,
                f"process {show_value(process)} completes {event.f}, but its pending "
                f"invocation (line {invocation.line}) is {invocation.f}",
            )
        if (
            event.type == "ok"
            and invocation.f in _ECHOED
            and event.value is not None
            and event.value != invocation.value
        ):
            raise HistoryError(
                source,
                event.line,
                f"process {show_value(process)}'s ok {event.f} "
                f"{show_value(event.value)} contradicts its invocation "
                f"{invocation.f} {show_value(invocation.value)} (line "
                f"{invocation.line}): a completed {invocation.f} repeats the "
                "arguments it was invoked with",
            )
        status: Status = event.type  # type: ignore[assignment]
        ret = None if status == "info" else position
        done[call] = Operation(
            id=next(ids),
            process=process,
            f=invocation.f,
            value=invocation.value,
            output=UNKNOWN if status == "info" else event.value,
            status=status,
            call=call,
            ret=ret,
            key=invocation.key,
            line=invocation.line,
            ret_line=event.line,
        )
    for call, invocation in pending.values():
        done[call] = Operation(
            id=next(ids),
            process=invocation.process,
            f=invocation.f,
            value=invocation.value,
            output=UNKNOWN,
            status="info",
            call=call,
            ret=None,
            key=invocation.key,
            line=invocation.line,
        )
    ordered = (done[c] for c in sorted(done))
    renumbered = tuple(replace(op, id=n) for n, op in enumerate(ordered))
    return History(source, renumbered)


def parse_history(text: str, source: str = "<history>") -> History:
    """Read a history from its text, in either format (see the module notes).

    >>> h = parse_history('''
    ... {:process 0, :type :invoke, :f :write, :value 1}
    ... {:process 1, :type :invoke, :f :read, :value nil}
    ... {:process 0, :type :ok, :f :write, :value 1}
    ... {:process 1, :type :ok, :f :read, :value 1}
    ... ''')
    >>> [op.describe() for op in h.operations]
    ['process 0 write 1 -> 1 (lines 2-4)', 'process 1 read -> 1 (lines 3-5)']
    """
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    if not first:
        raise HistoryError(source, 0, "the history is empty")
    if first.startswith(("{", "[", ";")):
        events = _edn_events(source, text)
    elif _JEPSEN.search(first) or "jepsen.util" in text:
        events = _jepsen_events(source, text.splitlines())
    else:
        raise HistoryError(
            source,
            1,
            "neither EDN op maps ({:process ..}) nor Jepsen log lines "
            "(INFO  jepsen.util - ...)",
        )
    history = pair(source, events)
    if not history.operations:
        raise HistoryError(source, 0, "the history has no client operations")
    return history


def read_history(path: str | Path) -> History:
    """Read the history in the file at ``path`` (see :func:`parse_history`)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise HistoryError(str(p), 0, f"cannot read the file: {exc}") from None
    return parse_history(text, str(p))


# Recording live runs ---------------------------------------------------------


@dataclass
class Recorder:
    """Records a history of operations performed by concurrent asyncio tasks.

    Every invocation and every completion takes the next number of one
    counter, so the history's order is the order in which the loop ran them.
    An operation that raises is recorded as indeterminate, unless the
    exception's type is listed in ``outcomes``, in which case the operation
    completed and its output is the exception's type name (a refusal is an
    answer).

    >>> import asyncio
    >>> from proofs.harness.vtime import run
    >>> rec = Recorder()
    >>> async def double(x: int) -> int:
    ...     await asyncio.sleep(0)
    ...     return 2 * x
    >>> run(rec.call(0, "double", 21, lambda: double(21)))
    42
    >>> [op.describe() for op in rec.history().operations]
    ['process 0 double 21 -> 42']
    """

    outcomes: tuple[type[BaseException], ...] = ()
    _clock: itertools.count[int] = field(default_factory=itertools.count, init=False)
    _ops: list[Operation] = field(default_factory=list, init=False)
    _open: dict[int, tuple[Hashable, str, Any, Hashable]] = field(
        default_factory=dict, init=False
    )

    async def call(
        self,
        process: Hashable,
        f: str,
        value: Any,
        action: Callable[[], Awaitable[T]],
        *,
        key: Hashable = None,
        output: Callable[[T], Any] | None = None,
    ) -> T:
        """Invoke ``action()``, record the operation, and return its result.

        ``output`` turns the result into the value recorded (for example a
        snapshot of instances into a frozenset of ids).
        """
        ticket = self.begin(process, f, value, key=key)
        try:
            result = await action()
        except self.outcomes as exc:
            self.end(ticket, type(exc).__name__)
            raise
        except BaseException:
            self.abandon(ticket)
            raise
        self.end(ticket, output(result) if output is not None else result)
        return result

    def begin(
        self, process: Hashable, f: str, value: Any, *, key: Hashable = None
    ) -> int:
        """Record an invocation now; returns the ticket to end it with.

        For operations whose invocation and completion are not one await
        apart (an admission decided inside a library call, say). An
        operation begun and never ended is indeterminate.
        """
        ticket = next(self._clock)
        self._open[ticket] = (process, f, value, key)
        return ticket

    def end(self, ticket: int, output: Any) -> None:
        """Record the completion of the operation ``ticket`` with ``output``."""
        process, f, value, key = self._open.pop(ticket)
        self._add(process, f, value, output, "ok", ticket, key)

    def abandon(self, ticket: int) -> None:
        """Record that the operation ``ticket`` ended with no known outcome."""
        process, f, value, key = self._open.pop(ticket)
        self._add(process, f, value, UNKNOWN, "info", ticket, key)

    def _add(
        self,
        process: Hashable,
        f: str,
        value: Any,
        output: Any,
        status: Status,
        call: int,
        key: Hashable,
    ) -> None:
        ret = None if status == "info" else next(self._clock)
        self._ops.append(
            Operation(
                id=len(self._ops),
                process=process,
                f=f,
                value=value,
                output=output,
                status=status,
                call=call,
                ret=ret,
                key=key,
            )
        )

    def history(self, source: str = "<recorded>") -> History:
        """The operations so far, in order of invocation.

        Operations begun and not yet ended are included as indeterminate.
        """
        pending = [
            Operation(0, process, f, value, UNKNOWN, "info", call, None, key)
            for call, (process, f, value, key) in self._open.items()
        ]
        ordered = sorted([*self._ops, *pending], key=lambda op: op.call)
        return History(source, tuple(replace(op, id=n) for n, op in enumerate(ordered)))
