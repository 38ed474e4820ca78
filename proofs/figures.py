r"""The report's figures: what the theorems look like as curves.

Each figure is drawn from code that exists in this checkout, never from
numbers typed in here:

``availability-redundancy`` (T4.2)
    ``spec.quality.redundant_availability`` for several single-replica
    availabilities A, as "nines" against the number of replicas, beside the
    common-cause model that shows what independence buys. Measured points of
    the implementation, with their confidence intervals, are drawn when an
    obligation of the report records them as a ``measurements`` form with
    ``figure="availability-redundancy"`` and the columns ``A``, ``n``,
    ``measured``, ``low``, ``high`` (see :mod:`proofs.verdict`).
``load-spread`` (T2.2)
    How far the busiest or idlest instance strays from its fair share as
    picks accumulate, for round robin, smooth weighted round robin, random
    choice and power of two choices, run on ``spec.balancing``.
``breaker-timeline`` (T2.3)
    The states of ``impl.breaker.CircuitBreaker`` during a recorded run on the
    virtual-time loop against a dependency that fails for a while.
``scalability-fit`` (T4.1)
    The universal scalability law fitted by least squares to the published
    benchmark in the reference data, beside ideal linear scaling.

A figure whose inputs are not in this checkout (a module not yet written, the
reference data absent) is omitted, and its record says why; it is never drawn
from made-up numbers.

Reproducibility: the Agg backend, text drawn as paths (so no font is needed to
view a figure), a fixed hash salt for SVG ids, no date or software version in
the metadata, fixed seeds for every random choice. Two runs give the same
bytes.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import math
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure as MplFigure

from proofs.verdict import JSONValue, table_form

Document = dict[str, Any]

#: Matplotlib settings that make output independent of the machine.
RC: dict[str, Any] = {
    "svg.hashsalt": "mstheory",
    "svg.fonttype": "path",
    "font.family": "DejaVu Sans",
    "font.size": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.dpi": 100,
    "path.simplify": False,
}

#: Colours that stay apart for readers with a colour-vision deficiency.
PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9")


@dataclass(frozen=True)
class FigureRecord:
    """What the report says about one figure, drawn or not."""

    id: str
    entry: str
    title: str
    caption: str
    #: Path relative to the report directory, or None when omitted.
    file: str | None
    #: Short description of the picture for readers who cannot see it.
    alt: str = ""
    #: Why the figure is missing or incomplete; empty when nothing is.
    note: str = ""
    #: The numbers behind the picture, as a ``table`` form.
    data: JSONValue = None

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "id": self.id,
            "entry": self.entry,
            "title": self.title,
            "caption": self.caption,
            "file": self.file,
            "alt": self.alt,
            "note": self.note,
            "data": self.data,
        }


class Omitted(Exception):
    """The figure's inputs are not available; the message says which."""


@dataclass
class _Drawn:
    figure: MplFigure
    caption: str
    alt: str
    note: str = ""
    data: JSONValue = None
    extra: dict[str, Any] = field(default_factory=dict)


def _available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def _need(module: str, *names: str) -> Any:
    if not _available(module):
        raise Omitted(f"the module {module} is not part of this build")
    mod = importlib.import_module(module)
    missing = [n for n in names if not hasattr(mod, n)]
    if missing:
        raise Omitted(f"{module} does not define {', '.join(missing)}")
    return mod


def _save(fig: MplFigure, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(
        path,
        format="svg",
        metadata={"Date": None, "Creator": None, "Format": None, "Type": None},
        bbox_inches="tight",
        pad_inches=0.1,
    )
    plt.close(fig)
    # The DOCTYPE names a DTD on the web; nothing needs it, and a report that
    # opens offline should not even mention a remote resource.
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"<!DOCTYPE svg[^>]*>\n", "", text, count=1)
    path.write_text(text, encoding="utf-8", newline="\n")


def _new(width: float = 7.0, height: float = 4.2) -> tuple[MplFigure, Any]:
    fig, ax = plt.subplots(figsize=(width, height), layout="constrained")
    return fig, ax


# Availability against redundancy ---------------------------------------------

AVAILABILITIES = (Fraction(1, 2), Fraction(9, 10), Fraction(99, 100))
MAX_REPLICAS = 6
BETA = Fraction(1, 10)


def _nines(a: Fraction | float) -> float:
    return -math.log10(1 - float(a)) if a < 1 else math.inf


def _measured_rows(doc: Document) -> list[dict[str, Any]]:
    rows = []
    for ob in doc.get("obligations", ()):
        for value in (ob.get("evidence"), ob.get("counterexample")):
            if (
                isinstance(value, dict)
                and value.get("kind") == "measurements"
                and value.get("figure") == "availability-redundancy"
            ):
                columns = list(value["columns"])
                if not {"A", "n", "measured", "low", "high"} <= set(columns):
                    continue
                for row in value["rows"]:
                    rows.append(
                        {**dict(zip(columns, row, strict=True)), "by": ob["id"]}
                    )
    return rows


def availability_redundancy(doc: Document) -> _Drawn:
    q = _need("spec.quality", "redundant_availability", "common_cause_availability")
    ns = list(range(1, MAX_REPLICAS + 1))
    fig, ax = _new()
    table: list[list[JSONValue]] = []
    for colour, a in zip(PALETTE, AVAILABILITIES, strict=False):
        values = [q.redundant_availability(a, n) for n in ns]
        ax.plot(
            ns,
            [_nines(v) for v in values],
            "o-",
            color=colour,
            label=f"A = {float(a):g}, independent",
        )
        for n, v in zip(ns, values, strict=True):
            table.append([f"{float(a):g}", n, "independent", f"{float(v):.12f}"])
    a = AVAILABILITIES[-1]
    shared = [q.common_cause_availability(a, n, beta=BETA) for n in ns]
    ax.plot(
        ns,
        [_nines(v) for v in shared],
        "s--",
        color=PALETTE[3],
        label=f"A = {float(a):g}, common cause β = {float(BETA):g}",
    )
    for n, v in zip(ns, shared, strict=True):
        table.append(
            [
                f"{float(a):g}",
                n,
                f"common cause, beta {float(BETA):g}",
                f"{float(v):.12f}",
            ]
        )

    measured = _measured_rows(doc)
    if measured:
        xs = [float(r["n"]) for r in measured]
        ys = [_nines(float(r["measured"])) for r in measured]
        lo = [y - _nines(float(r["low"])) for r, y in zip(measured, ys, strict=True)]
        hi = [_nines(float(r["high"])) - y for r, y in zip(measured, ys, strict=True)]
        ax.errorbar(
            xs,
            ys,
            yerr=[lo, hi],
            fmt="D",
            color="black",
            capsize=4,
            label="implementation, measured",
        )
        note = ""
        sources = sorted({r["by"] for r in measured})
        measured_text = (
            " Black diamonds: the implementation's failover client, measured, with "
            f"confidence intervals (from {', '.join(sources)})."
        )
    else:
        note = (
            "Measured points of the implementation are not yet available: no "
            "obligation in this report recorded them."
        )
        measured_text = ""

    ax.set_xlabel("replicas n (any one suffices)")
    ax.set_ylabel("nines of availability, −log₁₀(1 − Aₙ)")
    ax.set_xticks(ns)
    ax.legend(loc="upper left", frameon=False)
    ax.set_title("Availability through redundancy: 1 − (1 − A)ⁿ")
    caption = (
        "Each added replica multiplies the unavailability by 1 − A, so with "
        "independent failures the nines grow linearly in n. When a tenth of each "
        "replica's downtime is a shock shared by all (the common-cause model), "
        "the curve stops where the shock alone leaves the system: with A = 0.99 "
        "and β = 0.1 the shock is down a thousandth of the time, three nines, "
        "however many replicas are added." + measured_text
    )
    return _Drawn(
        fig,
        caption,
        alt="Nines of availability against the number of replicas: straight "
        "rising lines for independent replicas, a flat dashed line for "
        "replicas with a common cause.",
        note=note,
        data=table_form(["A", "n", "model", "availability"], table),
    )


# The universal scalability law over published data ---------------------------


def usl(n: Any, lam: float, sigma: float, kappa: float) -> Any:
    """Throughput at concurrency ``n`` under the universal scalability law."""
    return lam * n / (1 + sigma * (n - 1) + kappa * n * (n - 1))


def scalability_fit(doc: Document) -> _Drawn:
    import numpy as np
    from scipy.optimize import curve_fit  # type: ignore[import-untyped]

    from proofs.data import vectors
    from proofs.obligation import MissingDataError

    try:
        data = vectors()["universal_scalability_law"]
    except (MissingDataError, KeyError) as exc:
        raise Omitted(f"the reference data is absent ({exc})") from exc
    law, whose = usl, "written out in proofs.figures"
    if _available("spec.scaling"):
        scaling = importlib.import_module("spec.scaling")
        if hasattr(scaling, "usl_throughput"):
            law, whose = scaling.usl_throughput, "as spec.scaling states it"
    ns = np.array(data["N"], dtype=float)
    xs = np.array(data["X"], dtype=float)
    start = (xs[0], 0.01, 0.0001)
    params, _cov = curve_fit(law, ns, xs, p0=start, bounds=(0, np.inf))
    lam, sigma, kappa = (float(p) for p in params)
    peak = math.sqrt((1 - sigma) / kappa)
    published = data["expected_fit"]

    fig, ax = _new()
    grid = np.linspace(1, float(ns.max()) * 1.15, 240)
    ideal = grid[grid * lam <= xs.max() * 1.6]
    ax.plot(
        ideal,
        lam * ideal,
        ":",
        color=PALETTE[2],
        label="ideal scaling X = λN (σ = κ = 0)",
    )
    ax.plot(
        grid,
        law(grid, lam, sigma, kappa),
        "-",
        color=PALETTE[0],
        label=f"fitted law: σ = {sigma:.4g}, κ = {kappa:.4g}, λ = {lam:.4g}",
    )
    ax.plot(ns, xs, "o", color="black", label="published measurements")
    ax.axvline(peak, color=PALETTE[1], linestyle="--", linewidth=1)
    ax.annotate(
        f"peak at N ≈ {peak:.1f}",
        (peak, float(xs.max()) * 0.55),
        xytext=(6, 0),
        textcoords="offset points",
        color=PALETTE[1],
    )
    ax.set_xlabel("concurrency N (processors, clients)")
    ax.set_ylabel("throughput X(N)")
    ax.set_ylim(0, float(xs.max()) * 1.6)
    ax.legend(loc="lower right", frameon=False)
    ax.set_title("The universal scalability law, fitted to a published benchmark")

    rows: list[list[JSONValue]] = [
        [int(n), float(x), round(float(law(n, lam, sigma, kappa)), 1)]
        for n, x in zip(ns, xs, strict=True)
    ]
    caption = (
        f"X(N) = λN / (1 + σ(N − 1) + κN(N − 1)), the law {whose}, fitted by "
        f"nonlinear least squares (SciPy) to {data['source']}. Fitted here: "
        f"σ = {sigma:.4g}, κ = {kappa:.4g}, λ = {lam:.4g}, peak N = {peak:.2f}; "
        "published: "
        f"σ = {published['sigma']}, κ = {published['kappa']}, "
        f"λ = {published['lambda']}, peak N = {published['peak_N']}. With "
        "contention σ and coherence κ above zero, throughput falls away from "
        "the ideal line and eventually drops: the scale factor is n only when "
        "both are zero."
    )
    return _Drawn(
        fig,
        caption,
        alt="Throughput against concurrency: measured points rise, level off "
        "near 1850 and fall slightly; the fitted curve follows them and "
        "peaks near N = 97; the ideal line rises straight.",
        data=table_form(["N", "X published", "X fitted"], rows),
    )


# Load spread against picks ---------------------------------------------------

SPREAD_INSTANCES = ("a", "b", "c", "d", "e")
SPREAD_WEIGHTS = {"a": 4, "b": 2, "c": 2, "d": 1, "e": 1}
SPREAD_PICKS = 2_000
SPREAD_SEED = 20240


def load_spread(doc: Document) -> _Drawn:
    b = _need(
        "spec.balancing",
        "Peer",
        "RoundRobinState",
        "round_robin",
        "SmoothState",
        "smooth_weighted",
        "power_of_two",
        "random_choice",
    )
    policies = _balancing_policies(b)
    checkpoints = sorted({round(10 ** (k / 8)) for k in range(0, 8 * 4)})
    checkpoints = [c for c in checkpoints if c < SPREAD_PICKS] + [SPREAD_PICKS]
    fig, ax = _new()
    rows: list[list[JSONValue]] = []
    for colour, (label, shares, pick) in zip(PALETTE, policies, strict=False):
        counts = dict.fromkeys(SPREAD_INSTANCES, 0)
        spread = []
        worst = 0.0
        at = 0
        for k in range(1, SPREAD_PICKS + 1):
            counts[pick(counts)] += 1
            worst = max(
                worst, *(abs(counts[i] - shares[i] * k) for i in SPREAD_INSTANCES)
            )
            if k == checkpoints[at]:
                spread.append(worst)
                at += 1
        ax.plot(checkpoints, spread, "-", color=colour, label=label)
        for k, d in zip(checkpoints, spread, strict=True):
            if k in (10, 100, 1000, SPREAD_PICKS):
                rows.append([label, k, round(float(d), 3)])
    ax.set_xscale("log")
    ax.set_yscale("symlog", linthresh=1)
    ax.set_ylim(0, None)
    ax.set_xlabel("picks k")
    ax.set_ylabel("worst |loadᵢ − shareᵢ · j| over instances i and j ≤ k")
    ax.axhline(1, color="#777777", linewidth=0.8, linestyle=":")
    ax.legend(loc="upper left", frameon=False)
    ax.set_title("How far a balancer strays from fair shares")
    caption = (
        "The policies of spec.balancing, each making 2,000 picks among five "
        "instances whose calls never finish, so an instance's load is the "
        "number of times it was picked. Smooth weighted round robin has weights "
        "4, 2, 2, 1, 1 (share = weight / 10); the others have equal shares. "
        "The curve at k is the worst deviation from fair share seen by any "
        "instance in the first k picks. Round robin, and smooth weighted round "
        "robin with these weights, stay within a pick of fair share over these "
        "picks (dotted line); that is a fact about the weights drawn, not a "
        "rule: for other weights smooth weighted round robin falls more than a "
        "pick behind (T2.2/swrr-within-one-both-ways). Random choice strays "
        "like a random walk, about √k, so no constant ε bounds it; power of two "
        "choices, which compares the loads of two random instances, stays "
        f"within a few picks. Random draws come from a generator seeded with "
        f"{SPREAD_SEED}."
    )
    return _Drawn(
        fig,
        caption,
        alt="Deviation from fair share against picks on a log scale: below one "
        "for both round robins, small for power of two choices, rising for "
        "random choice.",
        data=table_form(["policy", "picks", "max deviation"], rows),
    )


Picker = Callable[[Mapping[str, int]], str]


def _balancing_policies(b: Any) -> list[tuple[str, Mapping[str, float], Picker]]:
    """Round robin, smooth WRR, random and power of two on ``spec.balancing``.

    Each policy is wrapped as a picker that keeps its own state and random
    source and is told the current loads (picks so far).
    """
    equal = [b.Peer(key) for key in SPREAD_INSTANCES]
    weighted = [b.Peer(key, SPREAD_WEIGHTS[key]) for key in SPREAD_INSTANCES]
    total = sum(SPREAD_WEIGHTS.values())
    fair = {key: 1 / len(SPREAD_INSTANCES) for key in SPREAD_INSTANCES}
    by_weight = {key: SPREAD_WEIGHTS[key] / total for key in SPREAD_INSTANCES}
    n = len(SPREAD_INSTANCES)

    rr_state = [b.RoundRobinState()]

    def rr(loads: Mapping[str, int]) -> str:
        peer, rr_state[0] = b.round_robin(rr_state[0], equal)
        return str(peer.key)

    sw_state = [b.SmoothState()]

    def swrr(loads: Mapping[str, int]) -> str:
        peer, sw_state[0] = b.smooth_weighted(sw_state[0], weighted)
        return str(peer.key)

    uniform = random.Random(SPREAD_SEED)

    def rand(loads: Mapping[str, int]) -> str:
        return str(b.random_choice(equal, uniform.randrange(n)).key)

    pairs = random.Random(SPREAD_SEED)

    def two(loads: Mapping[str, int]) -> str:
        draws = (pairs.randrange(n), pairs.randrange(n - 1))
        return str(b.power_of_two(equal, dict(loads), draws).key)

    return [
        ("round robin", fair, rr),
        ("smooth weighted round robin", by_weight, swrr),
        ("random choice", fair, rand),
        ("power of two choices", fair, two),
    ]


# Breaker state timeline ------------------------------------------------------


#: The recorded run: the dependency fails from FAIL_FROM until FAIL_UNTIL.
RUN_SECONDS = 120
FAIL_FROM, FAIL_UNTIL = 20, 70
THRESHOLD, RECOVERY = 5, 15.0
#: How long the dependency takes to answer, so a probe's half-open is visible.
LATENCY = 0.4
STATE_LEVEL = {"CLOSED": 0, "HALF_OPEN": 1, "OPEN": 2}


class _DependencyDown(Exception):
    """The recorded dependency's failure."""


def _record_breaker_run(
    b: Any, errors: Any
) -> tuple[list[dict[str, Any]], list[tuple[float, str]]]:
    """Call through a real breaker once a second of virtual time.

    Returns the calls (time called, state before, outcome, state after) and the
    state changes (time, new state): from the breaker's listeners when it has
    them, else from the state seen around each call.
    """
    from proofs.harness import vtime

    changes: list[tuple[float, str]] = []

    async def run() -> list[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        breaker = b.CircuitBreaker(
            failure_threshold=THRESHOLD,
            recovery_timeout=RECOVERY,
            expected_exception=_DependencyDown,
        )
        start = loop.time()
        if hasattr(breaker, "add_listener"):

            def listen(event: Any) -> None:
                if getattr(event, "kind", "") != "transition":
                    return
                if event.source != event.target:
                    changes.append((round(event.at - start, 6), event.target.name))

            breaker.add_listener(listen)

        async def dependency() -> str:
            await asyncio.sleep(LATENCY)
            now = loop.time() - start
            if FAIL_FROM <= now < FAIL_UNTIL:
                raise _DependencyDown(f"down at t={now:g}")
            return "ok"

        log = []
        for second in range(RUN_SECONDS + 1):
            await asyncio.sleep(start + second - loop.time())
            called = loop.time() - start
            before = breaker.state.name
            try:
                await breaker.call(dependency)
                outcome = "success"
            except _DependencyDown:
                outcome = "failure"
            except errors.CircuitOpenError:
                outcome = "rejected"
            log.append(
                {
                    "t": round(called, 6),
                    "before": before,
                    "outcome": outcome,
                    "after": breaker.state.name,
                }
            )
        return log

    log: list[dict[str, Any]] = vtime.run(run())
    if not changes:
        changes.extend((e["t"], e["after"]) for e in log if e["before"] != e["after"])
    return log, changes


def breaker_timeline(doc: Document) -> _Drawn:
    b = _need("impl.breaker", "CircuitBreaker", "CircuitBreakerState")
    errors = _need("impl.errors", "CircuitOpenError")
    log, changes = _record_breaker_run(b, errors)
    seen = {e[k] for e in log for k in ("before", "after")} | {c[1] for c in changes}
    unknown = sorted(seen - set(STATE_LEVEL))
    if unknown:
        raise Omitted(
            f"the recorded run entered states this figure cannot place: "
            f"{', '.join(unknown)}"
        )

    fig, (ax, strip) = plt.subplots(
        2,
        1,
        figsize=(7.0, 4.2),
        sharex=True,
        layout="constrained",
        gridspec_kw={"height_ratios": (3, 1)},
    )
    ax.axvspan(FAIL_FROM, FAIL_UNTIL, color=PALETTE[1], alpha=0.12, linewidth=0)
    ax.text(
        (FAIL_FROM + FAIL_UNTIL) / 2,
        2.25,
        "dependency failing",
        ha="center",
        color=PALETTE[1],
    )
    end = float(log[-1]["t"]) + LATENCY
    times = [0.0] + [t for t, _ in changes] + [end]
    levels = [STATE_LEVEL[log[0]["before"]]]
    levels += [STATE_LEVEL[state] for _, state in changes]
    levels.append(levels[-1])
    ax.step(times, levels, where="post", color=PALETTE[0], linewidth=2)
    ax.set_yticks(list(STATE_LEVEL.values()), ["closed", "half-open", "open"])
    ax.set_ylim(-0.4, 2.6)
    ax.set_ylabel("breaker state")
    ax.set_title("A circuit breaker through an outage, recorded in virtual time")
    styles = {
        "success": (PALETTE[2], "o", "succeeded"),
        "failure": (PALETTE[1], "x", "failed at the dependency"),
        "rejected": ("#777777", "|", "rejected without a call"),
    }
    for row, (outcome, (colour, marker, label)) in enumerate(styles.items()):
        ts = [e["t"] for e in log if e["outcome"] == outcome]
        strip.plot(
            ts,
            [row] * len(ts),
            marker,
            color=colour,
            markersize=5,
            linestyle="none",
            label=label,
        )
    strip.set_yticks(range(len(styles)), [s[2].split()[0] for s in styles.values()])
    strip.set_ylim(-0.6, len(styles) - 0.4)
    strip.set_xlabel("time, seconds (one call per second)")
    strip.grid(False)

    counts = {k: sum(e["outcome"] == k for e in log) for k in styles}
    during = [e for e in log if FAIL_FROM <= e["t"] < FAIL_UNTIL]
    reached = sum(1 for e in during if e["outcome"] != "rejected")
    outage = FAIL_UNTIL - FAIL_FROM
    bound = THRESHOLD + math.ceil(outage / RECOVERY)
    closed_again = next(
        (t for t, state in changes if t >= FAIL_UNTIL and state == "CLOSED"), None
    )
    late = (
        f" The breaker closes again at t = {closed_again:g} s, at the first probe "
        f"after the dependency recovered: {closed_again - FAIL_UNTIL:g} s of "
        "rejections were the price of probing only once per recovery timeout."
        if closed_again is not None
        else ""
    )
    caption = (
        f"impl.breaker.CircuitBreaker with failure_threshold = {THRESHOLD} and "
        f"recovery_timeout = {RECOVERY:g} s, called once a second on the "
        f"virtual-time loop (each call takes {LATENCY:g} s); "
        f"the dependency fails from t = {FAIL_FROM} s to "
        f"t = {FAIL_UNTIL} s. After {THRESHOLD} consecutive failures the breaker "
        "opens and rejects calls without reaching the dependency; each recovery "
        "timeout later one probe is let through (half-open), which fails and "
        "reopens the breaker until the dependency is back. Of the "
        f"{len(during)} calls made during the {outage} s outage, {reached} reached "
        f"the dependency, within the bound threshold + ⌈T / recovery⌉ × probes "
        f"= {THRESHOLD} + ⌈{outage} / {RECOVERY:g}⌉ × 1 = {bound}; in the whole "
        f"run {counts['rejected']} calls were rejected and {counts['success']} "
        f"succeeded.{late}"
    )
    rows: list[list[JSONValue]] = [
        [e["t"], e["before"].lower(), e["outcome"], e["after"].lower()]
        for e in log
        if e["before"] != e["after"] or e["outcome"] == "failure"
    ]
    return _Drawn(
        fig,
        caption,
        alt="Breaker state against time: closed, then open for most of the "
        "outage with brief half-open probes, closed again after it.",
        data=table_form(["t", "state before", "call", "state after"], rows),
    )


# Assembly --------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    id: str
    entry: str
    title: str
    draw: Callable[[Document], _Drawn]


FIGURES: tuple[Spec, ...] = (
    Spec("load-spread", "T2.2", "Load spread against number of picks", load_spread),
    Spec(
        "breaker-timeline", "T2.3", "Circuit breaker state timeline", breaker_timeline
    ),
    Spec(
        "scalability-fit",
        "T4.1",
        "The scalability law fitted to published data",
        scalability_fit,
    ),
    Spec(
        "availability-redundancy",
        "T4.2",
        "Availability against redundancy",
        availability_redundancy,
    ),
)


def render(
    doc: Document, out: Path, only: Sequence[str] | None = None
) -> list[FigureRecord]:
    """Draw every figure into ``out / "figures"``; records in report order."""
    records = []
    for spec in FIGURES:
        if only is not None and spec.id not in only:
            continue
        relative = f"figures/{spec.id}.svg"
        with matplotlib.rc_context(RC):  # type: ignore[arg-type]
            try:
                drawn = spec.draw(doc)
            except Omitted as why:
                records.append(
                    FigureRecord(
                        spec.id,
                        spec.entry,
                        spec.title,
                        caption="",
                        file=None,
                        note=f"This figure is omitted: {why}.",
                    )
                )
                continue
            _save(drawn.figure, out / relative)
        records.append(
            FigureRecord(
                spec.id,
                spec.entry,
                spec.title,
                caption=drawn.caption,
                file=relative,
                alt=drawn.alt,
                note=drawn.note,
                data=drawn.data,
            )
        )
    return records
