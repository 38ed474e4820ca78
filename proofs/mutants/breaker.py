"""Faulty variants of the breaker: the specification's and the implementation's.

Variants of :mod:`spec.breaker` change rows of its rule table (or its step
function); each is a mistake a breaker can make while still looking like a
breaker. Variants of :mod:`impl.breaker` re-implement the source's defects and
their relatives in subclasses of :class:`impl.breaker.CircuitBreaker`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from proofs.obligation import mutant
from spec import breaker as spec

SPEC = "spec.breaker"

Rules = tuple[spec.Rule, ...]


def _rewrite(transform: Callable[[Rules], Rules]) -> dict[str, Any]:
    """Replacements for both rule tables and ``rules_for``, rewritten alike."""
    consecutive = transform(spec.CONSECUTIVE_RULES)
    rate = transform(spec.RATE_RULES)

    def rules_for(config: spec.Config) -> Rules:
        return consecutive if config.failure_rate is None else rate

    return {
        "CONSECUTIVE_RULES": consecutive,
        "RATE_RULES": rate,
        "rules_for": rules_for,
    }


def _edit(rules: Rules, edits: dict[str, dict[str, Any] | None]) -> Rules:
    """Replace fields of the named rules; ``None`` removes the rule."""
    out = []
    for rule in rules:
        if rule.name not in edits:
            out.append(rule)
        elif edits[rule.name] is not None:
            out.append(dataclasses.replace(rule, **edits[rule.name]))  # type: ignore[arg-type]
    return tuple(out)


mutant(
    "spec-half-open-admits-everyone",
    defect="Half-open lets every request through as a probe (the source's "
    "defect): no probe budget.",
    subject=SPEC,
    **_rewrite(
        lambda rules: _edit(
            rules,
            {
                "half-open-admits-probe": {"guard": lambda s, e, c: ()},
                "half-open-full": None,
            },
        )
    ),
)


def _late_failure_extends(rules: Rules) -> Rules:
    out = []
    for rule in rules:
        if rule.name == "open-stale-outcome":
            out.append(dataclasses.replace(rule, events=spec.OUTCOMES - {"failure"}))
            out.append(
                dataclasses.replace(
                    rule,
                    name="open-stale-failure-restarts-break",
                    events=frozenset({"failure"}),
                    update=lambda s, e, c: {"opened_at": e.now},
                )
            )
        else:
            out.append(rule)
    return tuple(out)


mutant(
    "spec-late-failure-extends-break",
    defect="A failure arriving while open, from a call admitted before the "
    "breaker opened, restarts the recovery timeout (the source records the "
    "time of every failure).",
    subject=SPEC,
    **_rewrite(_late_failure_extends),
)


def _cancel_is_failure(rules: Rules) -> Rules:
    out = []
    for rule in rules:
        if rule.name in ("closed-neutral-outcome", "half-open-neutral-outcome"):
            out.append(dataclasses.replace(rule, events=frozenset({"ignored"})))
        elif rule.name in (
            "closed-failure-counts",
            "closed-failure-trips",
            "closed-failure-enters-window",
            "closed-failure-rate-trips",
            "half-open-reopens",
        ):
            out.append(dataclasses.replace(rule, events=rule.events | {"cancelled"}))
        else:
            out.append(rule)
    return tuple(out)


mutant(
    "spec-cancellation-counts-as-failure",
    defect="A cancelled call is counted as a failure of the dependency.",
    subject=SPEC,
    **_rewrite(_cancel_is_failure),
)

mutant(
    "spec-trip-skips-open",
    defect="Reaching the failure threshold moves a closed breaker straight to "
    "half-open, skipping the break.",
    subject=SPEC,
    **_rewrite(
        lambda rules: _edit(
            rules,
            {
                "closed-failure-trips": {"target": spec.HALF_OPEN},
                "closed-failure-rate-trips": {"target": spec.HALF_OPEN},
            },
        )
    ),
)


def _check_pair_only(name: str, source: Any, target: Any, event: str) -> None:
    if (source, target) not in spec.TRANSITIONS:
        raise spec.IllegalTransition(name, source, target, event)


mutant(
    "spec-transition-check-ignores-event",
    defect="The transition check looks up the (from, to) pair and ignores the "
    "event, so closed -> closed on 'force_open' passes.",
    subject=SPEC,
    check_transition=_check_pair_only,
)


def _without_memory(rules: Rules) -> Rules:
    return _edit(
        rules,
        {
            "closed-failure-counts": {
                "guard": lambda s, e, c: (e.episode == s.episode, s.in_flight < 0)
            },
            "closed-failure-trips": {
                "guard": lambda s, e, c: (e.episode == s.episode, s.in_flight >= 1)
            },
            "open-rejects": {"guard": lambda s, e, c: (e.now < s.opened_at,)},
            "open-admits-first-probe": {
                "guard": lambda s, e, c: (e.now >= s.opened_at,)
            },
        },
    )


mutant(
    "spec-breaker-without-memory",
    defect="The breaker remembers nothing but its phase: the first failure "
    "opens it, whatever the threshold, and the next request probes, whatever "
    "the recovery timeout.",
    subject=SPEC,
    **_rewrite(_without_memory),
)


def _step_with_hidden_memory(
    state: spec.BreakerState,
    event: spec.Event,
    config: spec.Config,
    rules: Rules | None = None,
    *,
    name: str = "breaker",
) -> tuple[spec.Output, spec.BreakerState]:
    # The memory lives on the configuration object, so each check that builds
    # its own configuration starts with an empty one.
    memory: list[str | None] = config.__dict__.setdefault("_previous_kind", [None])
    previous, memory[0] = memory[0], event.kind
    out, new = spec.step(state, event, config, rules, name=name)
    if (
        previous == "failure"
        and isinstance(out, spec.Admit)
        and state.phase is spec.CLOSED
        and state.failures == 0
    ):
        return spec.Reject(state.phase.value, event.now), state
    return out, new


mutant(
    "spec-step-with-hidden-memory",
    defect="The step function remembers the previous event outside the state: "
    "a request right after any failure (even a stale one) is rejected, though "
    "the state says the breaker is closed with no failure counted.",
    subject=SPEC,
    step=_step_with_hidden_memory,
)

mutant(
    "spec-disable-blocks-calls",
    defect="A disabled breaker rejects every request, as if forced open, "
    "instead of letting every call through.",
    subject=SPEC,
    **_rewrite(
        lambda rules: _edit(
            rules,
            {
                "disabled-admits": {
                    "output": "reject",
                    "update": lambda s, e, c: {},
                    "retry_at": lambda s, e, c: None,
                }
            },
        )
    ),
)
