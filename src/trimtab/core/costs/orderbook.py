"""Order-book walk: the average price a market order of a given size gets against resting bids or asks.

A size beyond the book's depth is an error (PlanError) by default, because the book says nothing about
what lies past its last level; with `beyond_penalty_bps` set the remainder is instead priced at the last
level moved a further penalty against the taker (a documented, pessimistic extrapolation).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from trimtab.core.base.types import ZERO, Side
from trimtab.core.costs.model import BPS, CostModel
from trimtab.errors import PlanError

Level = tuple[Decimal, Decimal]  # (price, quantity in base units)


@dataclass(frozen=True, slots=True)
class OrderBook:
    """Bids best (highest) first and asks best (lowest) first; every price and quantity positive."""

    bids: tuple[Level, ...]
    asks: tuple[Level, ...]

    def __post_init__(self) -> None:
        for name, levels, desc in (("bids", self.bids, True), ("asks", self.asks, False)):
            if not levels:
                raise ValueError(f"order book has no {name}")
            prices = [p for p, _ in levels]
            if any(p <= 0 or q <= 0 for p, q in levels):
                raise ValueError(f"order book {name} need positive prices and quantities")
            if prices != sorted(prices, reverse=desc) or len(set(prices)) != len(prices):
                raise ValueError(f"order book {name} must be sorted best first without repeats")
        if self.bids[0][0] >= self.asks[0][0]:
            raise ValueError("order book is crossed (best bid >= best ask)")

    @classmethod
    def of(cls, bids: list[tuple[object, object]], asks: list[tuple[object, object]]) -> OrderBook:
        """Build from any numeric-like pairs (strings, ints, floats via repr)."""

        def conv(levels: list[tuple[object, object]]) -> tuple[Level, ...]:
            return tuple((Decimal(str(p)), Decimal(str(q))) for p, q in levels)

        return cls(conv(bids), conv(asks))

    @property
    def mid(self) -> Decimal:
        return (self.bids[0][0] + self.asks[0][0]) / 2

    def depth(self, side: Side) -> Decimal:
        """Base quantity a taker on `side` can fill before the book runs out."""
        return sum((q for _, q in (self.asks if side is Side.BUY else self.bids)), ZERO)

    def average_price(self, side: Side, quantity: Decimal, beyond_penalty_bps: Decimal | None = None) -> Decimal:
        """Volume-weighted price of filling `quantity` by walking the levels a taker on `side` consumes."""
        if quantity <= 0:
            raise ValueError("quantity must be positive")
        levels = self.asks if side is Side.BUY else self.bids
        left, spent = quantity, ZERO
        for price, q in levels:
            take = min(left, q)
            spent += take * price
            left -= take
            if left <= 0:
                return spent / quantity
        if beyond_penalty_bps is None:
            raise PlanError(f"order of {quantity} exceeds the book's {side.value} depth {quantity - left}")
        last = levels[-1][0]
        sign = 1 if side is Side.BUY else -1
        spent += left * last * (1 + sign * beyond_penalty_bps * BPS)
        return spent / quantity


@dataclass(frozen=True, slots=True)
class BookSlippage:
    """Impact part: the order-book walk's average price against the planning mid (never below zero)."""

    books: Mapping[str, OrderBook]
    beyond_penalty_bps: Decimal | None = None

    def __add__(self, other: object) -> CostModel:
        return CostModel((self,)) + other

    def _book(self, asset: str) -> OrderBook:
        book = self.books.get(asset)
        if book is None:
            raise PlanError(f"no order book for {asset}")
        return book

    def impact(self, asset: str, side: Side, quantity: Decimal, mid: Decimal) -> Decimal:
        if quantity <= 0:
            return ZERO
        avg = self._book(asset).average_price(side, quantity, self.beyond_penalty_bps)
        move = avg / mid - 1 if side is Side.BUY else 1 - avg / mid
        return max(move, ZERO)

    def impact_f(self, asset: str, side: Side, quantity: float, mid: float) -> float:
        if quantity <= 0:
            return 0.0
        return float(self.impact(asset, side, Decimal(repr(quantity)), Decimal(repr(mid))))
