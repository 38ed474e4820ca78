r"""Circuit-breaker obligations on the specification: D2.5, D2.6, T1.2, T2.3.

The specification's breaker is a table of rules (:mod:`spec.breaker`). Each
rule's guard and update are written with comparisons and arithmetic only, so
this module applies *the rules themselves* to Z3 terms: a symbolic state, a
symbolic event and a symbolic configuration (threshold, recovery timeout,
probes and success threshold are all unknowns). What Z3 proves about the rules
therefore holds for every configuration, at every time, and for the step
function, which does nothing but find the one applicable rule and apply it.

- D2.5, D2.6: every rule's transition is in the table of legal transitions;
  every other transition is refused with an error naming what was refused;
  on every state satisfying the invariant exactly one rule applies to a
  well-formed event and the invariant is inductive; late (stale) outcomes
  change nothing; cancelled and ignored outcomes only release their permit.
- T1.2: the three named states are not a Markov state (two histories of equal
  length reach the same named state and part on the same event); the full
  state is (the table is functional, and the step function never answers two
  ways for one state and event).
- T2.3: against a dependency that fails every call, the calls admitted in a
  window of length T are at most ``threshold + c - 1 + probes * H`` with
  ``H * recovery <= T`` (``c`` the most calls in flight at once; ``c = 1``
  gives the form ``threshold + floor(T / recovery) * probes``), proved by an
  inductive invariant over real time; a disabled breaker (no breaker) admits
  more; and in a cascading-failure model the breaker lowers the probability of
  the caller's own failure, with confidence intervals from simulation.

The failure-rate policy reads a tuple of outcomes, which Z3 does not model
here; its rules are checked by exhaustive enumeration of small windows.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from types import SimpleNamespace
from typing import Any, ClassVar

import z3

from proofs.obligation import Method, obligation
from proofs.profiles import Profile
from proofs.solvers import prove
from proofs.verdict import JSONValue, Outcome, Verdict

SUBJECT = "spec.breaker"

#: The state fields the Z3 encoding models (the rate window is not one).
FIELDS = ("episode", "failures", "opened_at", "in_flight", "successes")


# The Z3 encoding of the rule table ------------------------------------------

_SORTS: dict[tuple[str, ...], tuple[Any, dict[str, Any]]] = {}


def _enum(name: str, values: Iterable[str]) -> tuple[Any, dict[str, Any]]:
    """An enumeration sort, declared once per set of values (Z3 refuses twice)."""
    key = (name, *values)
    if key not in _SORTS:
        sort, consts = z3.EnumSort(f"{name}{len(_SORTS)}", list(key[1:]))
        _SORTS[key] = (sort, dict(zip(key[1:], consts, strict=True)))
    return _SORTS[key]


def _and(conditions: Iterable[Any]) -> Any:
    items = list(conditions)
    return z3.And(*items) if items else z3.BoolVal(True)


def _or(conditions: Iterable[Any]) -> Any:
    items = list(conditions)
    return z3.Or(*items) if items else z3.BoolVal(False)


class Encoding:
    """The subject's rules over symbolic states, events and configurations."""

    def __init__(self, q: Any) -> None:
        self.q = q
        self.phase_sort, self.P = _enum("Phase", [p.value for p in q.Phase])
        self.kind_sort, self.K = _enum("Kind", sorted(q.EVENT_KINDS))

    def state(self, name: str) -> SimpleNamespace:
        return SimpleNamespace(
            phase=z3.Const(f"{name}.phase", self.phase_sort),
            episode=z3.Int(f"{name}.episode"),
            failures=z3.Int(f"{name}.failures"),
            window=(),
            opened_at=z3.Real(f"{name}.opened_at"),
            in_flight=z3.Int(f"{name}.in_flight"),
            successes=z3.Int(f"{name}.successes"),
        )

    def event(self, name: str) -> SimpleNamespace:
        return SimpleNamespace(
            kind=z3.Const(f"{name}.kind", self.kind_sort),
            now=z3.Real(f"{name}.now"),
            episode=z3.Int(f"{name}.episode"),
        )

    def config(self) -> SimpleNamespace:
        return SimpleNamespace(
            failure_threshold=z3.Int("threshold"),
            recovery_timeout=z3.Real("recovery"),
            half_open_probes=z3.Int("probes"),
            success_threshold=z3.Int("success_threshold"),
            failure_rate=None,
        )

    @staticmethod
    def config_ok(c: Any) -> Any:
        return z3.And(
            c.failure_threshold >= 1,
            c.recovery_timeout > 0,
            c.half_open_probes >= 1,
            c.success_threshold >= 1,
        )

    def is_phase(self, s: Any, *phases: Any) -> Any:
        return _or(s.phase == self.P[p.value] for p in phases)

    def is_kind(self, e: Any, kinds: Iterable[str]) -> Any:
        return _or(e.kind == self.K[k] for k in sorted(kinds))

    def applies(self, rule: Any, s: Any, e: Any, c: Any) -> Any:
        return z3.And(
            s.phase == self.P[rule.source.value],
            self.is_kind(e, rule.events),
            _and(rule.guard(s, e, c)),
        )

    def effect(self, rule: Any, s: Any, e: Any, c: Any, s2: Any) -> Any:
        update = dict(rule.update(s, e, c))
        if update.pop("window", ()) != ():
            raise ValueError(f"rule {rule.name} updates the window, not modelled")
        unknown = set(update) - set(FIELDS)
        if unknown:
            raise ValueError(f"rule {rule.name} updates unmodelled {sorted(unknown)}")
        return _and(
            [
                s2.phase == self.P[rule.target.value],
                *(getattr(s2, f) == update.get(f, getattr(s, f)) for f in FIELDS),
            ]
        )

    def invariant(self, s: Any, c: Any) -> Any:
        return _and(
            z3.Implies(self.is_phase(s, *phases), _and(conditions(s, c)))
            for phases, conditions in self.q.INVARIANT
        )

    def well_formed(self, s: Any, e: Any) -> Any:
        """An outcome names an episode no later than the state's; one of the
        current episode comes from a call in flight; the clock reads >= 0."""
        return z3.And(
            e.episode >= 0,
            e.episode <= s.episode,
            e.now >= 0,
            z3.Implies(
                z3.And(self.is_kind(e, self.q.OUTCOMES), e.episode == s.episode),
                s.in_flight >= 1,
            ),
        )

    def same(self, s: Any, s2: Any, **changed: Any) -> Any:
        return _and(
            [
                s2.phase == s.phase,
                *(getattr(s2, f) == changed.get(f, getattr(s, f)) for f in FIELDS),
            ]
        )


def _consecutive_rules(q: Any) -> tuple[Any, ...]:
    return tuple(q.rules_for(q.Config()))


def _answer_verdict(answer: Any, what: str, extra: dict[str, JSONValue]) -> Verdict:
    if answer.status == "refuted":
        return Verdict.refuted(
            "Z3 over the rule table",
            {**extra, "claim": what, "model": answer.counterexample},
        )
    return Verdict.unknown("Z3", f"{what}: {answer.reason}")


# D2.5 ------------------------------------------------------------------------


@obligation(
    "D2.5/rules-within-table",
    reading="Every rule of the breaker, for each event kind it handles, moves "
    "between a (from, to) pair that the table of legal transitions lists for "
    "that event; the table contains the source's cycle closed -> open -> "
    "half-open -> closed or open.",
    formal=r"\forall r \in \mathrm{Rules},\ k \in r.\mathrm{events}:\ "
    r"k \in \mathrm{Legal}(r.\mathrm{from}, r.\mathrm{to})",
    method=Method.EXHAUSTIVE,
    expected=Outcome.PROVED,
    subject=SUBJECT,
)
def _rules_within_table(q: Any, profile: Profile) -> Verdict:
    checked = 0
    bad = []
    tables = {"consecutive": q.CONSECUTIVE_RULES, "rate": q.RATE_RULES}
    for policy, rules in tables.items():
        for rule in rules:
            for kind in sorted(rule.events):
                checked += 1
                allowed = q.TRANSITIONS.get((rule.source, rule.target), frozenset())
                if kind not in allowed or kind not in q.EVENT_KINDS:
                    bad.append(
                        {
                            "policy": policy,
                            "rule": rule.name,
                            "transition": f"{rule.source.value} -> {rule.target.value}",
                            "event": kind,
                            "table allows": sorted(allowed),
                        }
                    )
    cycle = [
        (q.Phase.CLOSED, q.Phase.OPEN, "failure"),
        (q.Phase.OPEN, q.Phase.HALF_OPEN, "request"),
        (q.Phase.HALF_OPEN, q.Phase.CLOSED, "success"),
        (q.Phase.HALF_OPEN, q.Phase.OPEN, "failure"),
    ]
    for source, target, kind in cycle:
        if kind not in q.TRANSITIONS.get((source, target), frozenset()):
            bad.append(
                {
                    "missing from the table": f"{source.value} -> {target.value}",
                    "event": kind,
                }
            )
    if bad:
        return Verdict.refuted(
            "enumeration of the rule table", bad, searched={"rule events": checked}
        )
    return Verdict.proved(
        "enumeration of every rule and event kind of both rule tables",
        bounds=f"all {checked} (rule, event kind) pairs",
    )


# D2.6 ------------------------------------------------------------------------


@obligation(
    "D2.6/illegal-transitions-refused",
    reading="For every pair of phases and every event kind, the transition check "
    "accepts exactly the transitions the table lists and refuses every other "
    "with an error that names the breaker, both phases and the event.",
    method=Method.EXHAUSTIVE,
    expected=Outcome.PROVED,
    subject=SUBJECT,
)
def _illegal_refused(q: Any, profile: Profile) -> Verdict:
    bad = []
    triples = 0
    for source, target in itertools.product(q.Phase, repeat=2):
        for kind in sorted(q.EVENT_KINDS):
            triples += 1
            legal = kind in q.TRANSITIONS.get((source, target), frozenset())
            try:
                q.check_transition("payments", source, target, kind)
            except q.IllegalTransition as exc:
                message = str(exc)
                missing = [
                    part
                    for part in ("payments", source.value, target.value, kind)
                    if part not in message
                ]
                if legal:
                    bad.append(
                        {
                            "transition": f"{source.value} -> {target.value}",
                            "event": kind,
                            "problem": "listed in the table but refused",
                        }
                    )
                elif missing:
                    bad.append(
                        {
                            "transition": f"{source.value} -> {target.value}",
                            "event": kind,
                            "problem": f"the error does not name {missing}",
                            "error": message,
                        }
                    )
                continue
            if not legal:
                bad.append(
                    {
                        "transition": f"{source.value} -> {target.value}",
                        "event": kind,
                        "problem": "not in the table but accepted",
                    }
                )
    if bad:
        return Verdict.refuted(
            "enumeration of all transitions", bad[:5], searched={"triples": triples}
        )
    return Verdict.proved(
        "enumeration of every (from, to, event) triple",
        bounds=f"all {triples} triples of {len(q.Phase)} phases and "
        f"{len(q.EVENT_KINDS)} event kinds",
    )


def _rate_rules_exhaustive(q: Any, max_window: int) -> tuple[str | None, int]:
    """Exactly one rate-policy rule applies to each closed-phase outcome."""
    cases = 0
    for window in range(1, max_window + 1):
        for min_calls in range(1, window + 1):
            for rate in (Fraction(1, 4), Fraction(1, 2), Fraction(3, 4), Fraction(1)):
                c = q.Config(failure_rate=rate, window=window, min_calls=min_calls)
                rules = q.rules_for(c)
                for n in range(window + 1):
                    for outcomes in itertools.product((False, True), repeat=n):
                        s = q.BreakerState(window=outcomes, in_flight=1)
                        for kind in sorted(q.OUTCOMES):
                            cases += 1
                            e = q.outcome(kind, 0, 1)
                            found = q.applicable(s, e, c, rules)
                            if len(found) != 1:
                                return (
                                    f"rate {rate}, window {window}, min_calls "
                                    f"{min_calls}, outcomes {list(outcomes)}, "
                                    f"{kind}: rules {[r.name for r in found]}"
                                ), cases
    return None, cases


@obligation(
    "D2.6/transition-is-a-function",
    reading="On every state satisfying the breaker's invariant and every "
    "well-formed event (an outcome names an episode no later than the "
    "state's), exactly one rule applies, and the state it produces satisfies "
    "the invariant again; so the breaker is a total function State x Event -> "
    "State on its reachable states, for every configuration.",
    formal=r"\forall s, e, c:\ \mathrm{Inv}(s) \land \mathrm{WF}(s, e) "
    r"\Rightarrow \exists!\, r:\ r \text{ applies} \land "
    r"\mathrm{Inv}(r(s, e))",
    method=Method.Z3,
    expected=Outcome.PROVED,
    subject=SUBJECT,
    assumptions=("the clock never reads below 0",),
)
def _transition_function(q: Any, profile: Profile) -> Verdict:
    enc = Encoding(q)
    s, s2, e, c = enc.state("s"), enc.state("next"), enc.event("e"), enc.config()
    pre = (enc.config_ok(c), enc.invariant(s, c), enc.well_formed(s, e))
    rules = _consecutive_rules(q)
    timeout = profile.solver_timeout_ms
    queries = 0

    queries += 1
    total = prove(
        _or(enc.applies(r, s, e, c) for r in rules), assumptions=pre, timeout_ms=timeout
    )
    if not total.proved:
        return _answer_verdict(total, "some rule applies", {})

    for r1, r2 in itertools.combinations(rules, 2):
        if r1.source is not r2.source or not (r1.events & r2.events):
            continue
        queries += 1
        answer = prove(
            z3.Not(z3.And(enc.applies(r1, s, e, c), enc.applies(r2, s, e, c))),
            assumptions=pre,
            timeout_ms=timeout,
        )
        if not answer.proved:
            return _answer_verdict(
                answer, "at most one rule applies", {"rules": [r1.name, r2.name]}
            )

    for rule in rules:
        queries += 1
        answer = prove(
            enc.invariant(s2, c),
            assumptions=(
                *pre,
                enc.applies(rule, s, e, c),
                enc.effect(rule, s, e, c, s2),
            ),
            timeout_ms=timeout,
        )
        if not answer.proved:
            return _answer_verdict(
                answer, "the rule keeps the invariant", {"rule": rule.name}
            )

    problem, cases = _rate_rules_exhaustive(q, max_window=min(4, profile.max_n))
    if problem is not None:
        return Verdict.refuted(
            "enumeration of the failure-rate rules",
            {"claim": "exactly one rule applies", "case": problem},
            searched={"cases": cases},
        )
    return Verdict.proved(
        "Z3 over the consecutive-failure rule table; enumeration for the "
        "failure-rate rules",
        bounds="consecutive policy: all states, events and configurations; "
        f"rate policy: windows up to {min(4, profile.max_n)} ({cases} cases)",
        detail=f"{queries} Z3 queries: totality, pairwise exclusion of rules "
        "with a common source and event, and preservation of the invariant by "
        "each rule. The rules common to both policies are covered by Z3.",
    )


def _outcome_queries(
    q: Any, profile: Profile, kinds: frozenset[str], stale: bool
) -> tuple[Verdict | None, int]:
    enc = Encoding(q)
    s, s2, e, c = enc.state("s"), enc.state("next"), enc.event("e"), enc.config()
    episode = e.episode < s.episode if stale else e.episode == s.episode
    pre = (
        enc.config_ok(c),
        enc.invariant(s, c),
        enc.well_formed(s, e),
        enc.is_kind(e, kinds),
        episode,
    )
    queries = 0
    for rule in _consecutive_rules(q):
        if not rule.events & kinds:
            continue
        queries += 1
        expected = (
            enc.same(s, s2) if stale else enc.same(s, s2, in_flight=s.in_flight - 1)
        )
        answer = prove(
            expected,
            assumptions=(
                *pre,
                enc.applies(rule, s, e, c),
                enc.effect(rule, s, e, c, s2),
            ),
            timeout_ms=profile.solver_timeout_ms,
        )
        if not answer.proved:
            what = (
                "a stale outcome changes nothing"
                if stale
                else "a neutral outcome only releases its permit"
            )
            return _answer_verdict(answer, what, {"rule": rule.name}), queries
    return None, queries


def _trip_configs(q: Any) -> Iterator[Any]:
    for threshold in (1, 2, 3):
        yield q.Config(failure_threshold=threshold, recovery_timeout=10)
    rates = (Fraction(1, 4), Fraction(1, 3), Fraction(1, 2), Fraction(2, 3), 1)
    for window in (2, 3, 4):
        for min_calls in range(1, window + 1):
            for rate in rates:
                yield q.Config(
                    recovery_timeout=10,
                    failure_rate=Fraction(rate),
                    window=window,
                    min_calls=min_calls,
                )


def _should_trip(config: Any, failed: list[bool]) -> bool:
    """The trip policy read from its definition, on the outcomes so far."""
    if config.failure_rate is None:
        tail = failed[-config.failure_threshold :]
        return len(tail) == config.failure_threshold and all(tail)
    window = failed[-config.window :]
    share_reached = sum(window) >= config.failure_rate * len(window)
    return len(window) >= config.min_calls and bool(share_reached)


#: Longest run of outcomes tried on each trip policy.
TRIP_RUN = 6


@obligation(
    "D2.6/trips-exactly-when-the-policy-says",
    reading="A closed breaker opens on the very failure at which its trip "
    "policy is met, and not before: at failure_threshold consecutive "
    "failures, or, by failure rate, when the last window outcomes number at "
    "least min_calls and their share of failures reaches the rate (equality "
    "included). A success never opens it.",
    formal=r"\mathrm{open}_k \iff \exists j \le k:\ f_j \wedge "
    r"\frac{|\{i \in W_j : f_i\}|}{|W_j|} \ge \rho \wedge |W_j| \ge m",
    method=Method.EXHAUSTIVE,
    expected=Outcome.CHECKED,
    subject=SUBJECT,
    assumptions=("one call at a time; outcomes are successes or failures",),
)
def _trips_exactly(q: Any, profile: Profile) -> Verdict:
    configs = runs = 0
    for config in _trip_configs(q):
        configs += 1
        for length in range(1, TRIP_RUN + 1):
            for pattern in itertools.product((False, True), repeat=length):
                runs += 1
                s = q.BreakerState()
                failed: list[bool] = []
                for fail in pattern:
                    admitted, s = q.step(s, q.request(0), config)
                    kind = "failure" if fail else "success"
                    _, s = q.step(s, q.outcome(kind, admitted.episode, 0), config)
                    failed.append(fail)
                    # Only a failure can trip a breaker: a success that leaves
                    # the share at the rate does not open it.
                    want = fail and _should_trip(config, failed)
                    got = s.phase is q.Phase.OPEN
                    if got != want:
                        return Verdict.refuted(
                            "exhaustive enumeration of outcome runs",
                            {
                                "policy": _policy_text(config),
                                "outcomes": [
                                    "failure" if f else "success" for f in failed
                                ],
                                "breaker": "open" if got else "closed",
                                "policy says": "open" if want else "closed",
                            },
                            searched={"policies": configs, "runs": runs},
                        )
                    if got:
                        break
    return Verdict.checked(
        "exhaustive enumeration of outcome runs",
        searched={"policies": configs, "runs": runs},
        bounds=f"every run of 1-{TRIP_RUN} successes and failures, one call at "
        "a time, on thresholds 1-3 and on every rate policy with windows 2-4, "
        "any min_calls and rates 1/4, 1/3, 1/2, 2/3, 1",
    )


def _policy_text(config: Any) -> str:
    if config.failure_rate is None:
        return f"{config.failure_threshold} consecutive failures"
    return (
        f"failure share >= {config.failure_rate} of the last {config.window} "
        f"outcomes, at least {config.min_calls} of them"
    )


@obligation(
    "D2.6/stale-outcomes-change-nothing",
    reading="An outcome of a call admitted in an earlier episode (a call that "
    "was still running when the breaker changed state) leaves the whole state "
    "as it was: a late failure cannot extend a break, trip a breaker that "
    "closed since, or reopen one; a late success cannot close one.",
    formal=r"e.\mathrm{episode} < s.\mathrm{episode} \Rightarrow "
    r"\delta(s, e) = s",
    method=Method.Z3,
    expected=Outcome.PROVED,
    subject=SUBJECT,
)
def _stale_outcomes(q: Any, profile: Profile) -> Verdict:
    failed, queries = _outcome_queries(q, profile, q.OUTCOMES, stale=True)
    if failed is not None:
        return failed
    return Verdict.proved(
        "Z3 over the rule table",
        bounds="all states, outcome kinds, episodes and configurations",
        detail=f"{queries} rules handle outcomes; each was shown to leave a "
        "stale outcome's state unchanged.",
    )


@obligation(
    "D2.6/neutral-outcomes-release-only",
    reading="A cancelled call, and a call that raised an exception the breaker "
    "does not count (ignored), release their permit and change nothing else: "
    "neither success nor failure.",
    formal=r"e \in \{\mathrm{cancelled}, \mathrm{ignored}\},\ "
    r"e.\mathrm{episode} = s.\mathrm{episode} \Rightarrow "
    r"\delta(s, e) = s[\mathrm{in\_flight} := \mathrm{in\_flight} - 1]",
    method=Method.Z3,
    expected=Outcome.PROVED,
    subject=SUBJECT,
)
def _neutral_outcomes(q: Any, profile: Profile) -> Verdict:
    failed, queries = _outcome_queries(q, profile, q.NEUTRAL, stale=False)
    if failed is not None:
        return failed
    return Verdict.proved(
        "Z3 over the rule table",
        bounds="all states and configurations",
        detail=f"{queries} rules handle cancelled or ignored outcomes.",
    )


# T1.2 ------------------------------------------------------------------------

#: One tick each: a call that succeeds, a call that fails, or nothing.
_TICKS = ("call succeeds", "call fails", "idle")


def _tick(q: Any, c: Any, s: Any, now: int, what: str) -> Any:
    """One tick of a sequential caller: the call (if any) begins and ends now."""
    if what == "idle":
        return s
    out, s = q.step(s, q.request(now), c, q.rules_for(c))
    if isinstance(out, q.Admit):
        kind = "success" if what == "call succeeds" else "failure"
        _, s = q.step(s, q.outcome(kind, out.episode, now), c, q.rules_for(c))
    return s


@obligation(
    "T1.2/named-states-not-markov",
    reading="Taking the breaker's three named states as the state, the next "
    "state is not a function of the present state and the event: two histories "
    "of the same length end in the same named state, and the same next event "
    "takes them to different named states. (A sequential caller makes at most "
    "one call per tick; threshold 2, recovery 2 ticks.)",
    formal=r"\exists h_1, h_2, e:\ \mathrm{phase}(h_1) = \mathrm{phase}(h_2) "
    r"\land \mathrm{phase}(h_1 e) \ne \mathrm{phase}(h_2 e)",
    method=Method.EXHAUSTIVE,
    expected=Outcome.REFUTED,
    subject=SUBJECT,
)
def _named_not_markov(q: Any, profile: Profile) -> Verdict:
    c = q.Config(failure_threshold=2, recovery_timeout=2)
    depth = max(3, min(profile.max_n, 7))
    layer: dict[tuple[str, ...], Any] = {(): q.BreakerState()}
    histories = 0
    for length in range(depth):
        seen: dict[tuple[str, str], tuple[tuple[str, ...], Any, Any]] = {}
        for history, s in sorted(layer.items()):
            histories += 1
            for what in _TICKS:
                after = _tick(q, c, s, length, what)
                key = (s.phase.value, what)
                if key in seen and seen[key][2].phase is not after.phase:
                    other, other_state, other_after = seen[key]
                    return Verdict.refuted(
                        "breadth-first enumeration of histories",
                        {
                            "history 1": list(other),
                            "history 2": list(history),
                            "both end in": s.phase.value,
                            "next event": what,
                            "history 1 then": other_after.phase.value,
                            "history 2 then": after.phase.value,
                            "full state 1": _describe_state(other_state),
                            "full state 2": _describe_state(s),
                        },
                        searched={"histories": histories, "max_length": length},
                        detail="The named state forgets what decides the next "
                        "step (the failure count, the opening time); the full "
                        "state keeps it (T1.2/full-state-is-markov).",
                    )
                seen.setdefault(key, (history, s, after))
        layer = {
            (*h, what): _tick(q, c, s, length, what)
            for h, s in layer.items()
            for what in _TICKS
        }
    return Verdict.checked(
        "breadth-first enumeration of histories",
        searched={"histories": histories, "max_length": depth},
        detail="No two histories of equal length parted from one named state.",
    )


def _describe_state(s: Any) -> dict[str, JSONValue]:
    return {
        "phase": s.phase.value,
        "episode": s.episode,
        "failures": s.failures,
        "window": list(s.window),
        "opened_at": str(s.opened_at),
        "in_flight": s.in_flight,
        "successes": s.successes,
    }


def _label(event: Any) -> str:
    return f"{event.kind}@{event.now}" + (
        f"/episode {event.episode}"
        if event.kind in ("success", "failure", "ignored", "cancelled")
        else ""
    )


def _events_from(q: Any, s: Any, now: int) -> Iterator[Any]:
    """Well-formed events at ``now``: a request, outcomes, controls."""
    yield q.request(now)
    if s.in_flight:
        for kind in sorted(q.OUTCOMES):
            yield q.outcome(kind, s.episode, now)
    if s.episode:
        yield q.outcome("failure", s.episode - 1, now)
        yield q.outcome("success", s.episode - 1, now)
    for kind in sorted(q.CONTROLS):
        yield q.control(kind, now)


@obligation(
    "T1.2/full-state-is-markov",
    reading="With the full state (phase, episode, failure count or window, "
    "opening time, calls in flight, probe successes) the next state is a "
    "function of the present state and the event: the rule table is "
    "functional for every configuration (Z3), and the step function, run along "
    "every history up to a bound, never answers two ways for one state and "
    "event.",
    formal=r"s_1 = s_2 \Rightarrow \delta(s_1, e) = \delta(s_2, e)",
    method=Method.Z3,
    expected=Outcome.PROVED,
    subject=SUBJECT,
)
def _full_state_markov(q: Any, profile: Profile) -> Verdict:
    enc = Encoding(q)
    s, e, c = enc.state("s"), enc.event("e"), enc.config()
    pre = (enc.config_ok(c), enc.invariant(s, c), enc.well_formed(s, e))
    rules = _consecutive_rules(q)
    pairs = 0
    for r1, r2 in itertools.combinations(rules, 2):
        if r1.source is not r2.source or not (r1.events & r2.events):
            continue
        pairs += 1
        answer = prove(
            z3.Not(z3.And(enc.applies(r1, s, e, c), enc.applies(r2, s, e, c))),
            assumptions=pre,
            timeout_ms=profile.solver_timeout_ms,
        )
        if not answer.proved:
            return _answer_verdict(
                answer, "one rule per state and event", {"rules": [r1.name, r2.name]}
            )

    configs = [
        q.Config(failure_threshold=2, recovery_timeout=2, half_open_probes=2),
        q.Config(
            failure_rate=Fraction(1, 2), window=2, min_calls=2, recovery_timeout=1
        ),
    ]
    depth = max(3, min(profile.max_n, 5))
    steps = 0
    for c_concrete in configs:
        rules_c = q.rules_for(c_concrete)
        answers: dict[tuple[Any, Any], tuple[Any, list[str]]] = {}
        layer: list[tuple[Any, list[Any]]] = [(q.BreakerState(), [])]
        for now in range(depth):
            following: dict[Any, list[list[Any]]] = {}
            for state, history in layer:
                for event in _events_from(q, state, now):
                    # Replay the history, then the event, so that the step
                    # function sees the calls in the order the history made.
                    replayed = q.BreakerState()
                    for earlier in history:
                        steps += 1
                        replayed = q.step(replayed, earlier, c_concrete, rules_c)[1]
                    if replayed != state:
                        return Verdict.refuted(
                            "enumeration of the step function",
                            {
                                "history": [_label(x) for x in history],
                                "first run ended in": _describe_state(state),
                                "replay ended in": _describe_state(replayed),
                            },
                            searched={"steps": steps},
                            detail="The same events from the same state gave "
                            "two different states.",
                        )
                    steps += 1
                    result = q.step(replayed, event, c_concrete, rules_c)
                    key = (state, event)
                    labels = [_label(x) for x in (*history, event)]
                    if key in answers and answers[key][0] != result:
                        return Verdict.refuted(
                            "enumeration of the step function",
                            {
                                "state": _describe_state(state),
                                "event": labels[-1],
                                "history 1": answers[key][1],
                                "history 2": labels[:-1],
                                "answers differ": [
                                    repr(answers[key][0][0]),
                                    repr(result[0]),
                                ],
                            },
                            searched={"steps": steps},
                        )
                    answers.setdefault(key, (result, labels[:-1]))
                    # Keep a few histories per state, ending differently.
                    kept = following.setdefault(result[1], [])
                    if len(kept) < 3 and all(h[-1].kind != event.kind for h in kept):
                        kept.append([*history, event])
            layer = [
                (state, history)
                for state, histories in sorted(
                    following.items(), key=lambda item: repr(item[0])
                )
                for history in histories
            ]
    return Verdict.proved(
        "Z3 over the rule table, and enumeration of the step function",
        bounds="table: all states, events and configurations; step function: "
        f"{steps} steps along histories of up to {depth} ticks, two "
        "configurations",
        detail=f"{pairs} pairs of rules with a common source and event are "
        "mutually exclusive, so at most one rule, hence one next state, "
        "answers each full state and event.",
    )


# T2.3: the provable core ---------------------------------------------------------


def _ghost(name: str) -> SimpleNamespace:
    return SimpleNamespace(
        admitted=z3.Int(f"{name}.admitted"),
        half_opens=z3.Int(f"{name}.half_opens"),
        half_opens_x_recovery=z3.Real(f"{name}.half_opens_x_recovery"),
        half_opens_x_probes=z3.Int(f"{name}.half_opens_x_probes"),
        running=z3.Int(f"{name}.running"),
        now=z3.Real(f"{name}.now"),
    )


def _bound_invariant(enc: Encoding, s: Any, g: Any, c: Any, v: Any) -> Any:
    P = enc.q.Phase
    bound = c.failure_threshold + v["c"] - 1 + g.half_opens_x_probes
    return _and(
        [
            enc.invariant(s, c),
            enc.is_phase(s, P.CLOSED, P.OPEN, P.HALF_OPEN),
            g.admitted >= 0,
            g.half_opens >= 0,
            s.in_flight >= 0,
            s.in_flight <= g.running,
            g.running <= v["c"],
            g.half_opens_x_recovery <= g.now,
            s.opened_at <= g.now,
            z3.Implies(
                enc.is_phase(s, P.CLOSED),
                z3.And(
                    g.half_opens == 0,
                    g.half_opens_x_probes == 0,
                    g.admitted + v["B0"] == s.failures + s.in_flight,
                ),
            ),
            z3.Implies(
                enc.is_phase(s, P.OPEN),
                z3.And(
                    s.opened_at >= g.half_opens_x_recovery,
                    g.admitted <= bound,
                ),
            ),
            z3.Implies(
                enc.is_phase(s, P.HALF_OPEN),
                z3.And(
                    g.half_opens >= 1,
                    s.successes == 0,
                    g.admitted <= bound - c.half_open_probes + s.in_flight,
                ),
            ),
        ]
    )


@obligation(
    "T2.3/failing-dependency-calls-bounded",
    reading="Against a dependency that fails every call, from a closed breaker, "
    "the calls admitted in a window of length T are at most threshold + c - 1 + "
    "probes * H, where H is the number of half-open periods begun and H * "
    "recovery <= T; c is the most calls in flight at once. With one call at a "
    "time this is threshold + floor(T / recovery) * probes, which is at most "
    "the source-shaped bound threshold + ceil(T / recovery) * probes.",
    formal=r"A(T) \le \theta + c - 1 + \pi H,\quad H \rho \le T"
    r"\quad(c = 1:\ A(T) \le \theta + \lfloor T/\rho \rfloor\, \pi)",
    method=Method.Z3,
    expected=Outcome.PROVED,
    subject=SUBJECT,
    assumptions=(
        "every call to the dependency fails with a counted failure (none is "
        "cancelled or ignored)",
        "nobody forces, disables or resets the breaker in the window",
        "at most c calls are in flight at once",
    ),
)
def _failing_dependency_bound(q: Any, profile: Profile) -> Verdict:
    enc = Encoding(q)
    v = {"c": z3.Int("calls_at_once"), "B0": z3.Int("start_failures_plus_in_flight")}
    P = q.Phase
    s, s2, e, c = enc.state("s"), enc.state("next"), enc.event("e"), enc.config()
    g, g2 = _ghost("g"), _ghost("next_g")
    rules = [r for r in _consecutive_rules(q) if r.events & {"request", "failure"}]
    timeout = profile.solver_timeout_ms
    world = (enc.config_ok(c), v["c"] >= 1, v["B0"] >= 0)

    # Initially: closed, some failures and calls in flight, nothing admitted yet.
    init = prove(
        _bound_invariant(enc, s, g, c, v),
        assumptions=(
            *world,
            s.phase == enc.P[P.CLOSED.value],
            s.episode >= 0,
            s.failures >= 0,
            s.failures < c.failure_threshold,
            s.in_flight >= 0,
            s.in_flight <= v["c"],
            s.successes == 0,
            s.opened_at == 0,
            g.now == 0,
            g.admitted == 0,
            g.half_opens == 0,
            g.half_opens_x_recovery == 0,
            g.half_opens_x_probes == 0,
            g.running == s.in_flight,
            v["B0"] == s.failures + s.in_flight,
        ),
        timeout_ms=timeout,
    )
    if not init.proved:
        return _answer_verdict(init, "the invariant holds at the start", {})

    queries = 1
    for rule in rules:
        for kind in sorted(rule.events & {"request", "failure"}):
            admits = rule.output == "admit"
            probe = rule.source is P.OPEN and rule.target is P.HALF_OPEN
            if kind == "request":
                world_event = z3.And(g.running < v["c"], e.episode == 0)
                running = g.running + (1 if admits else 0)
            else:
                # The failure of a call in flight: of this episode, or stale.
                world_event = z3.And(
                    g.running >= 1,
                    z3.Or(
                        z3.And(e.episode == s.episode, s.in_flight >= 1),
                        z3.And(e.episode < s.episode, g.running > s.in_flight),
                    ),
                )
                running = g.running - 1
            step_ok = z3.And(
                e.kind == enc.K[kind],
                e.now >= g.now,
                enc.well_formed(s, e),
                world_event,
                enc.applies(rule, s, e, c),
                enc.effect(rule, s, e, c, s2),
                g2.now == e.now,
                g2.admitted == g.admitted + (1 if admits else 0),
                g2.half_opens == g.half_opens + (1 if probe else 0),
                g2.half_opens_x_recovery
                == g.half_opens_x_recovery + (c.recovery_timeout if probe else 0),
                g2.half_opens_x_probes
                == g.half_opens_x_probes + (c.half_open_probes if probe else 0),
                g2.running == running,
            )
            queries += 1
            answer = prove(
                _bound_invariant(enc, s2, g2, c, v),
                assumptions=(*world, _bound_invariant(enc, s, g, c, v), step_ok),
                timeout_ms=timeout,
            )
            if not answer.proved:
                return _answer_verdict(
                    answer,
                    "each step keeps the bound's invariant",
                    {"rule": rule.name, "event": kind},
                )

    # The invariant gives the bound in every phase, and H * recovery <= now.
    queries += 1
    bound = c.failure_threshold + v["c"] - 1 + g.half_opens_x_probes
    final = prove(
        z3.And(g.admitted <= bound, g.half_opens_x_recovery <= g.now),
        assumptions=(*world, _bound_invariant(enc, s, g, c, v)),
        timeout_ms=timeout,
    )
    if not final.proved:
        return _answer_verdict(final, "the invariant implies the bound", {})

    # With H * recovery <= T and H an integer: H <= floor(T / recovery), and
    # probes * H <= probes * ceil(T / recovery).
    h, k, t_end = z3.Int("H"), z3.Int("k"), z3.Real("T")
    queries += 1
    floor_step = prove(
        z3.And(h <= k, c.half_open_probes * h <= c.half_open_probes * k),
        assumptions=(
            enc.config_ok(c),
            h >= 0,
            h * c.recovery_timeout <= t_end,
            k * c.recovery_timeout <= t_end,
            (k + 1) * c.recovery_timeout > t_end,
        ),
        timeout_ms=timeout,
    )
    if not floor_step.proved:
        return _answer_verdict(floor_step, "H <= floor(T / recovery)", {})

    return Verdict.proved(
        "Z3, an inductive invariant over real time and symbolic configuration",
        bounds="every threshold, recovery time, probe budget, window length T "
        "and concurrency c >= 1",
        detail=f"{queries} queries. Ghost variables count the admitted calls A, "
        "the half-open periods begun H, and H * recovery and H * probes (kept "
        "as their own variables so that every step is linear). The invariant: "
        "closed, A = failures + in flight - (failures and calls in flight at "
        "the start); open, A <= threshold + c - 1 + H * probes and the break "
        "began at or after H * recovery; half-open, A <= threshold + c - 1 + "
        "(H - 1) * probes + probes in flight. Z3 shows the start satisfies it "
        "and every request or failure the world can produce keeps it; the "
        "bound follows, and the last query turns H * recovery <= T into "
        "H <= floor(T / recovery).",
    )


def _failing_run(q: Any, c: Any, state: Any, t_end: int, calls_per_tick: int) -> int:
    """Calls admitted in [0, t_end) to a dependency that fails each at once."""
    rules = q.rules_for(c)
    admitted = 0
    for now in range(t_end):
        for _ in range(calls_per_tick):
            out, state = q.step(state, q.request(now), c, rules)
            if isinstance(out, q.Admit):
                admitted += 1
                _, state = q.step(
                    state, q.outcome("failure", out.episode, now), c, rules
                )
    return admitted


@obligation(
    "T2.3/unbounded-without-breaker",
    reading="Without a breaker (the breaker disabled, so that every call goes "
    "through) the calls that reach a failing dependency in a window of T "
    "ticks can exceed threshold + floor(T / recovery) * probes: every call the "
    "callers make gets through, while the same callers through an enabled "
    "breaker stay within the bound. The windows are tried in turn, shortest "
    "first, until one exceeds it.",
    formal=r"\exists T:\ A_{\mathrm{none}}(T) > \theta + "
    r"\lfloor T/\rho \rfloor\, \pi",
    method=Method.SIMULATION,
    expected=Outcome.REFUTED,
    subject=SUBJECT,
    assumptions=("every call to the dependency fails at once",),
)
def _unbounded_without(q: Any, profile: Profile) -> Verdict:
    c = q.Config(failure_threshold=3, recovery_timeout=10, half_open_probes=1)
    tried = []
    for t_end in (10, 30, 60):
        bound = c.failure_threshold + (t_end // c.recovery_timeout) * 1
        with_breaker = _failing_run(q, c, q.BreakerState(), t_end, 1)
        _, disabled = q.step(q.BreakerState(), q.control("disable", 0), c)
        without = _failing_run(q, c, disabled, t_end, 1)
        tried.append(t_end)
        if with_breaker > bound:
            return Verdict.unknown(
                "simulation of the specification",
                f"the enabled breaker itself admitted {with_breaker} calls in "
                f"T = {t_end}, over the bound {bound}; the comparison would not "
                "isolate the breaker",
            )
        if without > bound:
            return Verdict.refuted(
                "simulation of the specification",
                {
                    "T (ticks)": t_end,
                    "threshold": c.failure_threshold,
                    "recovery": c.recovery_timeout,
                    "probes": c.half_open_probes,
                    "bound threshold + floor(T/recovery) * probes": bound,
                    "calls admitted through the breaker": with_breaker,
                    "calls admitted without it": without,
                },
                searched={"windows": tried},
                detail=f"One call per tick, each failing at once, over a window "
                f"of T = {t_end} ticks. Without a breaker all {without} calls "
                f"reach the dependency, over the bound of {bound}; through the "
                f"enabled breaker {with_breaker} do. Only this window was "
                "simulated. The bound itself grows with T, by "
                f"{c.half_open_probes} "
                f"probe{'s' * (c.half_open_probes != 1)} per recovery timeout of "
                f"{c.recovery_timeout} ticks, while the calls without a breaker "
                "grow by one per tick, so a longer window widens the gap.",
            )
    return Verdict.checked(
        "simulation of the specification",
        searched={"windows": tried},
        detail="The disabled breaker stayed within the bound.",
    )


# T2.3: the probability claim -----------------------------------------------------


def _wilson(successes: int, n: int, z: float = 2.576) -> tuple[float, float]:
    """Wilson score interval (99% by default) for a binomial proportion."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def _poisson(rng: random.Random, mean: float) -> int:
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


@dataclass(frozen=True)
class Cascade:
    """The cascading-failure model; see the reading of the obligation below."""

    ticks: int = 120
    arrivals_per_tick: float = 1.5
    workers: int = 8
    call_ticks_healthy: int = 1
    call_ticks_failing: int = 4
    failure_start: tuple[int, int] = (0, 60)
    failure_length: tuple[int, int] = (30, 60)
    threshold: int = 3
    recovery_ticks: int = 8
    probes: int = 1


CASCADE = Cascade()


def _cascade_trial(q: Any, rng: random.Random, with_breaker: bool) -> bool:
    """One trial; True when the caller rejected a request (it failed)."""
    m = CASCADE
    start = rng.randrange(*m.failure_start)
    stop = start + rng.randint(*m.failure_length)
    c = q.Config(
        failure_threshold=m.threshold,
        recovery_timeout=m.recovery_ticks,
        half_open_probes=m.probes,
    )
    rules = q.rules_for(c)
    state = q.BreakerState()
    if not with_breaker:
        _, state = q.step(state, q.control("disable", 0), c, rules)
    ends: dict[int, list[tuple[int, str]]] = {}
    busy = 0
    for now in range(m.ticks):
        for episode, kind in ends.pop(now, []):
            busy -= 1
            _, state = q.step(state, q.outcome(kind, episode, now), c, rules)
        for _ in range(_poisson(rng, m.arrivals_per_tick)):
            if busy >= m.workers:
                return True
            out, state = q.step(state, q.request(now), c, rules)
            if not isinstance(out, q.Admit):
                continue  # answered at once by a fallback: no worker held
            failing = start <= now < stop
            length = m.call_ticks_failing if failing else m.call_ticks_healthy
            ends.setdefault(now + length, []).append(
                (out.episode, "failure" if failing else "success")
            )
            busy += 1
    return False


@obligation(
    "T2.3/breaker-lowers-failure-probability",
    reading="In a cascading-failure model the breaker makes the caller's own "
    "failure less likely. The caller has 8 workers and receives Poisson "
    "arrivals, 1.5 per tick, for 120 ticks; each request calls the dependency, "
    "which answers in 1 tick, except during one failure period (starting "
    "uniformly in the first 60 ticks, lasting 30 to 60) when each call hangs "
    "4 ticks (the caller's timeout) and fails. The caller fails when a request "
    "finds every worker busy. With the breaker (threshold 3, recovery 8 ticks, "
    "1 probe) a rejected call is answered at once and holds no worker. Both "
    "99% Wilson intervals are computed and must not overlap.",
    formal=r"P(\mathrm{fail} \mid \mathrm{breaker}) < "
    r"P(\mathrm{fail} \mid \mathrm{no\ breaker})",
    method=Method.SIMULATION,
    expected=Outcome.CHECKED,
    subject=SUBJECT,
    assumptions=(
        "the cascading-failure model stated in the reading",
        "the dependency fails by hanging until the caller's timeout",
    ),
)
def _lowers_probability(q: Any, profile: Profile) -> Verdict:
    trials = max(100, profile.trials // 40)
    rng = random.Random(23)
    failed_with = sum(_cascade_trial(q, rng, True) for _ in range(trials))
    failed_without = sum(_cascade_trial(q, rng, False) for _ in range(trials))
    with_ci = _wilson(failed_with, trials)
    without_ci = _wilson(failed_without, trials)
    evidence: dict[str, JSONValue] = {
        "trials per arm": trials,
        "P(fail | breaker)": round(failed_with / trials, 4),
        "99% interval with breaker": [round(x, 4) for x in with_ci],
        "P(fail | no breaker)": round(failed_without / trials, 4),
        "99% interval without breaker": [round(x, 4) for x in without_ci],
    }
    if with_ci[1] < without_ci[0]:
        return Verdict.checked(
            "Monte Carlo simulation of the specification, fixed seed",
            searched={"trials": 2 * trials},
            bounds="99% Wilson intervals do not overlap",
            detail="; ".join(f"{k}: {val}" for k, val in evidence.items()),
        )
    return Verdict.refuted(
        "Monte Carlo simulation of the specification, fixed seed",
        {**evidence, "problem": "the intervals overlap or are reversed"},
        searched={"trials": 2 * trials},
    )


# The implementation against the specification --------------------------------
#
# A state machine drives one implementation breaker on the virtual-time loop
# and the specification beside it: requests start real tasks through
# ``CircuitBreaker.call``; each call then succeeds, fails, raises an exception
# the breaker ignores, or is cancelled, in any order; time passes; the manual
# controls are used. After every step the checks compare the two.

IMPL = "impl.breaker"


class _Failure(Exception):
    """What the dependency raises when it fails (the expected exception)."""


class _Other(Exception):
    """An exception the breaker is configured not to count."""


class Complaint(Exception):
    """A check failed; carries the steps of the run so far."""

    def __init__(self, message: str, trace: list[str]) -> None:
        super().__init__(message)
        self.trace = list(trace)


def no_shrink() -> dict[str, Any]:
    """Search settings without the shrinking phase.

    The checks of this module expect CHECKED on the real code; a
    counterexample appears only on a faulty variant (or a real bug), where the
    first one found is evidence enough. Shrinking it would multiply the cost
    of every variant's run, since each shrinking attempt replays a scenario.
    """
    from hypothesis import Phase

    return {"phases": (Phase.explicit, Phase.reuse, Phase.generate)}


def run_machine(
    machine: type[Any], profile: Profile, examples: int
) -> tuple[Complaint | None, dict[str, int]]:
    """Run a Hypothesis state machine; the shrunk complaint, and the effort."""
    from hypothesis import Phase
    from hypothesis.stateful import run_state_machine_as_test

    counts = {"runs": 0, "steps": 0}
    machine.counts = counts
    # No shrinking: a stateful run replays a whole event loop per attempt, and
    # the first failing run, a few dozen steps, is already a readable trace.
    phases = (Phase.explicit, Phase.reuse, Phase.generate, Phase.target)
    try:
        run_state_machine_as_test(
            machine,
            settings=profile.hypothesis(max_examples=examples, phases=phases),
        )
    except Complaint as complaint:
        return complaint, counts
    return None, counts


def stateful_verdict(
    complaint: Complaint | None, counts: dict[str, int], what: str, bounds: str
) -> Verdict:
    searched: dict[str, JSONValue] = dict(counts)
    if complaint is not None:
        return Verdict.refuted(
            "Hypothesis stateful, virtual-time loop",
            {"problem": str(complaint), "steps": complaint.trace},
            searched=searched,
        )
    return Verdict.checked(
        "Hypothesis stateful, virtual-time loop",
        searched=searched,
        bounds=bounds,
        detail=what,
    )


def _breaker_configs() -> Any:
    from hypothesis import strategies as st

    return st.one_of(
        st.fixed_dictionaries(
            {
                "failure_threshold": st.integers(1, 3),
                "recovery_timeout": st.sampled_from([1, 2, 5]),
                "half_open_probes": st.integers(1, 3),
                "success_threshold": st.integers(1, 2),
            }
        ),
        st.fixed_dictionaries(
            {
                "recovery_timeout": st.sampled_from([1, 2]),
                "half_open_probes": st.integers(1, 2),
                "failure_rate": st.sampled_from([0.5, 0.75, 1.0]),
                "window": st.integers(2, 4),
                "min_calls": st.integers(1, 2),
            }
        ),
    )


def breaker_machine(q: Any, checks: frozenset[str]) -> type[Any]:
    """The state machine class for the subject module ``q`` and ``checks``.

    ``checks``: ``"agree"`` (state and decisions equal the specification's),
    ``"ledger"`` (every admitted call ends once, counters add up), ``"legal"``
    (every transition the breaker reports is in its table).
    """
    import asyncio

    from hypothesis import strategies as st
    from hypothesis import target
    from hypothesis.stateful import (
        RuleBasedStateMachine,
        initialize,
        invariant,
        precondition,
        rule,
    )

    from proofs.harness.vtime import VirtualTimeLoop
    from spec import breaker as model

    class BreakerMachine(RuleBasedStateMachine):
        counts: ClassVar[dict[str, int]] = {}

        def __init__(self) -> None:
            super().__init__()
            self.counts["runs"] += 1
            self.loop = VirtualTimeLoop()
            self.trace: list[str] = []
            self.tasks: dict[int, asyncio.Task[Any]] = {}
            self.all_tasks: list[asyncio.Task[Any]] = []
            self.futures: dict[int, asyncio.Future[Any]] = {}
            self.episodes: dict[int, int] = {}
            self.ended: dict[str, int] = dict.fromkeys(model.OUTCOMES, 0)
            self.transitions: list[Any] = []
            self.rejections: list[BaseException] = []
            self.next_id = 0
            self.controls = 0
            self.stale = 0
            self.state: Any = None
            self.config: Any = None

        # Helpers ----------------------------------------------------------

        def complain(self, message: str) -> None:
            raise Complaint(message, self.trace)

        def settle(self) -> None:
            # One turn of the loop: a new task runs to its first await, a
            # completed future wakes its task, a cancellation is delivered.
            self.loop.run_until_complete(asyncio.sleep(0))

        def now(self) -> Fraction:
            return Fraction(self.loop.time())

        def in_loop(self, func: Any) -> None:
            async def call() -> None:
                func()

            self.loop.run_until_complete(call())

        def spec_step(self, event: Any) -> Any:
            out, self.state = model.step(self.state, event, self.config)
            return out

        # Rules ------------------------------------------------------------

        @initialize(options=_breaker_configs())
        def build(self, options: dict[str, Any]) -> None:
            exact = dict(options)
            if "failure_rate" in exact:
                exact["failure_rate"] = Fraction(exact["failure_rate"])
            self.config = model.Config(**exact)
            self.state = model.BreakerState()
            self.breaker = q.CircuitBreaker(
                expected_exception=_Failure, name="dependency", **options
            )
            self.breaker.add_listener(self.transitions.append)
            self.trace.append(f"CircuitBreaker({options})")

        @rule()
        def request(self) -> None:
            self.counts["steps"] += 1
            self.start_call()

        @rule(
            kind=st.sampled_from(
                ["failure", "success", "failure", "ignored", "cancelled"]
            )
        )
        def call(self, kind: str) -> None:
            """A request whose call, if admitted, ends at once as ``kind``."""
            self.counts["steps"] += 1
            i = self.start_call()
            if i is not None:
                self.end_call(i, kind)

        def start_call(self) -> int | None:
            i = self.next_id
            self.next_id += 1
            future: asyncio.Future[Any] = self.loop.create_future()

            async def dependency() -> Any:
                return await future

            task = self.loop.create_task(self.breaker.call(dependency))
            self.all_tasks.append(task)
            self.settle()
            out = self.spec_step(model.request(self.now()))
            self.trace.append(f"t={self.loop.time():g}: call {i} requested")
            if task.done():
                error = task.exception()
                if not isinstance(error, q.CircuitOpenError):
                    self.complain(f"call {i} ended at once with {error!r}")
                if "agree" in checks:
                    self.check_rejection(i, out, error)
                return None
            if "agree" in checks and not isinstance(out, model.Admit):
                self.complain(f"call {i} was admitted; the specification says {out}")
            self.futures[i] = future
            self.tasks[i] = task
            self.episodes[i] = out.episode if isinstance(out, model.Admit) else -1
            return i

        def check_rejection(self, i: int, out: Any, error: Any) -> None:
            if not isinstance(out, model.Reject):
                self.complain(f"call {i} was rejected; the specification says {out}")
            expected_at = None if out.retry_at is None else float(out.retry_at)
            got = (error.breaker, error.state, error.retry_at)
            if got != ("dependency", out.phase, expected_at):
                self.complain(
                    f"rejection of call {i} carries (breaker, state, retry_at) = "
                    f"{got}; expected {('dependency', out.phase, expected_at)}"
                )
            if any(error is earlier for earlier in self.rejections):
                self.complain(f"rejection of call {i} reused an earlier error object")
            self.rejections.append(error)

        @precondition(lambda self: bool(self.tasks))
        @rule(
            data=st.data(),
            kind=st.sampled_from(
                ["failure", "success", "failure", "ignored", "cancelled"]
            ),
        )
        def finish(self, data: Any, kind: str) -> None:
            self.counts["steps"] += 1
            self.end_call(data.draw(st.sampled_from(sorted(self.tasks)), "call"), kind)

        def end_call(self, i: int, kind: str) -> None:
            task, future = self.tasks.pop(i), self.futures.pop(i)
            if kind == "success":
                future.set_result(i)
            elif kind == "failure":
                future.set_exception(_Failure(f"call {i}"))
            elif kind == "ignored":
                future.set_exception(_Other(f"call {i}"))
            else:
                task.cancel()
            self.settle()
            self.trace.append(f"t={self.loop.time():g}: call {i} ends: {kind}")
            if not task.done():
                self.complain(f"call {i} did not end after its {kind}")
            if not task.cancelled():
                task.exception()  # retrieved: the outcome is the point
            self.ended[kind] += 1
            episode = self.episodes.pop(i)
            if episode < self.state.episode:
                self.stale += 1
            self.spec_step(model.outcome(kind, episode, self.now()))

        @precondition(lambda self: self.state is not None)
        @rule()
        def trip(self) -> None:
            """Sequential failing calls until the breaker leaves closed (calls
            still in flight become stale: where breakers go wrong)."""
            self.counts["steps"] += 1
            self.trace.append("trip:")
            for _ in range(12):
                if self.state.phase is not model.Phase.CLOSED:
                    break
                i = self.start_call()
                if i is None:
                    break
                self.end_call(i, "failure")

        @precondition(
            lambda self: self.state is not None and self.state.phase is model.Phase.OPEN
        )
        @rule(kind=st.sampled_from(["success", "failure"]))
        def probe(self, kind: str) -> None:
            """Wait out the recovery timeout; one probe ends as ``kind``."""
            self.counts["steps"] += 1
            self.loop.run_until_complete(
                asyncio.sleep(float(self.config.recovery_timeout))
            )
            self.trace.append(f"wait {float(self.config.recovery_timeout)} s")
            i = self.start_call()
            if i is not None:
                self.end_call(i, kind)

        @rule(dt=st.sampled_from([0.5, 1, 2, 5]))
        def wait(self, dt: float) -> None:
            self.counts["steps"] += 1
            self.loop.run_until_complete(asyncio.sleep(dt))
            self.trace.append(f"wait {dt} s")

        @precondition(lambda self: self.controls < 2)
        @rule(kind=st.sampled_from(["force_open", "disable", "reset"]))
        def control(self, kind: str) -> None:
            self.counts["steps"] += 1
            self.controls += 1
            self.in_loop(getattr(self.breaker, kind))
            self.trace.append(f"t={self.loop.time():g}: {kind}()")
            self.spec_step(model.control(kind, self.now()))

        # Checks -----------------------------------------------------------

        @invariant()
        def checks_hold(self) -> None:
            if not hasattr(self, "breaker"):
                return
            if "agree" in checks:
                self.check_agreement()
            if "ledger" in checks:
                self.check_ledger()
            if "legal" in checks:
                self.check_legal()

        def check_agreement(self) -> None:
            snap = self.breaker.snapshot()
            s = self.state
            got = (
                snap.state.value,
                snap.episode,
                snap.failures,
                tuple(snap.window),
                Fraction(snap.opened_at),
                snap.in_flight,
                snap.successes,
            )
            want = (
                s.phase.value,
                s.episode,
                s.failures,
                s.window,
                Fraction(s.opened_at),
                s.in_flight,
                s.successes,
            )
            if got != want:
                names = (
                    "state",
                    "episode",
                    "failures",
                    "window",
                    "opened_at",
                    "in_flight",
                    "successes",
                )
                diff = {
                    n: f"impl {g!r}, spec {w!r}"
                    for n, g, w in zip(names, got, want, strict=True)
                    if g != w
                }
                self.complain(f"implementation and specification differ: {diff}")

        def check_ledger(self) -> None:
            c = self.breaker.counters
            running = len(self.tasks)
            ended = c.succeeded + c.failed + c.ignored + c.cancelled
            if c.admitted != ended + running:
                self.complain(
                    f"admitted {c.admitted} != ended {ended} + running {running}"
                )
            mine = (
                self.ended["success"],
                self.ended["failure"],
                self.ended["ignored"],
                self.ended["cancelled"],
            )
            theirs = (c.succeeded, c.failed, c.ignored, c.cancelled)
            if mine != theirs:
                self.complain(
                    "outcomes counted (succeeded, failed, ignored, cancelled) "
                    f"{theirs}; the calls ended {mine}"
                )

        def check_legal(self) -> None:
            for event in self.transitions:
                if event.kind != "transition":
                    continue
                key = (event.source, event.target)
                legal_impl = event.event in q.TRANSITIONS.get(key, ())
                legal_spec = event.event in model.TRANSITIONS.get(
                    (model.Phase(event.source.value), model.Phase(event.target.value)),
                    (),
                )
                if not (legal_impl and legal_spec):
                    self.complain(
                        f"transition {event.source.value} -> {event.target.value} "
                        f"on {event.event!r} is not in the table"
                    )

        def teardown(self) -> None:
            # Late outcomes are where breakers go wrong: steer towards them.
            target(float(self.stale), label="stale outcomes")
            for task in self.all_tasks:
                task.cancel()
            if self.all_tasks:
                # Bounded in loop time: a faulty breaker may never let go.
                self.loop.run_until_complete(asyncio.wait(self.all_tasks, timeout=60))
            self.loop.close()

    return BreakerMachine


def stateful_examples(profile: Profile) -> int:
    """Runs per stateful check: each run is ``profile.steps`` steps long."""
    return max(20, profile.examples // 8)


def scenario_examples(profile: Profile) -> int:
    """Examples per scenario search: each one runs an event loop."""
    return max(30, profile.examples // 2)


@obligation(
    "T1.2/impl-agrees-with-spec",
    reading="The implementation's future depends only on the specification's "
    "full state: driven by the same requests, outcomes (success, failure, "
    "ignored, cancelled, in any order), passing time and manual controls, the "
    "implementation's state after every step equals the specification's, it "
    "admits and rejects the same requests, and every rejection is a fresh "
    "error carrying the breaker's name, state and retry time.",
    method=Method.STATEFUL,
    expected=Outcome.CHECKED,
    subject=IMPL,
)
def _impl_agrees(q: Any, profile: Profile) -> Verdict:
    machine = breaker_machine(q, frozenset({"agree"}))
    complaint, counts = run_machine(machine, profile, stateful_examples(profile))
    return stateful_verdict(
        complaint,
        counts,
        "State compared field by field after every step: phase, episode, "
        "failures, window, opening time, calls in flight, probe successes.",
        "thresholds 1-3, probes 1-3, both trip policies",
    )


@obligation(
    "T2.3/impl-admitted-calls-end-once",
    reading="Every call the implementation admits ends exactly once, as a "
    "success, a failure, ignored or cancelled: after every step the counters "
    "satisfy admitted = succeeded + failed + ignored + cancelled + running, "
    "and each kind counts exactly the calls that ended that way (stale ones "
    "included).",
    formal=r"\mathrm{admitted} = \mathrm{succeeded} + \mathrm{failed} + "
    r"\mathrm{ignored} + \mathrm{cancelled} + \mathrm{running}",
    method=Method.STATEFUL,
    expected=Outcome.CHECKED,
    subject=IMPL,
)
def _impl_ledger(q: Any, profile: Profile) -> Verdict:
    from proofs.harness.vtime import run
    from proofs.search import search

    # Late outcomes first: the calls most easily lost track of.
    found = search(
        _late_cases(),
        lambda case: run(_late_outcome_scenario(q, case, check="ledger")),
        profile,
        max_examples=max(20, profile.examples // 4),
        **no_shrink(),
    )
    if found.found:
        return Verdict.refuted(
            "Hypothesis, virtual-time loop",
            {"late calls": found.counterexample, "problem": found.message},
            searched={"examples": found.calls},
        )
    machine = breaker_machine(q, frozenset({"ledger"}))
    complaint, counts = run_machine(machine, profile, stateful_examples(profile))
    counts = {**counts, "late-outcome scenarios": found.calls}
    return stateful_verdict(
        complaint,
        counts,
        "Counters checked after every step of the stateful runs, and after "
        "every scenario of calls ending after a state change.",
        "all policies",
    )


@obligation(
    "D2.5/impl-legal-transitions-only",
    reading="The implementation's table of legal transitions is the "
    "specification's; its transition check refuses every other (from, to, "
    "event) triple with an error naming the breaker, both states and the "
    "event; and in stateful runs every transition it reports is legal.",
    method=Method.STATEFUL,
    expected=Outcome.CHECKED,
    subject=IMPL,
)
def _impl_legal(q: Any, profile: Profile) -> Verdict:
    from spec import breaker as model

    by_value = {
        (s.value, t.value): frozenset(events)
        for (s, t), events in q.TRANSITIONS.items()
    }
    spec_table = {
        (s.value, t.value): frozenset(events)
        for (s, t), events in model.TRANSITIONS.items()
    }
    if by_value != spec_table:
        differ = sorted(
            f"{a} -> {b}"
            for a, b in set(by_value) | set(spec_table)
            if by_value.get((a, b)) != spec_table.get((a, b))
        )
        return Verdict.refuted(
            "comparison of the tables", {"transitions that differ": differ}
        )
    triples = 0
    for source, target in itertools.product(q.CircuitBreakerState, repeat=2):
        for kind in sorted(model.EVENT_KINDS):
            triples += 1
            legal = kind in q.TRANSITIONS.get((source, target), ())
            try:
                q.check_transition("orders", source, target, kind)
            except q.IllegalTransitionError as exc:
                text = str(exc)
                parts = ("orders", source.value, target.value, kind)
                if legal or not all(p in text for p in parts):
                    return Verdict.refuted(
                        "enumeration of transitions",
                        {
                            "transition": f"{source.value} -> {target.value}",
                            "event": kind,
                            "problem": "legal but refused"
                            if legal
                            else "the error does not name the breaker, both "
                            "states and the event",
                            "error": text,
                        },
                    )
                continue
            if not legal:
                return Verdict.refuted(
                    "enumeration of transitions",
                    {
                        "transition": f"{source.value} -> {target.value}",
                        "event": kind,
                        "problem": "not in the table but accepted",
                    },
                )
    machine = breaker_machine(q, frozenset({"legal"}))
    complaint, counts = run_machine(machine, profile, stateful_examples(profile))
    verdict = stateful_verdict(
        complaint,
        counts,
        f"The table equals the specification's; all {triples} triples were "
        "enumerated; the transitions reported to a listener were checked after "
        "every step.",
        "all policies",
    )
    return verdict


def _probe_schedules() -> Any:
    from hypothesis import strategies as st

    action = st.one_of(
        st.tuples(st.just("start"), st.integers(1, 6)),
        st.tuples(st.just("turn"), st.just(0)),
        st.tuples(st.sampled_from(["success", "failure", "cancel"]), st.integers(0, 7)),
    )
    return st.tuples(st.integers(1, 3), st.lists(action, min_size=1, max_size=12))


async def _probe_scenario(
    q: Any, probes: int, schedule: list[tuple[str, int]]
) -> str | None:
    """Drive concurrent callers through a half-open breaker; a complaint or None."""
    import asyncio

    breaker = q.CircuitBreaker(
        failure_threshold=1,
        recovery_timeout=1,
        half_open_probes=probes,
        expected_exception=_Failure,
        name="probed",
    )
    inside: dict[int, int] = {}
    worst: dict[int, int] = {}
    pending: list[tuple[asyncio.Task[Any], asyncio.Future[Any]]] = []

    async def dependency(future: asyncio.Future[Any]) -> Any:
        snap = breaker.snapshot()
        half_open = snap.state is q.CircuitBreakerState.HALF_OPEN
        if half_open:
            inside[snap.episode] = inside.get(snap.episode, 0) + 1
            worst[snap.episode] = max(worst.get(snap.episode, 0), inside[snap.episode])
        try:
            return await future
        finally:
            if half_open:
                inside[snap.episode] -= 1

    async def fail_now() -> None:
        raise _Failure("trip")

    unexpected: list[str] = []

    async def probe(future: asyncio.Future[Any]) -> None:
        # Rejections and failed probes are expected outcomes; anything else is
        # noted. A drawn schedule may stop the run before anyone would have
        # looked at a task's outcome, so none is left for the loop to report.
        try:
            await breaker.call(dependency, future)
        except (_Failure, q.CircuitOpenError):
            pass
        except Exception as exc:
            unexpected.append(f"{type(exc).__name__}: {exc}")

    with contextlib.suppress(_Failure):
        await breaker.call(fail_now)
    await asyncio.sleep(1)  # the recovery timeout passes: the next call probes

    loop = asyncio.get_running_loop()
    for kind, n in schedule:
        if kind == "start":
            for _ in range(n):  # n callers at once, no turn of the loop between
                future = loop.create_future()
                task = loop.create_task(probe(future))
                pending.append((task, future))
        elif kind == "turn":
            await asyncio.sleep(0)
        else:
            live = [(t, f) for t, f in pending if not f.done() and not t.done()]
            if not live:
                continue
            task, future = live[n % len(live)]
            if kind == "success":
                future.set_result(None)
            elif kind == "failure":
                future.set_exception(_Failure("probe failed"))
                future.exception()  # looked at: its caller may never run
            else:
                task.cancel()
        await asyncio.sleep(0)
    for task, _ in pending:
        task.cancel()
    await asyncio.gather(*(t for t, _ in pending), return_exceptions=True)
    over = {ep: n for ep, n in worst.items() if n > probes}
    if over:
        return (
            f"half-open admitted {max(over.values())} concurrent probes in episode "
            f"{min(over)}; the budget is {probes}"
        )
    if unexpected:
        return f"a call through the breaker raised {unexpected[0]}"
    return None


#: Fixed half-open scenarios explored under every schedule up to a delay bound:
#: a budget of one with two callers arriving at once, then more after the
#: probe ends; a budget of two with three callers at once, one cancelled.
PROBE_RACES: tuple[tuple[int, tuple[tuple[str, int], ...]], ...] = (
    (1, (("start", 2), ("success", 0), ("start", 2), ("failure", 0))),
    (2, (("start", 3), ("cancel", 0), ("start", 1), ("success", 1))),
)
PROBE_DELAY_BOUND = 2


def _show_probe_case(
    probes: int, actions: Iterable[tuple[str, int]]
) -> dict[str, JSONValue]:
    return {
        "half_open_probes": probes,
        "driver": [f"{kind} {n}" for kind, n in actions],
    }


@obligation(
    "T2.3/impl-half-open-probe-limit",
    reading="However concurrent callers interleave at their await points "
    "(several starting in one turn of the loop, probes succeeding, failing or "
    "being cancelled in any order), a half-open implementation breaker never "
    "has more than half_open_probes calls of one half-open period in flight: "
    "under every schedule of the ready callbacks within a delay bound for "
    "fixed scenarios, and under drawn scenarios with drawn schedules.",
    formal=r"\forall\ \text{interleavings}:\ "
    r"|\{\text{probes in flight}\}| \le \pi",
    method=Method.INTERLEAVINGS,
    expected=Outcome.CHECKED,
    subject=IMPL,
    assumptions=("callers share one event loop; every await is a possible switch",),
)
def _probe_limit(q: Any, profile: Profile) -> Verdict:
    from proofs.harness.scheduler import (
        explore,
        replay,
        search_inputs_and_schedules,
    )

    def scenario(case: tuple[int, Iterable[tuple[str, int]]]) -> Any:
        probes, actions = case
        return lambda: _probe_scenario(q, probes, list(actions))

    explored = 0
    for case in PROBE_RACES:
        race = explore(scenario(case), bound=PROBE_DELAY_BOUND)
        explored += race.schedules
        if race.failure is not None:
            again = replay(scenario(case), race.failure.schedule)
            return Verdict.refuted(
                "exhaustive interleavings, least delays first",
                {
                    **_show_probe_case(*case),
                    "schedule": str(race.failure.schedule),
                    "problem": race.failure.complaint,
                    "replays": again == race.failure.complaint,
                },
                searched={"schedules": explored},
            )
        if not race.complete:
            return Verdict.unknown(
                "exhaustive interleavings",
                f"the schedule cap stopped the search at {race.schedules} "
                f"schedules, before delay bound {PROBE_DELAY_BOUND}",
            )
    found = search_inputs_and_schedules(
        scenario,
        _probe_schedules(),
        profile,
        max_examples=scenario_examples(profile),
    )
    if found.failure is not None and found.example is not None:
        again = replay(scenario(found.example), found.failure.schedule)
        return Verdict.refuted(
            "Hypothesis over scenarios and schedules, shrunk",
            {
                **_show_probe_case(*found.example),
                "schedule": str(found.failure.schedule),
                "problem": found.failure.complaint,
                "replays": again == found.failure.complaint,
            },
            searched={"exhaustive_schedules": explored, "drawn_runs": found.runs},
        )
    return Verdict.checked(
        "controlled interleavings: exhaustive to a delay bound, then drawn",
        searched={"exhaustive_schedules": explored, "drawn_runs": found.runs},
        bounds=f"{len(PROBE_RACES)} fixed scenarios under every schedule of at "
        f"most {PROBE_DELAY_BOUND} delays; drawn: probe budgets 1-3, up to 12 "
        "driver actions, up to 72 callers",
    )


async def _late_outcome_scenario(
    q: Any, case: dict[str, Any], check: str = "state"
) -> str | None:
    """Old calls end after a transition; the breaker's state must not move
    (``check="state"``), and its counters must account for every call
    (``check="ledger"``)."""
    import asyncio

    breaker = q.CircuitBreaker(
        failure_threshold=case["threshold"],
        recovery_timeout=case["recovery"],
        expected_exception=_Failure,
        name="late",
    )
    loop = asyncio.get_running_loop()
    old = [loop.create_future() for _ in range(case["old_calls"])]

    async def wait_for(future: asyncio.Future[Any]) -> Any:
        return await future

    async def fail_now() -> None:
        raise _Failure("now")

    tasks = [loop.create_task(breaker.call(wait_for, f)) for f in old]
    await asyncio.sleep(0)
    if case["change"] == "trip":
        for _ in range(case["threshold"]):
            with contextlib.suppress(_Failure):
                await breaker.call(fail_now)
    else:
        getattr(breaker, case["change"])()
    await asyncio.sleep(case["wait"])
    before = breaker.snapshot()
    for future, kind in zip(old, case["outcomes"], strict=False):
        if kind == "success":
            future.set_result(None)
        elif kind == "failure":
            future.set_exception(_Failure("late"))
        elif kind == "ignored":
            future.set_exception(_Other("late"))
        else:
            tasks[old.index(future)].cancel()
        await asyncio.sleep(0)
    ended = dict.fromkeys(("success", "failure", "ignored", "cancelled"), 0)
    for kind in case["outcomes"][: len(old)]:
        ended[kind] += 1
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    ended["cancelled"] += len(old) - min(len(old), len(case["outcomes"]))
    if check == "ledger":
        c = breaker.counters
        # The trip's own failing calls end as failures too.
        trip_failures = case["threshold"] if case["change"] == "trip" else 0
        want = (
            ended["success"],
            ended["failure"] + trip_failures,
            ended["ignored"],
            ended["cancelled"],
        )
        got = (c.succeeded, c.failed, c.ignored, c.cancelled)
        if got != want or c.admitted != sum(got):
            return (
                f"(succeeded, failed, ignored, cancelled) counted {got} of "
                f"{c.admitted} admitted; the calls ended {want}"
            )
        return None
    after = breaker.snapshot()
    if after != before:
        return (
            f"late outcomes {case['outcomes']} moved the breaker from {before} to "
            f"{after}"
        )
    return None


def _late_cases() -> Any:
    from hypothesis import strategies as st

    return st.fixed_dictionaries(
        {
            "threshold": st.integers(1, 3),
            "recovery": st.sampled_from([1, 5, 30]),
            "old_calls": st.integers(1, 4),
            "change": st.sampled_from(["trip", "force_open", "reset", "disable"]),
            "wait": st.sampled_from([0, 0.5, 2, 60]),
            "outcomes": st.lists(
                st.sampled_from(["failure", "success", "ignored", "cancelled"]),
                min_size=1,
                max_size=4,
            ),
        }
    )


@obligation(
    "T2.3/impl-late-outcomes-change-nothing",
    reading="Calls admitted before the implementation breaker changed state "
    "(it tripped, or was forced open, disabled or reset) that end afterwards, "
    "however they end and however late, leave its state exactly as it was: "
    "a late failure cannot restart a break, a late success cannot close one.",
    method=Method.HYPOTHESIS,
    expected=Outcome.CHECKED,
    subject=IMPL,
)
def _impl_late_outcomes(q: Any, profile: Profile) -> Verdict:
    from proofs.harness.vtime import run
    from proofs.search import search

    found = search(
        _late_cases(),
        lambda case: run(_late_outcome_scenario(q, case)),
        profile,
        max_examples=scenario_examples(profile),
        **no_shrink(),
    )
    if found.found:
        return Verdict.refuted(
            "Hypothesis, virtual-time loop",
            {"case": found.counterexample, "problem": found.message},
            searched={"examples": found.calls},
        )
    return Verdict.checked(
        "Hypothesis, virtual-time loop",
        searched={"examples": found.calls},
        bounds="up to 4 late calls, every kind of state change and outcome",
    )
