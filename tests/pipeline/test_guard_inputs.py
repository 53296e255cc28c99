"""The pipeline feeds guards their inputs: the day's turnover from the ledger, each price's own time, a second
source (real SQLite ledger, paper venue)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from trimtab.adapters.paper import PaperVenue
from trimtab.adapters.storage import SqlLedgerStore
from trimtab.config import parse_strategy
from trimtab.core.base.snapshot import MarketSnapshot
from trimtab.errors import SafetyError
from trimtab.pipeline import Pipeline, traded_on

D = Decimal
T0 = datetime(2024, 3, 1, 9, tzinfo=UTC)
PRICES = {"BTC": D("60000"), "ETH": D("3000"), "USDC": D(1)}


def _strategy(targets: dict[str, float], guards: dict[str, object]):  # type: ignore[no-untyped-def]
    return parse_strategy(
        {
            "name": "g",
            "quote": "USDC",
            "targets": targets,
            "guards": guards,
            "trigger": {"kind": "threshold", "band": 0.05},
        },
        "test",
    ).build()


def _cycle(pipe: Pipeline, store: SqlLedgerStore, at: datetime, initial: bool = False):  # type: ignore[no-untyped-def]
    pipe.venue = PaperVenue(store.balances("a"), pipe.strategy.costs, PRICES)
    return pipe.run_cycle(MarketSnapshot(at, dict(PRICES)), store, account="a", initial=initial)


def test_the_daily_turnover_cap_counts_what_the_ledger_traded_that_utc_day(tmp_path: Path) -> None:
    store = SqlLedgerStore(str(tmp_path / "l.sqlite"))
    store.open_account("a", {"USDC": D("100000")}, time=T0)
    guards = {"max_turnover_per_day": 1.0}
    first = _cycle(
        Pipeline(_strategy({"BTC": 0.5, "ETH": 0.3, "USDC": 0.2}, guards), PaperVenue({}, None, PRICES)),  # type: ignore[arg-type]
        store,
        T0,
        initial=True,
    )
    assert first.traded
    today = traded_on(store.entries("a"), "USDC", T0)
    assert D("79000") < today < D("81000")  # the initial buys: 80% of the value
    moved = Pipeline(_strategy({"BTC": 0.2, "ETH": 0.6, "USDC": 0.2}, guards), PaperVenue({}, None, PRICES))  # type: ignore[arg-type]
    with pytest.raises(SafetyError, match="turnover today would reach"):
        _cycle(moved, store, T0 + timedelta(hours=3))  # another 60% the same day: over 100%
    assert traded_on(store.entries("a"), "USDC", T0 + timedelta(days=1)) == 0
    assert _cycle(moved, store, T0 + timedelta(days=1)).traded  # a new UTC day starts from zero


def test_a_stale_price_is_judged_by_its_own_time_not_the_snapshot_time(tmp_path: Path) -> None:
    store = SqlLedgerStore(str(tmp_path / "l.sqlite"))
    store.open_account("a", {"USDC": D("100000")}, time=T0)
    strat = _strategy({"BTC": 0.5, "USDC": 0.5}, {"max_price_age": "5m"})
    pipe = Pipeline(strat, PaperVenue(store.balances("a"), strat.costs, PRICES))
    snap = replace(MarketSnapshot(T0, dict(PRICES)), price_times={"BTC": T0 - timedelta(minutes=20)})
    with pytest.raises(SafetyError, match="BTC: price is 1200s old"):
        pipe.run_cycle(snap, store, account="a", initial=True)
    fresh = replace(snap, price_times={"BTC": T0 - timedelta(minutes=1)})
    assert pipe.run_cycle(fresh, store, account="a", initial=True).traded
