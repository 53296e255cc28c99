"""Frozen value types passed between stages: assets, sides, market rules, orders, plans, fills."""

from __future__ import annotations

import decimal
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal
from enum import StrEnum
from typing import TypeVar

# Money arithmetic runs at 60 significant digits in every thread, so products of lot-step quantities
# and tick prices, and their sums, are exact: ledgers never drift.
MONEY_PRECISION = 60
decimal.DefaultContext.prec = MONEY_PRECISION
decimal.getcontext().prec = MONEY_PRECISION

ZERO = Decimal(0)
V = TypeVar("V")
QUANTUM = Decimal("1e-18")  # ledger resolution: 18 decimal places, as ERC-20 tokens and NUMERIC(48, 18)


def money_up(x: Decimal) -> Decimal:
    """Round up to the ledger quantum: what an account pays is never under-counted."""
    return x.quantize(QUANTUM, rounding=ROUND_CEILING)


def money_down(x: Decimal) -> Decimal:
    """Round down to the ledger quantum: what an account receives is never over-counted."""
    return x.quantize(QUANTUM, rounding=ROUND_FLOOR)


def plain(d: Decimal) -> str:
    """A Decimal as people read it: no exponent, no trailing zeros (0.1, 1500, 0.00000001)."""
    return format(d.normalize(), "f")


def asset_symbol(raw: str) -> str:
    """Canonical asset symbol: symbols are case-insensitive, so `btc` and `BTC` are one asset."""
    sym = raw.strip().upper()
    if not sym:
        raise ValueError("empty asset symbol")
    return sym


def canonical_keys(raw: Mapping[str, V], what: str) -> dict[str, V]:
    """A mapping keyed by canonical symbols; ValueError when two keys name one asset (`btc` and `BTC`)."""
    out: dict[str, V] = {}
    for k, v in raw.items():
        sym = asset_symbol(str(k))
        if sym in out:
            raise ValueError(f"{what} lists {sym} twice (symbols are case-insensitive)")
        out[sym] = v
    return out


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


@dataclass(frozen=True, slots=True)
class MarketRules:
    """Exchange trading rules for ASSET/QUOTE: lot step, price tick and minimum notional (quote units)."""

    amount_step: Decimal = Decimal("1e-8")
    price_tick: Decimal = Decimal("1e-8")
    min_notional: Decimal = ZERO
    min_amount: Decimal = ZERO

    def quantize_amount(self, amount: Decimal) -> Decimal:
        """Round toward zero to the lot step, so an order never trades more than planned."""
        if self.amount_step <= 0:
            return money_down(amount) if amount > 0 else ZERO
        steps = (amount / self.amount_step).to_integral_value(rounding=ROUND_DOWN)
        return (steps * self.amount_step).normalize() if steps else ZERO

    def quantize_price(self, price: Decimal) -> Decimal:
        """Round a price down to the tick."""
        if self.price_tick <= 0:
            return price
        return (price / self.price_tick).to_integral_value(rounding=ROUND_DOWN) * self.price_tick


@dataclass(frozen=True, slots=True)
class CostEstimate:
    """Costs of one order in quote units: fee, slippage against mid, gas."""

    fee: Decimal = ZERO
    slippage: Decimal = ZERO
    gas: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.fee + self.slippage + self.gas

    def __add__(self, other: CostEstimate) -> CostEstimate:
        return CostEstimate(self.fee + other.fee, self.slippage + other.slippage, self.gas + other.gas)


@dataclass(frozen=True, slots=True)
class PlannedOrder:
    """One order ASSET/QUOTE; quantity in base units, already quantized to the lot step. A market order, or with
    `limit_price` an immediate-or-cancel limit: nothing fills at a worse price, what does not fill is cancelled."""

    asset: str
    quote: str
    side: Side
    quantity: Decimal
    price: Decimal  # mid price used for planning, quote per unit
    exec_price: Decimal  # expected average fill price after slippage
    cost: CostEstimate
    gross: Decimal | None = None  # quote paid (buy) / received (sell) before fee and gas; default qty * exec_price
    limit_price: Decimal | None = None  # IOC limit: the worst price accepted (an emergency exit's floor)

    @property
    def notional(self) -> Decimal:
        """Mid-price notional in quote units."""
        return self.quantity * self.price

    @property
    def quote_delta(self) -> Decimal:
        """Signed change of the quote balance if filled as estimated (fee and gas paid in quote)."""
        gross = self.gross if self.gross is not None else self.quantity * self.exec_price
        if self.side is Side.BUY:
            return -(gross + self.cost.fee + self.cost.gas)
        return gross - self.cost.fee - self.cost.gas


@dataclass(frozen=True, slots=True)
class Residual:
    """Drift left after a plan, and why it could not be closed."""

    asset: str
    drift: float  # weight - target after the plan, as a fraction
    reason: str  # "" when within band


@dataclass(frozen=True, slots=True)
class TradePlan:
    """Orders that move a portfolio toward target: sells first so they fund the buys."""

    orders: tuple[PlannedOrder, ...]
    reason: str
    residual: tuple[Residual, ...] = ()
    post_weights: dict[str, float] = field(default_factory=dict)
    plan_id: str = ""  # the rebalance this plan belongs to; venues derive client order ids from it

    @property
    def total_cost(self) -> CostEstimate:
        total = CostEstimate()
        for o in self.orders:
            total = total + o.cost
        return total

    @property
    def is_empty(self) -> bool:
        return not self.orders


@dataclass(frozen=True, slots=True)
class Fill:
    """What a venue did for one order: quantity filled, average price, and each cost paid (quote units)."""

    asset: str
    quote: str
    side: Side
    quantity: Decimal
    price: Decimal  # average execution price
    fee: Decimal
    slippage: Decimal  # quantity * |price - mid|, for cost reporting
    gas: Decimal = ZERO
    order_id: str = ""
    fee_asset: str = ""  # defaults to quote
    gross: Decimal | None = None  # quote amount as the venue reports it; default quantity * price

    @property
    def quote_amount(self) -> Decimal:
        return self.gross if self.gross is not None else self.quantity * self.price

    @property
    def quote_delta(self) -> Decimal:
        gross = self.quote_amount
        fee_in_quote = self.fee if (self.fee_asset or self.quote) == self.quote else ZERO
        if self.side is Side.BUY:
            return -(gross + fee_in_quote + self.gas)
        return gross - fee_in_quote - self.gas

    @property
    def base_delta(self) -> Decimal:
        fee_in_base = self.fee if self.fee_asset == self.asset else ZERO
        return (self.quantity if self.side is Side.BUY else -self.quantity) - fee_in_base
