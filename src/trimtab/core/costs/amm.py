"""Constant-product AMM pricing (x*y=k with the fee taken on the input), exact and in floats.

Adams, Zinsmeister, Robinson (2020) "Uniswap v2 Core", 3.2.1: out = y*a*(1-f) / (x + a*(1-f)).
`amount_out_exact` is the exact rational; its floor equals chain/quote.py's integer getAmountOut to
the wei. The pool's LP fee is part of the execution price, so a CostModel reports it as slippage.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from trimtab.core.base.types import ZERO, Side, money_down, money_up
from trimtab.core.costs.model import CostModel
from trimtab.errors import PlanError

Number = int | Decimal | Fraction


def _check(reserve_in: Number, reserve_out: Number, fee: Number) -> None:
    if reserve_in <= 0 or reserve_out <= 0:
        raise PlanError("AMM pool has no liquidity (reserves must be positive)")
    if not 0 <= fee < 1:
        raise PlanError(f"AMM fee must be in [0, 1), got {fee}")


def amount_out_exact(amount_in: Number, reserve_in: Number, reserve_out: Number, fee: Number) -> Fraction:
    """Exact output of swapping `amount_in` into the pool: y*a*(1-f) / (x + a*(1-f))."""
    _check(reserve_in, reserve_out, fee)
    if amount_in <= 0:
        return Fraction(0)
    a = Fraction(amount_in) * (1 - Fraction(fee))
    return Fraction(reserve_out) * a / (Fraction(reserve_in) + a)


def amount_in_exact(amount_out: Number, reserve_in: Number, reserve_out: Number, fee: Number) -> Fraction:
    """Exact input needed to take `amount_out` out of the pool: x*b / ((y-b)*(1-f))."""
    _check(reserve_in, reserve_out, fee)
    if amount_out <= 0:
        return Fraction(0)
    if amount_out >= reserve_out:
        raise PlanError(f"AMM pool cannot deliver {amount_out}: reserve is only {reserve_out}")
    b = Fraction(amount_out)
    return Fraction(reserve_in) * b / ((Fraction(reserve_out) - b) * (1 - Fraction(fee)))


def _dec(x: Fraction) -> Decimal:
    return Decimal(x.numerator) / Decimal(x.denominator)


def amount_out(amount_in: Decimal, reserve_in: Decimal, reserve_out: Decimal, fee: Decimal) -> Decimal:
    """Output at the ledger quantum, rounded down (what a taker receives is never over-counted)."""
    return money_down(_dec(amount_out_exact(amount_in, reserve_in, reserve_out, fee)))


def amount_in(amount_out: Decimal, reserve_in: Decimal, reserve_out: Decimal, fee: Decimal) -> Decimal:
    """Input at the ledger quantum, rounded up (what a taker pays is never under-counted)."""
    return money_up(_dec(amount_in_exact(amount_out, reserve_in, reserve_out, fee)))


def amount_out_f(a: float, x: float, y: float, fee: float) -> float:
    """Float version for route search and splitting."""
    if a <= 0:
        return 0.0
    ag = a * (1.0 - fee)
    return y * ag / (x + ag)


def amount_in_f(b: float, x: float, y: float, fee: float) -> float:
    if b <= 0:
        return 0.0
    if b >= y:
        return math.inf
    return x * b / ((y - b) * (1.0 - fee))


@dataclass(frozen=True, slots=True)
class AmmPool:
    """One constant-product pool BASE/QUOTE: reserves in token units and the LP fee as a fraction."""

    reserve_base: Decimal
    reserve_quote: Decimal
    fee: Decimal = Decimal("0.003")

    def __post_init__(self) -> None:
        _check(self.reserve_base, self.reserve_quote, self.fee)

    @property
    def mid(self) -> Decimal:
        """Marginal price before fees, quote per base."""
        return self.reserve_quote / self.reserve_base

    def sell_base(self, quantity: Decimal) -> Decimal:
        """Quote received for `quantity` base (exact math, rounded down to the quantum)."""
        return amount_out(quantity, self.reserve_base, self.reserve_quote, self.fee)

    def buy_base(self, quantity: Decimal) -> Decimal:
        """Quote paid to receive `quantity` base (exact math, rounded up to the quantum)."""
        return amount_in(quantity, self.reserve_quote, self.reserve_base, self.fee)


@dataclass(frozen=True, slots=True)
class AmmSlippage:
    """Impact part pricing each asset's order against its constant-product pool, relative to the pool's mid.

    Pass the pool's mid as the planning mid for exact results (a different mid shifts the price by the ratio).
    """

    pools: Mapping[str, AmmPool]

    def __add__(self, other: object) -> CostModel:
        return CostModel((self,)) + other

    def _pool(self, asset: str) -> AmmPool:
        pool = self.pools.get(asset)
        if pool is None:
            raise PlanError(f"no AMM pool for {asset}")
        return pool

    def impact(self, asset: str, side: Side, quantity: Decimal, mid: Decimal) -> Decimal:
        if quantity <= 0:
            return ZERO
        p = self._pool(asset)
        if side is Side.SELL:
            out = amount_out_exact(quantity, p.reserve_base, p.reserve_quote, p.fee)
            return _dec(1 - out / (Fraction(quantity) * Fraction(p.mid)))
        paid = amount_in_exact(quantity, p.reserve_quote, p.reserve_base, p.fee)
        return _dec(paid / (Fraction(quantity) * Fraction(p.mid)) - 1)

    def impact_for(self, asset: str) -> Callable[[str, Side, float, float], float]:
        """`impact_f` for one asset's pool with the reserves converted to floats once."""
        p = self._pool(asset)
        x, y, f = float(p.reserve_base), float(p.reserve_quote), float(p.fee)
        pm = y / x

        def move(_a: str, side: Side, q: float, _mid: float) -> float:
            if q <= 0:
                return 0.0
            if side is Side.SELL:
                return 1.0 - amount_out_f(q, x, y, f) / (q * pm)
            return amount_in_f(q, y, x, f) / (q * pm) - 1.0

        return move

    def impact_f(self, asset: str, side: Side, quantity: float, mid: float) -> float:
        if quantity <= 0:
            return 0.0
        p = self._pool(asset)
        x, y, f = float(p.reserve_base), float(p.reserve_quote), float(p.fee)
        pm = y / x
        if side is Side.SELL:
            return 1.0 - amount_out_f(quantity, x, y, f) / (quantity * pm)
        return amount_in_f(quantity, y, x, f) / (quantity * pm) - 1.0
