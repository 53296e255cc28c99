"""Reader for small, plain wide price CSVs with the standard library (no pyarrow or pandas import, ~0.1 s saved).

It takes only files whose every cell is unambiguous: a header of unique non-empty names, ISO dates or naive
ISO timestamps (one format for the whole column) first, then plain decimal numbers or pandas' NA strings.
Anything else returns None and goes to the Arrow reader, then pandas, whose checks and messages apply.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from trimtab.adapters.pricearrow import PANDAS_NA, WideColumns

MAX_BYTES = 4 * 2**20  # beyond this Arrow's multi-threaded parser is faster
_NA = frozenset(PANDAS_NA)
_NUM = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_NUMBERS = re.compile(rf"{_NUM}(?:\n{_NUM})*")
_TIMES = (
    re.compile(r"\d{4}-\d\d-\d\d(?:\n\d{4}-\d\d-\d\d)*"),
    re.compile(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d{1,9})?)?"
        r"(?:\n\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d{1,9})?)?)*"
    ),
)


def read_small_csv(p: Path, long_markers: Sequence[str]) -> WideColumns | None:
    """(time column, UTC datetime64[ns] times, price columns, column -> float64 values, rows) or None."""
    if not p.name.lower().endswith(".csv") or not p.is_file() or p.stat().st_size > MAX_BYTES:
        return None
    try:
        with p.open(newline="", encoding="utf-8") as f:
            rows = [r for r in csv.reader(f) if r]
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    if len(rows) < 2:
        return None
    names, body = rows[0], rows[1:]
    lowered = [c.strip().lower() for c in names]
    if (
        len(names) < 2
        or len(set(names)) != len(names)
        or "" in lowered
        or any(m in lowered for m in long_markers)
        or names[0].startswith("\ufeff")
        or any(len(r) != len(names) for r in body)
    ):
        return None
    cols = list(zip(*body, strict=True))
    times = _times(cols[0])
    if times is None:
        return None
    values: dict[str, np.ndarray] = {}
    for name, cells in zip(names[1:], cols[1:], strict=True):
        v = _numbers(cells)
        if v is None:
            return None
        values[name] = v

    def numbers(c: Any) -> np.ndarray:
        return values[c]

    return names[0], times, names[1:], numbers, len(body)


def _times(cells: tuple[str, ...]) -> np.ndarray | None:
    text = "\n".join(cells).replace(" ", "T", len(cells)) if " " in cells[0] else "\n".join(cells)
    if not any(rx.fullmatch(text) for rx in _TIMES):
        return None
    try:
        return np.array(text.split("\n"), dtype="datetime64[ns]")
    except ValueError:  # e.g. 2024-02-30: the other readers report it
        return None


def _numbers(cells: tuple[str, ...]) -> np.ndarray | None:
    na = [c in _NA for c in cells]
    given = [c for c, missing in zip(cells, na, strict=True) if not missing]
    if given and not _NUMBERS.fullmatch("\n".join(given)):
        return None
    out = np.full(len(cells), np.nan)
    out[~np.array(na, dtype=bool)] = np.array(given, dtype=np.float64)
    return out
