"""Crash-safe execution: the plan and every leg's client order id are journaled before anything is sent.

`JournaledVenue` wraps a venue for `engine.execute_decision`: it writes the plan (status planned), marks it
executing, sends legs one at a time (stopping between legs when asked to), and `JournalLedger.append` then
closes the rebalance and appends its entries in ONE transaction. After a crash, `reconcile` looks every leg
of an unfinished rebalance up at the venue by client order id and records exactly what filled.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from trimtab.adapters.storage import RebalanceStatus, SqlLedgerStore
from trimtab.core.base.ledger import LedgerEntry
from trimtab.core.base.ports import AtomicVenue, ExecutionReport, LegFailure
from trimtab.core.base.types import CostEstimate, Fill, MarketRules, PlannedOrder, Side, TradePlan
from trimtab.core.execution.guards import GuardedVenue
from trimtab.errors import LedgerError, OrderOutcomeUnknown, VenueError

Guard = Callable[[PlannedOrder], str | None]  # a reason not to send this leg now, or None


class TrackedVenue(Protocol):
    """A venue that names its client order ids up front and can look an order up by one."""

    name: str

    def balances(self) -> dict[str, Decimal]: ...

    def rules(self, asset: str, quote: str) -> MarketRules: ...

    def execute(self, plan: TradePlan) -> ExecutionReport: ...

    def client_id(self, plan: TradePlan, index: int) -> str: ...

    def find_fill(self, client_id: str, order: PlannedOrder) -> Fill | None: ...


class Lease(Protocol):
    """A fenced lease (service.leases.LeaseGuard): renew raises when another worker took the portfolio over."""

    def renew(self) -> object: ...

    def renew_in(self, conn: Any) -> object:
        """`renew` inside the caller's database transaction (the ledger's, on the same database)."""
        ...

    def bind(self, rebalance_id: str) -> None: ...


@runtime_checkable
class LookupGrace(Protocol):
    """How long after sending a venue may still not list an order (exchanges list new orders with a delay)."""

    lookup_grace_s: float


@runtime_checkable
class SlicedVenue(Protocol):
    """A venue stack that sends each leg as child orders (TWAP) and names their client ids up front."""

    def client_ids(self, plan: TradePlan) -> list[str]: ...


def leg_plan(plan: TradePlan, index: int) -> TradePlan:
    """A one-order plan for leg `index`, with its own plan id (so its client id is stable and unique)."""
    return TradePlan((plan.orders[index],), plan.reason, plan_id=f"{plan.plan_id}.{index}")


def order_doc(o: PlannedOrder) -> dict[str, str]:
    return {
        "asset": o.asset,
        "quote": o.quote,
        "side": o.side.value,
        "quantity": str(o.quantity),
        "price": str(o.price),
        "exec_price": str(o.exec_price),
        "est_fee": str(o.cost.fee),
        "est_slippage": str(o.cost.slippage),
        "est_gas": str(o.cost.gas),
    }


def order_from(doc: dict[str, Any]) -> PlannedOrder:
    cost = CostEstimate(Decimal(doc["est_fee"]), Decimal(doc["est_slippage"]), Decimal(doc["est_gas"]))
    return PlannedOrder(
        doc["asset"],
        doc["quote"],
        Side(doc["side"]),
        Decimal(doc["quantity"]),
        Decimal(doc["price"]),
        Decimal(doc["exec_price"]),
        cost,
    )


def fill_doc(f: Fill) -> dict[str, str]:
    return {
        "asset": f.asset,
        "quote": f.quote,
        "side": f.side.value,
        "quantity": str(f.quantity),
        "price": str(f.price),
        "fee": str(f.fee),
        "slippage": str(f.slippage),
        "gas": str(f.gas),
        "order_id": f.order_id,
        "quote_amount": str(f.quote_amount),
    }


def report_doc(report: ExecutionReport, **extra: Any) -> dict[str, Any]:
    return {
        "venue": report.venue,
        "fills": [fill_doc(f) for f in report.fills],
        "failures": [{**order_doc(x.order), "reason": x.reason} for x in report.failures],
        "notes": list(report.notes),
        **extra,
    }


def final_status(report: ExecutionReport) -> RebalanceStatus:
    if report.complete:
        return RebalanceStatus.DONE
    return RebalanceStatus.PARTIAL if report.fills else RebalanceStatus.FAILED


@dataclass
class JournaledVenue:
    """Venue wrapper that journals before sending; pair it with `JournalLedger` over the same store."""

    venue: TrackedVenue | None  # None until `around` puts the journal around the pipeline's venue stack
    ledger: SqlLedgerStore
    account: str
    time: datetime
    stop: threading.Event | None = None
    guard: Guard | None = None
    extra: dict[str, Any] | None = None
    rebalance_id: str | None = None
    report: ExecutionReport | None = None
    name: str = ""
    lease: Lease | None = None  # the service's lease on the portfolio: renewed between legs
    clock: Callable[[], datetime] | None = None  # when legs leave (service time); default: the decision time
    unknown: tuple[int, str] | None = None  # (leg, why) when a leg's outcome is unknown
    halt: Callable[[], str | None] | None = None  # checked before each leg: a reason to send nothing more
    closes_empty: bool = True  # close the rebalance when nothing filled (off: the caller books it, e.g. netting)
    ephemeral: bool = False  # an in-process venue (paper): nothing leaves, so the rebalance is written once, final
    _doc: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self.name = self.venue.name if self.venue is not None else ""

    def around(self, venue: Any) -> JournaledVenue:
        """Journal in front of `venue` (the pipeline's guards -> TWAP -> venue stack)."""
        self.venue = venue
        self.name = venue.name
        return self

    @property
    def inner(self) -> TrackedVenue:
        if self.venue is None:
            raise LedgerError("journal used before a venue was set")
        return self.venue

    def balances(self) -> dict[str, Decimal]:
        return self.inner.balances()

    def rules(self, asset: str, quote: str) -> MarketRules:
        return self.inner.rules(asset, quote)

    def execute(self, plan: TradePlan) -> ExecutionReport:
        venue = self.inner
        if isinstance(venue, GuardedVenue):  # breakers see the whole plan before anything is journaled or sent
            venue.precheck(plan)
        plan = replace(plan, plan_id=f"{plan.plan_id}#{uuid.uuid4().hex[:12]}")  # never reuse a client id
        atomic = isinstance(venue, AtomicVenue)  # one batch transaction: ids of the whole plan, sent whole
        legs = [
            {
                "index": i,
                "client_id": venue.client_id(plan, i) if atomic else venue.client_id(leg_plan(plan, i), 0),
                **order_doc(o),
                **({"child_ids": venue.client_ids(leg_plan(plan, i))} if isinstance(venue, SlicedVenue) else {}),
            }
            for i, o in enumerate(plan.orders)
        ]
        doc = {
            "plan_id": plan.plan_id,
            "time": self.time.isoformat(),
            "reason": plan.reason,
            "legs": legs,
            **(self.extra or {}),
        }
        if self.ephemeral:  # recorded whole by `finish`, fenced by the lease in the same transaction
            self.rebalance_id, self._doc = uuid.uuid4().hex, doc
        else:
            self.rebalance_id = self.ledger.start_rebalance(self.account, json.dumps(doc), plan.reason)
            self.ledger.mark_executing(self.rebalance_id)
            if self.lease is not None:
                self.lease.bind(self.rebalance_id)  # a live peer never reconciles or re-plans over this rebalance
        fills: list[Fill] = []
        failures: list[LegFailure] = []
        if atomic:
            self._mark_sent(doc, range(len(plan.orders)))
            self.report = self._send_whole(venue, plan, doc)
            return self.report
        for i, order in enumerate(plan.orders):
            why = self._halted() or (self.guard(order) if self.guard else None)
            if why:
                failures.append(LegFailure(order, why))
                continue
            self._mark_sent(doc, [i], renew=True)  # LeaseLost: another worker holds the portfolio; send nothing more
            try:
                report = venue.execute(leg_plan(plan, i))
            except OrderOutcomeUnknown as err:  # it may have filled: the rebalance stays open until the venue says
                partial = err.partial_report
                fills.extend(partial.fills if isinstance(partial, ExecutionReport) else ())
                self.unknown = (i, str(err))
                failures.extend(
                    LegFailure(o, "not sent: an earlier leg's outcome is unknown") for o in plan.orders[i + 1 :]
                )
                break
            except VenueError as err:  # keep what filled; the leg fails, later legs are not sent
                partial = err.partial_report
                fills.extend(partial.fills if isinstance(partial, ExecutionReport) else ())
                failures.extend(LegFailure(o, f"not sent after: {err}") for o in plan.orders[i:])
                break
            fills.extend(report.fills)
            failures.extend(report.failures)
        self.report = ExecutionReport(tuple(fills), tuple(failures), venue=venue.name)
        if self.unknown is not None:  # nothing is recorded yet: reconciliation records every leg once it is known
            doc["unknown"] = {"leg": self.unknown[0], "reason": self.unknown[1]}
            self._progress(doc)
            return self.report
        if not fills and self.closes_empty:  # the engine appends nothing, so close the journal row here
            self.finish(final_status(self.report).value, json.dumps(report_doc(self.report)))
        return self.report

    def finish(self, status: str, report_json: str, entries: Sequence[LedgerEntry] = ()) -> None:
        """Close the rebalance with its entries in one transaction (an ephemeral one is written here, final)."""
        if self.rebalance_id is None:
            raise LedgerError("finish outside a journaled rebalance")
        if self.ephemeral and self._doc is not None:
            self.ledger.record_rebalance(
                self.account,
                json.dumps(self._doc),
                self._doc["reason"],
                status,
                report_json,
                entries,
                rebalance_id=self.rebalance_id,
                within=self.lease.renew_in if self.lease is not None else None,
            )
        else:
            self.ledger.finish_rebalance(self.rebalance_id, status, report_json, entries)

    def _progress(self, doc: dict[str, Any]) -> None:
        """Journal the open rebalance's state (an ephemeral one gets its row now: it stays open)."""
        if self.ephemeral:
            self.rebalance_id = self.ledger.start_rebalance(self.account, json.dumps(doc), doc["reason"])
            self.ledger.mark_executing(self.rebalance_id)
            if self.lease is not None:
                self.lease.bind(self.rebalance_id)
            self.ephemeral, self._doc = False, None
        elif self.rebalance_id is not None:
            self.ledger.journal_progress(self.rebalance_id, json.dumps(doc))

    def _halted(self) -> str | None:
        """Why no further leg may leave now: the service is stopping, or the owner paused the portfolio."""
        if self.stop is not None and self.stop.is_set():
            return "not sent: the service is stopping"
        return self.halt() if self.halt is not None else None

    def _mark_sent(self, doc: dict[str, Any], legs: Iterable[int], *, renew: bool = False) -> None:
        """Journal that these legs are about to leave: after a crash, only unmarked legs are provably not sent.
        With `renew`, the lease is renewed (or found lost) in the same transaction, before the mark."""
        if self.rebalance_id is None:
            raise RuntimeError("internal invariant broken: expected self.rebalance_id is not None")
        stamp = self.time.isoformat() if self.clock is None else self.clock().isoformat()
        for i in legs:
            doc["legs"][i]["sent_at"] = stamp
        if self.ephemeral:
            return  # nothing leaves the process: the final record is fenced instead
        within = self.lease.renew_in if renew and self.lease is not None else None
        self.ledger.journal_progress(self.rebalance_id, json.dumps(doc), within=within)

    def _send_whole(self, venue: TrackedVenue, plan: TradePlan, doc: dict[str, Any]) -> ExecutionReport:
        """An atomic venue's plan: all legs in one batch, or none when stopping or a leg's guard says no. A batch
        whose outcome is unknown (sent, no receipt) keeps the rebalance open until the venue settles it."""
        if self.rebalance_id is None:
            raise RuntimeError("internal invariant broken: expected self.rebalance_id is not None")
        why = self._halted()
        for order in plan.orders:
            why = why or (self.guard(order) if self.guard else None)
        if why:
            report = ExecutionReport((), tuple(LegFailure(o, why) for o in plan.orders), venue=venue.name)
        else:
            try:
                report = venue.execute(plan)
            except OrderOutcomeUnknown as err:  # it may have landed: nothing recorded, nothing planned on top
                self.unknown = (0, str(err))
                doc["unknown"] = {"leg": 0, "reason": str(err)}
                self._progress(doc)
                return ExecutionReport(
                    (), tuple(LegFailure(o, f"outcome unknown: {err}") for o in plan.orders), venue=venue.name
                )
            except VenueError as err:
                partial = err.partial_report
                done = partial.fills if isinstance(partial, ExecutionReport) else ()
                report = ExecutionReport(
                    tuple(done), tuple(LegFailure(o, f"batch failed: {err}") for o in plan.orders), venue=venue.name
                )
        if not report.fills and self.closes_empty:
            self.finish(final_status(report).value, json.dumps(report_doc(report)))
        return report


@dataclass
class JournalLedger:
    """The ledger as the engine sees it: `append` closes the pending rebalance with its entries atomically."""

    store: SqlLedgerStore
    journal: JournaledVenue

    def append(self, entries: Sequence[LedgerEntry]) -> None:
        j = self.journal
        if j.rebalance_id is None or j.report is None:
            raise LedgerError("append outside a journaled rebalance")
        if j.unknown is not None:  # the rebalance stays open: reconciliation records it whole once every leg is known
            return
        stamped = [replace(e, rebalance_id=j.rebalance_id) for e in entries]
        j.finish(final_status(j.report).value, json.dumps(report_doc(j.report)), stamped)

    def entries(self, account: str | None = None) -> list[LedgerEntry]:
        return self.store.entries(account)

    def balances(self, account: str) -> dict[str, Decimal]:
        return self.store.balances(account)
