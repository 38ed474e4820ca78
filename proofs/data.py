"""Reference data with known answers, read from ``../shared/data/``.

The directory is the one the environment variable ``MSTHEORY_DATA`` names
when it is set, otherwise ``../shared/data`` beside the checkout (the
directory that contains ``pyproject.toml``); nowhere else is searched, so
what a run reads never depends on where the checkout happens to sit. When it
is absent,
:func:`data_dir` raises :class:`~proofs.obligation.MissingDataError`: tests
then skip with the reason, the runner reports UNKNOWN, and nothing passes on
data it did not read.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

from proofs.obligation import MissingDataError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    env = os.environ.get("MSTHEORY_DATA")
    if env:
        path = Path(env)
        if not path.is_dir():
            raise MissingDataError(
                f"MSTHEORY_DATA names {path}, which is not a directory"
            )
        return path
    path = PROJECT_ROOT.parent / "shared" / "data"
    if path.is_dir():
        return path
    # The message names no absolute path: it ends up in reports, which must
    # not differ between two checkouts of the same commit.
    raise MissingDataError(
        "no ../shared/data beside the checkout (set MSTHEORY_DATA to point at one)"
    )


def have_reference_data() -> bool:
    try:
        data_dir()
    except MissingDataError:
        return False
    return True


def vectors() -> dict[str, Any]:
    """``vectors.json``: published figures with their sources."""
    return _load_json(data_dir() / "vectors.json")


@cache
def _load_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise MissingDataError(f"{path} is missing")
    with path.open(encoding="utf-8") as fh:
        loaded: dict[str, Any] = json.load(fh)
    return loaded
