"""Helpers shared by the chain tests: CI-aware skipping and locating the bundled price data."""

from __future__ import annotations

from pathlib import Path

import trimtab
from tests.ci import IN_CI, require  # noqa: F401  (re-exported for the chain tests)

PRICE_FILE_NAME = "daily_prices_usd.csv.gz"


def price_file() -> Path | None:
    """The bundled real prices (package data), else the shared data folder of the dev machine."""
    for candidate in (
        Path(trimtab.__file__).resolve().parent / "data" / PRICE_FILE_NAME,
        Path("/work/shared/data") / PRICE_FILE_NAME,
    ):
        if candidate.is_file():
            return candidate
    return None
