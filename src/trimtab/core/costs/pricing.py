"""Float pricing of one market for route search and splitting: what a sell nets and what a buy costs.

`CostModel.quote` is exact (Decimal, ledger quantum) but ~70 us a call; a route search probes hundreds of
sizes. `FloatPricer` classifies a model's parts once and evaluates them in floats through their fast
paths (`impact_f`, `fee_f`, `gas_f`), falling back to the Decimal methods for parts without one. The
chosen route is re-priced exactly with `CostModel.quote` for the plan.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from trimtab.core.base.types import Side
from trimtab.core.costs.model import BPS, CostModel, Fee, FeePart, Gas, GasPart, ImpactPart, Slippage

FloatFn = Callable[[str, Side, float, float], float]


def _impact_fn(part: object, asset: str) -> FloatFn:
    special = getattr(part, "impact_for", None)
    if special is not None:  # a closure with the asset's parameters looked up once
        return special(asset)  # type: ignore[no-any-return]
    if isinstance(part, Slippage):
        move = float(part.bps * BPS)
        return lambda _a, _s, _q, _m: move
    fast = getattr(part, "impact_f", None)
    if fast is not None:
        return fast  # type: ignore[no-any-return]
    slow = part.impact  # type: ignore[attr-defined]
    return lambda a, s, q, m: float(slow(a, s, Decimal(repr(q)), Decimal(repr(m))))


def _fee_fn(part: object) -> Callable[[str, Side, float], float]:
    if isinstance(part, Fee):
        rate = float(part.bps * BPS)
        return lambda _a, _s, n: n * rate
    fast = getattr(part, "fee_f", None)
    if fast is not None:
        return fast  # type: ignore[no-any-return]
    slow = part.fee  # type: ignore[attr-defined]
    return lambda a, s, n: float(slow(a, s, Decimal(repr(n))))


def _gas_of(part: object, asset: str, side: Side) -> float:
    if isinstance(part, Gas):
        return float(part.per_order)
    return float(part.gas(asset, side))  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class FloatPricer:
    """One asset's market at `mid` under a cost model, in floats: sell nets, buy costs, both monotone."""

    asset: str
    mid: float
    impacts: tuple[FloatFn, ...]
    fees: tuple[Callable[[str, Side, float], float], ...]
    gas_buy: float
    gas_sell: float

    @classmethod
    def of(cls, costs: CostModel, asset: str, mid: Decimal | float) -> FloatPricer:
        parts = costs.parts
        impacts = tuple(_impact_fn(p, asset) for p in parts if isinstance(p, ImpactPart))
        fees = tuple(_fee_fn(p) for p in parts if isinstance(p, FeePart))
        gas = [p for p in parts if isinstance(p, GasPart)]
        return cls(
            asset,
            float(mid),
            impacts,
            fees,
            sum(_gas_of(p, asset, Side.BUY) for p in gas),
            sum(_gas_of(p, asset, Side.SELL) for p in gas),
        )

    def _move(self, side: Side, q: float) -> float:
        return sum(f(self.asset, side, q, self.mid) for f in self.impacts)

    def sell(self, q: float) -> float:
        """Quote received for selling `q` base, after impact, fees and gas (may be negative for dust)."""
        if q <= 0:
            return 0.0
        gross = q * self.mid * (1.0 - self._move(Side.SELL, q))
        return gross - sum(f(self.asset, Side.SELL, gross) for f in self.fees) - self.gas_sell

    def buy_cost(self, q: float) -> float:
        """Quote paid for receiving `q` base, including impact, fees and gas."""
        if q <= 0:
            return 0.0
        gross = q * self.mid * (1.0 + self._move(Side.BUY, q))
        return gross + sum(f(self.asset, Side.BUY, gross) for f in self.fees) + self.gas_buy

    def buy_with(self, quote_in: float) -> float:
        """Base received for spending `quote_in` (inverse of buy_cost)."""
        return invert_increasing(self.buy_cost, quote_in, quote_in / self.mid)

    def sell_for(self, quote_out: float) -> float:
        """Base to sell to net `quote_out` (inverse of sell); inf when no size nets that much."""
        return invert_increasing(self.sell, quote_out, quote_out / self.mid)


def invert_increasing(f: Callable[[float], float], target: float, guess: float, rel_tol: float = 1e-10) -> float:
    """x >= 0 with f(x) = target for an increasing f (secant steps, bisection safeguard); inf if unreachable."""
    if target <= 0 or guess <= 0 or not math.isfinite(guess):
        return 0.0
    lo, hi = 0.0, guess
    f_hi = f(hi)
    grow = 0
    while f_hi < target:
        lo = hi
        hi *= 2.0
        f_hi = f(hi)
        grow += 1
        if grow > 60 or not math.isfinite(f_hi):
            return math.inf
    f_lo = f(lo) if lo > 0 else min(f(0.0), 0.0)
    for _ in range(100):
        x = hi - (f_hi - target) * (hi - lo) / (f_hi - f_lo) if f_hi != f_lo else 0.5 * (lo + hi)
        if not lo < x < hi:
            x = 0.5 * (lo + hi)
        fx = f(x)
        if abs(fx - target) <= rel_tol * abs(target) or hi - lo <= rel_tol * hi:
            return x
        if fx < target:
            lo, f_lo = x, fx
        else:
            hi, f_hi = x, fx
        if (hi - lo) > 0.5 * (hi + lo) * 1e-3:  # bisection step keeps the bracket shrinking
            mid = 0.5 * (lo + hi)
            fm = f(mid)
            if fm < target:
                lo, f_lo = mid, fm
            else:
                hi, f_hi = mid, fm
    return 0.5 * (lo + hi)
