"""The emergency exit sells what the exchange holds with immediate-or-cancel limits at the lowest accepted price,
and reports what did not fill (real ccxt against the local Binance-protocol server, real SQLite)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from tests.adapters.test_ccxt_venue import ACCOUNT, KEY, SECRET, make_exchange
from tests.service.harness import cex_config, open_services
from tests.support.binance_server import ApiKey, BinanceServer

from trimtab.service import commands
from trimtab.service.runner import Runner

D = Decimal
STRATEGY = """
name: exit-ioc
quote: USDT
targets: {BTC: 0.5, ETH: 0.3, USDT: 0.2}
trigger: {kind: threshold, band: 0.02}
costs: {fee_bps: 10, slippage_bps: 5}
constraints: {min_trade_usd: 10}
"""


@pytest.fixture
def server() -> Iterator[BinanceServer]:
    with BinanceServer(make_exchange(), {KEY: ApiKey(SECRET, ACCOUNT)}) as srv:
        yield srv


def test_exit_sells_with_ioc_limits_and_reports_what_did_not_fill(
    tmp_path: Path, server: BinanceServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIMTAB_BINANCE_API_KEY", KEY)
    monkeypatch.setenv("TRIMTAB_BINANCE_API_SECRET", SECRET)
    config = cex_config(tmp_path, server.url, STRATEGY, exit_guard_bps=100)
    services = open_services(config)
    try:
        runner = Runner(services)
        requested = commands.emergency_exit(services, "cex", actor="admin", confirm="cex")
        assert requested["quotes"], requested
        # between the pre-quote and the exit the BTC book thins out: its best bids are 5% below the floor
        server.exchange.set_book("BTCUSDT", [(D("28000"), D("5"))], [(D("30010"), D("5"))])
        services.store.update_portfolio("cex", next_check_at=services.clock.now() - timedelta(seconds=1))
        runner.run_once()
        decision = services.store.decisions("cex", limit=1)[0]
        assert decision["kind"] == "exit" and decision["status"] == "partial", decision
        sent = server.requests_to("POST", "/api/v3/order")
        assert sent and all(o.params["type"] == "LIMIT" and o.params["timeInForce"] == "IOC" for o in sent)
        failures = decision["report"]["failures"]
        assert [f["asset"] for f in failures] == ["BTC"], failures  # reported, not sold below the floor
        assert server.exchange.balance(ACCOUNT, "BTC") == D("1") and server.exchange.balance(ACCOUNT, "ETH") == 0
        booked = {a: q for a, q in services.ledger.balances("cex").items() if q}
        assert booked == {a: server.exchange.balance(ACCOUNT, a) for a in booked}
        row = services.store.portfolio("cex")
        assert row is not None and row.paused
    finally:
        services.close()
