"""The ``mstheory`` command.

``mstheory list``
    The catalogue, one line per definition or theorem, with its coverage.
``mstheory verify [--profile P] [--only ID ...]``
    Run obligations with a progress display, then print a verdict table. Exit
    status 0 exactly when every selected obligation reached its expected
    verdict, 1 when one did not, 2 when the command was used wrongly.
``mstheory report [--out DIR] [--profile P] [--only ID ...]``
    Run as ``verify`` does, also run every faulty variant against the
    obligations of its subject, and write ``conformance.json`` and
    ``conformance.md`` (default directory ``reports/``). The default profile
    here is ``ci``, whose output is reproducible byte for byte.
``mstheory check-history --model cas-register|kv FILE ...``
    Decide whether each recorded history (Jepsen log lines or EDN op maps) is
    linearizable; one line per file. Exit status 0 when all are, 1 when one
    is not or is undecided within the budget, 2 when a file cannot be read.
``mstheory registry serve [--host H] [--port P] [--token T]``
    Serve an in-memory service registry over HTTP (default 127.0.0.1:8500)
    until interrupted; see :mod:`impl.registry_server` for its routes. The
    token may come from ``$MSTHEORY_REGISTRY_TOKEN`` instead of the command
    line, where every user of the machine can read it.

Mistakes (an unknown id or profile, an output directory that cannot be
written) are reported in one line, without a traceback.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from proofs import report as report_mod
from proofs.catalogue import ENTRIES, UnknownEntryError
from proofs.obligation import RegistrationError, all_obligations
from proofs.profiles import PROFILES, UnknownProfileError, get_profile
from proofs.runner import (
    Result,
    SelectionError,
    coverage,
    run_mutants,
    run_obligations,
    select,
)


class UsageError(Exception):
    """The command line asked for something that does not exist."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


class TerminalProgress:
    """Progress on stderr: a rewritten line on a terminal, a log line otherwise."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream = stream
        self.live = stream.isatty()
        self.phase = ""
        self.total = 0
        self.done = 0

    def begin(self, phase: str, total: int) -> None:
        self.phase, self.total, self.done = phase, total, 0

    def advance(self, label: str, outcome: str, seconds: float) -> None:
        self.done += 1
        width = len(str(self.total))
        line = (
            f"[{self.done:>{width}}/{self.total}] {self.phase}: {label} "
            f"{outcome} ({seconds:.2f}s)"
        )
        if self.live:
            columns = shutil.get_terminal_size((100, 20)).columns
            self.stream.write("\r\033[K" + line[: columns - 1])
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def end(self) -> None:
        if self.live and self.total:
            self.stream.write("\r\033[K")
            self.stream.flush()


def _parser() -> _Parser:
    parser = _Parser(
        prog="mstheory",
        description="Decide the theorems of microservice architecture by machine.",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("list", help="list the catalogue with its coverage")

    def selection(p: argparse.ArgumentParser, default_profile: str | None) -> None:
        p.add_argument(
            "--profile",
            default=default_profile,
            help=f"effort profile: {', '.join(PROFILES)} (default: "
            + (default_profile or "ci when $CI is set, else dev")
            + ")",
        )
        p.add_argument(
            "--only",
            nargs="+",
            action="extend",
            metavar="ID",
            help="entry ids (T4.2) or obligation ids (T4.2/redundancy-increasing); "
            "may be given more than once",
        )

    def jobs(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--jobs",
            "-j",
            type=_positive_int,
            default=os.cpu_count() or 1,
            help="worker processes (default: one per CPU; output does not "
            "depend on it)",
        )

    verify = sub.add_parser("verify", help="run obligations and print verdicts")
    selection(verify, None)
    jobs(verify)
    rep = sub.add_parser("report", help="run everything and write the report")
    selection(rep, "ci")
    jobs(rep)
    rep.add_argument(
        "--out",
        type=_directory,
        default=Path("reports"),
        help="output directory (default: reports/)",
    )
    history = sub.add_parser(
        "check-history", help="check recorded histories for linearizability"
    )
    history.add_argument("--model", required=True, choices=("cas-register", "kv"))
    history.add_argument(
        "--budget",
        type=_budget,
        default=10.0,
        help="seconds of search per file before answering unknown (default: 10)",
    )
    history.add_argument("files", nargs="+", metavar="FILE")
    registry = sub.add_parser("registry", help="the service registry over HTTP")
    registry_sub = registry.add_subparsers(
        dest="registry_command", required=True, parser_class=_Parser
    )
    serve = registry_sub.add_parser("serve", help="serve a registry until interrupted")
    serve.add_argument("--host", default="127.0.0.1", help="default: 127.0.0.1")
    serve.add_argument("--port", type=int, default=8500, help="default: 8500")
    serve.add_argument(
        "--token",
        default=os.environ.get(TOKEN_VARIABLE),
        help="bearer token required by every route that changes state (default: "
        f"${TOKEN_VARIABLE}, which keeps the token out of the process list)",
    )
    return parser


#: Environment variable read for ``registry serve --token`` when it is not given.
TOKEN_VARIABLE = "MSTHEORY_REGISTRY_TOKEN"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _budget(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(
            f"must be a positive, finite number of seconds, got {text!r}"
        )
    return value


def _directory(text: str) -> Path:
    if not text.strip():
        raise argparse.ArgumentTypeError("the output directory may not be empty")
    return Path(text)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        # The reader went away (``mstheory list | head``): stop quietly, and
        # keep the interpreter from complaining again when it flushes stdout.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except UsageError as exc:
        print(f"mstheory: error: {exc}", file=sys.stderr)
        return 2
    except (
        UnknownEntryError,
        UnknownProfileError,
        SelectionError,
        report_mod.ReportError,
        RegistrationError,
    ) as exc:
        print(f"mstheory: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mstheory: interrupted", file=sys.stderr)
        return 130


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "list":
        return _list()
    if args.command == "check-history":
        from proofs.linearizability import check_files

        return check_files(args.files, args.model, budget=args.budget)
    if args.command == "registry":
        return _serve_registry(args.host, args.port, args.token)

    profile = get_profile(args.profile)
    obligations, notes = select(args.only)
    if args.command == "report":
        report_mod.check_writable(args.out)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)

    progress = TerminalProgress()
    results = run_obligations(obligations, profile, progress, jobs=args.jobs)
    print(_table(results))
    failed = [r for r in results if not r.met]

    if args.command == "report":
        variants = run_mutants(
            profile,
            obligations,
            progress,
            jobs=args.jobs,
            baseline={r.obligation.id: r for r in results},
        )
        doc = report_mod.build(profile, results, variants, all_obligations())
        written = report_mod.write(doc, args.out)
        uncaught = [v.mutant.id for v in variants if not v.caught_by]
        scope = "the selected obligations" if args.only else "any obligation"
        for variant in uncaught:
            print(f"faulty variant {variant} is not caught by {scope}", file=sys.stderr)
        print("wrote " + ", ".join(str(p) for p in written))
        # A partial selection need not catch every variant of its subjects.
        failed_any = bool(failed) or (bool(uncaught) and not args.only)
    else:
        failed_any = bool(failed)

    met = len(results) - len(failed)
    print(
        f"{met} of {len(results)} obligations reached their expected verdict "
        f"(profile {profile.name})"
    )
    return 1 if failed_any else 0


def _serve_registry(host: str, port: int, token: str | None) -> int:
    import asyncio

    from impl.errors import ConfigurationError
    from impl.registry_server import check_token, serve

    def ready(url: str) -> None:
        print(f"registry serving on {url} (Ctrl-C stops it)", flush=True)

    if not 0 <= port <= 65535:
        raise UsageError(f"--port must lie in 0-65535, got {port}")
    try:
        if token == "":
            raise UsageError(
                "--token may not be empty; leave --token out to serve without one"
            )
        if token is not None:
            check_token(token)
        asyncio.run(serve(host, port, token=token, ready=ready))
    except ConfigurationError as exc:
        field = getattr(exc, "field", None)
        message = str(exc).removeprefix(f"{field}: ") if field else str(exc)
        raise UsageError(f"--{field}: {message}" if field else message) from None
    except OSError as exc:
        print(f"mstheory: error: cannot serve on {host}:{port}: {exc}", file=sys.stderr)
        return 2
    return 0


def _list() -> int:
    table = coverage()
    width = max(len(e.title) for e in ENTRIES)
    for entry in ENTRIES:
        obs = table[entry.id]
        cov = (
            f"{len(obs)} obligation{'s' * (len(obs) != 1)}"
            if obs
            else "not yet covered"
        )
        print(f"{entry.id:<5} {entry.kind:<10} {entry.title:<{width}}  {cov}")
    covered = sum(1 for obs in table.values() if obs)
    print(f"{covered} of {len(ENTRIES)} entries covered")
    return 0


#: Width the verdict table wraps its last column to (fixed: the table's text
#: must not depend on the terminal it happens to be printed on).
TABLE_WIDTH = 120


def _singular(name: str) -> str:
    """``search states`` -> ``search state``, ``histories`` -> ``history``."""
    words = name.split()
    for i, word in enumerate(words):
        if word.endswith("ies"):
            words[i] = word[:-3] + "y"
            break
        if word.endswith("s") and not word.endswith("ss"):
            words[i] = word[:-1]
            break
    return " ".join(words)


def _searched_text(searched: Mapping[str, Any]) -> str:
    """``{"examples": 200, "seed": 7}`` as ``200 examples, seed 7``.

    A count is named by a key with a plural word (``examples``, ``search
    states``) and reads number first; any other setting reads name first.
    """
    parts = []
    for key, value in sorted(searched.items()):
        name = key.replace("_", " ")
        plural = any(word.endswith("s") for word in name.split())
        counted = isinstance(value, int) and not isinstance(value, bool) and plural
        if counted and value == 1:
            name = _singular(name)
        parts.append(f"{value} {name}" if counted else f"{name} {value}")
    return ", ".join(parts)


def _table(results: Sequence[Result]) -> str:
    rows = [("obligation", "expected", "verdict", "", "method / bounds")]
    for r in results:
        v = r.verdict
        extra = v.reason or "; ".join(
            part for part in (v.bounds, _searched_text(v.searched)) if part
        )
        rows.append(
            (
                r.obligation.id,
                r.obligation.expected.value,
                v.outcome.value,
                "ok" if r.met else "MISS",
                f"{v.method}: {extra}" if extra else v.method,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    indent = sum(widths) + 2 * len(widths)
    last = max(40, TABLE_WIDTH - indent)
    lines = []
    for n, row in enumerate(rows):
        cells = [row[i].ljust(widths[i]) for i in range(4)]
        wrapped = textwrap.wrap(row[4], last, break_on_hyphens=False) or [""]
        lines.append("  ".join([*cells, wrapped[0]]).rstrip())
        lines.extend(" " * indent + more for more in wrapped[1:])
        if n == 0:
            lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 15)
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
