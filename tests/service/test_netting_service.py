"""Two portfolios on one exchange account net their trades: real ccxt against the local Binance-protocol server,
the real service on SQLite. One order of the difference reaches the exchange, each ledger books its share at the
same price with the fee split pro rata, and the two ledgers add up to the exchange's balances exactly."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.adapters.test_ccxt_venue import ACCOUNT, KEY, SECRET, make_exchange
from tests.service.harness import open_services, write_config
from tests.support.binance_server import ApiKey, BinanceServer
from typer.testing import CliRunner

from trimtab.cli import app
from trimtab.core.base.ledger import EntryKind
from trimtab.errors import ConfigError
from trimtab.service import commands
from trimtab.service.flows import request_flow
from trimtab.service.runner import Runner

D = Decimal
ASSETS = ("BTC", "ETH", "USDT")
# the exchange account holds USDT 20,000, BTC 1 and ETH 10 (BTC 30,000, ETH 2,000): the two members split it
SELLER = "name: seller\nquote: USDT\ntargets: {BTC: 0.5, USDT: 0.5}\n"
BUYER = "name: buyer\nquote: USDT\ntargets: {BTC: 0.45, ETH: 0.4, USDT: 0.15}\n"
COMMON = (
    "trigger: {kind: threshold, band: 0.02}\ncosts: {fee_bps: 10, slippage_bps: 5}\nconstraints: {min_trade_usd: 10}\n"
)
HOLDINGS = {
    "seller": {"BTC": "0.6", "USDT": "2000"},  # 20,000: sells about 0.267 BTC
    "buyer": {"BTC": "0.4", "ETH": "10", "USDT": "18000"},  # 50,000: buys about 0.35 BTC
}


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[BinanceServer]:
    monkeypatch.setenv("TRIMTAB_BINANCE_API_KEY", KEY)
    monkeypatch.setenv("TRIMTAB_BINANCE_API_SECRET", SECRET)
    with BinanceServer(make_exchange(), {KEY: ApiKey(SECRET, ACCOUNT)}) as srv:
        yield srv


def _config(
    tmp_path: Path,
    url: str,
    holdings: dict[str, dict[str, str]] = HOLDINGS,
    strategies: tuple[str, str] = ("seller.yaml", "buyer.yaml"),
    database_url: str = "svc.db",
    **portfolio: Any,
) -> Path:
    (tmp_path / "seller.yaml").write_text(SELLER + COMMON)
    (tmp_path / "buyer.yaml").write_text(BUYER + COMMON)
    spec = {"venue": "ccxt:binance", "url": url, "check_every": "1h", **portfolio}
    names = ("seller", "buyer")
    return write_config(
        tmp_path,
        [{"name": n, "strategy": f, "holdings": holdings[n], **spec} for n, f in zip(names, strategies, strict=True)],
        market_data={"source": "venue"},
        database_url=database_url,
        netting=[{"name": "desk", "portfolios": ["seller", "buyer"]}],
    )


def _booked(services: Any, name: str) -> dict[str, Decimal]:
    return {a: q for a, q in services.ledger.balances(name).items() if q}


def _adds_up(services: Any, server: BinanceServer) -> None:
    total = {a: _booked(services, "seller").get(a, D(0)) + _booked(services, "buyer").get(a, D(0)) for a in ASSETS}
    assert total == {a: server.exchange.balance(ACCOUNT, a) for a in ASSETS}, "ledgers must add up to the account"


def _planned(decision: dict[str, Any], asset: str) -> tuple[str, Decimal]:
    (o,) = [o for o in decision["plan"]["orders"] if o["asset"] == asset]
    return o["side"], D(o["quantity"])


def _trades(services: Any, name: str, kind: EntryKind) -> list[Any]:
    return [e for e in services.ledger.entries(name) if e.kind == kind]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.slow])])
def database(request: pytest.FixtureRequest) -> str:
    return "svc.db" if request.param == "sqlite" else str(request.getfixturevalue("pg_url"))


def test_opposite_trades_net_to_one_order_and_each_ledger_books_its_share(
    tmp_path: Path, server: BinanceServer, database: str
) -> None:
    services = open_services(_config(tmp_path, server.url, database_url=database))
    try:
        Runner(services).run_once()
        sell = services.store.decisions("seller", limit=1)[0]
        buy = services.store.decisions("buyer", limit=1)[0]
        assert sell["status"] == buy["status"] == "done", (sell, buy)
        (s_side, s_qty), (b_side, b_qty) = _planned(sell, "BTC"), _planned(buy, "BTC")
        step = services.runtimes["seller"].venue.rules("BTC", "USDT").quantize_amount  # type: ignore[union-attr]
        s_qty, b_qty = step(s_qty), step(b_qty)  # on the exchange's lot step, as each would be sent alone
        assert (s_side, b_side) == ("sell", "buy") and b_qty > s_qty > D("0.2")
        posts = server.requests_to("POST", "/api/v3/order")
        assert len(posts) == 1, "only the net goes to the exchange"
        assert posts[0].params["symbol"] == "BTCUSDT" and posts[0].params["side"] == "BUY"
        assert D(posts[0].params["quantity"]) == b_qty - s_qty
        assert _booked(services, "seller")["BTC"] == D("0.6") - s_qty
        assert _booked(services, "buyer")["BTC"] == D("0.4") + b_qty
        _adds_up(services, server)

        (order,) = server.orders(ACCOUNT)
        s_trade = [e for e in _trades(services, "seller", EntryKind.TRADE) if e.asset == "BTC"]
        b_trade = [e for e in _trades(services, "buyer", EntryKind.TRADE) if e.asset == "BTC"]
        assert len(s_trade) == len(b_trade) == 1 and s_trade[0].price == b_trade[0].price  # one price for both
        venue_price = order.view()["cummulativeQuoteQty"]
        assert s_trade[0].price == (D(str(venue_price)) / (b_qty - s_qty)).quantize(D("1e-12"))
        s_fee = -sum(e.amount for e in _trades(services, "seller", EntryKind.FEE))
        b_fee = -sum(e.amount for e in _trades(services, "buyer", EntryKind.FEE))
        assert abs(s_fee / b_fee - s_qty / b_qty) < D("1e-9"), "the fee is split pro rata to the quantity traded"

        netting = sell["report"]["netting"]
        assert netting["rebalance_id"] == buy["report"]["netting"]["rebalance_id"]
        assert D(netting["saved"]) > 0 and D(buy["report"]["netting"]["saved"]) > 0
        assert D(netting["group_saved"]) == D(netting["saved"]) + D(buy["report"]["netting"]["saved"])
        (leg,) = netting["legs"]
        assert D(leg["crossed"]) == s_qty and D(leg["sent"]) == b_qty - s_qty
        assert services.ledger.rebalances("net.desk")[0].status.value == "done"
    finally:
        services.close()


def test_an_unknown_net_order_holds_both_members_until_the_exchange_lists_it(
    tmp_path: Path, server: BinanceServer
) -> None:
    services = open_services(_config(tmp_path, server.url, lookup_grace="1s", unknown_grace="1h"))
    try:
        runner = Runner(services)
        server.inject("http_5xx", method="POST", accept=True)  # processed, answered 5xx, listed late
        server.inject(
            "reject", path="/api/v3/order", method="GET", code=-2013, msg="Order does not exist.", count=10_000
        )
        runner.run_once()
        for name in ("seller", "buyer"):
            d = services.store.decisions(name, limit=1)[0]
            assert d["status"] == "unknown" and not d["traded"], d
            assert [e.kind for e in services.ledger.entries(name)] == [EntryKind.DEPOSIT] * len(HOLDINGS[name])
        assert len(server.orders(ACCOUNT)) == 1 and services.store.open_rebalances("net.desk")

        for name in ("seller", "buyer"):  # still not listed: both wait, nothing new is sent
            services.store.update_portfolio(name, next_check_at=services.clock.now() - timedelta(seconds=1))
        runner.run_once()
        assert "no new plan" in services.store.decisions("buyer", limit=1)[0]["reason"]
        assert len(server.requests_to("POST", "/api/v3/order")) == 1

        server.clear_faults()  # listed now: booked once for both, and the ledgers add up to the exchange
        for name in ("seller", "buyer"):
            services.store.update_portfolio(name, next_check_at=services.clock.now() - timedelta(seconds=1))
        runner.run_once()
        assert services.store.open_rebalances("net.desk") == []
        assert services.ledger.rebalances("net.desk")[0].status.value == "done"
        assert len(server.orders(ACCOUNT)) == 1
        _adds_up(services, server)
        assert _booked(services, "seller")["BTC"] < D("0.6") < D("1") < _booked(services, "buyer")["BTC"] + D("0.6")
    finally:
        services.close()


def test_a_net_below_the_minimum_sends_nothing_and_an_exit_sells_only_the_members_share(
    tmp_path: Path, server: BinanceServer
) -> None:
    server.exchange.deposit(ACCOUNT, "ETH", D(-10))  # the account: BTC 1 and USDT 30,000
    server.exchange.deposit(ACCOUNT, "USDT", D(10_000))
    # one 50/50 strategy: the seller sells about the 0.1 BTC the buyer buys; their net is a few USDT
    holdings = {"seller": {"BTC": "0.6", "USDT": "12000"}, "buyer": {"BTC": "0.4", "USDT": "18000"}}
    services = open_services(_config(tmp_path, server.url, holdings, ("seller.yaml", "seller.yaml")))
    try:
        runner = Runner(services)
        runner.run_once()
        step = services.runtimes["seller"].venue.rules("BTC", "USDT").quantize_amount  # type: ignore[union-attr]
        planned = {}
        for name in ("seller", "buyer"):
            d = services.store.decisions(name, limit=1)[0]
            assert d["status"] == "done", d
            assert _trades(services, name, EntryKind.FEE) == [], "a cross pays no venue fee"
            planned[name] = step(_planned(d, "BTC")[1])
        assert abs(planned["seller"] - planned["buyer"]) * 30_000 < 10, "their net is below the 10 USDT minimum"
        assert server.requests_to("POST", "/api/v3/order") == [], "nothing to send"
        crossed = min(planned.values())
        assert _booked(services, "seller")["BTC"] == D("0.6") - crossed
        assert _booked(services, "buyer")["BTC"] == D("0.4") + crossed
        assert _booked(services, "buyer")["USDT"] == D("18000") - crossed * 30_000  # at the mid, no costs
        notes = " ".join(services.store.decisions("seller", limit=1)[0]["report"]["notes"])
        assert "below the venue's minimum" in notes
        _adds_up(services, server)

        commands.emergency_exit(services, "seller", actor="admin", confirm="seller")
        runner.run_once()
        exit_ = services.store.decisions("seller", limit=1)[0]
        assert exit_["kind"] == "exit" and exit_["status"] == "done", exit_
        assert set(_booked(services, "seller")) == {"USDT"}, "the seller's share is sold"
        (sold,) = server.requests_to("POST", "/api/v3/order")
        assert sold.params["side"] == "SELL" and D(sold.params["quantity"]) == D("0.6") - crossed
        assert server.exchange.balance(ACCOUNT, "BTC") == _booked(services, "buyer")["BTC"], "the buyer's stays"
        _adds_up(services, server)
    finally:
        services.close()


def test_a_members_deposit_is_booked_before_the_shared_balance_check(tmp_path: Path, server: BinanceServer) -> None:
    services = open_services(_config(tmp_path, server.url))
    try:
        runner = Runner(services)
        runner.run_once()
        _adds_up(services, server)
        server.exchange.deposit(ACCOUNT, "USDT", D(5000))  # the buyer's owner pays into the shared account
        request_flow(services, "buyer", D(5000), actor="admin", withdraw=False)
        runner.run_once()
        for name in ("seller", "buyer"):
            row = services.store.portfolio(name)
            assert row is not None and not row.paused, (name, row.paused_reason if row else None)
        deposits = [e for e in services.ledger.entries("buyer") if e.kind == EntryKind.DEPOSIT and e.asset == "USDT"]
        assert [e.amount for e in deposits] == [D(18000), D(5000)]
        assert services.store.decisions("buyer", limit=1)[0]["kind"] == "flow"
        _adds_up(services, server)
    finally:
        services.close()


def test_netting_needs_one_account_and_holdings_that_add_up(
    tmp_path: Path, server: BinanceServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIMTAB_ADMIN_TOKEN", "a" * 32)
    config = _config(tmp_path, server.url, {"seller": {"BTC": "0.5", "USDT": "2000"}, "buyer": HOLDINGS["buyer"]})
    with pytest.raises(ConfigError, match=r"BTC 0\.9 vs 1") as err:  # before any account opens
        open_services(config)
    assert err.value.field == "netting.0.portfolios" and "\n" not in str(err.value)
    config = _config(tmp_path, server.url)
    (tmp_path / "buyer.yaml").write_text(BUYER + COMMON + "execution: {twap: {horizon: 2s, interval: 1s}}\n")
    with pytest.raises(ConfigError, match="buyer's strategy slices orders"):
        open_services(config)
    text = config.read_text().replace("check_every: 1h", "check_every: 2h", 1)
    config.write_text(text)
    r = CliRunner().invoke(app, ["serve", "--config", str(config), "--check"])
    assert r.exit_code == 2 and "buyer differs from seller in check_every" in r.output, r.output
