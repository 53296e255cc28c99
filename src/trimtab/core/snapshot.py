"""A point-in-time, read-only view of the market: latest prices and the history up to now."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from trimtab.core.history import PriceHistory
from trimtab.errors import DataError


@dataclass(frozen=True)
class MarketSnapshot:
    """Prices (quote per unit) at `time`; `history` holds rows up to `time` only (cvxportfolio's serve(t))."""

    time: datetime
    prices: dict[str, Decimal]
    history: PriceHistory | None = None

    @classmethod
    def from_history(cls, history: PriceHistory, i: int, time: datetime) -> MarketSnapshot:
        """Snapshot at row `i`: the row's prices as Decimal, the history cut at `i`."""
        row = history.prices[i]
        prices = {}
        for j, a in enumerate(history.assets):
            p = float(row[j])
            if math.isfinite(p) and p > 0:
                prices[a] = Decimal(repr(p))
        return cls(time=time, prices=prices, history=history.upto(i))

    def require(self, assets: list[str] | tuple[str, ...], *, source: str = "prices") -> None:
        """Fail before planning when an asset has no usable price."""
        for a in assets:
            p = self.prices.get(a)
            if p is None:
                raise DataError(f"no price for {a} at {self.time:%Y-%m-%d %H:%M}", source=source, field=a)
