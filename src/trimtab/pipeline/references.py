"""Second price sources for `guards.price_tolerance`: another exchange's tickers, a price file, or the DEX pools."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from trimtab.core.base.ports import PoolPriced
from trimtab.core.policy import ReferenceSource
from trimtab.errors import ConfigError


class ReferencePrices(Protocol):
    """Prices of `assets` in `quote` at (or just before) `at`, from a source independent of the planning one."""

    def prices(self, assets: Sequence[str], quote: str, at: datetime) -> dict[str, Decimal]: ...


class FileReference:
    """The last row at or before `at` of a price file (any file `trimtab backtest` reads)."""

    def __init__(self, path: str) -> None:
        from trimtab.adapters.pricefile import load_prices_with_report

        self.path = path
        self.history, _ = load_prices_with_report(path, require_complete=False)

    def prices(self, assets: Sequence[str], quote: str, at: datetime) -> dict[str, Decimal]:
        import numpy as np

        from trimtab.core.base.snapshot import MarketSnapshot

        stamp = np.datetime64(at.replace(tzinfo=None), "ns")
        i = int(np.searchsorted(self.history.times, stamp, side="right")) - 1
        if i < 0:
            return {}
        snap = MarketSnapshot.from_history(self.history, i, at, quote if quote in self.history.assets else None)
        return {a: p for a, p in snap.prices.items() if a in assets}


class TickerReference:
    """Any callable price(asset, quote) -> Decimal: another ccxt exchange's last price, or the DEX pools' mid."""

    def __init__(self, price: Callable[[str, str], Decimal]) -> None:
        self._price = price

    def prices(self, assets: Sequence[str], quote: str, at: datetime) -> dict[str, Decimal]:
        out = {}
        for a in assets:
            try:
                out[a] = self._price(a, quote)
            except Exception:  # noqa: BLE001, S112  (a missing second price is a guard violation, not a crash)
                continue
        return out


def pool_price(venue: PoolPriced) -> Callable[[str, str], Decimal]:
    """One asset's mid price from a DEX venue's pools."""

    def price(asset: str, quote: str) -> Decimal:
        return venue.mid_prices([asset], quote)[asset]

    return price


def open_reference(
    source: ReferenceSource | None, *, venue: object = None, base_dir: str | None = None
) -> ReferencePrices | None:
    """The configured second source; `pool` needs a venue that prices from its own pools (the DEX venue)."""
    if source is None:
        return None
    if source.kind == "file":
        from pathlib import Path

        p = Path(source.target)
        if base_dir is not None and not p.is_absolute():
            p = Path(base_dir) / p
        return FileReference(str(p))
    if source.kind == "pool":
        if not isinstance(venue, PoolPriced):
            raise ConfigError(
                "pool: true needs the uniswap venue's pools (use ccxt: or file: here)", field="guards.reference"
            )
        return TickerReference(pool_price(venue))
    from trimtab.adapters.ccxt_venue import CcxtVenue
    from trimtab.adapters.ccxt_venue.urls import api_urls

    venue = CcxtVenue(
        source.target,
        api_urls=api_urls(source.target, source.url, field="guards.reference.url") if source.url else None,
        client_config={"enableRateLimit": source.url is None},
    )
    return TickerReference(venue.last_price)
