"""Rich tables and JSON documents for plans, drift and ledgers (shared by the CLI and the service)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from rich.table import Table

from trimtab.core.base.portfolio import PortfolioState
from trimtab.core.base.ports import ExecutionReport
from trimtab.core.base.types import MarketRules, TradePlan
from trimtab.core.measures.drift import asset_drifts
from trimtab.core.strategy import Strategy


def _fmt(d: Decimal, places: int = 2) -> str:
    return f"{d:,.{places}f}"


def _pct(x: float) -> str:
    return f"{x * 100:.2f}%"


def drift_rows(state: PortfolioState, strategy: Strategy, targets: Mapping[str, float] | None = None) -> list[dict[str, Any]]:
    """One row per targeted or held asset: quantity, value, weight, target, drift, band, distance, status.

    `targets` are the weights the strategy wants now (a model's output); default: its static targets.
    """
    targets = dict(strategy.targets if targets is None else targets)
    weights = state.weights(extra=targets)
    drifts = asset_drifts(weights, targets, strategy.settings.band, strategy.settings.relative_band)
    rows = []
    for d in drifts:
        rows.append({
            "asset": d.asset, "quantity": state.quantity(d.asset), "price": state.prices.get(d.asset),
            "value": state.value(d.asset), "weight": d.weight, "target": d.target, "drift": d.abs_drift,
            "relative_drift": d.rel_drift, "band": d.band, "distance": d.distance,
            "status": "REBALANCE" if d.breached else "ok",
        })
    return rows


def drift_table(state: PortfolioState, strategy: Strategy, title: str, targets: Mapping[str, float] | None = None) -> Table:
    t = Table(title=title, title_justify="left")
    for col in ("asset", "quantity", "value", "weight", "target", "drift", "band", "to trigger", "status"):
        t.add_column(col, justify="left" if col in ("asset", "status") else "right")
    for r in drift_rows(state, strategy, targets):
        band = "—" if r["band"] == float("inf") else f"±{r['band'] * 100:.2f}pp"
        dist = "—" if r["band"] == float("inf") else f"{r['distance'] * 100:.2f}pp"
        style = "bold red" if r["status"] != "ok" else ""
        t.add_row(r["asset"], _qty(r["quantity"]), _fmt(r["value"]), _pct(r["weight"]),
                  _pct(r["target"]), f"{r['drift'] * 100:+.2f}pp", band, dist, r["status"], style=style)
    t.caption = f"total value {_fmt(state.total)} {state.quote}"
    return t


def plan_table(plan: TradePlan) -> Table:
    t = Table(title=f"Plan: {len(plan.orders)} order(s)", title_justify="left")
    for col in ("#", "side", "asset", "quantity", "price", "notional", "fee", "slippage", "gas"):
        t.add_column(col, justify="right" if col not in ("side", "asset") else "left")
    for i, o in enumerate(plan.orders, 1):
        t.add_row(str(i), o.side.value, o.asset, f"{o.quantity.normalize():f}", _fmt(o.price, 4), _fmt(o.notional),
                  _fmt(o.cost.fee, 4), _fmt(o.cost.slippage, 4), _fmt(o.cost.gas, 4))
    c = plan.total_cost
    t.caption = f"estimated costs: fee {_fmt(c.fee)} + slippage {_fmt(c.slippage)} + gas {_fmt(c.gas)} = {_fmt(c.total)}"
    return t


MONEY_STEP = Decimal("1e-8")  # quote amounts in documents: the precision exchanges book balances at


def _money(d: Decimal) -> str:
    """A quote amount on MONEY_STEP, without trailing zeros or exponent."""
    return format(d.quantize(MONEY_STEP, ROUND_HALF_EVEN).normalize(), "f")


def _on_tick(price: Decimal, tick: Decimal) -> str:
    """A price on the market's tick (MONEY_STEP when the market has none)."""
    step = tick if tick > 0 else MONEY_STEP
    return format(((price / step).to_integral_value(ROUND_HALF_EVEN) * step).normalize(), "f")


def _qty(q: Decimal) -> str:
    """A holding for display: at most 8 decimals (the ledger keeps every digit)."""
    shown = q.quantize(MONEY_STEP, ROUND_HALF_EVEN) if q.is_finite() and q != q.quantize(MONEY_STEP) else q
    return format(shown.normalize(), "f")


def _totals(lines: list[dict[str, str]]) -> dict[str, str]:
    """Totals as the sums of the rounded lines shown, so the document adds up exactly."""
    sums = {k: sum((Decimal(o[k]) for o in lines), Decimal(0)) for k in ("est_fee", "est_slippage", "est_gas")}
    doc = {f"total_{k}": format(v.normalize(), "f") for k, v in sums.items()}
    return doc | {"total_est_cost": format(sum(sums.values(), Decimal(0)).normalize(), "f")}


def plan_document(plan: TradePlan | None, strategy: Strategy, state: PortfolioState, reason: str,
                  rules: Callable[[str], MarketRules] | None = None) -> dict[str, Any]:
    """The JSON form of `trimtab plan`: orders with estimated costs, residual drift, totals (Decimals as strings,
    prices on each market's tick and quote amounts on 1e-8, as a venue would book them)."""
    def tick(asset: str) -> Decimal:
        return rules(asset).price_tick if rules is not None else MONEY_STEP

    orders = plan.orders if plan else ()
    residual = {r.asset: r.drift for r in plan.residual} if plan else {
        a: w - strategy.targets.get(a, 0.0) for a, w in state.weights(extra=strategy.targets).items()
    }
    lines = [
        {"asset": o.asset, "side": o.side.value, "quantity": format(o.quantity.normalize(), "f"),
         "price": _on_tick(o.price, tick(o.asset)), "exec_price": _on_tick(o.exec_price, tick(o.asset)),
         "notional": _money(o.notional), "est_fee": _money(o.cost.fee), "est_slippage": _money(o.cost.slippage),
         "est_gas": _money(o.cost.gas)}
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


def fills_table(report: ExecutionReport) -> Table:
    t = Table(title=f"Fills on {report.venue}", title_justify="left")
    for col in ("side", "asset", "quantity", "avg price", "fee", "slippage", "gas", "order id"):
        t.add_column(col, justify="left" if col in ("side", "asset", "order id") else "right")
    for f in report.fills:
        t.add_row(f.side.value, f.asset, f"{f.quantity.normalize():f}", _fmt(f.price, 4), _fmt(f.fee, 4),
                  _fmt(f.slippage, 4), _fmt(f.gas, 4), f.order_id)
    for fail in report.failures:
        t.add_row(fail.order.side.value, fail.order.asset, f"{fail.order.quantity.normalize():f}", "—", "—", "—", "—",
                  f"FAILED: {fail.reason}", style="red")
    return t
