"""Counterexample search with Hypothesis, returning evidence instead of raising.

:func:`search` runs a property over a strategy under the profile's settings and
reports how many examples it tried and, if the property failed, the shrunk
input that made it fail. It is how obligations turn Hypothesis into CHECKED
and REFUTED verdicts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from hypothesis import given
from hypothesis import strategies as st

from proofs.profiles import Profile

T = TypeVar("T")


class _Falsified(Exception):
    pass


@dataclass(frozen=True)
class SearchResult(Generic[T]):
    #: Examples the property was called on (shrinking attempts included).
    calls: int
    #: The shrunk failing example, or ``None`` when none was found.
    counterexample: T | None
    #: Why the property failed on it (the property's own message).
    message: str = ""

    @property
    def found(self) -> bool:
        return self.counterexample is not None


def search(
    strategy: st.SearchStrategy[T],
    prop: Callable[[T], str | None],
    profile: Profile,
    **overrides: Any,
) -> SearchResult[T]:
    """Look for an input on which ``prop`` returns a complaint.

    ``prop`` returns ``None`` when the property holds and a short message
    saying what went wrong when it does not. Exceptions other than the
    property's own failure propagate: a crash is a bug in the check.
    """
    calls = 0
    failures: list[tuple[T, str]] = []

    @profile.hypothesis(**overrides)
    @given(strategy)
    def run(example: T) -> None:
        nonlocal calls
        calls += 1
        complaint = prop(example)
        if complaint is not None:
            failures.append((example, complaint))
            raise _Falsified(complaint)

    try:
        run()
    except _Falsified:
        example, message = failures[-1]
        return SearchResult(calls, example, message)
    return SearchResult(calls, None)
