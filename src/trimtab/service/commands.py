"""Use cases shared by the REST API, the CLI and the dashboard (freqtrade's RPC idea): reads and controls."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from trimtab.core.base.portfolio import PortfolioState
from trimtab.core.base.snapshot import MarketSnapshot
from trimtab.core.sleeves import SleeveSplit
from trimtab.documents import drift_rows, plan_document
from trimtab.errors import DataError, TrimtabError
from trimtab.service import reports
from trimtab.service.bootstrap import PortfolioRuntime, Services, strategy_with_targets
from trimtab.service.cycle import exit_quotes, snapshot_for
from trimtab.service.sleeve_status import rebalance_outlook, sleeves_doc

EQUITY_POINTS = 5000


class NotFound(TrimtabError):
    """No such portfolio (API: 404)."""


class Conflict(TrimtabError):
    """The request does not fit the portfolio's state, e.g. trigger while paused (API: 409)."""


class Invalid(TrimtabError):
    """A well-formed request with a value the use case refuses, e.g. a wrong confirmation (API: 400)."""


def _rt(s: Services, name: str) -> PortfolioRuntime:
    rt = s.runtime(name)
    if rt is None:
        raise NotFound(f"no portfolio named {name!r}")
    version, targets = s.store.targets(name)
    rt.with_targets(version, targets)  # another worker or process may have changed them
    return rt


def _state(s: Services, rt: PortfolioRuntime) -> tuple[PortfolioState, MarketSnapshot, dict[str, Decimal]]:
    """Balances (one read), the market snapshot for them, and the valued state."""
    holdings = s.store.balances(rt.account)
    snap = snapshot_for(rt, holdings)
    return PortfolioState.of(holdings, snap.prices, rt.strategy.quote), snap, holdings


# -- reads -------------------------------------------------------------------------------------------


def list_portfolios(s: Services) -> list[dict[str, Any]]:
    rows = {r.name: r for r in s.store.portfolios(list(s.runtimes))}
    out = []
    for name, rt in sorted(s.runtimes.items()):
        row = rows.get(name)
        last = s.store.decisions(name, limit=1)
        out.append(
            reports.json_doc(
                {
                    "name": name,
                    "strategy": rt.strategy.name,
                    "venue": rt.spec.venue,
                    "account": rt.account,
                    "quote": rt.strategy.quote,
                    "paused": bool(row and row.paused),
                    "value": last[0]["value"] if last else None,
                    "last_check_at": row.last_check_at if row else None,
                    "next_check_at": row.next_check_at if row else None,
                    "last_decision": _brief(last[0]) if last else None,
                }
            )
        )
    return out


def _brief(d: dict[str, Any]) -> dict[str, Any]:
    return {k: d[k] for k in ("id", "time", "kind", "fired", "traded", "status", "reason", "value")}


def status(s: Services, name: str) -> dict[str, Any]:
    """Weights vs targets, drift and distance to trigger per asset, pause state, next check and rebalance."""
    return s.cached(f"status/{name}", lambda: _status(s, name))


def _status(s: Services, name: str) -> dict[str, Any]:
    rt = _rt(s, name)
    row = s.store.portfolio(name)
    if row is None:
        raise RuntimeError("internal invariant broken: expected row is not None")
    state, snap, holdings = _state(s, rt)
    now = snap.time
    last = s.store.decisions(name, limit=1)
    ydoc = _yields(rt, holdings, now, s.store.last_yields(name)) if rt.yields is not None else None
    rows = drift_rows(state, rt.strategy) if ydoc is None else _position_rows(ydoc["positions"])
    assets = [
        {
            **r,
            "band": r["band"] if r["band"] is not None and r["band"] != float("inf") else None,
            "distance": r["distance"] if r["band"] is not None and r["band"] != float("inf") else None,
            "breached": r["status"] != "ok",
        }
        for r in rows
    ]
    every = reports.calendar_every(rt.strategy.trigger)
    anchor = row.anchor_at
    closest = min((a for a in assets if a["distance"] is not None), key=lambda a: a["distance"], default=None)
    fire = any(a["breached"] for a in assets)
    outlook = {
        "calendar_due": reports.next_calendar_due(every, anchor, now) if every and anchor else None,
        "calendar_every": every.text if every else None,
        "would_fire": fire,
        "expected": fire and not row.paused,
    }
    sdoc = sleeves_doc(rt.strategy, state, snap, row) if isinstance(rt.strategy.trigger, SleeveSplit) else None
    if sdoc is not None:  # the earliest sleeve calendar and the sleeves' own verdicts (docs/sleeves.md)
        outlook = rebalance_outlook(sdoc, row)
    return reports.json_doc(
        {
            "name": name,
            "strategy": rt.strategy.name,
            "venue": rt.spec.venue,
            "account": rt.account,
            "quote": rt.strategy.quote,
            "time": now,
            "value": float(state.total) if ydoc is None else sum(p["value"] for p in ydoc["positions"]),
            "paused": row.paused,
            "paused_reason": row.paused_reason,
            "targets_version": rt.targets_version,
            "targets": dict(rt.strategy.targets),
            "assets": assets,
            "trigger_would_fire": outlook["would_fire"],
            "check_every": rt.spec.check_every,
            "last_check_at": row.last_check_at,
            "next_check_at": row.next_check_at,
            "next_rebalance": {
                "calendar_due": outlook["calendar_due"],
                "calendar_every": outlook["calendar_every"],
                "closest_band": {"asset": closest["asset"], "distance": closest["distance"]} if closest else None,
                "expected_at_next_check": outlook["expected"],
            },
            "failures": row.failures,
            "pending": {"trigger": row.trigger_requested, "exit": row.exit_request is not None},
            "last_decision": _brief(last[0]) if last else None,
            "yields": ydoc,
            "sleeves": sdoc,
        }
    )


def _position_rows(positions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Held yield positions as asset rows, in USD like the rates: no target weights, the migration rule decides."""
    total = sum(p["value"] for p in positions)
    return [
        {
            "asset": p["name"],
            "quantity": p["units"],
            "price": (Decimal(repr(p["value"])) / Decimal(p["units"])).quantize(Decimal("1e-12")),
            "value": Decimal(repr(p["value"])),
            "weight": p["value"] / total if total > 0 else None,
            "target": None,
            "drift": None,
            "relative_drift": None,
            "band": None,
            "distance": None,
            "status": "ok",
        }
        for p in positions
        if Decimal(p["units"]) > 0
    ]


def _yields(rt: PortfolioRuntime, holdings: dict[str, Decimal], now: datetime, last: dict[str, Any] | None) -> Any:
    """A yield portfolio's positions now (units, index, APY, value), yield earned so far and the latest moves."""
    from trimtab.service.yield_cycle import positions_doc

    feed = rt.yields
    if feed is None:
        raise RuntimeError("internal invariant broken: expected a yield portfolio")
    states, _, _ = feed.states(now)
    doc = last or {}
    return {
        "positions": positions_doc(rt, holdings, states),
        "yield_earned": doc.get("yield_earned", 0.0),
        "interest_last_check": doc.get("interest", 0.0),
        "rates_time": str(feed.rates.times[feed.row(now)])[:10],
        "rates_source": feed.rates.source,
        "last_moves": doc.get("moves", []),
    }


def decisions(
    s: Services, name: str, *, limit: int = 100, offset: int = 0, traded_only: bool = False
) -> dict[str, Any]:
    _rt(s, name)
    items = s.store.decisions(name, limit=limit, offset=offset, traded_only=traded_only)
    return reports.json_doc({"portfolio": name, "limit": limit, "offset": offset, "items": items})


def rebalances(s: Services, name: str, *, limit: int = 100) -> dict[str, Any]:
    """Journal rows (plan, fills, status) joined with the recorded expected vs realised costs, newest first."""
    import json

    rt = _rt(s, name)
    by_id = {
        d["rebalance_id"]: d for d in s.store.decisions(name, limit=10_000, traded_only=False) if d["rebalance_id"]
    }
    items = []
    for r in reversed(s.ledger.rebalances(rt.account)[-limit:]):
        d = by_id.get(r.id, {})
        report = json.loads(r.report_json) if r.report_json else None
        items.append(
            {
                "id": r.id,
                "status": r.status.value,
                "reason": r.reason,
                "created_at": r.created_at,
                "finished_at": r.finished_at,
                "kind": d.get("kind"),
                "time": d.get("time"),
                "plan": json.loads(r.plan_json),
                "report": report,
                "costs": (d.get("report") or {}).get("costs"),
            }
        )
    return reports.json_doc({"portfolio": name, "items": items})


def performance(s: Services, name: str) -> dict[str, Any]:
    rt = _rt(s, name)
    doc = reports.performance_doc(s.store.equity_flows(name, EQUITY_POINTS), rt.spec.every)
    return reports.json_doc({"portfolio": name, **doc})


def analytics(s: Services, name: str) -> dict[str, Any]:
    """The dashboard's panels: equity vs buy-and-hold vs the calendar variant, drawdown, correlations, regime."""
    from trimtab.service.dashboard import analytics_doc

    rt = _rt(s, name)
    return s.cached(f"analytics/{name}", lambda: analytics_doc(s, rt, EQUITY_POINTS))


def costs(s: Services, name: str) -> dict[str, Any]:
    """Totals and per-rebalance costs so far, and the projected cost of a full rebalance now (dry-run plan)."""
    rt = _rt(s, name)
    traded = s.store.decisions(name, limit=10_000, traded_only=True, newest_first=False)
    per = [
        {
            "decision_id": d["id"],
            "time": d["time"],
            "kind": d["kind"],
            "rebalance_id": d["rebalance_id"],
            **(d["report"] or {}).get("costs", {}),
        }
        for d in traded
    ]
    totals = {k: sum((p.get("realised") or {}).get(k, 0.0) for p in per) for k in ("fee", "slippage", "gas", "total")}
    expected = sum((p.get("expected") or {}).get("total", 0.0) for p in per)
    state, snap, holdings = _state(s, rt)
    now = snap.time
    from trimtab import engine

    if rt.yields is not None:
        from trimtab.service.yield_cycle import dry_run

        plan = dry_run(rt, holdings, now)
        projection = plan_document(plan, rt.strategy, state, f"what the migration rule would move now: {plan.reason}")
    else:
        dry = engine.decide(rt.strategy, snap, holdings, initial=True)
        projection = plan_document(dry.plan, rt.strategy, state, "cost of rebalancing to target now (dry run)")
    return reports.json_doc(
        {
            "portfolio": name,
            "time": now,
            "totals": {**totals, "expected_total": expected},
            "rebalances": len(per),
            "per_rebalance": per,
            "projection": projection,
        }
    )


def summary(s: Services, name: str, month: str | None = None) -> dict[str, Any]:
    """The monthly performance summary (default: the current service month)."""
    _rt(s, name)
    month = month or f"{s.clock.now():%Y-%m}"
    try:
        bounds = reports.month_bounds(month)
    except ValueError:
        raise Invalid(f"month must be YYYY-MM, got {month!r}") from None
    decs = s.store.decisions_between(name, *bounds)
    return reports.json_doc(reports.monthly_summary(name, month, decs))


def targets(s: Services, name: str) -> dict[str, Any]:
    rt = _rt(s, name)
    return reports.json_doc(
        {"portfolio": name, "current_version": rt.targets_version, "versions": s.store.target_versions(name)}
    )


def alerts(s: Services, portfolio: str | None = None, *, limit: int = 100, kind: str | None = None) -> dict[str, Any]:
    if portfolio is not None:
        _rt(s, portfolio)
    return reports.json_doc({"items": s.store.alerts(portfolio, limit=limit, kind=kind)})


def audit(s: Services, portfolio: str | None = None, *, limit: int = 100) -> dict[str, Any]:
    return reports.json_doc({"items": s.store.audit_log(portfolio, limit)})


# -- controls ----------------------------------------------------------------------------------------


def _accepted(s: Services, action: str, name: str, **extra: Any) -> dict[str, Any]:
    s.invalidate(name)
    return reports.json_doc(
        {"accepted": True, "action": action, "portfolio": name, "requested_at": datetime.now(UTC), **extra}
    )


def pause(s: Services, name: str, *, actor: str, reason: str = "") -> dict[str, Any]:
    _rt(s, name)
    why = reason or f"paused by {actor}"
    s.store.update_portfolio(name, paused=True, paused_reason=why)
    s.store.audit(name, "pause", actor, {"reason": why})
    s.notifier.send(name, "control", f"{name}: paused", why, {"action": "pause"})
    return _accepted(s, "pause", name, paused=True)


def resume(s: Services, name: str, *, actor: str) -> dict[str, Any]:
    _rt(s, name)
    s.store.update_portfolio(name, paused=False, paused_reason="", failures=0, next_check_at=s.clock.now())
    s.store.audit(name, "resume", actor, {})
    s.notifier.send(name, "control", f"{name}: resumed", f"resumed by {actor}", {"action": "resume"})
    s.wake.set()
    return _accepted(s, "resume", name, paused=False)


def trigger_now(s: Services, name: str, *, actor: str) -> dict[str, Any]:
    """Queue a full rebalance to target at the next scheduler pass (immediately: the scheduler is woken)."""
    _rt(s, name)
    row = s.store.portfolio(name)
    if row is not None and row.paused:
        raise Conflict(f"portfolio {name!r} is paused: resume it first")
    from trimtab.service.approvals import refuse_while_pending

    refuse_while_pending(s, name)  # an open approval decides first
    s.store.update_portfolio(name, trigger_requested=True)
    s.store.audit(name, "trigger", actor, {})
    s.wake.set()
    return _accepted(s, "trigger", name)


def set_targets(s: Services, name: str, new: dict[str, float], *, actor: str, note: str = "") -> dict[str, Any]:
    """Validate like a strategy file (symbols, weights in [0, 1] summing to 1, constraints), then version and audit."""
    rt = _rt(s, name)
    if rt.yields is not None:
        raise Conflict(f"{name} is a yield portfolio: its yield: block's migration rule decides where money sits")
    strategy = strategy_with_targets(rt.base, dict(new), f"portfolio {name}")
    risky = sorted(a for a in strategy.targets if a != strategy.quote)
    try:  # an asset the market cannot price would make every later cycle fail: refuse it now
        snap = rt.market.snapshot(risky, strategy.quote)
    except DataError as e:
        raise Invalid(f"targets: {e.detail}") from None
    unpriced = [a for a in risky if a not in snap.prices]
    if unpriced:
        raise Invalid(f"targets: no market price for {', '.join(unpriced)}")
    version = s.store.add_targets(name, dict(strategy.targets), actor=actor, note=note)
    rt.with_targets(version, dict(strategy.targets))
    s.notifier.send(
        name,
        "control",
        f"{name}: targets changed (v{version})",
        ", ".join(f"{a} {w:.2%}" for a, w in strategy.targets.items()),
        {"version": version},
    )
    return _accepted(s, "set_targets", name, version=version, targets=dict(strategy.targets))


def emergency_exit(s: Services, name: str, *, confirm: str, actor: str) -> dict[str, Any]:
    """Pre-quote selling every risk asset into the quote, with minimum-received guards; the scheduler executes
    it at once and pauses the portfolio. `confirm` must repeat the portfolio name."""
    rt = _rt(s, name)
    if confirm != name:
        raise Invalid(f"confirm must be the portfolio name {name!r}")
    state, snap, holdings = _state(s, rt)
    now = snap.time
    quotes = exit_quotes(rt, holdings, snap)
    request = {"actor": actor, "requested_at": datetime.now(UTC).isoformat(), "time": now.isoformat(), "quotes": quotes}
    s.store.update_portfolio(name, exit_request=request)
    s.store.audit(name, "emergency_exit", actor, request)
    s.wake.set()
    expected = sum((Decimal(q["expected_received"]) for q in quotes), Decimal(0))
    return _accepted(s, "emergency_exit", name, quotes=quotes, expected_received=expected, legs=len(quotes))


def send_summary(s: Services, name: str, month: str | None, *, actor: str) -> dict[str, Any]:
    doc = summary(s, name, month)
    s.notifier.send(name, "monthly_summary", f"{name}: summary for {doc['month']}", reports.summary_text(doc), doc)
    s.store.audit(name, "summary", actor, {"month": doc["month"]})
    return doc
