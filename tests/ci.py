"""One rule for every real-component test: a missing component skips locally and fails in CI (CI=true/1/yes)."""

from __future__ import annotations

import os

import pytest

IN_CI = os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def require(condition: bool, message: str) -> None:
    """Return when `condition` holds; otherwise skip locally and fail in CI, where nothing may silently skip."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{message} (CI: real-component tests may not be skipped)", pytrace=False)
    pytest.skip(message)
