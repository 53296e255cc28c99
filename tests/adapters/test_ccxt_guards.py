"""Each circuit breaker stops a rebalance on the ccxt venue (real ccxt, local Binance-protocol server) before
any order request: checked in the server's request log."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from tests.adapters.test_ccxt_venue import ACCOUNT, KEY, SECRET, make_exchange, make_venue
from tests.support.binance_server import ApiKey, BinanceServer

from trimtab.adapters.ccxt_venue import CcxtVenue
from trimtab.adapters.storage import SqlLedgerStore
from trimtab.config import parse_strategy
from trimtab.core.base.ledger import deposit_entries
from trimtab.core.base.snapshot import MarketSnapshot
from trimtab.core.execution.guards import (
    BalanceChanged,
    CostTolerance,
    GuardSet,
    MissingMarket,
    PriceDisagreement,
    StablecoinPeg,
    StalePrice,
    TurnoverLimit,
)
from trimtab.core.strategy import Decision
from trimtab.engine import decide, execute_decision
from trimtab.errors import SafetyError

D = Decimal
NOW = datetime(2024, 6, 30, 12, tzinfo=UTC)
PRICES = {"BTC": D(30000), "ETH": D(2000), "SOL": D(100), "USDT": D(1)}


@pytest.fixture
def server() -> Iterator[BinanceServer]:
    with BinanceServer(make_exchange(), {KEY: ApiKey(SECRET, ACCOUNT)}) as srv:
        yield srv


@pytest.fixture
def venue(server: BinanceServer) -> CcxtVenue:
    return make_venue(server)


def decision_for(venue: CcxtVenue, targets: dict[str, float], prices: dict[str, Decimal] = PRICES) -> Decision:
    spec = parse_strategy(
        {
            "name": "t",
            "quote": "USDT",
            "targets": targets,
            "trigger": {"kind": "threshold", "band": 0.02},
            "costs": {"fee_bps": 10},
        },
        "test",
    )
    return decide(spec.build(), MarketSnapshot(NOW, prices), venue.balances(), initial=True)


def ledger_for(tmp_path: Path, venue: CcxtVenue) -> SqlLedgerStore:
    store = SqlLedgerStore(tmp_path / "ledger.sqlite")
    store.append(deposit_entries(venue.balances(), account=ACCOUNT, time=NOW, ref="open"))
    return store


TARGETS = {"BTC": 0.3, "ETH": 0.2, "SOL": 0.1, "USDT": 0.4}
ALL_FRESH = dict.fromkeys(PRICES, NOW)


@pytest.mark.parametrize(
    ("guards", "reason"),
    [
        (
            GuardSet((StalePrice(300),), price_times={**ALL_FRESH, "SOL": NOW - timedelta(hours=2)}, now=NOW),
            "stale_price: SOL: price is 7200s old",
        ),
        (
            GuardSet((PriceDisagreement(0.02),), reference_prices={"BTC": D(30050), "ETH": D(2150), "SOL": D(100)}),
            "price_disagreement: ETH: sources disagree by 6.98%",
        ),
        (GuardSet((StablecoinPeg(0.01),), reference_prices={"USDT": D("0.93")}), "stablecoin_peg: USDT at 0.93"),
        (GuardSet((TurnoverLimit(per_rebalance=0.05),)), "turnover_limit: turnover"),
        (GuardSet((TurnoverLimit(per_day=1.0),), traded_today=D(70000)), "turnover_limit: turnover today"),
        (GuardSet((CostTolerance(0.00001),)), "cost_tolerance: estimated cost"),
    ],
    ids=["stale", "disagree", "peg", "turnover", "daily_turnover", "cost"],
)
def test_breaker_stops_the_rebalance_before_any_request(
    tmp_path: Path, server: BinanceServer, venue: CcxtVenue, guards: GuardSet, reason: str
) -> None:
    decision = decision_for(venue, TARGETS)
    store = ledger_for(tmp_path, venue)
    seen = len(server.requests)
    with pytest.raises(SafetyError, match=reason):
        execute_decision(decision, venue, store, account=ACCOUNT, time=NOW, guards=guards)
    assert server.requests[seen:] == []  # not even a read: these breakers need no venue data
    assert server.orders(ACCOUNT) == [] and len(store.entries()) == 3


def test_missing_market_stops_before_any_order(tmp_path: Path, server: BinanceServer, venue: CcxtVenue) -> None:
    decision = decision_for(venue, {**TARGETS, "SOL": 0.05, "DOGE": 0.05}, {**PRICES, "DOGE": D("0.1")})
    store = ledger_for(tmp_path, venue)
    seen = len(server.requests)
    with pytest.raises(SafetyError, match="missing_market: no market for DOGE/USDT"):
        execute_decision(decision, venue, store, account=ACCOUNT, time=NOW, guards=GuardSet((MissingMarket(),)))
    assert all(r.method == "GET" for r in server.requests[seen:])
    assert server.requests_to("POST", "/api/v3/order") == [] and server.orders(ACCOUNT) == []


def test_balance_changed_since_the_plan_stops_before_any_order(
    tmp_path: Path, server: BinanceServer, venue: CcxtVenue
) -> None:
    decision = decision_for(venue, TARGETS)
    store = ledger_for(tmp_path, venue)
    server.exchange.deposit(ACCOUNT, "USDT", D(500))  # someone moved funds after the plan was made
    seen = len(server.requests)
    with pytest.raises(SafetyError, match="balance_changed: USDT balance is 20500, the plan assumed 20000"):
        execute_decision(decision, venue, store, account=ACCOUNT, time=NOW, guards=GuardSet((BalanceChanged(),)))
    assert [(r.method, r.path) for r in server.requests[seen:]] == [("GET", "/api/v3/account")]
    assert server.orders(ACCOUNT) == []


def test_passing_breakers_let_the_rebalance_through(tmp_path: Path, server: BinanceServer, venue: CcxtVenue) -> None:
    decision = decision_for(venue, TARGETS)
    store = ledger_for(tmp_path, venue)
    guards = GuardSet(
        (
            StalePrice(300),
            MissingMarket(),
            BalanceChanged(),
            StablecoinPeg(0.01),
            TurnoverLimit(per_rebalance=1.0),
            CostTolerance(0.01),
        ),
        price_times=ALL_FRESH,
        now=NOW,
        reference_prices={"USDT": D("0.9995")},
    )
    result = execute_decision(decision, venue, store, account=ACCOUNT, time=NOW, guards=guards)
    assert result.report is not None and result.report.fills
    assert len(server.requests_to("POST", "/api/v3/order")) == len(result.report.fills)
    # the ledger moved exactly as the exchange did
    assert {a: q for a, q in store.balances(ACCOUNT).items() if q} == venue.balances()
