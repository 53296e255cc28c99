"""One leased portfolio cycle: reconcile leftovers, decide through the engine, execute journaled, record, alert."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from trimtab import engine
from trimtab.adapters.storage.service_store import PortfolioRow
from trimtab.core.costmodels import bind_market, market_bound
from trimtab.core.costs import CostModel
from trimtab.core.portfolio import PortfolioState
from trimtab.core.ports import ExecutionReport
from trimtab.core.snapshot import MarketSnapshot
from trimtab.core.strategy import Decision, Schedule
from trimtab.core.triggers import TriggerResult
from trimtab.core.types import Side, TradePlan
from trimtab.errors import TrimtabError
from trimtab.service import reports
from trimtab.service.bootstrap import PortfolioRuntime, Services
from trimtab.service.journal import JournaledVenue, JournalLedger, TrackedVenue, final_status, reconcile, report_doc
from trimtab.service.venues import EphemeralPaper
from trimtab.views import plan_document

log = logging.getLogger(__name__)
EQUITY_WINDOW = 366  # checks of history behind the per-cycle risk metrics


def trigger_kind(result: TriggerResult, *, manual: bool, initial: bool) -> str:
    """scheduled (calendar), risk (volatility/regime rules), else opportunistic (drift bands)."""
    if initial:
        return "initial"
    if manual:
        return "manual"
    if result.calendar:
        return "scheduled"
    text = result.reason.lower()
    return "risk" if any(w in text for w in ("vol", "regime", "risk", "drawdown")) else "opportunistic"


def snapshot_for(rt: PortfolioRuntime, holdings: Mapping[str, Decimal]) -> MarketSnapshot:
    """The market now for everything the portfolio targets or holds."""
    return rt.market.snapshot(sorted({*rt.strategy.targets, *(a for a, q in holdings.items() if q)}), rt.strategy.quote)


def venue_for(rt: PortfolioRuntime, holdings: dict[str, Decimal], snap: MarketSnapshot,
              costs: CostModel | None = None) -> TrackedVenue:
    venue: Any = rt.venue if rt.venue is not None else EphemeralPaper(holdings, costs or rt.strategy.costs, snap.prices)
    if hasattr(venue, "set_prices"):
        venue.set_prices(snap.prices)
    if costs is not None and hasattr(venue, "set_costs"):  # paper venues fill with the same bound costs as the plan
        venue.set_costs(costs)
    return venue  # type: ignore[no-any-return]


def reconcile_leftovers(services: Services, rt: PortfolioRuntime) -> list[Any]:
    """Close rebalances a crashed process left open, from the venue's record of each client id."""
    ids = services.store.open_rebalances(rt.account)
    if not ids:
        return []
    venue = rt.venue if rt.venue is not None else EphemeralPaper({}, rt.strategy.costs, {})
    done = reconcile(services.ledger, venue, rt.account, ids)
    for r in done:
        services.notifier.send(rt.name, "failure" if r.missing else "rebalance_completed",
                               f"{rt.name}: rebalance reconciled after restart ({r.status})",
                               f"{len(r.fills)} leg(s) found at the venue, {r.missing} never sent",
                               {"rebalance_id": r.rebalance_id, "status": r.status})
    return done


def exit_plan(rt: PortfolioRuntime, holdings: dict[str, Decimal], snap: MarketSnapshot) -> TradePlan:
    """Sell every risk asset into the quote at market (the direct pair: the cheapest route a single venue has)."""
    quote = rt.strategy.quote
    orders = []
    for asset, qty in sorted(holdings.items()):
        if asset == quote or qty <= 0 or asset not in snap.prices:
            continue
        q = rt.strategy.costs.quote(asset, Side.SELL, qty, snap.prices[asset])
        from trimtab.core.types import PlannedOrder

        orders.append(PlannedOrder(asset, quote, Side.SELL, qty, snap.prices[asset], q.exec_price, q.cost, q.gross))
    return TradePlan(tuple(orders), "emergency exit", post_weights={quote: 1.0})


def exit_quotes(rt: PortfolioRuntime, holdings: dict[str, Decimal], snap: MarketSnapshot) -> list[dict[str, Any]]:
    """Pre-quote of each exit leg: expected quote received net of costs and the minimum accepted (guard)."""
    out = []
    guard = Decimal(repr(rt.spec.exit_guard_bps)) / 10_000
    for o in exit_plan(rt, holdings, snap).orders:
        expected = o.quote_delta
        out.append({"asset": o.asset, "quantity": str(o.quantity), "route": f"{o.asset}->{o.quote} on {rt.spec.venue}",
                    "mid": str(o.price), "expected_received": str(expected),
                    "min_received": str((expected * (1 - guard)).quantize(Decimal("1e-8")))})
    return out


def _exit_guard(rt: PortfolioRuntime, request: dict[str, Any], snap: MarketSnapshot) -> Any:
    mins = {q["asset"]: Decimal(q["min_received"]) for q in request.get("quotes", [])}

    def guard(order: Any) -> str | None:
        now = rt.strategy.costs.quote(order.asset, Side.SELL, order.quantity, snap.prices[order.asset])
        received = (now.gross if now.gross is not None else order.quantity * now.exec_price) - now.cost.fee - now.cost.gas
        floor = mins.get(order.asset)
        if floor is not None and received < floor:
            return f"guard: would receive {received:.8f} < minimum {floor}"
        return None

    return guard


def run_portfolio_cycle(services: Services, rt: PortfolioRuntime, row: PortfolioRow) -> dict[str, Any]:
    """Everything one cycle does for one leased portfolio; returns the columns to update on release."""
    store, strategy_was = services.store, rt.targets_version
    reconcile_leftovers(services, rt)
    version, targets = store.targets(rt.name)
    rt.with_targets(version, targets)
    strategy = rt.strategy
    holdings = services.store.balances(rt.account)
    snap = snapshot_for(rt, holdings)
    now = snap.time
    if market_bound(strategy.costs):  # gas of the day, impact calibrated on past volumes
        strategy = replace(strategy, costs=bind_market(strategy.costs, now, snap.history))
    venue = venue_for(rt, holdings, snap, strategy.costs)
    initial = row.last_check_at is None and all(a == strategy.quote for a, q in holdings.items() if q)
    manual = row.trigger_requested and not row.exit_request
    # clear only the request this cycle consumed: one made while the cycle ran must survive to the next cycle
    updates: dict[str, Any] = {"trigger_requested": False} if row.trigger_requested else {}
    guard = None
    if row.exit_request is not None:
        plan = exit_plan(rt, holdings, snap)
        state = PortfolioState.of(holdings, snap.prices, strategy.quote)
        decision = Decision(now, TriggerResult(True, ("emergency exit",)), {strategy.quote: 1.0},
                            state.weights(extra=strategy.targets), plan)
        kind, guard = "exit", _exit_guard(rt, row.exit_request, snap)
        updates.update(exit_request=None, paused=True, paused_reason="emergency exit")
    else:
        decision = engine.decide(strategy, snap, holdings, schedule=Schedule(row.anchor_at, row.last_check_at),
                                 initial=initial or manual)
        if manual:
            why = TriggerResult(True, ("manual trigger by admin",), calendar=True)
            decision = replace(decision, trigger=why,
                               plan=replace(decision.plan, reason=why.reason) if decision.plan else None)
        kind = trigger_kind(decision.trigger, manual=manual, initial=initial) if decision.trigger.fired else "check"
    result = None
    if decision.plan is not None and not decision.plan.is_empty:
        if kind != "exit":
            services.notifier.send(rt.name, f"rebalance_{kind}", f"{rt.name}: {kind} rebalance",
                                   decision.reason, {"trigger": kind, "orders": len(decision.plan.orders)})
        jv = JournaledVenue(venue, services.ledger, rt.account, now, services.stop, guard,
                            {"portfolio": rt.name, "kind": kind, "targets_version": rt.targets_version})
        result = engine.execute_decision(decision, jv, JournalLedger(services.ledger, jv), account=rt.account, time=now)
        report = jv.report or ExecutionReport(())
        status = final_status(report).value
        rebalance_id = jv.rebalance_id
    else:
        report, status, rebalance_id = None, "held", None
    after = holdings if report is None else services.store.balances(rt.account)  # nothing traded: no re-read
    state = PortfolioState.of(after, snap.prices, strategy.quote)
    value = float(state.total)
    bh = row.bh
    if bh is None and (status in ("done", "partial") or not initial):
        bh = {a: str(q) for a, q in after.items() if q}  # the buy-and-hold twin: holdings after the first allocation
        updates["bh_json"] = bh
    bh_value = float(sum(Decimal(q) * snap.prices.get(a, Decimal(0)) for a, q in bh.items())) if bh else value
    equity = [v for _, v, _ in store.equity(rt.name, EQUITY_WINDOW)] + [value]
    risk = reports.risk_metrics(equity, reports.periods_per_year(rt.spec.every))
    plan_doc = None
    if decision.plan is not None:
        plan_doc = plan_document(decision.plan, strategy, PortfolioState.of(holdings, snap.prices, strategy.quote),
                                 decision.reason)
    rep = None
    if report is not None:
        rep = report_doc(report, costs=reports.cost_doc(decision.plan, report))
    row_doc = {"time": now, "kind": kind, "fired": decision.trigger.fired, "traded": bool(result and result.traded),
               "status": status, "reason": decision.reason, "rebalance_id": rebalance_id, "value": value,
               "bh_value": bh_value, "weights_json": state.weights(extra=strategy.targets),
               "targets_json": dict(decision.targets), "metrics_json": risk, "plan_json": plan_doc,
               "report_json": rep}
    _after_trade_alerts(services, rt, kind, status, decision.reason, rep)
    updates.update(_breakers(services, rt, row, equity, now))
    updates.update(_scheduled_alerts(services, rt, row, now))
    log.debug("%s: %s %s (targets v%s->v%s)", rt.name, kind, status, strategy_was, rt.targets_version)
    return {"decision": row_doc, "last_check_at": now, "next_check_at": rt.spec.every.after(now, 1),
            "anchor_at": row.anchor_at or now, "failures": 0 if status != "failed" else row.failures + 1, **updates}


def _after_trade_alerts(services: Services, rt: PortfolioRuntime, kind: str, status: str, reason: str,
                        rep: dict[str, Any] | None) -> None:
    if rep is None:
        return
    costs = rep["costs"]["realised"]["total"]
    if kind == "exit":
        services.notifier.send(rt.name, "emergency_exit", f"{rt.name}: emergency exit {status}",
                               f"{len(rep['fills'])} leg(s) sold into the quote, costs {costs:.2f}", rep)
    elif status == "done":
        services.notifier.send(rt.name, "rebalance_completed", f"{rt.name}: rebalance completed",
                               f"{reason}; {len(rep['fills'])} fill(s), costs {costs:.2f}", rep)
    else:
        services.notifier.send(rt.name, "failure", f"{rt.name}: rebalance {status}",
                               "; ".join(f["reason"] for f in rep["failures"]) or reason, rep)


def _breakers(services: Services, rt: PortfolioRuntime, row: PortfolioRow, equity: list[float],
              now: datetime) -> dict[str, Any]:
    """Drawdown circuit breaker: pause the portfolio and alert when the equity falls too far from its peak."""
    limit = rt.spec.max_drawdown
    if limit is None or len(equity) < 2 or row.paused:
        return {}
    peak = max(equity)
    dd = 1 - equity[-1] / peak if peak > 0 else 0.0
    if dd <= limit:
        return {}
    services.notifier.send(rt.name, "circuit_breaker", f"{rt.name}: circuit breaker tripped",
                           f"drawdown {dd * 100:.1f}% beyond limit {limit * 100:.1f}%; portfolio paused",
                           {"breaker": "max_drawdown", "drawdown": dd, "limit": limit, "time": now.isoformat()})
    return {"paused": True, "paused_reason": f"circuit breaker: drawdown {dd * 100:.1f}%"}


def _scheduled_alerts(services: Services, rt: PortfolioRuntime, row: PortfolioRow, now: datetime) -> dict[str, Any]:
    """Advance notice of the next calendar rebalance (once per due date) and the monthly summary."""
    out: dict[str, Any] = {}
    alerts = services.settings.alerts
    every = reports.calendar_every(rt.strategy.trigger)
    anchor = row.anchor_at or now
    if every is not None:
        due = reports.next_calendar_due(every, anchor, now)
        notice = reports.every_of(alerts.advance_notice).after(now, 1)
        if due <= notice and (row.notice_for is None or row.notice_for < due):
            services.notifier.send(rt.name, "rebalance_notice", f"{rt.name}: scheduled rebalance on {due:%Y-%m-%d}",
                                   f"calendar every {every.text} is due at {due.isoformat()}", {"due": due.isoformat()})
            out["notice_for"] = due
    month = f"{now:%Y-%m}"
    if row.summary_month is None:
        out["summary_month"] = month
    elif row.summary_month != month:
        out["summary_month"] = month
        if alerts.monthly_summary:
            doc = reports.monthly_summary(rt.name, row.summary_month, services.store.decisions_between(
                rt.name, *reports.month_bounds(row.summary_month)))
            services.notifier.send(rt.name, "monthly_summary", f"{rt.name}: summary for {row.summary_month}",
                                   reports.summary_text(doc), doc)
    return out


def failed_cycle(services: Services, rt: PortfolioRuntime, row: PortfolioRow, err: Exception) -> dict[str, Any]:
    """Count a failed cycle, alert, and trip the breaker (pause) after `max_failures` in a row."""
    failures = row.failures + 1
    what = str(err) if isinstance(err, TrimtabError) else f"internal error: {type(err).__name__}"
    services.notifier.send(rt.name, "failure", f"{rt.name}: cycle failed", what, {"failures": failures})
    updates: dict[str, Any] = {"failures": failures}
    if row.trigger_requested:  # the failed cycle consumed these requests; later ones stay pending
        updates["trigger_requested"] = False
    if row.exit_request is not None:
        updates["exit_request"] = None
    if failures >= rt.spec.max_failures and not row.paused:
        services.notifier.send(rt.name, "circuit_breaker", f"{rt.name}: circuit breaker tripped",
                               f"{failures} failed cycles in a row; portfolio paused", {"breaker": "failures"})
        updates.update(paused=True, paused_reason=f"circuit breaker: {failures} failed cycles")
    return updates
