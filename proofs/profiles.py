"""Effort profiles: how hard each obligation searches.

``dev``
    Quick feedback while working: modest example counts, random seeds.
``ci``
    Derandomized and without an example database, so two runs give the same
    verdicts, the same counterexamples and the same report bytes. Chosen
    automatically when the environment variable ``CI`` is set.
``thorough``
    Many more examples, longer stateful runs, larger solver bounds.

An obligation reads the numbers it needs from the profile it is given and
records in its verdict what it actually searched, so a verdict obtained under
``dev`` says so by its counts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, Verbosity, settings


@dataclass(frozen=True)
class Profile:
    name: str
    #: Hypothesis examples per property.
    examples: int
    #: Steps per stateful run (Hypothesis ``stateful_step_count``).
    steps: int
    #: Independent runs of a simulation (Monte Carlo trials).
    trials: int
    #: Largest size a bounded solver obligation unrolls to (for example n).
    max_n: int
    #: Per-query solver timeout, milliseconds.
    solver_timeout_ms: int
    #: Whether Hypothesis draws from a fixed seed.
    derandomize: bool

    def hypothesis(self, **overrides: Any) -> settings:
        """Hypothesis settings for a property run inside an obligation.

        Obligations never use the example database: a verdict must come from
        the search the profile describes, not from what an earlier run found.
        Output is silenced because the verdict carries the counterexample.
        """
        base: dict[str, Any] = {
            "max_examples": self.examples,
            "stateful_step_count": self.steps,
            "derandomize": self.derandomize,
            "database": None,
            "deadline": None,
            "print_blob": False,
            "report_multiple_bugs": False,
            "verbosity": Verbosity.quiet,
            "suppress_health_check": [
                HealthCheck.too_slow,
                HealthCheck.data_too_large,
                HealthCheck.filter_too_much,
            ],
        }
        base.update(overrides)
        return settings(**base)


PROFILES: dict[str, Profile] = {
    "dev": Profile(
        "dev",
        examples=100,
        steps=30,
        trials=2_000,
        max_n=6,
        solver_timeout_ms=20_000,
        derandomize=False,
    ),
    "ci": Profile(
        "ci",
        examples=200,
        steps=40,
        trials=4_000,
        max_n=8,
        solver_timeout_ms=60_000,
        derandomize=True,
    ),
    "thorough": Profile(
        "thorough",
        examples=2_000,
        steps=100,
        trials=40_000,
        max_n=12,
        solver_timeout_ms=300_000,
        derandomize=False,
    ),
}


class UnknownProfileError(KeyError):
    def __str__(self) -> str:
        return f"unknown profile {self.args[0]!r}; choose one of: {', '.join(PROFILES)}"


def get_profile(name: str | None = None) -> Profile:
    """The profile called ``name``, or the default for this environment.

    The default is ``ci`` when the environment variable ``CI`` is set (to
    anything but an empty string or ``false``), otherwise ``dev``; the
    variable ``MSTHEORY_PROFILE`` overrides both.
    """
    if name is None:
        name = os.environ.get("MSTHEORY_PROFILE") or default_profile_name()
    try:
        return PROFILES[name]
    except KeyError:
        raise UnknownProfileError(name) from None


def default_profile_name() -> str:
    ci = os.environ.get("CI", "").strip().lower()
    return "ci" if ci not in ("", "0", "false", "no") else "dev"


def register_hypothesis_profiles() -> None:
    """Register ``dev``, ``ci`` and ``thorough`` as Hypothesis profiles.

    Used by the test suite so that plain ``@given`` tests follow the same
    effort levels as the obligations. Unlike the obligations' own settings,
    the ``dev`` test profile keeps Hypothesis's example database, which
    replays earlier failures first.
    """
    for profile in PROFILES.values():
        options: dict[str, Any] = {
            "max_examples": profile.examples,
            "stateful_step_count": profile.steps,
            "derandomize": profile.derandomize,
            "deadline": None,
            "print_blob": profile.name == "ci",
        }
        if profile.name != "dev":
            options["database"] = None
        settings.register_profile(profile.name, **options)
