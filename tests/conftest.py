"""Shared test configuration: Hypothesis profiles and the effort profile.

The profile is ``ci`` when the environment variable ``CI`` is set, ``dev``
otherwise; ``MSTHEORY_PROFILE`` (``dev``, ``ci``, ``thorough``) overrides both.
"""

from __future__ import annotations

import pytest
from hypothesis import settings

from proofs.profiles import Profile, get_profile, register_hypothesis_profiles

register_hypothesis_profiles()
PROFILE = get_profile()
settings.load_profile(PROFILE.name)


def pytest_report_header() -> str:
    return f"mstheory profile: {PROFILE.name}"


@pytest.fixture(scope="session")
def profile() -> Profile:
    return PROFILE
