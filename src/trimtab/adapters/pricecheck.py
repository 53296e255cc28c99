"""Checks on a parsed price file: select assets, window, put missing rows back on the grid, fill short gaps
(reported, never silent) and reject NaN, zero or negative prices, with the file, column and time named."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np

from trimtab.core.base.history import PriceHistory
from trimtab.core.base.types import asset_symbol
from trimtab.errors import ConfigError, DataError


@dataclass(frozen=True, eq=False)
class RawPrices:
    """A whole price file as a matrix (NaN where the file has no value), before any checks."""

    history: PriceHistory
    rows_read: int
    duplicates_dropped: int = 0
    pair_quote: str | None = None


@dataclass(frozen=True, slots=True)
class FilledGap:
    """`rows` consecutive missing closes of `asset` from `first_missing`, filled with the last known close."""

    asset: str
    first_missing: np.datetime64
    rows: int


@dataclass(frozen=True, slots=True)
class LoadReport:
    """What loading had to repair or tolerate, so callers can show it instead of hiding it in warnings."""

    source: str
    rows_read: int
    filled: tuple[FilledGap, ...] = ()
    grid_rows_added: int = 0  # missing timestamps put back on the regular grid, inside the window
    quote_added: str | None = None  # quote priced at 1.0 because the file has no column for it
    late_starts: tuple[tuple[str, np.datetime64], ...] = ()  # require_complete=False: (asset, first close)
    early_ends: tuple[tuple[str, np.datetime64], ...] = ()  # require_complete=False: (asset, last close)
    duplicates_dropped: int = 0  # same symbol, different coin, same date: smaller market caps dropped
    pair_quote: str | None = None  # quote of the file's pairs (e.g. USDT for BTCUSDT), when a pair column was used

    def lines(self) -> tuple[str, ...]:
        """One human-readable note per repair; empty when the file needed none."""
        out = [
            f"{g.asset}: forward-filled {g.rows} missing row(s) from {fmt_time(g.first_missing)}" for g in self.filled
        ]
        if self.quote_added:
            out.append(f"{self.quote_added}: not in the file, priced at 1.0")
        out += [f"{a}: no price before {fmt_time(t)}" for a, t in self.late_starts]
        out += [f"{a}: no price after {fmt_time(t)}" for a, t in self.early_ends]
        if self.duplicates_dropped:
            out.append(f"{self.duplicates_dropped} row(s) sharing a symbol and date dropped (kept largest market cap)")
        return tuple(out)

    def summary(self) -> str | None:
        """All repairs on one line (the count of filled cells, listings, ends); None when nothing was repaired."""
        parts = []
        if self.filled:
            cells = sum(g.rows for g in self.filled)
            assets = sorted({g.asset for g in self.filled})
            parts.append(f"forward-filled {cells} missing cell(s) in {len(self.filled)} gap(s) ({_names(assets)})")
        if self.quote_added:
            parts.append(f"{self.quote_added} priced at 1.0 (not in the file)")
        if self.late_starts:
            parts.append(f"{len(self.late_starts)} asset(s) start later ({_names([a for a, _ in self.late_starts])})")
        if self.early_ends:
            parts.append(f"{len(self.early_ends)} series end early ({_names([a for a, _ in self.early_ends])})")
        if self.duplicates_dropped:
            parts.append(f"{self.duplicates_dropped} duplicate symbol row(s) dropped")
        if not parts:
            return None
        return "; ".join(parts)


def _names(assets: Sequence[str], shown: int = 6) -> str:
    more = f" +{len(assets) - shown} more" if len(assets) > shown else ""
    return ", ".join(assets[:shown]) + more


def _empty_window(times: np.ndarray, start: Any, end: Any, t0: Any, t1: Any, src: str) -> DataError:
    """The error for a window with no rows, naming the bound at fault (never printing None)."""
    covers = f"the file covers {fmt_time(times[0])}..{fmt_time(times[-1])}"
    if t0 is not None and t1 is not None and t0 > t1:
        return DataError(f"{start} is after the end {end}", source=src, field="start")
    if t0 is None or t1 is None:
        where, field, bound = ("after", "start", start) if t1 is None else ("up to", "end", end)
        return DataError(f"no rows {where} {bound}; {covers}", source=src, field=field)
    return DataError(f"no rows from {start} to {end}; {covers}", source=src, field="start")


def check_history(
    raw: RawPrices,
    *,
    quote: str = "USD",
    assets: Sequence[str] | None = None,
    start: Any = None,
    end: Any = None,
    forward_fill: int = 0,
    require_complete: bool = True,
) -> tuple[PriceHistory, LoadReport]:
    """Select `assets` (+ quote), put rows on the regular grid, cut to [start, end], fill short gaps, reject bad data.

    A gap is a missing close after an asset's first close (an empty cell, or a missing row of regular daily/hourly
    data). Runs of at most `forward_fill` rows are filled with the previous close; longer runs inside the window
    raise DataError. With `require_complete` the result has no NaN: late starts and early ends raise too;
    without it they stay NaN and are listed in the report. A date-only `end` includes that whole day.
    """
    h, src = raw.history, raw.history.source
    if forward_fill < 0:
        raise ConfigError(f"must be >= 0, got {forward_fill}", field="forward_fill")
    try:
        q = asset_symbol(quote)
    except ValueError:
        raise ConfigError("empty quote asset", field="quote") from None
    wanted = _wanted(h.assets, assets, q, src)
    real = tuple(a for a in wanted if a in h.assets)
    sub = h if real == h.assets else h.select(real)  # the whole file: no copy
    nan = np.isnan(sub.prices)
    keep = ~np.all(nan, axis=1) if real else np.ones(len(h), dtype=bool)
    if keep.all():  # the usual case: no row without any price, no copy
        mats = [sub.prices, sub.market_caps, sub.volumes]
    else:
        mats = [m[keep] if m is not None else None for m in (sub.prices, sub.market_caps, sub.volumes)]
        nan = nan[keep]
    if not keep.any():
        raise DataError(f"no prices for {', '.join(real)}", source=src, field="assets")
    times, mats, added = _regular_grid(sub.times[keep], mats)
    if len(times) != len(nan):  # rows were put back on the grid: they are missing prices
        nan = np.isnan(mats[0])  # type: ignore[arg-type]
    t0, t1 = _bound(start, "start", end=False), _bound(end, "end", end=True)
    lo = 0 if t0 is None else int(np.searchsorted(times, t0, side="left"))
    hi = len(times) if t1 is None else int(np.searchsorted(times, t1, side="right"))
    if lo >= hi:
        raise _empty_window(times, start, end, t0, t1, src)
    step = np.median(np.diff(times)) if len(times) > 1 else np.timedelta64(1, "D")
    # a requested bound a whole step or more beyond the data counts as missing prices there
    w_start = t0 if t0 is not None and lo == 0 and times[0] - t0 >= step else None
    w_end = t1 if t1 is not None and hi == len(times) and t1 - times[-1] >= step else None
    prices = np.asarray(mats[0], dtype=np.float64)
    # columns with nothing to repair or reject (no NaN, no bad value in the window, window inside the data)
    # skip `_repair`, which would change nothing there; the others go through it in column order as before
    win = prices[lo:hi]
    needs = np.asarray(nan.any(axis=0) | ((win <= 0) | np.isinf(win)).any(axis=0), dtype=bool)
    needs |= w_start is not None or w_end is not None
    if nan.any():
        prices = prices.copy()  # repaired in place
    filled: list[FilledGap] = []
    late: list[tuple[str, np.datetime64]] = []
    early: list[tuple[str, np.datetime64]] = []
    for j, a in enumerate(real):
        if not needs[j]:
            continue
        f, s, e = _repair(a, prices[:, j], times, (lo, hi, w_start, w_end), forward_fill, require_complete, src)
        filled += f
        late += [(a, s)] if s is not None else []
        early += [(a, e)] if e is not None else []

    def columns(m: np.ndarray, fill: float) -> np.ndarray:
        """The window's rows in `wanted` order (absent columns = fill), frozen so PriceHistory keeps it as is."""
        out = np.empty((hi - lo, len(wanted)))
        idx = [wanted.index(a) for a in real]
        if idx == list(range(len(real))):  # file columns first, in order: one block copy
            out[:, : len(real)] = m[lo:hi]
        else:
            out[:, idx] = m[lo:hi]
        out[:, [j for j in range(len(wanted)) if j not in idx]] = fill
        out.flags.writeable = False
        return out

    mc, vol = mats[1], mats[2]
    history = PriceHistory(
        times=times[lo:hi],
        assets=wanted,
        prices=columns(prices, 1.0),
        market_caps=None if mc is None else columns(mc, np.nan),
        volumes=None if vol is None else columns(vol, np.nan),
        source=src,
    )
    report = LoadReport(
        source=src,
        rows_read=raw.rows_read,
        filled=tuple(filled),
        grid_rows_added=int(added[lo:hi].sum()),
        quote_added=None if q in real else q,
        late_starts=tuple(late),
        early_ends=tuple(early),
        duplicates_dropped=raw.duplicates_dropped,
        pair_quote=raw.pair_quote,
    )
    return history, report


def fmt_time(t: np.datetime64) -> str:
    """A date for midnight timestamps, else minutes: what a user types after --start."""
    day = t.astype("datetime64[D]")
    return str(day) if day == t else str(t.astype("datetime64[m]"))


def _wanted(have: tuple[str, ...], assets: Sequence[str] | None, q: str, src: str) -> tuple[str, ...]:
    names: list[str] = []
    for raw in have if assets is None else assets:
        try:
            a = asset_symbol(str(raw))
        except ValueError:
            raise ConfigError("empty asset symbol", field="assets") from None
        if a not in names:
            names.append(a)
    if q not in names:
        names.append(q)
    missing = [a for a in names if a not in have and a != q]
    if missing:
        listed = ", ".join(have[:60]) + (f", ... ({len(have)} in all)" if len(have) > 60 else "")
        raise DataError(f"{', '.join(missing)} not in the file; it has {listed}", source=src, field="assets")
    return tuple(names)


def _bound(value: Any, field: str, *, end: bool) -> np.datetime64 | None:
    """Window bound as UTC datetime64[ns]; a date-only end is the last instant of that day."""
    if value is None:
        return None
    day_only = (isinstance(value, date) and not isinstance(value, datetime)) or (
        isinstance(value, str) and len(value.strip()) == 10
    )
    try:
        if isinstance(value, str):
            value = datetime.fromisoformat(value.strip())
        if isinstance(value, datetime) and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        t = np.datetime64(value, "ns")
    except (ValueError, TypeError):
        raise ConfigError(f"not a date or timestamp: {value!r}", field=field) from None
    return t + np.timedelta64(1, "D") - np.timedelta64(1, "ns") if end and day_only else t


def _regular_grid(
    times: np.ndarray, mats: list[np.ndarray | None]
) -> tuple[np.ndarray, list[np.ndarray | None], np.ndarray]:
    """Reindex regularly spaced data (every time on t0 + k * median step) so missing rows become NaN rows."""
    n = len(times)
    none = np.zeros(n, dtype=bool)
    if n < 3:
        return times, mats, none
    t = times.astype(np.int64)
    off = t - t[0]
    step = int(np.median(np.diff(t)))
    if step <= 0 or bool((off % step).any()):
        return times, mats, none
    size = int(off[-1] // step) + 1
    if size == n or size > 20 * n + 1000:
        return times, mats, none
    rows = off // step
    out: list[np.ndarray | None] = []
    for m in mats:
        if m is None:
            out.append(None)
            continue
        g = np.full((size, m.shape[1]), np.nan)
        g[rows] = m
        out.append(g)
    added = np.ones(size, dtype=bool)
    added[rows] = False
    return (t[0] + np.arange(size, dtype=np.int64) * step).astype("datetime64[ns]"), out, added


_Window = tuple[int, int, np.datetime64 | None, np.datetime64 | None]  # rows [lo, hi), start/end beyond the data


def _repair(
    a: str, col: np.ndarray, times: np.ndarray, window: _Window, k: int, complete: bool, src: str
) -> tuple[list[FilledGap], np.datetime64 | None, np.datetime64 | None]:
    """Fill short runs of NaN in `col` in place; raise on long runs, late starts / early ends, bad values."""
    lo, hi, w_start, w_end = window
    valid = np.flatnonzero(~np.isnan(col))
    if len(valid) == 0:
        raise DataError("no prices in the file", source=src, field=a)
    fv, lv = int(valid[0]), int(valid[-1])
    late = early = None
    if fv > lo or w_start is not None:
        if complete:
            raise DataError(
                f"no price before {fmt_time(times[fv])}, after the window start "
                f"{fmt_time(times[lo] if w_start is None else w_start)}; "
                f"use --start {fmt_time(times[fv])} or later",
                source=src,
                field=a,
            )
        late = times[fv]
    filled: list[FilledGap] = []
    gaps = np.diff(np.isnan(col[fv : lv + 1]).astype(np.int8), prepend=0, append=0)
    for s, e in zip((np.flatnonzero(gaps == 1) + fv).tolist(), (np.flatnonzero(gaps == -1) + fv).tolist(), strict=True):
        if e <= lo or s >= hi:
            continue
        if e - s > k:
            raise DataError(
                f"no price for {e - s} row(s) from {fmt_time(times[max(s, lo)])} (forward_fill={k} fills at most {k})",
                source=src,
                field=a,
            )
        col[s:e] = col[s - 1]
        filled.append(FilledGap(a, times[s], e - s))
    n = hi - 1 - lv
    if fv < hi and (n > 0 or w_end is not None):
        if n <= k and w_end is None:
            col[lv + 1 : hi] = col[lv]
            filled.append(FilledGap(a, times[lv + 1], n))
        elif complete:
            raise DataError(
                f"no price after {fmt_time(times[lv])}, before the window end "
                f"{fmt_time(times[hi - 1] if w_end is None else w_end)}; "
                f"use --end {fmt_time(times[lv])} or earlier",
                source=src,
                field=a,
            )
        else:
            early = times[lv]
    w = col[lo:hi]
    bad = np.flatnonzero((w <= 0) | np.isinf(w))
    if len(bad):
        i = int(bad[0])
        raise DataError(
            f"price {float(w[i])} at {fmt_time(times[lo + i])}: prices must be positive", source=src, field=a
        )
    return filled, late, early
