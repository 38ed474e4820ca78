"""Reference data with known answers, read from ``../shared/data/``.

The directory is found from the environment variable ``MSTHEORY_DATA`` when
set, otherwise as ``../shared/data`` beside the project root (the checkout
that contains ``pyproject.toml``). When it is absent, :func:`data_dir` raises
:class:`~proofs.obligation.MissingDataError`: tests then skip with the reason,
the runner reports UNKNOWN, and nothing passes on data it did not read.
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
    path = Path(env) if env else PROJECT_ROOT.parent / "shared" / "data"
    if not path.is_dir():
        raise MissingDataError(f"no reference data directory at {path}")
    return path


@cache
def vectors() -> dict[str, Any]:
    path = data_dir() / "vectors.json"
    if not path.is_file():
        raise MissingDataError(f"{path} is missing")
    with path.open(encoding="utf-8") as fh:
        loaded: dict[str, Any] = json.load(fh)
    return loaded
