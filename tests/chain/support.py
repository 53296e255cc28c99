"""Helpers shared by the chain tests: CI-aware skipping and locating the bundled price data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import trimtab

IN_CI = os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}
PRICE_FILE_NAME = "daily_prices_usd.csv.gz"


def require(condition: bool, message: str) -> None:
    """Skip locally, fail in CI: chain tests must never silently skip in CI."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{message} (CI=true: chain tests may not be skipped)", pytrace=False)
    pytest.skip(message)


def price_file() -> Path | None:
    """The bundled real prices (package data), else the shared data folder of the dev machine."""
    for candidate in (
        Path(trimtab.__file__).resolve().parent / "data" / PRICE_FILE_NAME,
        Path("/work/shared/data") / PRICE_FILE_NAME,
    ):
        if candidate.is_file():
            return candidate
    return None
