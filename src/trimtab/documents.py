"""JSON documents of plans and drift (the CLI's --json, the API, the service's decisions): exact Decimals as strings,
prices on each market's tick, quote amounts on 1e-8. No rich here: the service renders no terminal tables."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from trimtab.core.base.portfolio import PortfolioState
from trimtab.core.base.types import MarketRules, TradePlan
from trimtab.core.measures.drift import asset_drifts
from trimtab.core.strategy import Strategy

MONEY_STEP = Decimal("1e-8")  # quote amounts in documents: the precision exchanges book balances at


def drift_rows(
    state: PortfolioState, strategy: Strategy, targets: Mapping[str, float] | None = None
) -> list[dict[str, Any]]:
    """One row per targeted or held asset: quantity, value, weight, target, drift, band, distance, status.

    `targets` are the weights the strategy wants now (a model's output); default: its static targets.
    """
    targets = dict(strategy.targets if targets is None else targets)
    weights = state.weights(extra=targets)
    drifts = asset_drifts(weights, targets, strategy.settings.band, strategy.settings.relative_band)
    rows = []
    for d in drifts:
        rows.append(
            {
                "asset": d.asset,
                "quantity": state.quantity(d.asset),
                "price": state.prices.get(d.asset),
                "value": state.value(d.asset),
                "weight": d.weight,
                "target": d.target,
                "drift": d.abs_drift,
                "relative_drift": d.rel_drift,
                "band": d.band,
                "distance": d.distance,
                "status": "REBALANCE" if d.breached else "ok",
            }
        )
    return rows


def _money(d: Decimal) -> str:
    """A quote amount on MONEY_STEP, without trailing zeros or exponent."""
    return format(d.quantize(MONEY_STEP, ROUND_HALF_EVEN).normalize(), "f")


def _on_tick(price: Decimal, tick: Decimal) -> str:
    """A price on the market's tick (MONEY_STEP when the market has none)."""
    step = tick if tick > 0 else MONEY_STEP
    return format(((price / step).to_integral_value(ROUND_HALF_EVEN) * step).normalize(), "f")


def _totals(lines: list[dict[str, str]]) -> dict[str, str]:
    """Totals as the sums of the rounded lines shown, so the document adds up exactly."""
    sums = {k: sum((Decimal(o[k]) for o in lines), Decimal(0)) for k in ("est_fee", "est_slippage", "est_gas")}
    doc = {f"total_{k}": format(v.normalize(), "f") for k, v in sums.items()}
    return doc | {"total_est_cost": format(sum(sums.values(), Decimal(0)).normalize(), "f")}


def plan_document(
    plan: TradePlan | None,
    strategy: Strategy,
    state: PortfolioState,
    reason: str,
    rules: Callable[[str], MarketRules] | None = None,
) -> dict[str, Any]:
    """The JSON form of `trimtab plan`: orders with estimated costs, residual drift, totals (Decimals as strings,
    prices on each market's tick and quote amounts on 1e-8, as a venue would book them)."""

    def tick(asset: str) -> Decimal:
        return rules(asset).price_tick if rules is not None else MONEY_STEP

    orders = plan.orders if plan else ()
    residual = (
        {r.asset: r.drift for r in plan.residual}
        if plan
        else {a: w - strategy.targets.get(a, 0.0) for a, w in state.weights(extra=strategy.targets).items()}
    )
    lines = [
        {
            "asset": o.asset,
            "side": o.side.value,
            "quantity": format(o.quantity.normalize(), "f"),
            "price": _on_tick(o.price, tick(o.asset)),
            "exec_price": _on_tick(o.exec_price, tick(o.asset)),
            "notional": _money(o.notional),
            "est_fee": _money(o.cost.fee),
            "est_slippage": _money(o.cost.slippage),
            "est_gas": _money(o.cost.gas),
        }
        for o in orders
    ]
    return {
        "strategy": strategy.name,
        "quote": strategy.quote,
        "portfolio_value": _money(state.total),
        "trades_needed": bool(orders),
        "reason": reason,
        "orders": lines,
        "residual_drift": residual,
        "blocked": {r.asset: r.reason for r in plan.residual if r.reason} if plan else {},
        "post_weights": plan.post_weights if plan else {},
        **_totals(lines),
    }
