"""An order whose outcome is unknown (the exchange accepted it, the reply was lost, and it lists it late) is neither
filled nor failed: the rebalance stays open, nothing is recorded or planned on top of it, and once the exchange lists
it the service records exactly what filled (real ccxt against the local Binance-protocol server)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from tests.adapters.test_ccxt_venue import ACCOUNT, KEY, SECRET, make_exchange
from tests.service.harness import cex_config, open_services
from tests.support.binance_server import ApiKey, BinanceServer

from trimtab.service.runner import Runner

STRATEGY = """
name: unknown-outcome
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


def _due_now(services: object, name: str) -> None:
    store = services.store  # type: ignore[attr-defined]
    store.update_portfolio(name, next_check_at=services.clock.now() - timedelta(seconds=1))  # type: ignore[attr-defined]


@pytest.mark.slow
def test_an_unknown_leg_blocks_new_plans_until_the_exchange_lists_it(
    tmp_path: Path, server: BinanceServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIMTAB_BINANCE_API_KEY", KEY)
    monkeypatch.setenv("TRIMTAB_BINANCE_API_SECRET", SECRET)
    config = cex_config(tmp_path, server.url, STRATEGY, lookup_grace="1s", unknown_grace="1h")
    services = open_services(config)
    try:
        runner = Runner(services)
        # the first order is accepted but its reply is lost, and the exchange lists nothing for a while
        server.inject("timeout_after_accept", method="POST", delay=12)
        server.inject(
            "reject", path="/api/v3/order", method="GET", code=-2013, msg="Order does not exist.", count=10_000
        )
        runner.run_once()
        first = services.store.decisions("cex", limit=1)[0]
        assert first["status"] == "unknown" and not first["traded"], first
        assert [e.kind for e in services.ledger.entries("cex")] == ["deposit"] * 3, "nothing recorded yet"
        assert len(services.store.open_rebalances("cex")) == 1
        posts = len(server.requests_to("POST", "/api/v3/order"))
        assert posts == 1 and len(server.orders(ACCOUNT)) == 1, "the unknown order is never re-sent"
        assert any("outcome unknown" in a["title"] for a in services.store.alerts("cex", limit=20))

        _due_now(services, "cex")  # still not listed: the portfolio waits, sending nothing new
        runner.run_once()
        waiting = services.store.decisions("cex", limit=1)[0]
        assert waiting["status"] == "unknown" and "no new plan" in waiting["reason"]
        assert len(server.requests_to("POST", "/api/v3/order")) == posts

        server.clear_faults()  # the exchange lists the order now: reconciled, recorded exactly once, then re-planned
        _due_now(services, "cex")
        runner.run_once()
        assert services.store.open_rebalances("cex") == []
        rebalances = services.ledger.rebalances("cex")
        assert rebalances[0].status.value == "partial"  # leg 1 filled at the exchange; legs 2+ were never sent
        booked = {a: q for a, q in services.ledger.balances("cex").items() if q}
        exchange = {a: server.exchange.balance(ACCOUNT, a) for a in ("BTC", "ETH", "USDT")}
        assert booked == {a: q for a, q in exchange.items() if q != Decimal(0)}
    finally:
        services.close()
