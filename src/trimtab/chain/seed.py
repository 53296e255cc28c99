"""Realistic pool prices for the local chain, read from the bundled real daily USD prices (CoinGecko)."""

from __future__ import annotations

import csv
import gzip
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Final

from trimtab.errors import DataError

# data asset -> test token symbol on the local chain
TOKEN_FOR_ASSET: Final = {"btc": "WBTC", "eth": "WETH", "link": "LINK", "usdc": "USDC"}
DEFAULT_DATE: Final = "2023-11-30"  # last day all four series share (link ends there)


@dataclass(frozen=True)
class SeedPrices:
    """USD price per token symbol on one date, used to seed pools at realistic ratios."""

    date: str
    usd: dict[str, Decimal]


def load_seed_prices(
    path: Path, on: str | None = DEFAULT_DATE, assets: tuple[str, ...] = tuple(TOKEN_FOR_ASSET)
) -> SeedPrices:
    """Prices of `assets` on date `on` if all have it, else on their latest common date."""
    by_date: dict[str, dict[str, Decimal]] = defaultdict(dict)
    wanted = set(assets)
    try:
        with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                asset = row.get("asset", "")
                if asset in wanted:
                    by_date[row["date"]][asset] = Decimal(row["price_usd"])
    except FileNotFoundError:
        raise DataError("price file not found", source=str(path)) from None
    except (KeyError, InvalidOperation, OSError, EOFError) as exc:
        raise DataError(f"unreadable price row ({exc})", source=str(path), field="price_usd") from None
    common = sorted(d for d, prices in by_date.items() if wanted <= prices.keys())
    if not common:
        raise DataError(f"no date with prices for all of {sorted(wanted)}", source=str(path), field="asset")
    date = on if on in common else common[-1]
    day = by_date[date]
    for asset in assets:
        if day[asset] <= 0:
            raise DataError(f"non-positive price for {asset} on {date}", source=str(path), field="price_usd")
    return SeedPrices(date=date, usd={TOKEN_FOR_ASSET.get(a, a.upper()): day[a] for a in assets})
