"""A point-in-time, read-only view of the market: latest prices and the history up to now."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from trimtab.core.base.history import PriceHistory
from trimtab.errors import DataError


@dataclass(frozen=True)
class MarketSnapshot:
    """Prices (quote per unit) at `time`; `history` holds rows up to `time` only (cvxportfolio's serve(t))."""

    time: datetime
    prices: dict[str, Decimal]
    history: PriceHistory | None = None
    price_times: Mapping[str, datetime] = field(default_factory=dict)  # each price's own time (default: `time`)

    def price_time(self, asset: str) -> datetime:
        """When `asset`'s price was observed (a live ticker's own timestamp; a history row's close time)."""
        return self.price_times.get(asset, self.time)

    @classmethod
    def from_history(
        cls,
        history: PriceHistory,
        i: int,
        time: datetime,
        quote: str | None = None,
        row: npt.NDArray[np.float64] | None = None,
    ) -> MarketSnapshot:
        """Snapshot at row `i` in units of `quote` (history prices divided by the quote's own price, if it has one).

        `row` overrides the prices of row `i` (e.g. last known marks for series that ended); history is unchanged.
        """
        row = history.prices[i] if row is None else row
        unit = float(row[history.index_of(quote)]) if quote is not None and quote in history.assets else 1.0
        prices = {}
        for j, a in enumerate(history.assets):
            p = float(row[j])
            if math.isfinite(p) and p > 0:
                prices[a] = Decimal(1) if a == quote else Decimal(repr(p / unit))
        return cls(time=time, prices=prices, history=history.upto(i))

    def require(self, assets: list[str] | tuple[str, ...], *, source: str = "prices") -> None:
        """Fail before planning when an asset has no usable price."""
        for a in assets:
            p = self.prices.get(a)
            if p is None:
                raise DataError(f"no price for {a} at {self.time:%Y-%m-%d %H:%M}", source=source, field=a)
