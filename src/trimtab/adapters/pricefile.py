"""Load close prices from CSV / CSV.gz / Parquet files (wide or long) into a checked PriceHistory.

Two steps: `read_price_file` parses a file into a raw matrix, `check_history` selects, windows, fills short
gaps and rejects bad data (numpy). A plain wide file (a timestamp column, then numeric columns) is read by
the standard library when small, else by Arrow (multi-threaded, no pandas import); anything else, and any file
they cannot type cleanly, goes through pandas (imported lazily), so every check and message is pandas' own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from trimtab.adapters.pricearrow import read_wide_arrow
from trimtab.adapters.pricecheck import FilledGap, LoadReport, RawPrices, check_history, fmt_time
from trimtab.adapters.pricesmall import read_small_csv
from trimtab.core.base.history import PriceHistory
from trimtab.core.base.types import asset_symbol
from trimtab.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

TIME_COLUMNS = ("date", "timestamp", "timestamp_utc", "time", "datetime", "snapshot_date")
ASSET_COLUMNS = ("asset", "symbol", "pair")
PRICE_COLUMNS = ("price", "price_usd", "close")
MCAP_COLUMNS = ("market_cap_usd", "market_cap")
VOLUME_COLUMNS = ("volume_usd", "volume_24h_usd", "volume_quote", "volume")
PAIR_QUOTES = ("FDUSD", "USDT", "USDC", "BUSD", "USD")  # longest first, so BUSD is not read as B + USD
_OHLC = {"open", "high", "low", "close"}


def read_price_file(path: str | Path) -> RawPrices:
    """Parse `path` (format from the suffix, layout from the columns) into a raw price matrix.

    Long files: one row per (time, asset). `pair` values like BTCUSDT or BTC/USDT become the base asset.
    Files with a `name` column (CoinMarketCap snapshots) may repeat a symbol for different coins on one
    date: the row with the largest market cap is kept and the others are counted in `duplicates_dropped`.
    A plain `volume` column in an OHLC file is base units (exchange klines) and is converted with `close`.
    """
    p = Path(path)
    src = str(p)
    fast = read_small_csv(p, ASSET_COLUMNS) or read_wide_arrow(p, ASSET_COLUMNS)
    if fast is not None:
        return _wide_checked(src, p, *fast)
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
        raw,
        quote=quote,
        assets=assets,
        start=start,
        end=end,
        forward_fill=forward_fill,
        require_complete=require_complete,
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
        path,
        quote=quote,
        assets=assets,
        start=start,
        end=end,
        forward_fill=forward_fill,
        require_complete=require_complete,
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
        raise DataError(
            f"no time column; expected one of {', '.join(TIME_COLUMNS)}; found {', '.join(map(str, df.columns))}",
            source=src,
            field="time",
        )
    price_col = _first(cols, PRICE_COLUMNS)
    if price_col is None:
        raise DataError(
            f"no price column; expected one of {', '.join(PRICE_COLUMNS)}; found {', '.join(map(str, df.columns))}",
            source=src,
            field="price",
        )
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
            raise DataError(
                f"{_where(p, i)}: duplicated timestamp {fmt_time(tvals[trow[i]].astype('datetime64[ns]'))} "
                f"for {names[codes[i]]}",
                source=src,
                field=str(time_col),
            )
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

    history = PriceHistory(
        times=tvals.astype("datetime64[ns]"),
        assets=tuple(str(n) for n in names),
        prices=scatter(price),
        market_caps=None if mcap is None else scatter(mcap),
        volumes=None if vol is None else scatter(vol),
        source=src,
    )
    return RawPrices(
        history, rows_read=len(df), duplicates_dropped=dropped, pair_quote=quotes.pop() if len(quotes) == 1 else None
    )


def _wide(df: pd.DataFrame, src: str, p: Path) -> RawPrices:
    time_col = df.columns[0]
    if len(df.columns) < 2:
        raise DataError("wide file needs a time column and at least one price column", source=src)
    try:
        times = _times(df[time_col], p, str(time_col))
    except DataError as e:
        raise DataError(f"no time column (first column {time_col!r}: {e.detail})", source=src, field="time") from None
    return _wide_checked(
        src, p, time_col, times, list(df.columns[1:]), lambda c: _numbers(df[c], p, str(c), required=False), len(df)
    )


def _wide_checked(
    src: str,
    p: Path,
    time_col: Any,
    times: np.ndarray,
    columns: list[Any],
    numbers: Callable[[Any], np.ndarray],
    rows: int,
) -> RawPrices:
    """The checks every wide file gets, whichever reader parsed it: time order, column names, numbers."""
    t = times.astype(np.int64)
    steps = np.diff(t)
    if (steps == 0).any():
        i = int(np.flatnonzero(steps == 0)[0]) + 1
        raise DataError(f"{_where(p, i)}: duplicated timestamp {fmt_time(times[i])}", source=src, field=str(time_col))
    if (steps < 0).any():
        i = int(np.flatnonzero(steps < 0)[0]) + 1
        raise DataError(
            f"{_where(p, i)}: rows are not sorted by time ({fmt_time(times[i])} after {fmt_time(times[i - 1])})",
            source=src,
            field=str(time_col),
        )
    assets: list[str] = []
    for c in columns:
        try:
            sym = asset_symbol(str(c))
        except ValueError:
            raise DataError("empty column name", source=src, field="columns") from None
        if sym in assets:
            raise DataError(
                f"asset {sym} appears in two columns (symbols are case-insensitive)", source=src, field=str(c)
            )
        assets.append(sym)
    prices = _assemble([numbers(c) for c in columns])
    prices.flags.writeable = False  # PriceHistory keeps a frozen matrix as is (it copies writable ones)
    history = PriceHistory(times=times, assets=tuple(assets), prices=prices, source=src)
    return RawPrices(history, rows_read=rows)


def _assemble(cols: list[np.ndarray], block: int = 2048) -> np.ndarray:
    """Columns into one [T, N] row-major matrix, a band of rows at a time (cache-friendly: 2x np.stack)."""
    t_len = len(cols[0]) if cols else 0
    out = np.empty((t_len, len(cols)))
    for r in range(0, t_len, block):
        band = out[r : r + block]
        for j, c in enumerate(cols):
            band[:, j] = c[r : r + block]
    return out


__all__ = [
    "FilledGap",
    "LoadReport",
    "RawPrices",
    "check_history",
    "load_prices",
    "load_prices_with_report",
    "read_price_file",
]
