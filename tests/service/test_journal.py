"""The journal writes the plan and client ids before sending, and reconcile records exactly what the venue did."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from trimtab import engine
from trimtab.adapters.storage import SqlLedgerStore
from trimtab.config import load_strategy
from trimtab.core.base.snapshot import MarketSnapshot
from trimtab.pipeline.journal import JournaledVenue, JournalLedger, leg_plan
from trimtab.pipeline.reconcile import reconcile
from trimtab.service.paper_exchange import DurablePaperExchange

T0 = datetime(2022, 1, 1, tzinfo=UTC)
PRICES = {"ETH": Decimal("3000"), "USDC": Decimal(1)}


def _setup(tmp_path: Path) -> tuple[SqlLedgerStore, DurablePaperExchange, object]:
    strategy = load_strategy("ethereum")
    ledger = SqlLedgerStore(tmp_path / "l.db")
    venue = DurablePaperExchange(tmp_path / "x.db", "acct", strategy.costs)
    venue.fund({"USDC": Decimal(10_000)})
    ledger.open_account("acct", {"USDC": Decimal(10_000)}, time=T0)
    venue.set_prices(PRICES)
    return ledger, venue, strategy


def test_journaled_execution_records_the_plan_first_and_fills_atomically(tmp_path: Path) -> None:
    ledger, venue, strategy = _setup(tmp_path)
    decision = engine.decide(strategy, MarketSnapshot(T0, PRICES), ledger.balances("acct"), initial=True)  # type: ignore[arg-type]
    jv = JournaledVenue(venue, ledger, "acct", T0)
    result = engine.execute_decision(decision, jv, JournalLedger(ledger, jv), account="acct", time=T0)
    assert result.traded
    row = ledger.rebalance(jv.rebalance_id or "")
    assert row.status.value == "done"
    legs = json.loads(row.plan_json)["legs"]
    assert [leg["client_id"] for leg in legs] == [f.order_id for f in venue.orders()]
    assert {a: q for a, q in ledger.balances("acct").items() if q} == venue.balances()
    assert all(e.rebalance_id == row.id for e in ledger.entries("acct") if e.kind == "trade")


def test_a_stop_request_sends_no_further_leg(tmp_path: Path) -> None:
    ledger, venue, strategy = _setup(tmp_path)
    decision = engine.decide(strategy, MarketSnapshot(T0, PRICES), ledger.balances("acct"), initial=True)  # type: ignore[arg-type]
    stop = threading.Event()
    stop.set()
    jv = JournaledVenue(venue, ledger, "acct", T0, stop=stop)
    engine.execute_decision(decision, jv, JournalLedger(ledger, jv), account="acct", time=T0)
    assert venue.orders() == [] and ledger.rebalance(jv.rebalance_id or "").status.value == "failed"
    assert "stopping" in (ledger.rebalance(jv.rebalance_id or "").report_json or "")


def test_reconcile_records_legs_the_venue_filled_before_a_crash(tmp_path: Path) -> None:
    ledger, venue, strategy = _setup(tmp_path)
    decision = engine.decide(strategy, MarketSnapshot(T0, PRICES), ledger.balances("acct"), initial=True)  # type: ignore[arg-type]
    plan = decision.plan
    assert plan is not None
    # a crash after the journal entry and the first leg, before the ledger heard about it
    plan = plan.__class__(plan.orders * 2, plan.reason, plan_id="crashed")  # two legs: the second never sent
    legs = [
        {
            "index": i,
            "client_id": venue.client_id(leg_plan(plan, i), 0),
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
        for i, o in enumerate(plan.orders)
    ]
    rid = ledger.start_rebalance("acct", json.dumps({"time": T0.isoformat(), "legs": legs}), plan.reason)
    ledger.mark_executing(rid)
    venue.execute(leg_plan(plan, 0))
    assert ledger.balances("acct") != venue.balances()
    done = reconcile(ledger, venue, "acct", [rid])
    assert [(d.status, len(d.fills), d.missing) for d in done] == [("partial", 1, 1)]
    assert {a: q for a, q in ledger.balances("acct").items() if q} == venue.balances()
    assert reconcile(ledger, venue, "acct", [rid]) == []  # closed rows are never reconciled twice
