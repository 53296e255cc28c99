"""What a cycle writes: the decision row (value, weights, risk metrics of the flow-adjusted equity path, plan,
report) with the schedule columns, and the drawdown breaker on the value before trading."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from trimtab.adapters.storage.service_rows import PortfolioRow
from trimtab.core.base.flows import flow_adjusted, with_flow
from trimtab.core.base.portfolio import PortfolioState
from trimtab.core.base.ports import ExecutionReport
from trimtab.core.base.snapshot import MarketSnapshot
from trimtab.core.sleeves import SleeveSplit
from trimtab.core.strategy import Decision, Strategy
from trimtab.documents import plan_document
from trimtab.pipeline.journal import report_doc
from trimtab.service import reports
from trimtab.service.aftercycle import after_trade_alerts, drawdown_breaker, scheduled_alerts
from trimtab.service.bootstrap import PortfolioRuntime, Services
from trimtab.service.flows import scaled_twin
from trimtab.service.sleeve_status import fired_doc

EQUITY_WINDOW = 366  # checks of history behind the per-cycle risk metrics


@dataclass(frozen=True)
class Executed:
    """What one cycle sent and how it ended."""

    report: ExecutionReport | None = None
    status: str = "held"
    rebalance_id: str | None = None
    traded: bool = False
    extra: dict[str, Any] | None = None  # more for the decision's report (a netted rebalance's savings)


@dataclass
class CycleResult:
    """The decision row for the store and the portfolio columns to update on release."""

    decision: dict[str, Any]
    updates: dict[str, Any] = field(default_factory=dict)

    def columns(self) -> dict[str, Any]:
        return {"decision": self.decision, **self.updates}


def _rules_of(venue: Any, quote: str) -> Any:
    """The venue's market rules by asset (prices in documents on its ticks), None without a venue."""
    return None if venue is None else (lambda asset: venue.rules(asset, quote))


def record(
    services: Services,
    rt: PortfolioRuntime,
    row: PortfolioRow,
    strategy: Strategy,
    decision: Decision,
    kind: str,
    snap: MarketSnapshot,
    holdings: dict[str, Decimal],
    done: Executed,
    initial: bool,
    flow: Decimal = Decimal(0),
) -> CycleResult:
    """The decision row (value, weights, risk, plan, report) and the schedule columns; `flow` is the external flow
    recorded this cycle (it moves the value, not the returns)."""
    now = snap.time
    updates: dict[str, Any] = {}
    after = holdings if done.report is None and not flow else services.store.balances(rt.account)
    state = PortfolioState.of(after, snap.prices, strategy.quote)
    value = float(state.total)
    bh = scaled_twin(row.bh, dict(snap.prices), flow)
    if flow and bh is not None:
        updates["bh_json"] = bh
    if bh is None and (done.status in ("done", "partial") or not initial):
        bh = {a: str(q) for a, q in after.items() if q}  # the buy-and-hold twin: holdings after the first allocation
        updates["bh_json"] = bh
    bh_value = float(sum(Decimal(q) * snap.prices.get(a, Decimal(0)) for a, q in bh.items())) if bh else value
    equity = with_flow(recent_equity(services, rt, row), value, float(flow))
    rt.equity_tail, rt.equity_at = equity[-EQUITY_WINDOW:], now  # valid while this process writes the next row
    plan_doc = None
    if decision.plan is not None:
        plan_doc = plan_document(
            decision.plan,
            strategy,
            PortfolioState.of(holdings, snap.prices, strategy.quote),
            decision.reason,
            _rules_of(rt.venue, strategy.quote),
        )
        if isinstance(strategy.trigger, SleeveSplit):  # which sleeves this plan rebalances (docs/sleeves.md)
            plan_doc["sleeves"] = fired_doc(strategy.trigger, decision.trigger)
    rep = None
    if done.report is not None:
        rep = report_doc(done.report, costs=reports.cost_doc(decision.plan, done.report), **(done.extra or {}))
    doc = {
        "time": now,
        "kind": kind,
        "fired": decision.trigger.fired,
        "traded": done.traded,
        "status": done.status,
        "reason": decision.reason,
        "rebalance_id": done.rebalance_id,
        "value": value,
        "bh_value": bh_value,
        "weights_json": state.weights(extra=decision.targets),
        "targets_json": dict(decision.targets),
        "metrics_json": reports.risk_metrics(equity, reports.periods_per_year(rt.spec.every)),
        "plan_json": plan_doc,
        "report_json": rep,
        "flow": float(flow),
    }
    after_trade_alerts(services, rt, kind, done.status, decision.reason, rep)
    updates.update(scheduled_alerts(services, rt, row, now))
    failures = (
        row.failures + 1 if done.status in ("failed", "partial") else 0 if done.status != "unknown" else row.failures
    )  # failed and partial rebalances count toward the breaker; an unknown one waits
    if failures >= rt.spec.max_failures and not row.paused and "paused" not in updates:
        services.notifier.send(
            rt.name,
            "circuit_breaker",
            f"{rt.name}: circuit breaker tripped",
            f"{failures} failed or partial rebalances in a row; portfolio paused",
            {"breaker": "failures"},
        )
        updates.update(paused=True, paused_reason=f"circuit breaker: {failures} failed cycles")
    updates.update(
        last_check_at=now, next_check_at=rt.spec.every.after(now, 1), anchor_at=row.anchor_at or now, failures=failures
    )
    return CycleResult(doc, updates)


def pre_trade_breaker(
    services: Services, rt: PortfolioRuntime, row: PortfolioRow, snap: MarketSnapshot, holdings: dict[str, Decimal]
) -> dict[str, Any]:
    """The drawdown breaker on the value before trading: a portfolio beyond its limit pauses and sends nothing."""
    if rt.spec.max_drawdown is None:
        return {}
    value = float(PortfolioState.of(holdings, snap.prices, rt.strategy.quote).total)
    return drawdown_breaker(services, rt, row, [*recent_equity(services, rt, row), value], snap.time)


def recent_equity(services: Services, rt: PortfolioRuntime, row: PortfolioRow) -> list[float]:
    """The last EQUITY_WINDOW recorded values with external flows taken out: kept in memory while this process
    wrote the latest decision, read back from the database otherwise (a restart, or another worker ran it)."""
    if rt.equity_tail is not None and rt.equity_at is not None and rt.equity_at == row.last_check_at:
        return list(rt.equity_tail)
    rows = services.store.equity_flows(rt.name, EQUITY_WINDOW)
    return flow_adjusted([v for _, v, _, _ in rows], [f for _, _, _, f in rows])
