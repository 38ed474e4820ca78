"""Discovery cost against the number of instances: snapshot versus copy-and-filter.

Registers 10, 1,000 and 10,000 instances of one service (a tenth of them
unhealthy) in two registries and times ``get_healthy_instances`` on each, side
by side in one run:

- ``impl.registry.ServiceRegistry``, which hands out a snapshot maintained per
  change of the service;
- a straightforward registry that, like the theory's sketch, takes a lock,
  copies the instance list and filters it on every call.

Usage (with the package installed, ``pip install -e .``)::

    python benchmarks/bench_registry.py            # full run
    python benchmarks/bench_registry.py --quick    # fewer repetitions

Each figure is the best of several timed batches (the least disturbed by
other work on the machine), in nanoseconds per call. The targets: the
snapshot registry at least 100 times faster at 10,000 instances, and flat
(its 10,000-instance time within a small factor of its 10-instance time).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable

from impl.endpoints import ServiceEndpoint, ServiceInstance
from impl.registry import ServiceRegistry

SIZES = (10, 1_000, 10_000)


class CopyAndFilterRegistry:
    """The straightforward registry: a list per service, copied on each read."""

    def __init__(self) -> None:
        self._services: dict[str, list[ServiceInstance]] = {}
        self._lock = asyncio.Lock()

    async def register(self, instance: ServiceInstance) -> bool:
        async with self._lock:
            listed = self._services.setdefault(instance.service_name, [])
            if any(i.instance_id == instance.instance_id for i in listed):
                return False
            listed.append(instance)
            return True

    async def get_instances(self, service_name: str) -> list[ServiceInstance]:
        async with self._lock:
            return list(self._services.get(service_name, ()))

    async def get_healthy_instances(self, service_name: str) -> list[ServiceInstance]:
        return [i for i in await self.get_instances(service_name) if i.healthy]


def instances(n: int) -> list[ServiceInstance]:
    return [
        ServiceInstance(
            "users",
            f"u{k}",
            ServiceEndpoint("127.0.0.1", 1 + k % 65535),
            status="unhealthy" if k % 10 == 0 else "healthy",
        )
        for k in range(n)
    ]


async def fill(registry: ServiceRegistry | CopyAndFilterRegistry, n: int) -> None:
    if isinstance(registry, ServiceRegistry):
        for instance in instances(n):
            await registry.register(instance)
    else:
        # Registering one at a time is quadratic here (the duplicate check);
        # fill the list directly, since only reads are timed.
        registry._services["users"] = instances(n)


async def per_call_ns(
    read: Callable[[str], Awaitable[object]], *, batches: int, budget: float
) -> float:
    """Best time per call over ``batches`` batches of about ``budget`` s each."""
    calls = 1
    while True:  # size a batch so that it takes about ``budget`` seconds
        started = time.perf_counter()
        for _ in range(calls):
            await read("users")
        if time.perf_counter() - started > budget / 4:
            break
        calls *= 4
    calls = max(1, int(calls * budget / max(time.perf_counter() - started, 1e-9)))
    best = float("inf")
    for _ in range(batches):
        started = time.perf_counter()
        for _ in range(calls):
            await read("users")
        best = min(best, (time.perf_counter() - started) / calls)
    return best * 1e9


async def main(quick: bool) -> int:
    batches, budget = (3, 0.05) if quick else (7, 0.2)
    rows = []
    for n in SIZES:
        snapshot = ServiceRegistry()
        naive = CopyAndFilterRegistry()
        await fill(snapshot, n)
        await fill(naive, n)
        assert len(await snapshot.get_healthy_instances("users")) == len(
            await naive.get_healthy_instances("users")
        )
        fast = await per_call_ns(
            snapshot.get_healthy_instances, batches=batches, budget=budget
        )
        slow = await per_call_ns(
            naive.get_healthy_instances, batches=batches, budget=budget
        )
        rows.append((n, fast, slow))

    print(f"{'instances':>10} {'snapshot ns':>12} {'copy+filter ns':>15} {'ratio':>9}")
    for n, fast, slow in rows:
        print(f"{n:>10,} {fast:>12,.0f} {slow:>15,.0f} {slow / fast:>8,.0f}x")
    flat = rows[-1][1] / rows[0][1]
    ratio = rows[-1][2] / rows[-1][1]
    print(
        f"snapshot at {SIZES[-1]:,} vs {SIZES[0]:,} instances: {flat:.2f}x; "
        f"copy+filter / snapshot at {SIZES[-1]:,}: {ratio:,.0f}x"
    )
    met = ratio >= 100 and flat <= 2
    print("targets (>= 100x at 10,000; flat within 2x):", "met" if met else "NOT met")
    return 0 if met else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    sys.exit(asyncio.run(main(parser.parse_args().quick)))
