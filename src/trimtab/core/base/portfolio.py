"""Portfolio state: holdings (Decimal units) and prices give values, weights and the effect of fills."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from trimtab.core.base.types import ZERO, Fill
from trimtab.errors import DataError


@dataclass(frozen=True)
class PortfolioState:
    """Holdings and the prices they are valued at, all in the quote asset; immutable."""

    holdings: Mapping[str, Decimal]
    prices: Mapping[str, Decimal]
    quote: str

    @classmethod
    def of(cls, holdings: Mapping[str, Decimal], prices: Mapping[str, Decimal | float], quote: str) -> PortfolioState:
        """Validated state: every held asset needs a finite positive price; the quote is worth 1 unless priced."""
        px: dict[str, Decimal] = {}
        for asset, p in prices.items():
            px[asset] = p if isinstance(p, Decimal) else Decimal(repr(float(p)))
        px.setdefault(quote, Decimal(1))
        for asset, q in holdings.items():
            if q < 0:
                raise DataError(f"negative quantity {q}", field=f"holdings.{asset}")
        return cls(holdings=dict(holdings), prices=px, quote=quote)

    def price(self, asset: str) -> Decimal:
        p = self.prices.get(asset)
        if p is None:
            raise DataError("no price", field=f"prices.{asset}")
        if p.is_nan() or not p.is_finite() or p <= 0:
            raise DataError(f"price must be a positive number, got {p}", field=f"prices.{asset}")
        return p

    def quantity(self, asset: str) -> Decimal:
        return self.holdings.get(asset, ZERO)

    def value(self, asset: str) -> Decimal:
        q = self.quantity(asset)
        return q * self.price(asset) if q else ZERO

    def assets(self, extra: Iterable[str] = ()) -> list[str]:
        """Held assets plus `extra`, quote last, others sorted: a stable display order."""
        names = {a for a, q in self.holdings.items() if q} | set(extra)
        others = sorted(n for n in names if n != self.quote)
        return [*others, self.quote] if self.quote in names else others

    @property
    def total(self) -> Decimal:
        return sum((self.value(a) for a in self.holdings), ZERO)

    def weights(self, extra: Iterable[str] = ()) -> dict[str, float]:
        """Value weights as floats (analytics); an empty portfolio has all-zero weights."""
        total = self.total
        names = self.assets(extra)
        if total <= 0:
            return dict.fromkeys(names, 0.0)
        return {a: float(self.value(a) / total) for a in names}

    def apply(self, fills: Iterable[Fill]) -> PortfolioState:
        """State after `fills` (base and quote legs, fees and gas), prices unchanged."""
        h = dict(self.holdings)
        for f in fills:
            h[f.asset] = h.get(f.asset, ZERO) + f.base_delta
            h[f.quote] = h.get(f.quote, ZERO) + f.quote_delta
            if f.fee_asset and f.fee_asset not in (f.asset, f.quote):
                h[f.fee_asset] = h.get(f.fee_asset, ZERO) - f.fee
        return PortfolioState(holdings=h, prices=self.prices, quote=self.quote)

    def with_prices(self, prices: Mapping[str, Decimal]) -> PortfolioState:
        px = dict(self.prices)
        px.update(prices)
        return PortfolioState(holdings=self.holdings, prices=px, quote=self.quote)


def decimal_price(value: float, *, field: str) -> Decimal:
    """A float price as Decimal, rejecting NaN, infinities, zero and negatives with the field named."""
    if not math.isfinite(value) or value <= 0:
        raise DataError(f"price must be a positive finite number, got {value}", field=field)
    return Decimal(repr(float(value)))
