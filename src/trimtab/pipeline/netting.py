"""A netting group's rebalance on its shared account: the members' orders netted per asset, the net legs journaled
and sent through the journal, and every member's share booked to its own ledger account in the one transaction
that closes the rebalance. `reconcile_net` books a rebalance left open (crash, unknown outcome) the same way."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from trimtab.adapters.storage import SqlLedgerStore
from trimtab.adapters.storage.records import RebalanceRecord
from trimtab.core.base.ports import ExecutionReport
from trimtab.core.base.types import ZERO, Fill, Side, TradePlan
from trimtab.core.execution.netting import Booked, NetLeg, Share, allocate
from trimtab.engine import ledger_entries
from trimtab.pipeline.journal import JournaledVenue, TrackedVenue, order_doc, order_from, report_doc
from trimtab.pipeline.reconcile import Reconciled, reconcile


@dataclass(frozen=True)
class NetResult:
    """How a group rebalance ended, and each member's part of it (by member name)."""

    rebalance_id: str | None
    status: str  # done | partial | failed | unknown
    reports: dict[str, ExecutionReport] = field(default_factory=dict)
    saved: dict[str, Decimal] = field(default_factory=dict)  # estimated cost alone minus cost booked
    summary: dict[str, Any] = field(default_factory=dict)


def legs_doc(legs: Sequence[NetLeg], members: Mapping[str, str]) -> dict[str, Any]:
    return {
        "members": dict(members),
        "legs": [
            {
                "asset": g.asset,
                "quote": g.quote,
                "step": str(g.step),
                "note": g.note,
                "order": order_doc(g.order) if g.order is not None else None,
                "shares": [{"member": s.member, **order_doc(s.order)} for s in g.shares],
            }
            for g in legs
        ],
    }


def legs_from(doc: Mapping[str, Any]) -> tuple[NetLeg, ...]:
    return tuple(
        NetLeg(
            g["asset"],
            g["quote"],
            tuple(Share(s["member"], order_from(s)) for s in g["shares"]),
            order_from(g["order"]) if g["order"] is not None else None,
            Decimal(g["step"]),
            g["note"],
        )
        for g in doc["legs"]
    )


def execute_net(journal: JournaledVenue, legs: Sequence[NetLeg], members: Mapping[str, str], reason: str) -> NetResult:
    """Journal and send the net legs (nothing leaves for a full cross), then book each member's share."""
    journal.closes_empty = False  # a cross books entries even when the venue filled nothing
    journal.extra = {**(journal.extra or {}), "netting": legs_doc(legs, members)}
    orders = tuple(g.order for g in legs if g.order is not None)
    plan = TradePlan(orders, reason, plan_id=f"{journal.account}@{journal.time.isoformat()}")
    report = journal.execute(plan)  # a full cross journals no leg: its shares are booked all the same
    if journal.rebalance_id is None:
        raise RuntimeError("internal invariant broken: expected a journaled rebalance")
    if journal.unknown is not None:  # booked by reconcile_net once the venue says what happened
        return NetResult(journal.rebalance_id, "unknown")
    return book(journal.ledger, journal.rebalance_id, legs, report, members, journal.time)


def book(
    store: SqlLedgerStore,
    rebalance_id: str,
    legs: Sequence[NetLeg],
    report: ExecutionReport,
    members: Mapping[str, str],
    time: datetime,
) -> NetResult:
    """Each member's share of what the venue did, booked with the rebalance's close in one transaction."""
    fills = _by_asset(report.fills)
    why = {f.order.asset: f.reason for f in report.failures}
    parts: dict[str, list[Booked]] = {m: [] for m in members}
    notes: dict[str, list[str]] = {m: [f"netted in {rebalance_id}"] for m in members}
    summary = []
    for g in legs:
        fill = fills.get(g.asset)
        booked = allocate(g, fill, f"{rebalance_id}:{g.asset}", why.get(g.asset, ""))
        for m, b in booked.items():
            parts[m].append(b)
            if b.residual:
                notes[m].append(f"{g.asset} {_text(b.residual)} not traded: {g.note}")
        summary.append(_leg_summary(g, fill, booked))
    reports = {
        m: ExecutionReport(
            tuple(b.fill for b in bs if b.fill is not None),
            tuple(b.failure for b in bs if b.failure is not None),
            venue=report.venue,
            notes=tuple(notes[m]),
        )
        for m, bs in parts.items()
        if bs
    }
    entries = [
        e
        for m, r in reports.items()
        for e in ledger_entries(r, account=members[m], time=time, rebalance_id=rebalance_id)
    ]
    status = _status(reports.values())
    doc = {"legs": summary, "saved": _text(sum((Decimal(s["saved"]) for s in summary), ZERO))}
    store.finish_rebalance(
        rebalance_id,
        status,
        json.dumps(report_doc(report, netting=doc)),
        entries,
        members=set(members.values()),
    )
    saved = {m: sum((b.saved for b in bs), ZERO).quantize(SHOWN) for m, bs in parts.items() if bs}
    return NetResult(rebalance_id, status, reports, saved, doc)


def reconcile_net(
    store: SqlLedgerStore, venue: TrackedVenue, account: str, ids: Sequence[str], now: datetime | None = None
) -> list[Reconciled]:
    """Close the group's open rebalances from what the venue says each net leg did, booking every member's share."""
    return reconcile(store, venue, account, ids, now, close=_close_shares)


def _close_shares(
    store: SqlLedgerStore, r: RebalanceRecord, doc: dict[str, Any], report: ExecutionReport, time: datetime
) -> str:
    netting = doc["netting"]
    return book(store, r.id, legs_from(netting), report, netting["members"], time).status


SHOWN = Decimal("1e-8")  # quantities and costs in the netting summary


def _text(x: Decimal) -> str:
    return f"{x.quantize(SHOWN).normalize():f}"


def _by_asset(fills: Sequence[Fill]) -> dict[str, Fill]:
    """One fill per net leg (a venue may report several fills of one order: summed exactly)."""
    out: dict[str, Fill] = {}
    for f in fills:
        prev = out.get(f.asset)
        if prev is None:
            out[f.asset] = f
            continue
        gross = prev.quote_amount + f.quote_amount
        qty = prev.quantity + f.quantity
        out[f.asset] = Fill(
            f.asset,
            f.quote,
            f.side,
            qty,
            gross / qty,
            prev.fee + f.fee,
            prev.slippage + f.slippage,
            prev.gas + f.gas,
            order_id=prev.order_id,
            fee_asset=prev.fee_asset,
            gross=gross,
        )
    return out


def _status(reports: Any) -> str:
    reports = list(reports)
    if all(r.complete for r in reports):
        return "done"
    return "partial" if any(r.fills for r in reports) else "failed"


def _leg_summary(g: NetLeg, fill: Fill | None, booked: Mapping[str, Booked]) -> dict[str, Any]:
    paid = ZERO
    if fill is not None:
        fee = fill.fee * (fill.price if fill.fee_asset == g.asset else 1)
        paid = fee + fill.slippage + fill.gas
    return {
        "asset": g.asset,
        "side": g.side.value if isinstance(g.side, Side) else "cross",
        "members": len(g.shares),
        "crossed": _text(g.crossed),
        "sent": _text(g.order.quantity if g.order is not None else ZERO),
        "filled": _text(fill.quantity if fill is not None else ZERO),
        "cost_alone": _text(g.alone_cost),
        "cost_paid": _text(paid),
        "saved": _text(sum((b.saved for b in booked.values()), ZERO)),
        **({"note": g.note} if g.note else {}),
    }
