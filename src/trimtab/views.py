"""Rich tables and JSON documents for plans, drift and ledgers (shared by the CLI and the service)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from rich.table import Table

from trimtab.core.drift import asset_drifts
from trimtab.core.portfolio import PortfolioState
from trimtab.core.ports import ExecutionReport
from trimtab.core.strategy import Strategy
from trimtab.core.types import TradePlan


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
        t.add_row(r["asset"], f"{r['quantity'].normalize():f}", _fmt(r["value"]), _pct(r["weight"]),
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


def plan_document(plan: TradePlan | None, strategy: Strategy, state: PortfolioState, reason: str) -> dict[str, Any]:
    """The JSON form of `trimtab plan`: orders with estimated costs, residual drift, totals (Decimals as strings)."""
    orders = plan.orders if plan else ()
    total = plan.total_cost if plan else None
    residual = {r.asset: r.drift for r in plan.residual} if plan else {
        a: w - strategy.targets.get(a, 0.0) for a, w in state.weights(extra=strategy.targets).items()
    }
    return {
        "strategy": strategy.name,
        "quote": strategy.quote,
        "portfolio_value": str(state.total),
        "trades_needed": bool(orders),
        "reason": reason,
        "orders": [
            {"asset": o.asset, "side": o.side.value, "quantity": str(o.quantity), "price": str(o.price),
             "exec_price": str(o.exec_price), "notional": str(o.notional), "est_fee": str(o.cost.fee),
             "est_slippage": str(o.cost.slippage), "est_gas": str(o.cost.gas)}
            for o in orders
        ],
        "residual_drift": residual,
        "blocked": {r.asset: r.reason for r in plan.residual if r.reason} if plan else {},
        "post_weights": plan.post_weights if plan else {},
        "total_est_fee": str(total.fee) if total else "0",
        "total_est_slippage": str(total.slippage) if total else "0",
        "total_est_gas": str(total.gas) if total else "0",
        "total_est_cost": str(total.total) if total else "0",
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
