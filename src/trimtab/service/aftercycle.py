"""What follows a cycle: trade alerts, the drawdown and failure breakers, calendar notices, monthly summaries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from trimtab.adapters.storage.service_rows import PortfolioRow
from trimtab.errors import TrimtabError
from trimtab.service import reports
from trimtab.service.bootstrap import PortfolioRuntime, Services


def after_trade_alerts(
    services: Services, rt: PortfolioRuntime, kind: str, status: str, reason: str, rep: dict[str, Any] | None
) -> None:
    if rep is None:
        return
    costs = rep["costs"]["realised"]["total"]
    if kind == "exit":
        services.notifier.send(
            rt.name,
            "emergency_exit",
            f"{rt.name}: emergency exit {status}",
            f"{len(rep['fills'])} leg(s) sold into the quote, costs {costs:.2f}",
            rep,
        )
    elif status == "done":
        services.notifier.send(
            rt.name,
            "rebalance_completed",
            f"{rt.name}: rebalance completed",
            f"{reason}; {len(rep['fills'])} fill(s), costs {costs:.2f}",
            rep,
        )
    else:
        services.notifier.send(
            rt.name,
            "failure",
            f"{rt.name}: rebalance {status}",
            "; ".join(f["reason"] for f in rep["failures"]) or reason,
            rep,
        )


def drawdown_breaker(
    services: Services, rt: PortfolioRuntime, row: PortfolioRow, equity: list[float], now: datetime
) -> dict[str, Any]:
    """Drawdown circuit breaker: pause the portfolio and alert when the equity falls too far from its peak."""
    limit = rt.spec.max_drawdown
    if limit is None or len(equity) < 2 or row.paused:
        return {}
    peak = max(equity)
    dd = 1 - equity[-1] / peak if peak > 0 else 0.0
    if dd <= limit:
        return {}
    services.notifier.send(
        rt.name,
        "circuit_breaker",
        f"{rt.name}: circuit breaker tripped",
        f"drawdown {dd * 100:.1f}% beyond limit {limit * 100:.1f}%; portfolio paused",
        {"breaker": "max_drawdown", "drawdown": dd, "limit": limit, "time": now.isoformat()},
    )
    return {"paused": True, "paused_reason": f"circuit breaker: drawdown {dd * 100:.1f}%"}


def scheduled_alerts(services: Services, rt: PortfolioRuntime, row: PortfolioRow, now: datetime) -> dict[str, Any]:
    """Advance notice of the next calendar rebalance (once per due date) and the monthly summary."""
    out: dict[str, Any] = {}
    alerts = services.settings.alerts
    every = reports.calendar_every(rt.strategy.trigger)
    anchor = row.anchor_at or now
    ahead = reports.every_of(alerts.advance_notice)
    if every is not None and every.approx_seconds() > ahead.approx_seconds():  # else every check would announce one
        due = reports.next_calendar_due(every, anchor, now)
        notice = ahead.after(now, 1)
        if due <= notice and (row.notice_for is None or row.notice_for < due):
            services.notifier.send(
                rt.name,
                "rebalance_notice",
                f"{rt.name}: scheduled rebalance on {due:%Y-%m-%d}",
                f"calendar every {every.text} is due at {due.isoformat()}",
                {"due": due.isoformat()},
            )
            out["notice_for"] = due
    month = f"{now:%Y-%m}"
    if row.summary_month is None:
        out["summary_month"] = month
    elif row.summary_month != month:
        out["summary_month"] = month
        if alerts.monthly_summary:
            doc = reports.monthly_summary(
                rt.name,
                row.summary_month,
                services.store.decisions_between(rt.name, *reports.month_bounds(row.summary_month)),
            )
            services.notifier.send(
                rt.name,
                "monthly_summary",
                f"{rt.name}: summary for {row.summary_month}",
                reports.summary_text(doc),
                doc,
            )
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
        services.notifier.send(
            rt.name,
            "circuit_breaker",
            f"{rt.name}: circuit breaker tripped",
            f"{failures} failed cycles in a row; portfolio paused",
            {"breaker": "failures"},
        )
        updates.update(paused=True, paused_reason=f"circuit breaker: {failures} failed cycles")
    return updates
