"""Selection cost of every balancer at 10, 1,000 and 100,000 instances.

Run from the project root::

    python benchmarks/bench_balancing.py            # about a minute
    python benchmarks/bench_balancing.py --quick    # fewer picks, noisier

Every policy is measured through its public coroutine,
``await strategy.select_instance(snapshot)``, on a tuple snapshot that stays the
same object (as the registry hands out). Least connections, power of two
choices and the adaptive balancer are measured the way a client uses them:
each pick acquires a call and, with eight calls in flight, the oldest is
released (the adaptive one records its duration and outcome). Beside them runs
a straightforward O(n) smooth weighted round robin, the loop nginx runs, in
the same process and the same run, so the ratios compare like with like.

Weights are drawn from 1-10 with a fixed seed. A second weighted row uses a
different weight for every instance (1, 2, ..., n), the worst case for the
weight classes of the kinetic tournament. Figures are microseconds per pick,
the best of three repetitions; the first pick (which builds the order) is
timed separately as the rebuild cost. Wall-clock timing is right here: this
script measures the machine, it decides nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from impl.balancing import (
    AdaptiveLoadBalancer,
    LeastConnectionsStrategy,
    LoadBalancingStrategy,
    PowerOfTwoChoicesStrategy,
    RoundRobinStrategy,
    WeightedRoundRobinStrategy,
    instance_weight,
)
from impl.endpoints import ServiceEndpoint, ServiceInstance

SIZES = (10, 1_000, 100_000)
IN_FLIGHT = 8


class LinearSmoothWeighted:
    """nginx's smooth weighted round robin as nginx writes it: O(n) per pick."""

    def __init__(self) -> None:
        self._snapshot: Sequence[ServiceInstance] | None = None
        self._weights: list[int] = []
        self._current: list[int] = []
        self._total = 0

    async def select_instance(
        self, instances: Sequence[ServiceInstance], request: Any = None
    ) -> ServiceInstance | None:
        if instances is not self._snapshot:
            self._snapshot = instances
            self._weights = [instance_weight(i) for i in instances]
            self._current = [0] * len(instances)
            self._total = sum(self._weights)
        current, weights = self._current, self._weights
        best = 0
        for i in range(len(current)):
            current[i] += weights[i]
            if current[i] > current[best]:
                best = i
        current[best] -= self._total
        return instances[best]


def pool(n: int, weights: Callable[[int], int]) -> tuple[ServiceInstance, ...]:
    return tuple(
        ServiceInstance(
            "bench",
            f"i{i:06d}",
            ServiceEndpoint(
                "127.0.0.1", 1024 + i % 60000, metadata={"weight": weights(i)}
            ),
        )
        for i in range(n)
    )


async def picks_only(strategy: Any, snapshot: Sequence[Any], count: int) -> float:
    select = strategy.select_instance
    start = time.perf_counter()
    for _ in range(count):
        await select(snapshot)
    return time.perf_counter() - start


async def picks_with_calls(
    strategy: LoadBalancingStrategy, snapshot: Sequence[Any], count: int
) -> float:
    select, acquire = strategy.select_instance, strategy.acquire
    open_calls: deque[Any] = deque()
    start = time.perf_counter()
    for _ in range(count):
        instance = await select(snapshot)
        assert instance is not None
        open_calls.append(acquire(instance))
        if len(open_calls) > IN_FLIGHT:
            open_calls.popleft().release(error=False, elapsed=0.01)
    return time.perf_counter() - start


async def measure(
    make: Callable[[], Any], snapshot: Sequence[Any], count: int, calls: bool
) -> tuple[float, float, Any]:
    """(rebuild seconds, best seconds per pick, the strategy)."""
    best = float("inf")
    rebuild = 0.0
    strategy = None
    for _ in range(3):
        strategy = make()
        start = time.perf_counter()
        await strategy.select_instance(snapshot)
        rebuild = time.perf_counter() - start
        run = picks_with_calls if calls else picks_only
        best = min(best, await run(strategy, snapshot, count) / count)
    return rebuild, best, strategy


POLICIES: list[tuple[str, Callable[[], Any], bool]] = [
    ("round robin", RoundRobinStrategy, False),
    ("smooth weighted (kinetic)", WeightedRoundRobinStrategy, False),
    ("least connections", LeastConnectionsStrategy, True),
    ("power of two choices", lambda: PowerOfTwoChoicesStrategy(random.Random(1)), True),
    ("adaptive", AdaptiveLoadBalancer, True),
    ("smooth weighted, O(n) loop", LinearSmoothWeighted, False),
]


async def main(quick: bool) -> None:
    rng = random.Random(2024)
    budget = 20_000 if quick else 100_000
    rows: dict[str, dict[int, tuple[float, float]]] = {}
    events: dict[str, dict[int, float]] = {}
    for n in SIZES:
        drawn = [rng.randint(1, 10) for _ in range(n)]
        mixes = {
            "weights 1-10": pool(n, lambda i, drawn=drawn: drawn[i]),  # type: ignore[misc]
            "distinct weights": pool(n, lambda i: i + 1),
        }
        for name, make, calls in POLICIES:
            linear = "O(n)" in name
            for mix, snapshot in mixes.items():
                if mix == "distinct weights" and "smooth" not in name:
                    continue
                count = max(20, budget // n) if linear else budget // 4 * (1 + quick)
                label = f"{name}, {mix}" if "smooth" in name else name
                rebuild, per_pick, strategy = await measure(
                    make, snapshot, count, calls
                )
                rows.setdefault(label, {})[n] = (rebuild, per_pick)
                state = getattr(strategy, "_pools", {}).get("bench")
                if state is not None and hasattr(state.state, "events"):
                    kinetic = state.state
                    events.setdefault(label, {})[n] = kinetic.events / max(1, kinetic.t)
                print(f"  measured {label} at n = {n}", file=sys.stderr)

    print(f"\nmicroseconds per pick (best of 3), Python {sys.version.split()[0]}\n")
    header = "| policy | " + " | ".join(f"n = {n:,}" for n in SIZES)
    print(header + " | 100,000 / 10 | rebuild at 100,000 |")
    print("|---" * (len(SIZES) + 3) + "|")
    for label, by_n in rows.items():
        cells = " | ".join(f"{by_n[n][1] * 1e6:.2f}" for n in SIZES)
        ratio = by_n[SIZES[-1]][1] / by_n[SIZES[0]][1]
        print(
            f"| {label} | {cells} | {ratio:.2f} | {by_n[SIZES[-1]][0] * 1e3:.0f} ms |"
        )
    print("\nkinetic tournament over O(n) loop, same weights, same run:")
    for mix in ("weights 1-10", "distinct weights"):
        fast = rows[f"smooth weighted (kinetic), {mix}"]
        slow = rows[f"smooth weighted, O(n) loop, {mix}"]
        ratios = ", ".join(f"n = {n:,}: {slow[n][1] / fast[n][1]:.1f}x" for n in SIZES)
        print(f"  {mix}: {ratios}")
    print("\ncertificate failures per pick (kinetic tournament):")
    for label, by_n in events.items():
        figures = ", ".join(f"n = {n:,}: {v:.3f}" for n, v in by_n.items())
        print(f"  {label}: {figures}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer picks")
    asyncio.run(main(parser.parse_args().quick))
