"""Rich tables for the terminal: drift, plans and fills (the CLI's presenters; documents.py has the JSON forms)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from rich.table import Table

from trimtab.core.base.portfolio import PortfolioState
from trimtab.core.base.ports import ExecutionReport
from trimtab.core.base.types import TradePlan, plain
from trimtab.core.strategy import Strategy
from trimtab.documents import MONEY_STEP, drift_rows


def _fmt(d: Decimal, places: int = 2) -> str:
    return f"{d:,.{places}f}"


def _pct(x: float) -> str:
    return f"{x * 100:.2f}%"


def _qty(q: Decimal) -> str:
    """A holding for display: at most 8 decimals (the ledger keeps every digit)."""
    shown = q.quantize(MONEY_STEP, ROUND_HALF_EVEN) if q.is_finite() and q != q.quantize(MONEY_STEP) else q
    return plain(shown)


def drift_table(
    state: PortfolioState, strategy: Strategy, title: str, targets: Mapping[str, float] | None = None
) -> Table:
    t = Table(title=title, title_justify="left")
    for col in ("asset", "quantity", "value", "weight", "target", "drift", "band", "to trigger", "status"):
        t.add_column(col, justify="left" if col in ("asset", "status") else "right")
    for r in drift_rows(state, strategy, targets):
        band = "—" if r["band"] == float("inf") else f"±{r['band'] * 100:.2f}pp"
        dist = "—" if r["band"] == float("inf") else f"{r['distance'] * 100:.2f}pp"
        style = "bold red" if r["status"] != "ok" else ""
        t.add_row(
            r["asset"],
            _qty(r["quantity"]),
            _fmt(r["value"]),
            _pct(r["weight"]),
            _pct(r["target"]),
            f"{r['drift'] * 100:+.2f}pp",
            band,
            dist,
            r["status"],
            style=style,
        )
    t.caption = f"total value {_fmt(state.total)} {state.quote}"
    return t


def plan_table(plan: TradePlan) -> Table:
    t = Table(title=f"Plan: {len(plan.orders)} order(s)", title_justify="left")
    for col in ("#", "side", "asset", "quantity", "price", "notional", "fee", "slippage", "gas"):
        t.add_column(col, justify="right" if col not in ("side", "asset") else "left")
    for i, o in enumerate(plan.orders, 1):
        t.add_row(
            str(i),
            o.side.value,
            o.asset,
            f"{o.quantity.normalize():f}",
            _fmt(o.price, 4),
            _fmt(o.notional),
            _fmt(o.cost.fee, 4),
            _fmt(o.cost.slippage, 4),
            _fmt(o.cost.gas, 4),
        )
    c = plan.total_cost
    t.caption = (
        f"estimated costs: fee {_fmt(c.fee)} + slippage {_fmt(c.slippage)} + gas {_fmt(c.gas)} = {_fmt(c.total)}"
    )
    return t


def fills_table(report: ExecutionReport) -> Table:
    t = Table(title=f"Fills on {report.venue}", title_justify="left")
    for col in ("side", "asset", "quantity", "avg price", "fee", "slippage", "gas", "order id"):
        t.add_column(col, justify="left" if col in ("side", "asset", "order id") else "right")
    for f in report.fills:
        t.add_row(
            f.side.value,
            f.asset,
            f"{f.quantity.normalize():f}",
            _fmt(f.price, 4),
            _fmt(f.fee, 4),
            _fmt(f.slippage, 4),
            _fmt(f.gas, 4),
            f.order_id,
        )
    for fail in report.failures:
        t.add_row(
            fail.order.side.value,
            fail.order.asset,
            f"{fail.order.quantity.normalize():f}",
            "—",
            "—",
            "—",
            "—",
            f"FAILED: {fail.reason}",
            style="red",
        )
    return t


def metrics_table(rows: list[dict[str, Any]], title: str, first: str = "strategy") -> Table:
    t = Table(title=title, title_justify="left")
    cols = [
        (first, first),
        ("final_value", "final value"),
        ("cagr", "CAGR"),
        ("volatility", "vol"),
        ("sharpe", "Sharpe"),
        ("max_drawdown", "max DD"),
        ("turnover", "turnover"),
        ("n_rebalances", "rebal."),
        ("total_costs", "costs"),
        ("tracking_error", "track. err."),
    ]
    for _, label in cols:
        t.add_column(label, justify="left" if label == first else "right")
    pct = {"cagr", "volatility", "max_drawdown", "tracking_error"}
    for r in rows:
        cells = []
        for key, _ in cols:
            v = r.get(key)
            if isinstance(v, float):
                cells.append(f"{v * 100:.2f}%" if key in pct else f"{v:,.2f}")
            else:
                cells.append(str(v))
        t.add_row(*cells)
    return t
