"""One cycle of a yield portfolio: the check `trimtab backtest` runs (core.yield_check), each move's withdraw /
swap / deposit legs journaled before they leave and recorded whole, the positions and the yield earned stored
with the decision, and alerts that name both APYs, the differential, the costs and the horizon."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from trimtab.adapters.storage.service_rows import PortfolioRow
from trimtab.core.base.ports import ExecutionReport
from trimtab.core.base.types import ZERO, TradePlan
from trimtab.core.strategy import Decision
from trimtab.core.triggers.rules import TriggerKind, TriggerResult
from trimtab.core.yield_check import CheckTime, YieldDecision, decide_yield, interest_since
from trimtab.core.yields.positions import ReserveState
from trimtab.core.yields.trades import Executed, apply_fills, as_plan, execute_move
from trimtab.engine import execute_decision
from trimtab.pipeline.journal import JournalLedger, final_status, order_doc, report_doc
from trimtab.pipeline.tracked import PlannedFills
from trimtab.service import reports
from trimtab.service.aftercycle import after_trade_alerts, drawdown_breaker, scheduled_alerts
from trimtab.service.bootstrap import PortfolioRuntime, Services
from trimtab.service.cycle import journal_for, reconcile_leftovers
from trimtab.service.cycle_record import EQUITY_WINDOW, recent_equity
from trimtab.service.holds import UNKNOWN_RETRY_S, drift_cycle, venue_drift, waiting_cycle


def legs_for(
    rt: PortfolioRuntime,
    dec: YieldDecision,
    states: dict[str, ReserveState | None],
    gas: float,
    units: dict[str, Decimal],
) -> tuple[TradePlan | None, list[Executed]]:
    """Every move's legs on the units the moves before it leave (as the backtest executes them), as one plan."""
    feed = rt.yields
    if feed is None or not dec.assessment.moves:
        return None, []
    setup = feed.setup
    done: list[Executed] = []
    held = dict(units)
    for k, m in enumerate(dec.assessment.moves):
        if held.get(m.source, ZERO) <= 0:
            continue
        ex = execute_move(m, setup.by_name, states, held, setup.rule, gas, ref=f"m{k}")
        held = apply_fills(held, ex.fills)
        done.append(ex)
    if not done:
        return None, []
    orders = tuple(o for ex in done for o in as_plan(ex).orders)
    return TradePlan(orders, dec.reason), done


def dry_run(rt: PortfolioRuntime, units: dict[str, Decimal], now: datetime) -> TradePlan:
    """What the migration rule would move now if asked (a manual check), without sending or recording anything."""
    feed = rt.yields
    if feed is None:
        raise RuntimeError("internal invariant broken: expected a yield portfolio")
    states, seen, gas = feed.states(now)
    dec = decide_yield(feed.setup, units, states, gas, CheckTime(now), decide_states=seen, manual=True)
    plan, _ = legs_for(rt, dec, states, gas, units)
    return plan or TradePlan((), dec.reason)


def _move_doc(ex: Executed) -> dict[str, Any]:
    """The move's numbers and what its legs paid (gas, fee, slippage in USD)."""
    paid = {"gas_usd": float(ex.gas_usd), "fee_usd": float(ex.fee_usd), "slippage_usd": float(ex.slippage_usd)}
    return {**ex.move.doc(), **paid}


def _last_yield(services: Services, rt: PortfolioRuntime) -> dict[str, Any]:
    """The latest decision's yield document: cycles that held without valuing (an unknown leg, ledger/venue
    drift) record none, and the yield earned and indices carry on from the one before them."""
    return services.store.last_yields(rt.name) or {}


def positions_doc(
    rt: PortfolioRuntime, units: dict[str, Decimal], states: dict[str, ReserveState | None]
) -> list[dict[str, Any]]:
    """Each candidate (held or not): protocol, units, index, APY and value in USD."""
    feed = rt.yields
    if feed is None:
        return []
    out = []
    for p in feed.setup.positions:
        s = states.get(p.name)
        u = units.get(p.name, ZERO)
        value = float(u * Decimal(repr(s.index)) * Decimal(repr(s.price))) if s is not None else 0.0
        out.append(
            {
                "name": p.name,
                "protocol": p.protocol,
                "underlying": p.underlying,
                "risk_score": p.risk_score,
                "units": str(u),
                "index": s.index if s is not None else None,
                "apy": s.apy if s is not None else None,
                "utilization": s.utilization if s is not None else None,
                "value": value,
            }
        )
    return out


def run_yield_cycle(
    services: Services, rt: PortfolioRuntime, row: PortfolioRow, open_ids: list[str] | None = None
) -> dict[str, Any]:
    """Everything one cycle does for one leased yield portfolio; returns the columns to update on release."""
    feed = rt.yields
    if feed is None:
        raise RuntimeError("internal invariant broken: expected a yield portfolio")
    still_open = [r.rebalance_id for r in reconcile_leftovers(services, rt, open_ids) if r.status == "unknown"]
    if still_open:
        return waiting_cycle(services, rt, row, still_open)
    units = services.store.balances(rt.account)
    if rt.venue is not None:
        drift = venue_drift({a: q for a, q in units.items() if q}, rt.venue.balances())
        if drift:
            return drift_cycle(services, rt, row, drift)
    now = services.clock.now()
    states, seen, gas = feed.states(now)
    last = _last_yield(services, rt)
    interest, indices = interest_since(units, states, {k: Decimal(v) for k, v in last.get("indices", {}).items()})
    cash = {p.name for p in feed.setup.positions if p.is_cash}
    initial = row.last_check_at is None and all(a in cash for a, q in units.items() if q)
    consumed: dict[str, Any] = {"trigger_requested": False} if row.trigger_requested else {}
    exit_reason = None
    if row.exit_request is not None:
        exit_reason = "emergency exit"
        consumed.update(exit_request=None, paused=True, paused_reason="emergency exit")
    dec = decide_yield(
        feed.setup,
        units,
        states,
        gas,
        CheckTime(now, row.anchor_at, row.last_check_at),
        decide_states=seen,
        first=initial,
        manual=row.trigger_requested and exit_reason is None,
        exit_reason=exit_reason,
    )
    value = sum(dec.values.values())
    tripped = (
        {} if exit_reason else drawdown_breaker(services, rt, row, [*recent_equity(services, rt, row), value], now)
    )
    consumed.update(tripped)
    plan, moves = (None, []) if tripped else legs_for(rt, dec, states, gas, units)
    kind = "exit" if exit_reason else dec.move_kind.value if plan is not None else "check"
    report, status, rebalance_id = _send(services, rt, plan, kind, now, units)
    after = units if report is None else services.store.balances(rt.account)
    return _record(
        services,
        rt,
        row,
        dec,
        kind,
        now,
        states,
        after,
        plan,
        moves,
        report,
        status,
        rebalance_id,
        interest,
        indices,
        last,
        consumed,
    )


def _send(
    services: Services,
    rt: PortfolioRuntime,
    plan: TradePlan | None,
    kind: str,
    now: datetime,
    units: dict[str, Decimal],
) -> tuple[ExecutionReport | None, str, str | None]:
    """The plan through the journal to the venue (paper: planned fills; chain: one atomic batch)."""
    if plan is None:
        return None, "held", None
    venue = rt.venue if rt.venue is not None else PlannedFills(units)
    jv = journal_for(services, rt, now, kind, venue)
    trig = TriggerResult(True, (plan.reason,), kind=TriggerKind(kind) if kind != "exit" else TriggerKind.RISK)
    execute_decision(
        Decision(now, trig, {}, {}, plan), jv, JournalLedger(services.ledger, jv), account=rt.account, time=now
    )
    report = jv.report or ExecutionReport(())
    if jv.unknown is not None:
        services.notifier.send(
            rt.name,
            "failure",
            f"{rt.name}: migration outcome unknown",
            f"{jv.unknown[1]}; no new plan until the venue settles it",
            {"rebalance_id": jv.rebalance_id, "status": "unknown"},
        )
        return report, "unknown", jv.rebalance_id
    return report, final_status(report).value, jv.rebalance_id


def _alert(services: Services, rt: PortfolioRuntime, kind: str, moves: list[Executed], status: str) -> None:
    """Opportunistic and risk migrations announced with their numbers (both APYs, differential, costs, horizon)."""
    if not moves or kind == "exit":
        return
    docs = [_move_doc(ex) for ex in moves]
    total = sum(x["amount_usd"] for x in docs)
    services.notifier.send(
        rt.name,
        f"migration_{kind}",
        f"{rt.name}: {kind} migration of ${total:,.0f} ({status})",
        "; ".join(x["reason"] for x in docs),
        {"kind": kind, "status": status, "moves": docs},
    )


def _record(
    services: Services,
    rt: PortfolioRuntime,
    row: PortfolioRow,
    dec: YieldDecision,
    kind: str,
    now: datetime,
    states: dict[str, ReserveState | None],
    after: dict[str, Decimal],
    plan: TradePlan | None,
    moves: list[Executed],
    report: ExecutionReport | None,
    status: str,
    rebalance_id: str | None,
    interest: Decimal,
    indices: dict[str, Decimal],
    last: dict[str, Any],
    consumed: dict[str, Any],
) -> dict[str, Any]:
    feed = rt.yields
    if feed is None:
        raise RuntimeError("internal invariant broken: expected a yield portfolio")
    positions = positions_doc(rt, after, states)
    value = sum(p["value"] for p in positions)
    updates: dict[str, Any] = dict(consumed)
    bh = row.bh
    if bh is None and (status in ("done", "partial") or row.last_check_at is not None):
        bh = {a: str(q) for a, q in after.items() if q}  # the twin that stays where the first allocation put it
        updates["bh_json"] = bh
    prices = feed.prices(now)
    bh_value = float(sum(Decimal(q) * prices.get(a, Decimal(0)) for a, q in bh.items())) if bh else value
    equity = [*recent_equity(services, rt, row), value]
    rt.equity_tail, rt.equity_at = equity[-EQUITY_WINDOW:], now
    earned = float(Decimal(repr(last.get("yield_earned", 0.0))) + interest)
    rep = report_doc(report, costs=reports.cost_doc(plan, report)) if report is not None else None
    traded = bool(report is not None and report.fills and status != "unknown")
    doc = {
        "time": now,
        "kind": kind,
        "fired": dec.checked,
        "traded": traded,
        "status": status,
        "reason": dec.reason,
        "rebalance_id": rebalance_id,
        "value": value,
        "bh_value": bh_value,
        "weights_json": {p["name"]: p["value"] / value for p in positions if value > 0 and p["value"]},
        "targets_json": {},
        "metrics_json": reports.risk_metrics(equity, reports.periods_per_year(rt.spec.every)),
        "plan_json": {"reason": plan.reason, "orders": [order_doc(o) for o in plan.orders]} if plan else None,
        "report_json": rep,
        "yield_json": {
            "positions": positions,
            "interest": float(interest),
            "yield_earned": earned,
            "indices": {k: str(v) for k, v in indices.items()},
            "moves": [_move_doc(ex) for ex in moves],
            "rates_source": feed.rates.source,
        },
    }
    if status == "done" and kind != "exit":
        _alert(services, rt, kind, moves, status)  # the migration with its numbers, instead of a generic one
    else:
        after_trade_alerts(services, rt, kind, status, dec.reason, rep)
    left = [p for p in positions if p["protocol"] != "wallet" and p["value"] > feed.setup.rule.min_move_usd]
    if kind == "exit" and left:  # a withdrawal limit held part back: say so, the owner exits again later
        services.notifier.send(
            rt.name,
            "failure",
            f"{rt.name}: emergency exit incomplete",
            "; ".join(f"${p['value']:,.0f} still in {p['name']} (withdrawal limit)" for p in left)
            + ": resume and exit again once the reserve has liquidity",
            {"left": {p["name"]: p["value"] for p in left}},
        )
    updates.update(scheduled_alerts(services, rt, row, now))
    failures = row.failures + 1 if status in ("failed", "partial") else 0 if status != "unknown" else row.failures
    if failures >= rt.spec.max_failures and not row.paused and "paused" not in updates:
        services.notifier.send(
            rt.name,
            "circuit_breaker",
            f"{rt.name}: circuit breaker tripped",
            f"{failures} failed or partial migrations in a row; portfolio paused",
            {"breaker": "failures"},
        )
        updates.update(paused=True, paused_reason=f"circuit breaker: {failures} failed cycles")
    nxt = rt.spec.every.after(now, 1)
    if status == "unknown":
        nxt = min(now + timedelta(seconds=UNKNOWN_RETRY_S), nxt)
    updates.update(last_check_at=now, next_check_at=nxt, anchor_at=row.anchor_at or now, failures=failures)
    return {"decision": doc, **updates}
