"""Data shipped inside the package (CoinGecko daily prices, coverage, Etherscan gas, CMC snapshots), usable offline.

The parsed daily matrix is cached in-process and as an .npz in the user cache dir keyed by the file's SHA-256,
so a second process loads it with numpy alone (no pandas import, no CSV parse).
"""

from __future__ import annotations

import csv
import functools
import hashlib
import os
import zipfile
from collections.abc import Sequence
from datetime import date
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from trimtab.adapters.pricefile import LoadReport, RawPrices, check_history, read_price_file
from trimtab.adapters.proxies import PROXIES, proxied_request, with_proxies
from trimtab.core.base.history import PriceHistory
from trimtab.core.base.types import asset_symbol
from trimtab.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

DAILY = "daily_prices_usd.csv.gz"
COVERAGE = "daily_coverage.csv"
CMC = "cmc_monthly_top200_snapshots.csv.gz"
EXAMPLE_PORTFOLIO = "example-portfolio.yaml"
_CACHE_FORMAT = 1  # bump when RawPrices or the reader changes meaning


def bundled_path(name: str) -> Path:
    """Filesystem path of a file shipped in trimtab/data/ (wheels install as directories, so it is a real file)."""
    ref = resources.files("trimtab").joinpath("data", name)
    if not ref.is_file():
        raise DataError("not shipped with trimtab", source=f"trimtab/data/{name}")
    return Path(str(ref))


def cache_dir() -> Path:
    """$TRIMTAB_CACHE_DIR, else $XDG_CACHE_HOME/trimtab, else ~/.cache/trimtab."""
    if env := os.environ.get("TRIMTAB_CACHE_DIR"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "trimtab"


def cached_raw(path: Path) -> RawPrices:
    """`read_price_file(path)`, reusing an .npz copy keyed by the file's content hash; the cache is best effort."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:20]
    target = cache_dir() / f"{path.name}.{digest}.v{_CACHE_FORMAT}.npz"
    try:
        return _load_npz(target, str(path))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        pass
    raw = read_price_file(path)
    _save_npz(target, raw)
    return raw


@functools.lru_cache(maxsize=1)
def _daily_raw() -> RawPrices:
    return cached_raw(bundled_path(DAILY))


def bundled_daily_with_report(
    assets: Sequence[str] | None = None,
    start: Any = None,
    end: Any = None,
    quote: str = "USD",
    forward_fill: int = 3,
    require_complete: bool = True,
) -> tuple[PriceHistory, LoadReport]:
    """Checked daily USD closes from the bundled CoinGecko file, with the report of filled gaps; a requested WBTC is
    priced as BTC (adapters.proxies)."""
    raw = _daily_raw()
    read, used = proxied_request(assets, raw.history.assets)
    history, report = check_history(
        raw,
        quote=quote,
        assets=read,
        start=start,
        end=end,
        forward_fill=forward_fill,
        require_complete=require_complete,
    )
    return with_proxies(history, used, assets or ()), report


def bundled_daily(
    assets: Sequence[str] | None = None,
    start: Any = None,
    end: Any = None,
    quote: str = "USD",
    forward_fill: int = 3,
    require_complete: bool = True,
) -> PriceHistory:
    """Checked daily USD closes (00:00 UTC snapshots) of `assets` from the bundled CoinGecko file."""
    return bundled_daily_with_report(assets, start, end, quote, forward_fill, require_complete)[0]


def coverage() -> dict[str, tuple[date, date]]:
    """First and last date of each bundled daily series; a series ending early is an export artefact, not a
    delisting. WBTC has BTC's dates: it is priced as BTC (adapters.proxies)."""
    with bundled_path(COVERAGE).open(newline="") as f:
        cov = {
            asset_symbol(r["asset"]): (date.fromisoformat(r["first_date"]), date.fromisoformat(r["last_date"]))
            for r in csv.DictReader(f)
        }
    return cov | {p: cov[src] for p, src in PROXIES.items() if src in cov and p not in cov}


def cmc_snapshots() -> pd.DataFrame:
    """The CoinMarketCap monthly top-200 table as published (symbols upper-case, `snapshot_date` parsed as UTC).

    Symbols are not unique across coins: key on (symbol, name); `load_prices` keeps the largest market cap.
    """
    import pandas as pd  # lazy: only universe-selection code needs the raw table

    df = pd.read_csv(bundled_path(CMC))
    df["snapshot_date"] = pd.to_datetime(df["snapshot_date"], format="ISO8601")
    df["symbol"] = df["symbol"].astype(str).str.strip().str.upper()
    return df


def _save_npz(target: Path, raw: RawPrices) -> None:
    h = raw.history
    empty = np.empty((0, 0))
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("wb") as f:
            np.savez(
                f,
                times=h.times.astype(np.int64),
                assets=np.array(h.assets, dtype=str),
                prices=h.prices,
                market_caps=h.market_caps if h.market_caps is not None else empty,
                volumes=h.volumes if h.volumes is not None else empty,
                meta=np.array([raw.rows_read, raw.duplicates_dropped], dtype=np.int64),
                pair_quote=np.array(raw.pair_quote or "", dtype=str),
            )
        tmp.replace(target)  # atomic: a concurrent reader sees the old state or the whole file
    except OSError:
        tmp.unlink(missing_ok=True)


def _load_npz(target: Path, source: str) -> RawPrices:
    with np.load(target, allow_pickle=False) as z:
        mcaps, vols = z["market_caps"], z["volumes"]
        history = PriceHistory(
            times=z["times"].astype("datetime64[ns]"),
            assets=tuple(str(a) for a in z["assets"]),
            prices=z["prices"],
            market_caps=mcaps if mcaps.size else None,
            volumes=vols if vols.size else None,
            source=source,
        )
        rows, dropped = (int(x) for x in z["meta"])
        quote = str(z["pair_quote"]) or None
    return RawPrices(history, rows_read=rows, duplicates_dropped=dropped, pair_quote=quote)
