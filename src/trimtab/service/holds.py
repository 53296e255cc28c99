"""Cycles that hold instead of planning: a leg whose outcome is unknown, or a ledger the venue contradicts."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any

from trimtab.adapters.storage.service_rows import PortfolioRow
from trimtab.service.bootstrap import PortfolioRuntime, Services

UNKNOWN_RETRY_S = 60.0  # service seconds between lookups of a leg whose outcome is unknown


def waiting_cycle(services: Services, rt: PortfolioRuntime, row: PortfolioRow, open_ids: list[str]) -> dict[str, Any]:
    """A portfolio with a leg of unknown outcome plans nothing: it holds and looks again soon."""
    now = services.clock.now()
    last = services.store.equity_flows(rt.name, 1)
    value, bh_value = (last[-1][1], last[-1][2]) if last else (0.0, 0.0)  # unchanged until the venue settles
    doc = {
        "time": now,
        "kind": "check",
        "fired": False,
        "traded": False,
        "status": "unknown",
        "reason": f"waiting for the venue to settle {len(open_ids)} open rebalance(s): no new plan on top",
        "rebalance_id": open_ids[0] if open_ids else None,
        "value": value,
        "bh_value": bh_value,
        "weights_json": {},
        "targets_json": {},
        "metrics_json": {},
        "plan_json": None,
        "report_json": None,
    }
    retry = min(now + timedelta(seconds=UNKNOWN_RETRY_S), rt.spec.every.after(now, 1))
    return {"decision": doc, "last_check_at": row.last_check_at, "next_check_at": retry}


DUST = Decimal("1e-8")  # units below which ledger and venue may differ (rounding of fees on some venues)
DRIFT_TOLERANCE = Decimal("1e-6")  # relative


def venue_drift(ledger: Mapping[str, Decimal], venue: Mapping[str, Decimal]) -> list[str]:
    """Each asset whose venue balance differs from the ledger's beyond dust, with both amounts."""
    out = []
    for a in sorted({*ledger, *venue}):
        e, b = ledger.get(a, Decimal(0)), venue.get(a, Decimal(0))
        if abs(b - e) > max(DUST, DRIFT_TOLERANCE * abs(e)):
            out.append(f"{a}: ledger {e.normalize():f}, venue {b.normalize():f}")
    return out


def drift_cycle(services: Services, rt: PortfolioRuntime, row: PortfolioRow, drift: list[str]) -> dict[str, Any]:
    """Ledger and venue disagree: pause before planning, with an alert naming every asset and both amounts."""
    what = "; ".join(drift)
    services.notifier.send(
        rt.name,
        "circuit_breaker",
        f"{rt.name}: ledger and venue balances differ",
        f"{what}; portfolio paused until they are reconciled",
        {"breaker": "balance_drift", "differences": drift},
    )
    out = waiting_cycle(services, rt, row, [])
    out["decision"].update(status="held", reason=f"ledger and venue differ: {what}")
    out.update(
        paused=True,
        paused_reason=f"ledger and venue differ: {what}",
        next_check_at=rt.spec.every.after(services.clock.now(), 1),
    )
    return out
