"""Slicing an order in time: TWAP child orders under a size cap, and waiting for cheap gas until a deadline."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_DOWN, Decimal

import numpy as np

from trimtab.core.base.types import ZERO, MarketRules, PlannedOrder, money_down
from trimtab.core.costs.parts import GasPriceSeries

MAX_SLICES = 10_000


@dataclass(frozen=True, slots=True)
class ChildOrder:
    """A slice of a parent order: send `quantity` at `offset_s` seconds after the start."""

    offset_s: float
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class Twap:
    """Time-weighted average price execution: equal slices every `interval_s` over `horizon_s`.

    If equal slices would exceed `max_child` (base units), more slices are used (and the interval shrinks
    to keep the horizon); `step` is the lot step each slice is rounded down to, the last slice takes the rest.
    """

    horizon_s: float
    interval_s: float
    max_child: Decimal | None = None
    step: Decimal = ZERO

    def __post_init__(self) -> None:
        if self.horizon_s < 0 or self.interval_s <= 0:
            raise ValueError("TWAP needs horizon >= 0 and interval > 0")
        if self.max_child is not None and self.max_child <= 0:
            raise ValueError("TWAP max_child must be positive")

    def slices(self, quantity: Decimal) -> tuple[ChildOrder, ...]:
        """Child orders summing exactly to `quantity`, none above `max_child`, spread evenly over the horizon."""
        if quantity <= 0:
            return ()
        n = max(1, math.floor(self.horizon_s / self.interval_s) + 1)
        if self.max_child is not None:
            n = max(n, int((quantity / self.max_child).to_integral_value(rounding=ROUND_CEILING)))
        if n > MAX_SLICES:
            raise ValueError(f"TWAP would need {n} child orders (max {MAX_SLICES}); raise max_child or the interval")
        if self.step > 0:  # never more slices than whole lot steps
            n = max(1, min(n, int((quantity / self.step).to_integral_value(rounding=ROUND_DOWN))))
        while True:
            sizes = self._sizes(quantity, n)
            if self.max_child is None or max(sizes) <= self.max_child or n > MAX_SLICES:
                break
            n += 1
        gap = self.horizon_s / (n - 1) if n > 1 else 0.0
        return tuple(ChildOrder(i * gap, q) for i, q in enumerate(sizes) if q > 0)

    def _sizes(self, quantity: Decimal, n: int) -> list[Decimal]:
        """n sizes on the lot step as equal as possible; dust below one step rides on the last slice."""
        if self.step <= 0:  # no lot step: slices on the ledger quantum, the last one takes the remainder
            each = money_down(quantity / n)
            return [each] * (n - 1) + [quantity - each * (n - 1)]
        units = int((quantity / self.step).to_integral_value(rounding=ROUND_DOWN))
        base, extra = divmod(units, n)
        sizes = [(base + (1 if i < extra else 0)) * self.step for i in range(n)]
        sizes[-1] += quantity - units * self.step
        return sizes


@dataclass(frozen=True, slots=True)
class TwapSettings:
    """Horizon and interval in seconds; `max_child_notional` caps a child in quote units (None: no cap)."""

    horizon_s: float
    interval_s: float
    max_child_notional: Decimal | None = None

    def twap_for(self, order: PlannedOrder, rules: MarketRules) -> Twap:
        """The TWAP of one parent order: the notional cap in base units, on the market's lot step."""
        cap = self.max_child_notional / order.price if self.max_child_notional is not None and order.price > 0 else None
        step = rules.amount_step if rules.amount_step > 0 else ZERO
        if cap is not None and step > 0:
            cap = max(step, (cap // step) * step)
        return Twap(self.horizon_s, self.interval_s, cap, step)


@dataclass(frozen=True, slots=True)
class GasWait:
    """Execute when the gas price is at or below `cap_gwei`, or at `deadline_s` after the start anyway.

    With `execute_at_deadline=False` the order is skipped instead when the deadline passes without cheap gas.
    """

    cap_gwei: float
    deadline_s: float
    execute_at_deadline: bool = True

    def should_execute(self, elapsed_s: float, gas_gwei: float) -> bool | None:
        """True: go now; False: wait; None: deadline passed and the policy is to skip."""
        if gas_gwei <= self.cap_gwei:
            return True
        if elapsed_s >= self.deadline_s:
            return True if self.execute_at_deadline else None
        return False

    def execution_time(self, series: GasPriceSeries, start: datetime) -> datetime | None:
        """First observation time in [start, start + deadline] with gas <= cap (as-of at `start` counts),
        else the deadline (or None when skipping); a backtest's answer to "when would this have gone out"."""
        t0 = np.datetime64(start.replace(tzinfo=None), "ns")
        deadline = start + timedelta(seconds=self.deadline_s)
        t1 = np.datetime64(deadline.replace(tzinfo=None), "ns")
        gwei_now, _ = series.at(t0)
        if gwei_now <= self.cap_gwei:
            return start
        lo = int(np.searchsorted(series.times, t0, side="right"))
        hi = int(np.searchsorted(series.times, t1, side="right"))
        for i in range(lo, hi):
            g = float(series.gwei[i])
            if math.isfinite(g) and 0 < g <= self.cap_gwei:
                seconds = (series.times[i] - t0) / np.timedelta64(1, "s")
                return start + timedelta(seconds=float(seconds))
        return deadline if self.execute_at_deadline else None
