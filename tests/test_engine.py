"""engine.run_cycle on a real SQLite ledger and the paper venue: recorded whole, balances agree."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from trimtab.adapters.paper import PaperVenue
from trimtab.adapters.storage import SqlLedgerStore
from trimtab.config import load_strategy
from trimtab.core.base.ledger import deposit_entries
from trimtab.core.base.snapshot import MarketSnapshot
from trimtab.engine import run_cycle
from trimtab.errors import DataError, LedgerError

NOW = datetime(2024, 6, 30, tzinfo=UTC)
PRICES = {
    "BTC": Decimal("60000"),
    "ETH": Decimal("3000"),
    "SOL": Decimal("140"),
    "BNB": Decimal("570"),
    "XRP": Decimal("0.47"),
    "USDC": Decimal(1),
}
START = {"BTC": Decimal("1"), "USDC": Decimal("20000")}


def setup(tmp_path: Path) -> tuple[SqlLedgerStore, PaperVenue]:
    store = SqlLedgerStore(tmp_path / "ledger.sqlite")
    store.append(deposit_entries(START, account="acct", time=NOW, ref="open"))
    venue = PaperVenue(START, load_strategy("index-fund").costs, prices=PRICES)
    return store, venue


def test_cycle_records_every_fill_and_ledger_equals_venue(tmp_path: Path) -> None:
    store, venue = setup(tmp_path)
    result = run_cycle(load_strategy("index-fund"), MarketSnapshot(NOW, PRICES), venue, store, account="acct")
    assert result.traded and result.report is not None and result.report.complete
    assert {a: q for a, q in store.balances("acct").items() if q} == venue.balances()
    kinds = {e.kind for e in store.entries("acct")}
    assert {"deposit", "trade", "fee"} <= kinds


def test_held_cycle_writes_nothing(tmp_path: Path) -> None:
    store, venue = setup(tmp_path)
    strat = load_strategy("index-fund")
    run_cycle(strat, MarketSnapshot(NOW, PRICES), venue, store, account="acct")
    n = len(store.entries())
    again = run_cycle(strat, MarketSnapshot(NOW, PRICES), venue, store, account="acct")
    assert not again.traded and "within band" in again.decision.reason
    assert len(store.entries()) == n


def test_missing_price_stops_before_any_order(tmp_path: Path) -> None:
    store, venue = setup(tmp_path)
    prices = {k: v for k, v in PRICES.items() if k != "SOL"}
    with pytest.raises(DataError, match="no price for SOL"):
        run_cycle(load_strategy("index-fund"), MarketSnapshot(NOW, prices), venue, store, account="acct")
    assert venue.balances() == START and len(store.entries()) == 2


class BrokenVenue(PaperVenue):
    """Reports one malformed fill among good ones: the ledger must refuse the whole rebalance."""

    def execute(self, plan):  # type: ignore[no-untyped-def]
        report = super().execute(plan)
        bad = replace(report.fills[-1], asset="sol")  # not a canonical symbol: the store refuses it
        return replace(report, fills=(*report.fills[:-1], bad))


def test_rebalance_is_recorded_whole_or_not_at_all(tmp_path: Path) -> None:
    store = SqlLedgerStore(tmp_path / "ledger.sqlite")
    store.append(deposit_entries(START, account="acct", time=NOW, ref="open"))
    venue = BrokenVenue(START, load_strategy("index-fund").costs, prices=PRICES)
    with pytest.raises(LedgerError):
        run_cycle(load_strategy("index-fund"), MarketSnapshot(NOW, PRICES), venue, store, account="acct")
    assert len(store.entries()) == 2  # only the deposits: no partial rebalance
