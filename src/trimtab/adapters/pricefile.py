"""Load close prices from CSV / CSV.gz / Parquet files (wide or long) into a checked PriceHistory.

Two steps: `read_price_file` parses a file into a raw matrix (pandas, imported lazily so cached callers
never pay its 0.5 s import), `check_history` selects, windows, fills short gaps and rejects bad data (numpy).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from trimtab.core.history import PriceHistory
from trimtab.core.types import asset_symbol
from trimtab.errors import ConfigError, DataError

if TYPE_CHECKING:
    import pandas as pd

TIME_COLUMNS = ("date", "timestamp", "timestamp_utc", "time", "datetime", "snapshot_date")
ASSET_COLUMNS = ("asset", "symbol", "pair")
PRICE_COLUMNS = ("price", "price_usd", "close")
MCAP_COLUMNS = ("market_cap_usd", "market_cap")
VOLUME_COLUMNS = ("volume_usd", "volume_24h_usd", "volume_quote", "volume")
PAIR_QUOTES = ("FDUSD", "USDT", "USDC", "BUSD", "USD")  # longest first, so BUSD is not read as B + USD
_OHLC = {"open", "high", "low", "close"}


@dataclass(frozen=True, eq=False)
class RawPrices:
    """A whole price file as a matrix (NaN where the file has no value), before any checks."""

    history: PriceHistory
    rows_read: int
    duplicates_dropped: int = 0
    pair_quote: str | None = None


def read_price_file(path: str | Path) -> RawPrices:
    """Parse `path` (format from the suffix, layout from the columns) into a raw price matrix.

    Long files: one row per (time, asset). `pair` values like BTCUSDT or BTC/USDT become the base asset.
    Files with a `name` column (CoinMarketCap snapshots) may repeat a symbol for different coins on one
    date: the row with the largest market cap is kept and the others are counted in `duplicates_dropped`.
    A plain `volume` column in an OHLC file is base units (exchange klines) and is converted with `close`.
    """
    p = Path(path)
    src = str(p)
    df = _read_frame(p)
    if len(df) == 0:
        raise DataError("no data rows", source=src)
    cols = {str(c).strip().lower(): c for c in df.columns}
    asset_col = _first(cols, ASSET_COLUMNS)
    if asset_col is not None:
        return _long(df, cols, asset_col, src, p)
    return _wide(df, src, p)


def load_prices_with_report(
    path: str | Path,
    *,
    quote: str = "USD",
    assets: Sequence[str] | None = None,
    start: Any = None,
    end: Any = None,
    forward_fill: int = 0,
    require_complete: bool = True,
) -> tuple[PriceHistory, LoadReport]:
    """Load, select, window and check a price file; the report lists filled gaps and other repairs.

    See `check_history` for the gap, window and completeness rules.
    """
    raw = read_price_file(path)
    return check_history(
        raw, quote=quote, assets=assets, start=start, end=end,
        forward_fill=forward_fill, require_complete=require_complete,
    )


def load_prices(
    path: str | Path,
    *,
    quote: str = "USD",
    assets: Sequence[str] | None = None,
    start: Any = None,
    end: Any = None,
    forward_fill: int = 0,
    require_complete: bool = True,
) -> PriceHistory:
    """Checked closes of `assets` (plus the quote, priced 1.0 if the file lacks it) from a CSV/CSV.gz/Parquet file."""
    history, _ = load_prices_with_report(
        path, quote=quote, assets=assets, start=start, end=end,
        forward_fill=forward_fill, require_complete=require_complete,
    )
    return history


def _read_frame(p: Path) -> pd.DataFrame:
    import pandas as pd  # lazy: 0.5 s import, avoided on cached paths

    if not p.is_file():
        raise DataError("file not found", source=str(p))
    name = p.name.lower()
    try:
        if name.endswith((".parquet", ".pq")):
            df = pd.read_parquet(p)
            if not isinstance(df.index, pd.RangeIndex):
                df = df.reset_index()
            return df
        if name.endswith((".csv", ".csv.gz", ".gz")):
            return pd.read_csv(p)
    except pd.errors.EmptyDataError:
        raise DataError("file is empty", source=str(p)) from None
    except (ValueError, OSError, EOFError, UnicodeDecodeError, pd.errors.ParserError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DataError(f"unreadable file ({first})", source=str(p)) from None
    raise DataError("unsupported format; expected .csv, .csv.gz or .parquet", source=str(p))


def _first(cols: dict[str, Any], names: Sequence[str]) -> Any:
    return next((cols[n] for n in names if n in cols), None)


def _where(p: Path, i: int) -> str:
    """Human position of data row `i`: the CSV line number (header is line 1) or the Parquet row."""
    return f"row {i + 1}" if p.name.lower().endswith((".parquet", ".pq")) else f"line {i + 2}"


def _times(series: pd.Series, p: Path, field: str) -> np.ndarray:
    """UTC datetime64[ns] values; naive timestamps are taken as UTC. Each distinct text is parsed once."""
    import pandas as pd

    codes, uniques = pd.factorize(series, use_na_sentinel=False)
    parsed = pd.to_datetime(pd.Series(uniques), utc=True, format="ISO8601", errors="coerce")
    if bool(parsed.isna().all()):
        parsed = pd.to_datetime(pd.Series(uniques), utc=True, format="mixed", errors="coerce")
    bad = np.flatnonzero(parsed.isna().to_numpy()[codes])
    if len(bad):
        i = int(bad[0])
        raise DataError(f"{_where(p, i)}: not a timestamp: {series.iloc[i]!r}", source=str(p), field=str(field))
    out: np.ndarray = parsed.dt.tz_convert(None).to_numpy().astype("datetime64[ns]")[codes]
    return out


def _numbers(series: pd.Series, p: Path, field: str, *, required: bool) -> np.ndarray:
    """float64 values; text that is not a number is an error, and so is an empty cell when `required`."""
    import pandas as pd

    values: np.ndarray = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    nan = np.isnan(values)
    bad = nan & series.notna().to_numpy() if not required else nan
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        what = "empty price" if series.isna().iloc[i] else f"not a number: {series.iloc[i]!r}"
        raise DataError(f"{_where(p, i)}: {what}", source=str(p), field=str(field))
    return values


def _split_pair(raw: str) -> tuple[str, str | None]:
    """(base, quote) of a pair like BTCUSDT, BTC/USDT or BTC-USD; (symbol, None) when no quote is recognised."""
    sym = asset_symbol(raw)
    for sep in ("/", "-", "_"):
        if sep in sym:
            base, quote = sym.split(sep, 1)
            return asset_symbol(base), quote.split(":")[0] or None
    q = next((q for q in PAIR_QUOTES if sym.endswith(q) and len(sym) > len(q)), None)
    return (sym[: -len(q)], q) if q else (sym, None)


def _long(df: pd.DataFrame, cols: dict[str, Any], asset_col: Any, src: str, p: Path) -> RawPrices:
    import pandas as pd

    time_col = _first(cols, TIME_COLUMNS)
    if time_col is None:
        raise DataError(f"no time column; expected one of {', '.join(TIME_COLUMNS)}; found {', '.join(map(str, df.columns))}",
                        source=src, field="time")
    price_col = _first(cols, PRICE_COLUMNS)
    if price_col is None:
        raise DataError(f"no price column; expected one of {', '.join(PRICE_COLUMNS)}; found {', '.join(map(str, df.columns))}",
                        source=src, field="price")
    times = _times(df[time_col], p, time_col)
    price = _numbers(df[price_col], p, price_col, required=True)
    raw_assets = df[asset_col]
    if bool(raw_assets.isna().any()):
        i = int(np.flatnonzero(raw_assets.isna().to_numpy())[0])
        raise DataError(f"{_where(p, i)}: empty asset", source=src, field=str(asset_col))
    codes0, uniques = pd.factorize(raw_assets.astype(str))
    is_pair = str(asset_col).strip().lower() == "pair"
    try:
        split = [_split_pair(str(u)) if is_pair else (asset_symbol(str(u)), None) for u in uniques]
    except ValueError:
        raise DataError("empty asset symbol", source=src, field=str(asset_col)) from None
    names, remap = np.unique(np.array([b for b, _ in split], dtype=str), return_inverse=True)
    codes = remap[codes0]
    quotes = {q for _, q in split if q}
    mcap_col, vol_col = _first(cols, MCAP_COLUMNS), _first(cols, VOLUME_COLUMNS)
    mcap = None if mcap_col is None else _numbers(df[mcap_col], p, mcap_col, required=False)
    vol = None if vol_col is None else _numbers(df[vol_col], p, vol_col, required=False)
    if vol is not None and str(vol_col).strip().lower() == "volume" and _OHLC <= set(cols):
        vol = vol * _numbers(df[cols["close"]], p, cols["close"], required=True)

    tvals, trow = np.unique(times, return_inverse=True)
    key = trow * len(names) + codes  # one per (time, asset)
    order = np.argsort(key, kind="stable")
    dup = np.zeros(len(key), dtype=bool)
    dup[order[1:]] = key[order[1:]] == key[order[:-1]]  # marks the later row of each repeat
    dropped = 0
    if dup.any():
        name_col = cols.get("name")
        if name_col is None or bool(df.duplicated([time_col, asset_col, name_col]).any()):
            i = int(np.flatnonzero(dup)[0])
            raise DataError(f"{_where(p, i)}: duplicated timestamp {_fmt(tvals[trow[i]].astype('datetime64[ns]'))} "
                            f"for {names[codes[i]]}", source=src, field=str(time_col))
        rank = -np.nan_to_num(mcap, nan=-np.inf) if mcap is not None else np.zeros(len(key))
        order = np.lexsort((rank, key))  # by key, largest market cap first
        keep = order[np.r_[True, key[order[1:]] != key[order[:-1]]]]
        dropped = len(key) - len(keep)
        trow, codes, price = trow[keep], codes[keep], price[keep]
        mcap = None if mcap is None else mcap[keep]
        vol = None if vol is None else vol[keep]
    shape = (len(tvals), len(names))

    def scatter(v: np.ndarray) -> np.ndarray:
        m = np.full(shape, np.nan)
        m[trow, codes] = v
        return m

    history = PriceHistory(times=tvals.astype("datetime64[ns]"), assets=tuple(str(n) for n in names), prices=scatter(price),
                           market_caps=None if mcap is None else scatter(mcap), volumes=None if vol is None else scatter(vol),
                           source=src)
    return RawPrices(history, rows_read=len(df), duplicates_dropped=dropped,
                     pair_quote=quotes.pop() if len(quotes) == 1 else None)


def _wide(df: pd.DataFrame, src: str, p: Path) -> RawPrices:
    time_col = df.columns[0]
    if len(df.columns) < 2:
        raise DataError("wide file needs a time column and at least one price column", source=src)
    try:
        times = _times(df[time_col], p, str(time_col))
    except DataError as e:
        raise DataError(f"no time column (first column {time_col!r}: {e.detail})", source=src, field="time") from None
    t = times.astype(np.int64)
    steps = np.diff(t)
    if (steps == 0).any():
        i = int(np.flatnonzero(steps == 0)[0]) + 1
        raise DataError(f"{_where(p, i)}: duplicated timestamp {_fmt(times[i])}", source=src, field=str(time_col))
    if (steps < 0).any():
        i = int(np.flatnonzero(steps < 0)[0]) + 1
        raise DataError(f"{_where(p, i)}: rows are not sorted by time ({_fmt(times[i])} after {_fmt(times[i - 1])})",
                        source=src, field=str(time_col))
    assets: list[str] = []
    for c in df.columns[1:]:
        try:
            sym = asset_symbol(str(c))
        except ValueError:
            raise DataError("empty column name", source=src, field="columns") from None
        if sym in assets:
            raise DataError(f"asset {sym} appears in two columns (symbols are case-insensitive)", source=src, field=str(c))
        assets.append(sym)
    prices = np.column_stack([_numbers(df[c], p, str(c), required=False) for c in df.columns[1:]])
    history = PriceHistory(times=times, assets=tuple(assets), prices=prices, source=src)
    return RawPrices(history, rows_read=len(df))


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
        out = [f"{g.asset}: forward-filled {g.rows} missing row(s) from {_fmt(g.first_missing)}" for g in self.filled]
        if self.quote_added:
            out.append(f"{self.quote_added}: not in the file, priced at 1.0")
        out += [f"{a}: no price before {_fmt(t)}" for a, t in self.late_starts]
        out += [f"{a}: no price after {_fmt(t)}" for a, t in self.early_ends]
        if self.duplicates_dropped:
            out.append(f"{self.duplicates_dropped} row(s) sharing a symbol and date dropped (kept largest market cap)")
        return tuple(out)


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
    sub = h.select(real)
    keep = ~np.all(np.isnan(sub.prices), axis=1) if real else np.ones(len(h), dtype=bool)
    mats = [m[keep] if m is not None else None for m in (sub.prices, sub.market_caps, sub.volumes)]
    if not keep.any():
        raise DataError(f"no prices for {', '.join(real)}", source=src, field="assets")
    times, mats, added = _regular_grid(sub.times[keep], mats)
    t0, t1 = _bound(start, "start", end=False), _bound(end, "end", end=True)
    lo = 0 if t0 is None else int(np.searchsorted(times, t0, side="left"))
    hi = len(times) if t1 is None else int(np.searchsorted(times, t1, side="right"))
    if lo >= hi:
        raise DataError(f"no rows between {start} and {end}; the file covers {_fmt(times[0])}..{_fmt(times[-1])}",
                        source=src, field="start")
    step = np.median(np.diff(times)) if len(times) > 1 else np.timedelta64(1, "D")
    # a requested bound a whole step or more beyond the data counts as missing prices there
    w_start = t0 if t0 is not None and lo == 0 and times[0] - t0 >= step else None
    w_end = t1 if t1 is not None and hi == len(times) and t1 - times[-1] >= step else None
    prices = np.array(mats[0], dtype=np.float64)
    filled: list[FilledGap] = []
    late: list[tuple[str, np.datetime64]] = []
    early: list[tuple[str, np.datetime64]] = []
    for j, a in enumerate(real):
        f, s, e = _repair(a, prices[:, j], times, (lo, hi, w_start, w_end), forward_fill, require_complete, src)
        filled += f
        late += [(a, s)] if s is not None else []
        early += [(a, e)] if e is not None else []

    def columns(m: np.ndarray, fill: float) -> np.ndarray:
        out = np.full((hi - lo, len(wanted)), fill)
        for j, a in enumerate(real):
            out[:, wanted.index(a)] = m[lo:hi, j]
        return out

    mc, vol = mats[1], mats[2]
    history = PriceHistory(times=times[lo:hi], assets=wanted, prices=columns(prices, 1.0),
                           market_caps=None if mc is None else columns(mc, np.nan),
                           volumes=None if vol is None else columns(vol, np.nan), source=src)
    report = LoadReport(source=src, rows_read=raw.rows_read, filled=tuple(filled),
                        grid_rows_added=int(added[lo:hi].sum()), quote_added=None if q in real else q,
                        late_starts=tuple(late), early_ends=tuple(early),
                        duplicates_dropped=raw.duplicates_dropped, pair_quote=raw.pair_quote)
    return history, report


def _fmt(t: np.datetime64) -> str:
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
        isinstance(value, str) and len(value.strip()) == 10)
    try:
        if isinstance(value, str):
            value = datetime.fromisoformat(value.strip())
        if isinstance(value, datetime) and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        t = np.datetime64(value, "ns")
    except (ValueError, TypeError):
        raise ConfigError(f"not a date or timestamp: {value!r}", field=field) from None
    return t + np.timedelta64(1, "D") - np.timedelta64(1, "ns") if end and day_only else t


def _regular_grid(times: np.ndarray, mats: list[np.ndarray | None]) -> tuple[np.ndarray, list[np.ndarray | None], np.ndarray]:
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


def _repair(a: str, col: np.ndarray, times: np.ndarray, window: _Window, k: int, complete: bool,
            src: str) -> tuple[list[FilledGap], np.datetime64 | None, np.datetime64 | None]:
    """Fill short runs of NaN in `col` in place; raise on long runs, late starts / early ends, bad values."""
    lo, hi, w_start, w_end = window
    valid = np.flatnonzero(~np.isnan(col))
    if len(valid) == 0:
        raise DataError("no prices in the file", source=src, field=a)
    fv, lv = int(valid[0]), int(valid[-1])
    late = early = None
    if fv > lo or w_start is not None:
        if complete:
            raise DataError(f"no price before {_fmt(times[fv])}, after the window start {_fmt(times[lo] if w_start is None else w_start)}; "
                            f"use --start {_fmt(times[fv])} or later", source=src, field=a)
        late = times[fv]
    filled: list[FilledGap] = []
    gaps = np.diff(np.isnan(col[fv:lv + 1]).astype(np.int8), prepend=0, append=0)
    for s, e in zip((np.flatnonzero(gaps == 1) + fv).tolist(), (np.flatnonzero(gaps == -1) + fv).tolist(), strict=True):
        if e <= lo or s >= hi:
            continue
        if e - s > k:
            raise DataError(f"no price for {e - s} row(s) from {_fmt(times[max(s, lo)])} "
                            f"(forward_fill={k} fills at most {k})", source=src, field=a)
        col[s:e] = col[s - 1]
        filled.append(FilledGap(a, times[s], e - s))
    n = hi - 1 - lv
    if fv < hi and (n > 0 or w_end is not None):
        if n <= k and w_end is None:
            col[lv + 1:hi] = col[lv]
            filled.append(FilledGap(a, times[lv + 1], n))
        elif complete:
            raise DataError(f"no price after {_fmt(times[lv])}, before the window end {_fmt(times[hi - 1] if w_end is None else w_end)}; "
                            f"use --end {_fmt(times[lv])} or earlier", source=src, field=a)
        else:
            early = times[lv]
    w = col[lo:hi]
    bad = np.flatnonzero((w <= 0) | np.isinf(w))
    if len(bad):
        i = int(bad[0])
        raise DataError(f"price {float(w[i])} at {_fmt(times[lo + i])}: prices must be positive", source=src, field=a)
    return filled, late, early
