"""How long the linearizability checker takes on the reference histories.

Run from the project root::

    python benchmarks/bench_linearizability.py [--budget SECONDS] [--repeat N]

Checks every history of ``jepsen-etcd/`` against the compare-and-set register
(each with its own time budget, 10 s by default), and the ``kv/`` histories
against the key-value store both split by key and as one search. Prints one
line per history, then the total time for the etcd histories, the slowest one
with its number of search states, how many answered unknown, and whether
every answer matched ``expected.json``. With ``--repeat`` each figure is the
best of N runs, which is steadier on a busy machine.

The targets: all 50 etcd histories within 10 s in total, none unknown under a
10 s budget. Porcupine (Go) checks the original 102 in about 1 s.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from functools import partial

from proofs.data import data_dir
from proofs.histories import read_history
from proofs.linearizability import (
    CAS_REGISTER,
    KV_STORE,
    Answer,
    CheckResult,
    check,
)


def _timed(run: Callable[[], CheckResult], repeat: int) -> tuple[float, CheckResult]:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - started)
    return best, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--budget", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()

    root = data_dir()
    expected = json.loads((root / "jepsen-etcd" / "expected.json").read_text())
    rows = []
    for path in sorted((root / "jepsen-etcd").glob("*.log")):
        history = read_history(path)
        seconds, result = _timed(
            partial(check, history, CAS_REGISTER, budget=args.budget),
            args.repeat,
        )
        rows.append((path.name, seconds, result))
        print(f"{path.name}  {seconds * 1000:8.1f} ms  {result.summary()[:90]}")

    total = sum(seconds for _, seconds, _ in rows)
    slowest = max(rows, key=lambda row: row[1])
    unknown = [name for name, _, r in rows if r.answer is Answer.UNKNOWN]
    wrong = [name for name, _, r in rows if r.ok != expected[name]]
    print()
    print(
        f"etcd: {len(rows)} histories in {total:.2f} s (budget {args.budget:g} s each)"
    )
    print(
        f"slowest: {slowest[0]}, {slowest[1]:.2f} s, "
        f"{slowest[2].states} search states, {slowest[2].answer}"
    )
    print(f"unknown: {len(unknown)} {unknown if unknown else ''}".rstrip())
    print(f"disagreeing with expected.json: {len(wrong)} {wrong if wrong else ''}")

    print()
    for path in sorted((root / "kv").glob("*.txt")):
        history = read_history(path)
        split, by_key = _timed(partial(check, history, KV_STORE), args.repeat)
        whole, at_once = _timed(
            partial(check, history, KV_STORE, split=False, budget=args.budget),
            args.repeat,
        )
        print(
            f"{path.name}: split by key {split * 1000:.1f} ms "
            f"({by_key.states} states, {by_key.answer}); one search "
            f"{whole * 1000:.1f} ms ({at_once.states} states, {at_once.answer}); "
            f"ratio {'at least ' if at_once.answer is Answer.UNKNOWN else ''}"
            f"{whole / split:.0f}"
        )
    return 1 if wrong or unknown else 0


if __name__ == "__main__":
    sys.exit(main())
