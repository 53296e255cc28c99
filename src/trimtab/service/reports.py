"""Read models shared by the API, the CLI and alerts: status, performance, costs and monthly summaries as JSON."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from trimtab.core.base.ports import ExecutionReport
from trimtab.core.base.schedule import Every, parse_every
from trimtab.core.base.types import TradePlan
from trimtab.core.measures import metrics
from trimtab.core.sleeves import SleeveSplit
from trimtab.core.triggers.rules import AllOf, AnyOf, Calendar, Trigger

YEAR_SECONDS = 365.25 * 86_400


def json_safe(x: Any) -> Any:
    """Decimals as strings, datetimes as ISO 8601, NaN/inf floats as None: valid JSON for any client."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, Decimal):
        return str(x)
    if isinstance(x, datetime):
        return x.isoformat()
    if isinstance(x, Mapping):
        return {str(k): json_safe(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [json_safe(v) for v in x]
    return x


def json_doc(x: Mapping[str, Any]) -> dict[str, Any]:
    """`json_safe` of a mapping, typed as a JSON object."""
    out = json_safe(x)
    if not isinstance(out, dict):
        raise RuntimeError("internal invariant broken: expected isinstance(out, dict)")
    return out


def periods_per_year(every: Every) -> float:
    return YEAR_SECONDS / max(every.approx_seconds(), 1.0)


def risk_metrics(values: list[float], ppy: float) -> dict[str, float | None]:
    """VaR/CVaR (95 %, per check), max drawdown, Sharpe, volatility... of the equity path (core.measures.metrics)."""
    clean = [v for v in values if v > 0 and math.isfinite(v)]
    if len(clean) < 2:
        return dict.fromkeys(("total_return", "volatility", "sharpe", "max_drawdown", "var_95", "cvar_95"), None)
    return json_safe(metrics.summary(clean, ppy))  # type: ignore[no-any-return]


def calendar_every(trigger: Trigger) -> Every | None:
    """The calendar period inside a (possibly combined) trigger, if any; a sleeve strategy's shortest one."""
    if isinstance(trigger, Calendar):
        return trigger.every
    if isinstance(trigger, SleeveSplit):
        periods = [e for t in (trigger.split, *(s.trigger for s in trigger.sleeves)) if (e := calendar_every(t))]
        return min(periods, key=lambda e: e.approx_seconds(), default=None)
    if isinstance(trigger, AnyOf | AllOf):
        for t in trigger.triggers:
            if (found := calendar_every(t)) is not None:
                return found
    return None


def next_calendar_due(every: Every, anchor: datetime, now: datetime) -> datetime:
    """First anchor + k * every strictly after `now` (k >= 1)."""
    k = max(1, int((now - anchor).total_seconds() // every.approx_seconds()) - 1)
    while (t := every.after(anchor, k)) <= now:
        k += 1
    return t


def cost_doc(plan: TradePlan | None, report: ExecutionReport | None) -> dict[str, Any]:
    """Expected (plan) vs realised (fills) costs in quote units, and realised slippage in bps of notional."""
    exp = plan.total_cost if plan else None
    fills = report.fills if report else ()
    fee = sum((f.fee for f in fills), Decimal(0))
    slip = sum((f.slippage for f in fills), Decimal(0))
    gas = sum((f.gas for f in fills), Decimal(0))
    notional = sum((f.quantity * f.price for f in fills), Decimal(0))
    return {
        "expected": {
            "fee": float(exp.fee),
            "slippage": float(exp.slippage),
            "gas": float(exp.gas),
            "total": float(exp.total),
        }
        if exp
        else None,
        "realised": {"fee": float(fee), "slippage": float(slip), "gas": float(gas), "total": float(fee + slip + gas)},
        "traded_notional": float(notional),
        "slippage_bps": float(slip / notional * 10_000) if notional else 0.0,
    }


def performance_doc(equity: list[tuple[datetime, float, float, float]], every: Every) -> dict[str, Any]:
    """Equity curve with buy-and-hold beside it, metrics of both, and the return due to rebalancing.

    Returns and metrics are time-weighted (external flows, the 4th column, do not count as performance; the
    twin receives the same flows); the money-weighted return (annualised IRR of the flows) stands beside them."""
    from trimtab.core.base.flows import flow_adjusted, money_weighted_return

    ppy = periods_per_year(every)
    values = [v for _, v, _, _ in equity]
    bh = [b for _, _, b, _ in equity]
    flows = [f for _, _, _, f in equity]
    adj, bh_adj = flow_adjusted(values, flows), flow_adjusted(bh, flows)
    strat, hold = risk_metrics(adj, ppy), risk_metrics(bh_adj, ppy)
    ret = adj[-1] / adj[0] - 1 if len(adj) > 1 and adj[0] > 0 else 0.0
    bh_ret = bh_adj[-1] / bh_adj[0] - 1 if len(bh_adj) > 1 and bh_adj[0] > 0 else 0.0
    days = [t.timestamp() / 86400.0 for t, _, _, _ in equity]
    mwr = money_weighted_return(days, values, flows) if len(values) > 1 and days[-1] > days[0] else None
    return {
        "points": len(equity),
        "equity": [{"time": t.isoformat(), "value": v, "buy_and_hold": b, "flow": f} for t, v, b, f in equity],
        "metrics": strat,
        "buy_and_hold_metrics": hold,
        "return": ret,
        "buy_and_hold_return": bh_ret,
        "rebalancing_contribution": ret - bh_ret,
        "net_flows": sum(flows[1:]),
        "money_weighted_return": mwr if mwr is None or math.isfinite(mwr) else None,
    }


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """[first instant, first instant of next month) of 'YYYY-MM' in UTC; ValueError if malformed."""
    start = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
    nxt = (start + timedelta(days=32)).replace(day=1)
    return start, nxt


def monthly_summary(name: str, month: str, decisions: list[dict[str, Any]]) -> dict[str, Any]:
    """Returns, costs, rebalances and attribution (strategy return - buy-and-hold return) for one month.

    `decisions` are oldest first; the month starts from the last value recorded before it, if any."""
    start, end = month_bounds(month)
    before = [d for d in decisions if d["time"] < start]
    inside = [d for d in decisions if start <= d["time"] < end]
    first = before[-1] if before else (inside[0] if inside else None)
    last = inside[-1] if inside else None
    ret = bh_ret = 0.0
    if first and last and first["value"] > 0 and first["buy_and_hold_value"] > 0:
        ret = last["value"] / first["value"] - 1
        bh_ret = last["buy_and_hold_value"] / first["buy_and_hold_value"] - 1
    traded = [d for d in inside if d["traded"]]
    costs = sum(((d.get("report") or {}).get("costs", {}).get("realised", {}).get("total", 0.0) for d in traded), 0.0)
    return {
        "portfolio": name,
        "month": month,
        "checks": len(inside),
        "rebalances": len(traded),
        "start_value": first["value"] if first else None,
        "end_value": last["value"] if last else None,
        "return": ret,
        "buy_and_hold_return": bh_ret,
        "attribution": {"holding": bh_ret, "rebalancing": ret - bh_ret},
        "costs": costs,
        "reasons": [d["reason"] for d in traded],
    }


def summary_text(doc: dict[str, Any]) -> str:
    return (
        f"{doc['portfolio']} {doc['month']}: return {doc['return'] * 100:+.2f}% "
        f"(buy-and-hold {doc['buy_and_hold_return'] * 100:+.2f}%, rebalancing "
        f"{doc['attribution']['rebalancing'] * 100:+.2f}pp), {doc['rebalances']} rebalance(s), "
        f"costs {doc['costs']:.2f}"
    )


def every_of(text: str) -> Every:
    return parse_every(text)
