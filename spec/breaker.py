r"""The circuit breaker as one transition function over a table (D2.5, D2.6).

A breaker stands between callers and a dependency. *Closed*, it lets calls
through and counts how they end; when the count says the dependency is
failing (the *trip policy*) it *opens* and rejects calls at once. After the
recovery timeout the next request finds it *half-open*: a bounded number of
trial calls (*probes*) pass; a probe's success closes the breaker, a probe's
failure opens it again. Two manual phases sit beside the automatic three, as
users of other breakers expect: *forced open* rejects everything until reset,
*disabled* admits everything and never trips; ``reset`` returns to a fresh
closed breaker from anywhere.

The design, and why:

- **One step function, one table.** :func:`step` maps a state and an input
  event to an output and the next state, and it does so by finding the one
  :class:`Rule` whose source phase, event kind and guard match. Every rule's
  ``(source, target)`` pair, with its event, must appear in
  :data:`TRANSITIONS`, the table of legal transitions; :func:`check_transition`
  refuses any other with an error naming the breaker, both phases and the
  event. Guards and updates use only comparisons and arithmetic on the state's
  fields, so the proofs apply these very rules to Z3 terms (the trip policy by
  failure rate reads a tuple and is the one exception).
- **Episodes.** Every transition starts a new *episode* (a counter in the
  state). A call is admitted in an episode and its outcome carries that
  episode's number; an outcome from an earlier episode changes nothing. So a
  call admitted while closed that fails after the breaker opened cannot
  extend the break, and a slow probe of an earlier half-open episode cannot
  close a breaker that reopened since.
- **Permits.** ``in_flight`` counts the calls of the current episode not yet
  ended. In half-open it is the number of probe permits in use and never
  exceeds ``half_open_probes``. A cancelled call releases its permit and
  counts as neither success nor failure; so does an *ignored* outcome (an
  exception the breaker is configured not to count).
- **Time is an argument.** Each event carries ``now``, an exact number from a
  clock that never goes back; the open phase remembers ``opened_at``. The
  open-to-half-open transition is taken by the first request at or after
  ``opened_at + recovery_timeout``; nothing happens by the passing of time
  alone.

What the step function does not model: the calls themselves. Their outcomes
arrive as events in whatever order the caller's world produces; the proofs
quantify over those orders.

>>> c = Config(failure_threshold=2, recovery_timeout=10)
>>> calls = [request(0), request(0), outcome("failure", 0, 1), outcome("failure", 0, 2)]
>>> outputs, s = run(calls, c)
>>> outputs
[Admit(episode=0), Admit(episode=0), Record(counted=True), Record(counted=True)]
>>> s.phase.value, s.episode, s.opened_at
('open', 1, 2)
>>> step(s, request(5), c)[0]
Reject(phase='open', retry_at=12)
>>> out, s = step(s, request(12), c)
>>> out, s.phase.value, s.in_flight
(Admit(episode=2), 'half_open', 1)
>>> step(s, request(12), c)[0]
Reject(phase='half_open', retry_at=12)
>>> step(s, outcome("failure", 0, 12), c)[0]  # late outcome of episode 0
Record(counted=False)
>>> _, s = step(s, outcome("success", 2, 13), c)
>>> s.phase.value, s.episode
('closed', 3)
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any, TypeAlias

from spec.errors import SpecError

Exact: TypeAlias = int | Fraction


class BreakerSpecError(SpecError):
    """A breaker configuration, state or event outside what the model allows."""


class IllegalTransition(BreakerSpecError):
    """A transition outside :data:`TRANSITIONS` was attempted."""

    def __init__(self, name: str, source: Phase, target: Phase, event: str) -> None:
        super().__init__(
            f"breaker {name!r}: {source.value} -> {target.value} on {event!r} is "
            "not a legal transition; the legal ones from "
            f"{source.value} are: {legal_from(source)}"
        )
        self.breaker = name
        self.source = source
        self.target = target
        self.event = event


class Phase(enum.Enum):
    """The breaker's named states: the source's three and two manual ones."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"
    FORCED_OPEN = "forced_open"
    DISABLED = "disabled"


CLOSED, OPEN, HALF_OPEN = Phase.CLOSED, Phase.OPEN, Phase.HALF_OPEN
FORCED_OPEN, DISABLED = Phase.FORCED_OPEN, Phase.DISABLED

#: How an admitted call can end.
OUTCOMES = frozenset({"success", "failure", "ignored", "cancelled"})
#: Outcomes that release a permit and count for nothing.
NEUTRAL = frozenset({"ignored", "cancelled"})
#: Manual controls.
CONTROLS = frozenset({"force_open", "disable", "reset"})
EVENT_KINDS = frozenset({"request"}) | OUTCOMES | CONTROLS


def _legal_table() -> dict[tuple[Phase, Phase], frozenset[str]]:
    own = frozenset({"request"}) | OUTCOMES
    table: dict[tuple[Phase, Phase], frozenset[str]] = {
        (CLOSED, CLOSED): own,
        (CLOSED, OPEN): frozenset({"failure"}),
        (OPEN, OPEN): own,
        (OPEN, HALF_OPEN): frozenset({"request"}),
        (HALF_OPEN, HALF_OPEN): own,
        (HALF_OPEN, OPEN): frozenset({"failure"}),
        (HALF_OPEN, CLOSED): frozenset({"success"}),
        (FORCED_OPEN, FORCED_OPEN): own,
        (DISABLED, DISABLED): own,
    }
    for source in Phase:
        for target, control in (
            (FORCED_OPEN, "force_open"),
            (DISABLED, "disable"),
            (CLOSED, "reset"),
        ):
            table[source, target] = table.get((source, target), frozenset()) | {control}
    return table


#: The legal transitions: ``(from, to)`` to the event kinds that may take it.
#: A self-loop is a transition too (an event that leaves the phase as it was).
TRANSITIONS: Mapping[tuple[Phase, Phase], frozenset[str]] = _legal_table()


def legal_from(source: Phase) -> str:
    """The legal transitions from ``source``, for error messages."""
    return "; ".join(
        f"-> {target.value} on {', '.join(sorted(events))}"
        for (s, target), events in TRANSITIONS.items()
        if s is source
    )


def check_transition(name: str, source: Phase, target: Phase, event: str) -> None:
    """Refuse a transition that :data:`TRANSITIONS` does not list.

    >>> check_transition("users", Phase.CLOSED, Phase.OPEN, "failure")
    >>> check_transition("users", Phase.CLOSED, Phase.HALF_OPEN, "request")
    Traceback (most recent call last):
    ...
    spec.breaker.IllegalTransition: breaker 'users': closed -> half_open on \
'request' is not a legal transition; ...
    """
    if event not in TRANSITIONS.get((source, target), ()):
        raise IllegalTransition(name, source, target, event)


# Configuration, state, events, outputs --------------------------------------


def _positive_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BreakerSpecError(f"{what} must be an integer >= 1, got {value!r}")
    return value


def _exact(value: object, what: str) -> Exact:
    if isinstance(value, bool) or not isinstance(value, int | Fraction):
        raise BreakerSpecError(
            f"{what} must be an exact number (int or Fraction), got {value!r}"
        )
    return value


@dataclass(frozen=True)
class Config:
    """How a breaker trips and recovers.

    ``failure_rate`` chooses the trip policy. ``None`` (the default, the
    source's policy): trip on ``failure_threshold`` consecutive failures.
    A fraction in (0, 1]: trip when, among the last ``window`` counted
    outcomes and with at least ``min_calls`` of them, the share of failures
    reaches ``failure_rate``.

    ``half_open_probes`` is how many probes may be in flight at once in
    half-open; ``success_threshold`` how many probe successes close it.
    """

    failure_threshold: int = 5
    recovery_timeout: Exact = 60
    half_open_probes: int = 1
    success_threshold: int = 1
    failure_rate: Fraction | None = None
    window: int = 10
    min_calls: int = 5

    def __post_init__(self) -> None:
        _positive_int(self.failure_threshold, "failure_threshold")
        _positive_int(self.half_open_probes, "half_open_probes")
        _positive_int(self.success_threshold, "success_threshold")
        _positive_int(self.window, "window")
        _positive_int(self.min_calls, "min_calls")
        if _exact(self.recovery_timeout, "recovery_timeout") <= 0:
            raise BreakerSpecError(
                f"recovery_timeout must be > 0, got {self.recovery_timeout}"
            )
        if self.failure_rate is not None:
            rate = _exact(self.failure_rate, "failure_rate")
            if not 0 < rate <= 1:
                raise BreakerSpecError(f"failure_rate must lie in (0, 1], got {rate}")
            if self.min_calls > self.window:
                raise BreakerSpecError(
                    f"min_calls ({self.min_calls}) must not exceed the window "
                    f"({self.window}), or the breaker could never trip"
                )


@dataclass(frozen=True)
class BreakerState:
    """The full state: the named phase and everything the next step reads.

    ``failures`` counts consecutive failures while closed (consecutive
    policy); ``window`` holds the last counted outcomes while closed, ``True``
    for a failure (rate policy); ``successes`` counts probe successes in
    half-open; ``opened_at`` is when the current open phase began.
    """

    phase: Phase = CLOSED
    episode: int = 0
    failures: int = 0
    window: tuple[bool, ...] = ()
    opened_at: Exact = 0
    in_flight: int = 0
    successes: int = 0


@dataclass(frozen=True)
class Event:
    """An input: its ``kind`` (see :data:`EVENT_KINDS`), the time, and for an
    outcome the episode in which the call was admitted."""

    kind: str
    now: Exact
    episode: int = 0


def request(now: Exact) -> Event:
    """A caller asks to make a call."""
    return Event("request", now)


def outcome(kind: str, episode: int, now: Exact) -> Event:
    """A call admitted in ``episode`` ended as ``kind`` (see :data:`OUTCOMES`)."""
    if kind not in OUTCOMES:
        raise BreakerSpecError(
            f"outcome kind must be one of {sorted(OUTCOMES)}, got {kind!r}"
        )
    return Event(kind, now, episode)


def control(kind: str, now: Exact) -> Event:
    """A manual control: ``force_open``, ``disable`` or ``reset``."""
    if kind not in CONTROLS:
        raise BreakerSpecError(
            f"control kind must be one of {sorted(CONTROLS)}, got {kind!r}"
        )
    return Event(kind, now)


@dataclass(frozen=True)
class Admit:
    """The request may proceed; its outcome must carry ``episode``."""

    episode: int


@dataclass(frozen=True)
class Reject:
    """The request is refused; ``retry_at`` is when trying again can succeed,
    ``None`` when no time is known (forced open)."""

    phase: str
    retry_at: Exact | None


@dataclass(frozen=True)
class Record:
    """An outcome was taken in; ``counted`` is False when it changed no count
    (stale, ignored, cancelled, or disabled breaker)."""

    counted: bool


@dataclass(frozen=True)
class Manual:
    """A manual control was applied."""

    kind: str


Output: TypeAlias = Admit | Reject | Record | Manual


# The rules --------------------------------------------------------------------

#: A guard: conditions that must all hold, as booleans (or Z3 terms).
Guard: TypeAlias = Callable[[Any, Any, Any], tuple[Any, ...]]
#: An update: the fields that change, with their new values.
Update: TypeAlias = Callable[[Any, Any, Any], Mapping[str, Any]]


def _no_guard(s: Any, e: Any, c: Any) -> tuple[Any, ...]:
    return ()


def _no_change(s: Any, e: Any, c: Any) -> Mapping[str, Any]:
    return {}


@dataclass(frozen=True)
class Rule:
    """One row of the rule table: in ``source``, on an event whose kind is in
    ``events`` and whose guard holds, move to ``target`` and apply ``update``.

    ``output`` is ``"admit"``, ``"reject"``, ``"record"`` or ``"manual"``;
    a rejecting rule computes its retry time with ``retry_at``. ``counted``
    says whether a recorded outcome counted.
    """

    name: str
    source: Phase
    events: frozenset[str]
    target: Phase
    guard: Guard = field(default=_no_guard, repr=False, compare=False)
    update: Update = field(default=_no_change, repr=False, compare=False)
    output: str = "record"
    retry_at: Callable[[Any, Any, Any], Any] | None = field(
        default=None, repr=False, compare=False
    )
    counted: bool = False


def _current(s: Any, e: Any) -> tuple[Any, ...]:
    """The outcome belongs to a call of this episode still in flight."""
    return (e.episode == s.episode, s.in_flight >= 1)


def _fresh(s: Any) -> dict[str, Any]:
    """A new episode with every count cleared."""
    return {
        "episode": s.episode + 1,
        "failures": 0,
        "window": (),
        "in_flight": 0,
        "successes": 0,
    }


def _open_at(s: Any, e: Any) -> dict[str, Any]:
    return {**_fresh(s), "opened_at": e.now}


def _release(s: Any) -> dict[str, Any]:
    return {"in_flight": s.in_flight - 1}


def _rate_window(s: Any, c: Any, failed: bool) -> tuple[bool, ...]:
    return (*s.window, failed)[-c.window :]


def _rate_trips(s: Any, c: Any) -> bool:
    w = _rate_window(s, c, True)
    return bool(len(w) >= c.min_calls and sum(w) >= c.failure_rate * len(w))


_COMMON_RULES: tuple[Rule, ...] = (
    Rule(
        "closed-admits",
        CLOSED,
        frozenset({"request"}),
        CLOSED,
        update=lambda s, e, c: {"in_flight": s.in_flight + 1},
        output="admit",
    ),
    Rule(
        "closed-neutral-outcome",
        CLOSED,
        NEUTRAL,
        CLOSED,
        guard=lambda s, e, c: _current(s, e),
        update=lambda s, e, c: _release(s),
    ),
    *(
        Rule(
            f"{p.value}-stale-outcome",
            p,
            OUTCOMES,
            p,
            guard=lambda s, e, c: (e.episode < s.episode,),
        )
        for p in Phase
    ),
    Rule(
        "open-rejects",
        OPEN,
        frozenset({"request"}),
        OPEN,
        guard=lambda s, e, c: (e.now < s.opened_at + c.recovery_timeout,),
        output="reject",
        retry_at=lambda s, e, c: s.opened_at + c.recovery_timeout,
    ),
    Rule(
        "open-admits-first-probe",
        OPEN,
        frozenset({"request"}),
        HALF_OPEN,
        guard=lambda s, e, c: (e.now >= s.opened_at + c.recovery_timeout,),
        update=lambda s, e, c: {**_fresh(s), "in_flight": 1},
        output="admit",
    ),
    Rule(
        "half-open-admits-probe",
        HALF_OPEN,
        frozenset({"request"}),
        HALF_OPEN,
        guard=lambda s, e, c: (s.in_flight < c.half_open_probes,),
        update=lambda s, e, c: {"in_flight": s.in_flight + 1},
        output="admit",
    ),
    Rule(
        "half-open-full",
        HALF_OPEN,
        frozenset({"request"}),
        HALF_OPEN,
        guard=lambda s, e, c: (s.in_flight >= c.half_open_probes,),
        output="reject",
        retry_at=lambda s, e, c: e.now,
    ),
    Rule(
        "half-open-success-counts",
        HALF_OPEN,
        frozenset({"success"}),
        HALF_OPEN,
        guard=lambda s, e, c: (
            *_current(s, e),
            s.successes + 1 < c.success_threshold,
        ),
        update=lambda s, e, c: {**_release(s), "successes": s.successes + 1},
        counted=True,
    ),
    Rule(
        "half-open-closes",
        HALF_OPEN,
        frozenset({"success"}),
        CLOSED,
        guard=lambda s, e, c: (
            *_current(s, e),
            s.successes + 1 >= c.success_threshold,
        ),
        update=lambda s, e, c: _fresh(s),
        counted=True,
    ),
    Rule(
        "half-open-reopens",
        HALF_OPEN,
        frozenset({"failure"}),
        OPEN,
        guard=lambda s, e, c: _current(s, e),
        update=lambda s, e, c: _open_at(s, e),
        counted=True,
    ),
    Rule(
        "half-open-neutral-outcome",
        HALF_OPEN,
        NEUTRAL,
        HALF_OPEN,
        guard=lambda s, e, c: _current(s, e),
        update=lambda s, e, c: _release(s),
    ),
    Rule(
        "forced-open-rejects",
        FORCED_OPEN,
        frozenset({"request"}),
        FORCED_OPEN,
        output="reject",
        retry_at=lambda s, e, c: None,
    ),
    Rule(
        "disabled-admits",
        DISABLED,
        frozenset({"request"}),
        DISABLED,
        update=lambda s, e, c: {"in_flight": s.in_flight + 1},
        output="admit",
    ),
    Rule(
        "disabled-outcome",
        DISABLED,
        OUTCOMES,
        DISABLED,
        guard=lambda s, e, c: _current(s, e),
        update=lambda s, e, c: _release(s),
    ),
    *(
        Rule(
            f"{p.value}-{kind.replace('_', '-')}",
            p,
            frozenset({kind}),
            target,
            update=lambda s, e, c: _fresh(s),
            output="manual",
        )
        for p in Phase
        for kind, target in (
            ("force_open", FORCED_OPEN),
            ("disable", DISABLED),
            ("reset", CLOSED),
        )
    ),
)

#: Closed-phase counting under the consecutive-failures policy.
CONSECUTIVE_RULES: tuple[Rule, ...] = (
    *_COMMON_RULES,
    Rule(
        "closed-success-clears",
        CLOSED,
        frozenset({"success"}),
        CLOSED,
        guard=lambda s, e, c: _current(s, e),
        update=lambda s, e, c: {**_release(s), "failures": 0},
        counted=True,
    ),
    Rule(
        "closed-failure-counts",
        CLOSED,
        frozenset({"failure"}),
        CLOSED,
        guard=lambda s, e, c: (*_current(s, e), s.failures + 1 < c.failure_threshold),
        update=lambda s, e, c: {**_release(s), "failures": s.failures + 1},
        counted=True,
    ),
    Rule(
        "closed-failure-trips",
        CLOSED,
        frozenset({"failure"}),
        OPEN,
        guard=lambda s, e, c: (
            *_current(s, e),
            s.failures + 1 >= c.failure_threshold,
        ),
        update=lambda s, e, c: _open_at(s, e),
        counted=True,
    ),
)

#: Closed-phase counting under the failure-rate policy (a count window).
RATE_RULES: tuple[Rule, ...] = (
    *_COMMON_RULES,
    Rule(
        "closed-success-enters-window",
        CLOSED,
        frozenset({"success"}),
        CLOSED,
        guard=lambda s, e, c: _current(s, e),
        update=lambda s, e, c: {**_release(s), "window": _rate_window(s, c, False)},
        counted=True,
    ),
    Rule(
        "closed-failure-enters-window",
        CLOSED,
        frozenset({"failure"}),
        CLOSED,
        guard=lambda s, e, c: (*_current(s, e), not _rate_trips(s, c)),
        update=lambda s, e, c: {**_release(s), "window": _rate_window(s, c, True)},
        counted=True,
    ),
    Rule(
        "closed-failure-rate-trips",
        CLOSED,
        frozenset({"failure"}),
        OPEN,
        guard=lambda s, e, c: (*_current(s, e), _rate_trips(s, c)),
        update=lambda s, e, c: _open_at(s, e),
        counted=True,
    ),
)


def rules_for(config: Config) -> tuple[Rule, ...]:
    """The rule table of ``config``'s trip policy."""
    return CONSECUTIVE_RULES if config.failure_rate is None else RATE_RULES


# The step function -----------------------------------------------------------

_Index: TypeAlias = dict[tuple[Phase, str], tuple[tuple[Rule, bool], ...]]
_indexes: dict[int, tuple[tuple[Rule, ...], _Index]] = {}


def _index(rules: tuple[Rule, ...]) -> _Index:
    """Rules by (source, event kind), each with whether :data:`TRANSITIONS`
    allows it for that kind; kept per table, which is immutable."""
    cached = _indexes.get(id(rules))
    if cached is not None and cached[0] is rules:
        return cached[1]
    index: _Index = {}
    for rule in rules:
        for kind in rule.events:
            legal = kind in TRANSITIONS.get((rule.source, rule.target), ())
            index[rule.source, kind] = (
                *index.get((rule.source, kind), ()),
                (rule, legal),
            )
    _indexes[id(rules)] = (rules, index)
    return index


def applicable(
    state: BreakerState, event: Event, config: Config, rules: tuple[Rule, ...]
) -> list[Rule]:
    """The rules whose source, event kind and guard match (one, when well formed)."""
    return [
        rule
        for rule, _ in _index(rules).get((state.phase, event.kind), ())
        if all(rule.guard(state, event, config))
    ]


def step(
    state: BreakerState,
    event: Event,
    config: Config,
    rules: tuple[Rule, ...] | None = None,
    *,
    name: str = "breaker",
) -> tuple[Output, BreakerState]:
    """Apply ``event`` to ``state``: the output and the next state.

    Exactly one rule applies to every well-formed event (an outcome names an
    episode no later than the state's, and one of the current episode needs a
    call in flight); an ill-formed one raises :class:`BreakerSpecError`.
    """
    if event.kind not in EVENT_KINDS:
        raise BreakerSpecError(
            f"breaker {name!r}: unknown event kind {event.kind!r}; "
            f"expected one of {sorted(EVENT_KINDS)}"
        )
    table = rules_for(config) if rules is None else rules
    candidates = _index(table).get((state.phase, event.kind), ())
    matches = [(r, ok) for r, ok in candidates if all(r.guard(state, event, config))]
    if len(matches) != 1:
        what = (
            "no rule applies"
            if not matches
            else f"rules {[r.name for r, _ in matches]} all apply"
        )
        raise BreakerSpecError(
            f"breaker {name!r}: {what} to {event.kind!r} (episode {event.episode}) "
            f"in {state.phase.value} episode {state.episode} with "
            f"{state.in_flight} call(s) in flight; an outcome must come from a "
            "call admitted in this episode or an earlier one"
        )
    rule, legal = matches[0]
    if not legal:
        check_transition(name, state.phase, rule.target, event.kind)
    changes = rule.update(state, event, config)
    if changes or rule.target is not state.phase:
        new = replace(state, phase=rule.target, **changes)
    else:
        new = state

    out: Output
    if rule.output == "admit":
        out = Admit(new.episode)
    elif rule.output == "reject":
        assert rule.retry_at is not None
        out = Reject(state.phase.value, rule.retry_at(state, event, config))
    elif rule.output == "manual":
        out = Manual(event.kind)
    else:
        out = Record(rule.counted)
    return out, new


def run(
    events: list[Event], config: Config, state: BreakerState | None = None
) -> tuple[list[Output], BreakerState]:
    """Apply ``events`` in order from ``state`` (a fresh breaker by default)."""
    s = BreakerState() if state is None else state
    outputs = []
    for e in events:
        out, s = step(s, e, config)
        outputs.append(out)
    return outputs, s


# The state invariant ---------------------------------------------------------

#: What holds in every reachable state, phase by phase: for the listed phases,
#: every condition. Written with comparisons only, so Z3 reads it too.
INVARIANT: tuple[
    tuple[frozenset[Phase], Callable[[Any, Any], tuple[Any, ...]]], ...
] = (
    (
        frozenset(Phase),
        lambda s, c: (
            s.episode >= 0,
            s.in_flight >= 0,
            s.failures >= 0,
            s.successes >= 0,
            s.opened_at >= 0,
        ),
    ),
    (
        frozenset({CLOSED}),
        lambda s, c: (s.failures < c.failure_threshold, s.successes == 0),
    ),
    (
        frozenset({OPEN, FORCED_OPEN}),
        lambda s, c: (s.in_flight == 0, s.failures == 0, s.successes == 0),
    ),
    (
        frozenset({HALF_OPEN}),
        lambda s, c: (
            s.in_flight <= c.half_open_probes,
            s.successes < c.success_threshold,
            s.failures == 0,
        ),
    ),
    (
        frozenset({DISABLED}),
        lambda s, c: (s.failures == 0, s.successes == 0),
    ),
)


def invariant_holds(state: BreakerState, config: Config) -> bool:
    """Whether ``state`` satisfies :data:`INVARIANT` under ``config``."""
    return all(
        all(conditions(state, config))
        for phases, conditions in INVARIANT
        if state.phase in phases
    )
