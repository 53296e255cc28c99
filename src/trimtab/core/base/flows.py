"""Cash flows that rebalance: a deposit buys the most underweight assets first, a withdrawal sells the most
overweight first, so the flow itself closes drift without trades in the other direction.

Water-filling on the dollar gaps to target: with gaps g_i and a budget B < sum(g_i), trade max(0, g_i - L) where the
level L makes the trades sum to B; that minimises the largest gap left (the classic cash-flow rebalancing rule).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from trimtab.core.base.portfolio import PortfolioState
from trimtab.core.base.types import ZERO


def water_fill(gaps: Mapping[str, Decimal], budget: Decimal) -> dict[str, Decimal]:
    """Amounts max(0, gap - L) summing to min(budget, sum of positive gaps): the largest gaps are closed first."""
    positive = {a: g for a, g in gaps.items() if g > 0}
    total = sum(positive.values(), ZERO)
    if budget <= 0 or not positive:
        return {}
    if budget >= total:
        return dict(positive)
    ordered = sorted(positive.values(), reverse=True)
    level = ZERO
    for k in range(1, len(ordered) + 1):  # with the k largest gaps active: L = (sum of them - budget) / k
        level = (sum(ordered[:k], ZERO) - budget) / k
        if k == len(ordered) or ordered[k] <= level:
            break
    return {a: g - level for a, g in positive.items() if g > level}


def flow_weights(state: PortfolioState, targets: Mapping[str, float], flow: Decimal) -> dict[str, float]:
    """Weights to plan after a flow of `flow` quote units (already in `state` for a deposit; still to be raised for
    a withdrawal, negative): only buys for a deposit, only sells for a withdrawal."""
    quote = state.quote
    total = state.total
    after = total if flow >= 0 else total + flow  # what stays invested once a withdrawal is paid out
    want = {a: Decimal(repr(float(w))) * after for a, w in targets.items() if a != quote}
    held = {a: state.value(a) for a in {*want, *(h for h in state.holdings if h != quote)}}
    cash = state.value(quote)
    if flow >= 0:  # spend the cash above the quote's target on the largest shortfalls
        budget = cash - Decimal(repr(float(targets.get(quote, 0.0)))) * after
        trade = water_fill({a: want.get(a, ZERO) - v for a, v in held.items()}, budget)
        values = {a: held[a] + trade.get(a, ZERO) for a in held}
    else:  # raise what the withdrawal needs beyond the cash, from the largest excesses
        need = -flow - cash + Decimal(repr(float(targets.get(quote, 0.0)))) * after
        trade = water_fill({a: v - want.get(a, ZERO) for a, v in held.items()}, need)
        values = {a: held[a] - trade.get(a, ZERO) for a in held}
    out = {a: float(v / total) for a, v in values.items()} if total > 0 else {}
    out[quote] = max(0.0, 1.0 - sum(out.values()))
    return out


def time_weighted_return(values: list[float], flows: list[float]) -> float:
    """Chain-linked return where flows do not count: r = prod((V_t - F_t) / V_{t-1}) - 1, F_t the external flow
    that arrived with V_t (deposit +, withdrawal -) (GIPS time-weighted return, daily valuation at each flow)."""
    growth = 1.0
    for prev, (v, f) in zip(values, zip(values[1:], flows[1:], strict=True), strict=False):
        if prev > 0:
            growth *= (v - f) / prev
    return growth - 1.0


def money_weighted_return(days: list[float], values: list[float], flows: list[float]) -> float:
    """Annualised internal rate of return of the flows (the start value as the first deposit, the end value as the
    final withdrawal): the rate r with sum(cash_t * (1 + r)^(-t / 365)) = 0, by bisection."""
    cash = [-values[0], *(-f for f in flows[1:-1]), values[-1] - flows[-1]] if len(values) > 1 else [0.0]
    when = [d - days[0] for d in days]

    def npv(r: float) -> float:
        return float(sum(c * (1.0 + r) ** (-t / 365.0) for c, t in zip(cash, when, strict=True)))

    lo, hi = -0.9999, 100.0
    if npv(lo) * npv(hi) > 0:
        return float("nan")
    for _ in range(200):
        mid = (lo + hi) / 2
        if npv(lo) * npv(mid) <= 0:
            hi = mid
        else:
            lo = mid
    return (lo + hi) / 2


def time_weighted_index(equity: npt.NDArray[np.float64], flows: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Value of one unit invested at the start, flows removed: I_k = I_{k-1} (V_k - F_k) / V_{k-1} (GIPS TWR)."""
    index = np.ones(len(equity))
    for k in range(1, len(equity)):
        prev = equity[k - 1]
        index[k] = index[k - 1] * ((equity[k] - flows[k]) / prev if prev > 0 else 1.0)
    return index


def flow_adjusted(values: list[float], flows: list[float]) -> list[float]:
    """The value path with external flows taken out (chain-linked as `time_weighted_index`), scaled to end at the
    last value: its drawdowns, volatility and returns are the portfolio's own, not its deposits' and withdrawals'."""
    if not values or not any(flows):
        return list(values)
    path = [values[0]]
    for prev, v, f in zip(values, values[1:], flows[1:], strict=False):
        path.append(path[-1] * ((v - f) / prev if prev > 0 else 1.0))
    scale = values[-1] / path[-1] if path[-1] > 0 else 1.0
    return [x * scale for x in path]


def with_flow(path: list[float], value: float, flow: float) -> list[float]:
    """A flow-adjusted path extended by this check's `value`, which includes `flow` (the path is rescaled so its
    last step's return is (value - flow) / previous, and it ends at `value`)."""
    if not flow or not path:
        return [*path, value]
    base = value - flow
    k = value / base if base > 0 else 1.0
    return [x * k for x in path] + [value]
