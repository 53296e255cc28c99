"""Load daily reserve rates (supply APR, liquidity index, size, utilisation) into a checked RatesTable.

Format: the shipped `aave_v3_stablecoin_rates_daily.csv` (Aave v3 Ethereum, via aavescan): one row per
(date, symbol) with `supply_apr` (fraction), `liquidity_index`, `total_supplied` (token units),
`utilization` (or the debts to compute it) and `price_usd` (optional, default 1). Bad data is one
line naming the file, the line and the field; gaps inside a reserve's history are errors, not filled.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from trimtab.adapters.bundled import bundled_path
from trimtab.core.base.types import asset_symbol
from trimtab.core.yields.positions import RatesTable
from trimtab.errors import DataError

RATES = "aave_v3_stablecoin_rates_daily.csv"
REQUIRED = ("date", "symbol", "supply_apr", "liquidity_index", "total_supplied")
_DAY = np.timedelta64(1, "D")


def default_rates_path() -> Path:
    return bundled_path(RATES)


def _open(p: Path) -> io.TextIOBase:
    if p.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(p, "rb"), newline="")
    return p.open(newline="")


def _num(row: dict[str, str], key: str, src: str, line: int, default: float | None = None) -> float:
    raw = (row.get(key) or "").strip()
    if not raw:
        if default is not None:
            return default
        raise DataError(f"line {line}: {key}: empty", source=src)
    try:
        v = float(raw)
    except ValueError:
        raise DataError(f"line {line}: {key}: not a number {raw!r}", source=src) from None
    if not math.isfinite(v) or v < 0:
        raise DataError(f"line {line}: {key}: must be a finite number >= 0, got {raw}", source=src)
    return v


def load_rates(path: str | Path | None = None, *, start: Any = None, end: Any = None) -> RatesTable:
    """The rates file (default: the shipped Aave v3 file) as a daily RatesTable windowed to [start, end]."""
    p = Path(path) if path is not None else default_rates_path()
    src = str(p)
    try:
        f = _open(p)
    except OSError as e:
        raise DataError(f"cannot read: {e.strerror}", source=src) from None
    rows: dict[tuple[str, np.datetime64], tuple[float, float, float, float, float]] = {}
    markets: dict[str, str] = {}
    with f:
        reader = csv.DictReader(f)
        cols = [c.strip().lower() for c in (reader.fieldnames or [])]
        missing = [c for c in REQUIRED if c not in cols]
        if missing:
            raise DataError(f"missing column {missing[0]} (needs {', '.join(REQUIRED)})", source=src)
        for line, raw in enumerate(reader, start=2):
            row = {str(k).strip().lower(): v for k, v in raw.items() if k is not None}
            try:
                day = np.datetime64(date.fromisoformat((row.get("date") or "")[:10]), "D")
                sym = asset_symbol(row.get("symbol") or "")
            except ValueError:
                raise DataError(
                    f"line {line}: date/symbol: bad value {row.get('date')!r} / {row.get('symbol')!r}", source=src
                ) from None
            market = (row.get("market") or "").strip()
            if markets.setdefault(sym, market) != market:
                raise DataError(
                    f"line {line}: symbol {sym} appears in two markets ({markets[sym]}, {market})", source=src
                )
            if (sym, day) in rows:
                raise DataError(f"line {line}: {sym} {day} appears twice", source=src)
            supplied = _num(row, "total_supplied", src, line)
            if "utilization" in row and (row.get("utilization") or "").strip():
                util = _num(row, "utilization", src, line)
            else:
                debt = _num(row, "total_variable_debt", src, line, 0.0) + _num(row, "total_stable_debt", src, line, 0.0)
                util = debt / supplied if supplied > 0 else 0.0
            index = _num(row, "liquidity_index", src, line)
            if index <= 0:
                raise DataError(f"line {line}: liquidity_index: must be > 0", source=src)
            rows[(sym, day)] = (
                _num(row, "supply_apr", src, line),
                index,
                supplied,
                util,
                _num(row, "price_usd", src, line, 1.0),
            )
    if not rows:
        raise DataError("no data rows", source=src)
    return _table(rows, src, start, end)


def _table(
    rows: dict[tuple[str, np.datetime64], tuple[float, float, float, float, float]], src: str, start: Any, end: Any
) -> RatesTable:
    reserves = tuple(sorted({s for s, _ in rows}))
    days = sorted({t for _, t in rows})
    lo = np.datetime64(str(start)[:10], "D") if start is not None else days[0]
    hi = np.datetime64(str(end)[:10], "D") if end is not None else days[-1]
    times = np.arange(max(lo, days[0]), min(hi, days[-1]) + _DAY, _DAY)
    if len(times) == 0:
        raise DataError(f"no rates between {lo} and {hi} (file covers {days[0]} to {days[-1]})", source=src)
    grid = np.full((5, len(times), len(reserves)), np.nan)
    pos = {t: i for i, t in enumerate(times)}
    for (sym, t), vals in rows.items():
        i = pos.get(t)
        if i is not None:
            grid[:, i, reserves.index(sym)] = vals
    for j, sym in enumerate(reserves):
        have = np.flatnonzero(np.isfinite(grid[1, :, j]))
        if have.size and have.size != have[-1] - have[0] + 1:
            gap = times[have[0] + int(np.flatnonzero(np.diff(have) > 1)[0]) + 1]
            raise DataError(f"{sym}: missing {gap} (gaps are not filled)", source=src)
        idx = grid[1, have, j]
        if idx.size > 1 and np.any(np.diff(idx) < -1e-12 * idx[:-1]):
            bad = times[have[0] + int(np.flatnonzero(np.diff(idx) < -1e-12 * idx[:-1])[0]) + 1]
            raise DataError(f"{sym}: liquidity_index falls on {bad} (an index never decreases)", source=src)
    return RatesTable(times.astype("datetime64[ns]"), reserves, grid[0], grid[1], grid[2], grid[3], grid[4], src)
