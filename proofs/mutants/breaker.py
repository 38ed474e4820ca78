"""Faulty variants of the breaker: the specification's and the implementation's.

Variants of :mod:`spec.breaker` change rows of its rule table (or its step
function); each is a mistake a breaker can make while still looking like a
breaker. Variants of :mod:`impl.breaker` re-implement the source's defects and
their relatives in subclasses of :class:`impl.breaker.CircuitBreaker`.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Any

from impl import breaker as impl_breaker
from impl.errors import CircuitOpenError
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


def _rate_trips_strictly(s: Any, c: Any) -> bool:
    window = (*s.window, True)[-c.window :]
    return bool(
        len(window) >= c.min_calls and sum(window) > c.failure_rate * len(window)
    )


mutant(
    "spec-rate-trip-needs-more-than-the-rate",
    defect="The failure-rate policy trips only when the share of failures "
    "exceeds the rate, so a share exactly at the rate (say 1 failure in 2 at "
    "rate 1/2) leaves the breaker closed.",
    subject=SPEC,
    **_rewrite(
        lambda rules: _edit(
            rules,
            {
                "closed-failure-enters-window": {
                    "guard": lambda s, e, c: (
                        *spec._current(s, e),
                        not _rate_trips_strictly(s, c),
                    )
                },
                "closed-failure-rate-trips": {
                    "guard": lambda s, e, c: (
                        *spec._current(s, e),
                        _rate_trips_strictly(s, c),
                    )
                },
            },
        )
    ),
)


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


# The implementation ------------------------------------------------------------

IMPL = "impl.breaker"

_HALF_OPEN = impl_breaker.CircuitBreakerState.HALF_OPEN
_OPEN = impl_breaker.CircuitBreakerState.OPEN
_CLOSED = impl_breaker.CircuitBreakerState.CLOSED


class _HalfOpenAdmitsEveryone(impl_breaker.CircuitBreaker):
    def admit(self) -> int:
        if self._state is _HALF_OPEN:
            self._ep_admitted += 1
            return self._episode
        return super().admit()


mutant(
    "impl-half-open-admits-everyone",
    defect="Once the recovery timeout has passed, half-open lets every caller "
    "through (the source's breaker): ten concurrent calls all reach the "
    "dependency.",
    subject=IMPL,
    CircuitBreaker=_HalfOpenAdmitsEveryone,
)


class _HalfOpenChecksThenAdmits(impl_breaker.CircuitBreaker):
    """Checks the probe budget, awaits, then admits without looking again."""

    async def call(self, func: Any, /, *args: Any, **kwargs: Any) -> Any:
        if self._state is _HALF_OPEN and self.in_flight < self.half_open_probes:
            # The await stands for a listener told of the probe, or a metric
            # written, between the check and the admission.
            await asyncio.sleep(0)
            episode = self._episode
            self._ep_admitted += 1
        else:
            episode = self.admit()
        try:
            result = await func(*args, **kwargs)
        except BaseException as exc:
            self.record_exception(episode, exc)
            raise
        self.record_success(episode)
        return result


mutant(
    "impl-half-open-checks-then-admits-across-await",
    defect="A half-open breaker checks that the probe budget has room, awaits, "
    "and then admits the call without checking again: callers that arrive "
    "together all pass the check, and a budget of one lets several probes in.",
    subject=IMPL,
    CircuitBreaker=_HalfOpenChecksThenAdmits,
)


class _CancelCountsAsFailure(impl_breaker.CircuitBreaker):
    def record_exception(self, episode: int, exc: BaseException) -> None:
        if isinstance(exc, asyncio.CancelledError):
            exc = self._expected[0]("cancelled")
        super().record_exception(episode, exc)


mutant(
    "impl-cancellation-counts-as-failure",
    defect="A cancelled call is counted as a failure of the dependency, so "
    "callers that give up trip the breaker.",
    subject=IMPL,
    CircuitBreaker=_CancelCountsAsFailure,
)


class _SkipsHalfOpen(impl_breaker.CircuitBreaker):
    def admit(self) -> int:
        if self._state is _OPEN:
            loop = asyncio.get_running_loop()
            if loop.time() >= self._opened_at + self.recovery_timeout:
                self._transition(_CLOSED, "request", loop)
        return super().admit()


mutant(
    "impl-skips-half-open",
    defect="After the recovery timeout the breaker closes at once, without a "
    "probe: an illegal open -> closed transition on a request.",
    subject=IMPL,
    CircuitBreaker=_SkipsHalfOpen,
)


class _StaleSuccessUncounted(impl_breaker.CircuitBreaker):
    def record_success(self, episode: int) -> None:
        if episode != self._episode:
            self._stale += 1
            return
        super().record_success(episode)


mutant(
    "impl-stale-success-uncounted",
    defect="A success that arrives after the state changed is dropped from the "
    "counters, so an admitted call ends without being counted.",
    subject=IMPL,
    CircuitBreaker=_StaleSuccessUncounted,
)


class _LateFailureExtendsBreak(impl_breaker.CircuitBreaker):
    def record_exception(self, episode: int, exc: BaseException) -> None:
        super().record_exception(episode, exc)
        if (
            episode != self._episode
            and self._state is _OPEN
            and isinstance(exc, self._expected)
        ):
            self._opened_at = asyncio.get_running_loop().time()


mutant(
    "impl-late-failure-extends-break",
    defect="A failure arriving while open, from a call admitted before the "
    "breaker opened, restarts the recovery timeout (the source records the "
    "time of every failure).",
    subject=IMPL,
    CircuitBreaker=_LateFailureExtendsBreak,
)


class _ReusedRejection(impl_breaker.CircuitBreaker):
    _cached: CircuitOpenError | None = None

    def _reject(
        self, loop: asyncio.AbstractEventLoop, retry_at: float | None
    ) -> CircuitOpenError:
        if self._cached is None:
            self._cached = super()._reject(loop, retry_at)
        self._cached.state = self._state.value
        self._cached.retry_at = retry_at
        return self._cached


mutant(
    "impl-rejection-reuses-error",
    defect="The breaker raises one cached error object for every rejection, so "
    "callers that keep or chain it see it change under them.",
    subject=IMPL,
    CircuitBreaker=_ReusedRejection,
)
