"""After a crash or an unknown outcome: look every journaled leg of an unfinished rebalance up at the venue by its
client order id and record exactly what filled (`reconcile`); `look_up_legs` is shared with netting groups."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from trimtab.adapters.storage import SqlLedgerStore
from trimtab.adapters.storage.records import RebalanceRecord
from trimtab.core.base.ports import ExecutionReport, LegFailure
from trimtab.core.base.types import Fill
from trimtab.engine import ledger_entries
from trimtab.pipeline.journal import LookupGrace, TrackedVenue, final_status, order_from, report_doc


@dataclass(frozen=True)
class Reconciled:
    rebalance_id: str
    status: str
    fills: tuple[Fill, ...]
    missing: int


Close = Callable[[SqlLedgerStore, RebalanceRecord, dict[str, Any], ExecutionReport, datetime], str]


def reconcile(
    store: SqlLedgerStore,
    venue: TrackedVenue,
    account: str,
    ids: Sequence[str],
    now: datetime | None = None,
    close: Close | None = None,
) -> list[Reconciled]:
    """Close the unfinished rebalances `ids` of `account` from what the venue says each client id did.

    A leg journaled as sent that the venue does not list yet stays unknown (the rebalance stays open) until the
    venue's lookup grace has passed since it was sent; only then does "not found" mean it never arrived.
    `close` books a known outcome and returns its status (default: the fills into `account`; a netting group
    books every member's share)."""
    out = []
    grace = lookup_grace(venue)
    for rid in ids:
        r = store.rebalance(rid)
        if r.status.final or r.account != account:
            continue
        doc = json.loads(r.plan_json)
        fills, failures, pending = look_up_legs(doc, venue, now, grace)
        if pending:
            out.append(Reconciled(r.id, "unknown", tuple(fills), pending))
            continue
        report = ExecutionReport(tuple(fills), tuple(failures), venue=venue.name, notes=("reconciled",))
        time = datetime.fromisoformat(doc["time"]) if "time" in doc else r.created_at
        status = (close or _close_into_account)(store, r, doc, report, time)
        out.append(Reconciled(r.id, status, tuple(fills), len(failures)))
    return out


def _close_into_account(
    store: SqlLedgerStore, r: RebalanceRecord, doc: dict[str, Any], report: ExecutionReport, time: datetime
) -> str:
    entries = ledger_entries(report, account=r.account, time=time, rebalance_id=r.id)
    status = final_status(report).value
    store.finish_rebalance(r.id, status, json.dumps(report_doc(report, reconciled=True)), entries)
    return status


def look_up_legs(
    doc: dict[str, Any], venue: TrackedVenue, now: datetime | None, grace: float
) -> tuple[list[Fill], list[LegFailure], int]:
    """What the venue did with each journaled leg: fills, failures and how many legs are still unknown."""
    fills: list[Fill] = []
    failures: list[LegFailure] = []
    pending = 0
    for leg in doc.get("legs", []):
        order = order_from(leg)
        if "child_ids" in leg:  # a TWAP leg: every child order was journaled by its own id
            found = [f for cid in leg["child_ids"] if (f := venue.find_fill(cid, order)) is not None]
            fills.extend(found)
            done = sum((f.quantity for f in found), Decimal(0))
            if done < order.quantity:
                failures.append(
                    LegFailure(
                        replace(order, quantity=order.quantity - done),
                        "child orders not found at the venue after a restart",
                        done,
                    )
                )
            continue
        fill = venue.find_fill(leg["client_id"], order)
        if fill is not None:
            fills.append(fill)
        elif _still_unknown(leg, now, grace):
            pending += 1
        elif "sent_at" in leg:
            failures.append(LegFailure(order, f"not found at the venue {grace:g} s after it was sent"))
        else:
            failures.append(LegFailure(order, "never sent (journaled as not sent)"))
    return fills, failures, pending


def lookup_grace(venue: object) -> float:
    return venue.lookup_grace_s if isinstance(venue, LookupGrace) else 0.0


def _still_unknown(leg: dict[str, Any], now: datetime | None, grace: float) -> bool:
    """Sent, not listed, and still within the venue's listing delay."""
    sent = leg.get("sent_at")
    if sent is None or now is None or grace <= 0:
        return False
    return (now - datetime.fromisoformat(sent)).total_seconds() < grace
