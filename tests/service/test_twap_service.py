"""A TWAP strategy in the real service sends its legs as child orders on the local Binance-protocol exchange
(real ccxt, real HTTP, signed requests), every child in the ledger, the journal naming every child id."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from tests.adapters.test_ccxt_venue import ACCOUNT, KEY, SECRET, make_exchange
from tests.service.harness import open_services, write_config
from tests.support.binance_server import ApiKey, BinanceServer

from trimtab.service.runner import Runner

STRATEGY = """
name: twap-live
quote: USDT
targets: {BTC: 0.5, ETH: 0.3, USDT: 0.2}
trigger: {kind: threshold, band: 0.02}
costs: {fee_bps: 10, slippage_bps: 5}
constraints: {min_trade_usd: 10}
execution: {twap: {horizon: 2s, interval: 1s}}
"""


@pytest.fixture
def server() -> Iterator[BinanceServer]:
    with BinanceServer(make_exchange(), {KEY: ApiKey(SECRET, ACCOUNT)}) as srv:
        yield srv


def test_twap_legs_go_out_as_child_orders_from_the_service(
    tmp_path: Path, server: BinanceServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIMTAB_BINANCE_API_KEY", KEY)
    monkeypatch.setenv("TRIMTAB_BINANCE_API_SECRET", SECRET)
    (tmp_path / "s.yaml").write_text(STRATEGY)
    config = write_config(
        tmp_path,
        [{"name": "cex", "strategy": "s.yaml", "venue": "ccxt:binance", "url": server.url, "check_every": "1h"}],
        market_data={"source": "venue"},
        database_url="svc.db",
    )
    services = open_services(config)
    try:
        Runner(services).run_once()
        decision = services.store.decisions("cex", limit=1)[0]
        assert decision["traded"] and decision["status"] == "done", decision
        plan_orders = decision["plan"]["orders"]
        sent = server.requests_to("POST", "/api/v3/order")
        assert len(sent) == 3 * len(plan_orders), "horizon 2s / interval 1s: three children per leg"
        rebalance = services.ledger.rebalances("cex")[-1]
        legs = json.loads(rebalance.plan_json)["legs"]
        assert all(len(leg["child_ids"]) == 3 for leg in legs)
        sent_ids = {o.params["newClientOrderId"] for o in sent}
        assert sent_ids == {cid for leg in legs for cid in leg["child_ids"]}
        booked = {a: q for a, q in services.ledger.balances("cex").items() if q}
        exchange = {a: server.exchange.balance(ACCOUNT, a) for a in ("BTC", "ETH", "USDT")}
        assert booked == {a: q for a, q in exchange.items() if q != Decimal(0)}
    finally:
        services.close()
