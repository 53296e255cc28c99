"""Cost models: one object prices an order for planning and fills it in paper/backtest (cvxportfolio's idea).

A model is a sum of parts: price-impact parts move the execution price away from mid, fee parts
charge on the executed notional, gas parts charge per order. `Fee(10) + Slippage(5) + Gas(2)`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, runtime_checkable

from trimtab.core.base.types import ZERO, CostEstimate, Side, money_down, money_up

BPS = Decimal("0.0001")


@runtime_checkable
class ImpactPart(Protocol):
    def impact(self, asset: str, side: Side, quantity: Decimal, mid: Decimal) -> Decimal:
        """Fractional price move against the taker (>= 0) for this size."""
        ...


@runtime_checkable
class FeePart(Protocol):
    def fee(self, asset: str, side: Side, exec_notional: Decimal) -> Decimal:
        """Fee in quote units on the executed notional."""
        ...


@runtime_checkable
class GasPart(Protocol):
    def gas(self, asset: str, side: Side) -> Decimal:
        """Flat cost per order in quote units (network gas, exchange withdrawal share...)."""
        ...


@dataclass(frozen=True, slots=True)
class OrderQuote:
    """Expected execution of one order: average price, quote amount and its cost breakdown."""

    exec_price: Decimal
    gross: Decimal
    cost: CostEstimate


@dataclass(frozen=True, slots=True)
class CostModel:
    """Composition of impact, fee and gas parts; `estimate` for planning is also used to realise paper fills."""

    parts: tuple[object, ...] = ()

    def __add__(self, other: object) -> CostModel:
        more = other.parts if isinstance(other, CostModel) else (other,)
        return CostModel(self.parts + more)

    def quote(self, asset: str, side: Side, quantity: Decimal, mid: Decimal) -> OrderQuote:
        """Price, quote amount and costs at the ledger quantum, each rounded against the taker.

        Slippage is what the rounded quote amount differs from mid, so value lost = fee + slippage + gas exactly.
        """
        if quantity <= 0:
            return OrderQuote(mid, ZERO, CostEstimate())
        roles = [(p, _roles(type(p))) for p in self.parts]  # type: ignore[arg-type]
        move = sum((p.impact(asset, side, quantity, mid) for p, r in roles if r[0]), ZERO)  # type: ignore[attr-defined]
        buy = side is Side.BUY
        exec_price = money_up(mid * (1 + move)) if buy else money_down(mid * (1 - move))
        gross = money_up(quantity * exec_price) if buy else money_down(quantity * exec_price)
        fee = money_up(sum((p.fee(asset, side, gross) for p, r in roles if r[1]), ZERO))  # type: ignore[attr-defined]
        gas = money_up(sum((p.gas(asset, side) for p, r in roles if r[2]), ZERO))  # type: ignore[attr-defined]
        slippage = gross - quantity * mid if buy else quantity * mid - gross
        return OrderQuote(exec_price, gross, CostEstimate(fee=fee, slippage=slippage, gas=gas))


@functools.cache
def _roles(cls: type[object]) -> tuple[bool, bool, bool]:
    """Whether a part type is an ImpactPart, FeePart, GasPart: the protocol isinstance checks, once per type (hot
    path)."""
    return tuple(callable(getattr(cls, m, None)) for m in ("impact", "fee", "gas"))  # type: ignore[return-value]


class _Part:
    def __add__(self, other: object) -> CostModel:
        return CostModel((self,)) + other


@dataclass(frozen=True, slots=True)
class Fee(_Part):
    """Proportional taker fee in basis points of the executed notional."""

    bps: Decimal

    def fee(self, asset: str, side: Side, exec_notional: Decimal) -> Decimal:
        return exec_notional * self.bps * BPS


@dataclass(frozen=True, slots=True)
class Slippage(_Part):
    """Fixed slippage (half-spread plus impact) in basis points of mid, independent of size."""

    bps: Decimal

    def impact(self, asset: str, side: Side, quantity: Decimal, mid: Decimal) -> Decimal:
        return self.bps * BPS


@dataclass(frozen=True, slots=True)
class Gas(_Part):
    """Flat cost per executed order in quote units (e.g. on-chain gas in USD)."""

    per_order: Decimal

    def gas(self, asset: str, side: Side) -> Decimal:
        return self.per_order


def linear_costs(
    fee_bps: Decimal | float = 0, slippage_bps: Decimal | float = 0, gas_per_trade: Decimal | float = 0
) -> CostModel:
    """The strategy file's simple cost block as a model."""
    return Fee(Decimal(str(fee_bps))) + Slippage(Decimal(str(slippage_bps))) + Gas(Decimal(str(gas_per_trade)))
