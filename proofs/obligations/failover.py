"""T4.2 on the implementation: the resilient client failing over replicas.

The theorem's formula assumes that any one of n replicas suffices and that
replicas fail independently. Here it is measured on :mod:`impl.client`: in
each trial every replica is down with probability 1 - A, independently; the
client calls the service once, with a retry policy of n attempts and round
robin, so each attempt goes to the next replica. The share of calls that
succeed is compared with 1 - (1 - A)^n within a Wilson interval. The rows
are drawn in the report's availability figure.
"""

from __future__ import annotations

import math
import random
from fractions import Fraction
from typing import Any

from impl.balancing import RoundRobinStrategy
from impl.endpoints import ServiceEndpoint, ServiceInstance
from impl.registry import ServiceRegistry
from impl.resilience import RetryPolicy
from impl.transport import InMemoryTransport, ServiceRequest
from proofs.harness.vtime import run
from proofs.obligation import Method, obligation
from proofs.profiles import Profile
from proofs.verdict import Outcome, Verdict, measurements_form

SUBJECT = "impl.client"

#: Replica availabilities and counts measured (the figure's curves 1/2, 9/10).
CASES = tuple((a, n) for a in (Fraction(1, 2), Fraction(9, 10)) for n in (1, 2, 3))

#: Two-sided 99.9% normal quantile: an interval this wide misses the true
#: share about once in a thousand configurations.
Z = 3.2905


def wilson(successes: int, trials: int, z: float = Z) -> tuple[float, float]:
    """The Wilson score interval for a binomial share."""
    p = successes / trials
    centre = p + z * z / (2 * trials)
    spread = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    scale = 1 + z * z / trials
    return (centre - spread) / scale, (centre + spread) / scale


class _ReplicaDown(RuntimeError):
    """The replica called is down in this trial."""


async def _measure(q: Any, a: Fraction, n: int, trials: int, seed: str) -> int:
    rng = random.Random(seed)
    down: set[str] = set()

    def handler(request: ServiceRequest) -> Any:
        if request.instance_id in down:
            raise _ReplicaDown(request.instance_id)
        return request.instance_id

    registry = ServiceRegistry()
    ids = [f"r{k}" for k in range(n)]
    for k, iid in enumerate(ids):
        endpoint = ServiceEndpoint("127.0.0.1", 9100 + k)
        await registry.register(ServiceInstance("replicated", iid, endpoint))
    retry = RetryPolicy(max_retries=n - 1, base_delay=0.0, max_delay=0.0, jitter=0.0)
    client = q.ResilientMicroserviceClient(
        registry,
        RoundRobinStrategy(),
        retry_policy=retry,
        transport=InMemoryTransport(handler),
    )
    up = 0
    async with client:
        for _ in range(trials):
            down.clear()
            down.update(iid for iid in ids if rng.random() >= a)
            try:
                await client.call_service("replicated", "ping")
            except Exception:  # every replica tried was down
                continue
            up += 1
    return up


@obligation(
    "T4.2/impl-failover-availability",
    reading="On the implementation: a resilient client that retries across n "
    "replicas, each down with probability 1 - A independently, succeeds with "
    "the frequency 1 - (1 - A)^n, within a 99.9% Wilson interval.",
    formal=r"\hat p_n \approx 1 - (1 - A)^n",
    method=Method.SIMULATION,
    expected=Outcome.CHECKED,
    subject=SUBJECT,
    assumptions=(
        "replicas fail independently, each trial afresh",
        "n attempts, round robin: each attempt reaches the next replica",
    ),
)
def _failover(q: Any, profile: Profile) -> Verdict:
    trials = profile.trials
    rows: list[list[Any]] = []
    for a, n in CASES:
        up = run(_measure(q, a, n, trials, f"failover {a} {n}"))
        low, high = wilson(up, trials)
        formula = float(1 - (1 - a) ** n)
        rows.append([str(a), n, up / trials, low, high, formula])
        if not low <= formula <= high:
            return Verdict.refuted(
                "simulation of the resilient client over an in-memory network",
                {
                    "A": str(a),
                    "replicas": n,
                    "trials": trials,
                    "succeeded": up,
                    "99.9% interval": f"[{low:.4f}, {high:.4f}]",
                    "formula 1 - (1 - A)^n": f"{formula:.4f}",
                },
                searched={"configurations": len(rows), "trials each": trials},
            )
    return Verdict.checked(
        "simulation of the resilient client over an in-memory network",
        searched={"configurations": len(rows), "trials each": trials},
        bounds=f"A in {{1/2, 9/10}}, n = 1..3, {trials} trials each",
        evidence=measurements_form(
            ["A", "n", "measured", "low", "high", "formula"],
            rows,
            confidence="99.9% Wilson interval",
            figure="availability-redundancy",
        ),
    )
