"""`trimtab plan --routes` and `trimtab execute --venue ccxt:binance` end to end against the local
Binance-protocol server (real ccxt, real HTTP, real SQLite ledger)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.adapters.test_ccxt_venue import ACCOUNT, KEY, SECRET, make_exchange
from tests.support.binance_server import ApiKey, BinanceServer
from trimtab.adapters.storage import SqlLedgerStore
from trimtab.cli import app
from trimtab.cli.execution import fill_report
from trimtab.core.base.ports import ExecutionReport
from trimtab.core.base.types import CostEstimate, Fill, PlannedOrder, Side, TradePlan

D = Decimal
runner = CliRunner()
STRATEGY = """
name: cex-test
quote: USDT
targets: {BTC: 0.5, ETH: 0.3, USDT: 0.2}
trigger: {kind: threshold, band: 0.02}
costs: {fee_bps: 10, slippage_bps: 5}
constraints: {min_trade_usd: 10}
guards: {max_price_age: 1h, stablecoin_peg_tolerance: 0.01, require_markets: true, balance_tolerance: 0.000001,
         max_turnover_per_rebalance: 1.0, cost_tolerance: 0.01}
"""


@pytest.fixture
def server() -> Iterator[BinanceServer]:
    with BinanceServer(make_exchange(), {KEY: ApiKey(SECRET, ACCOUNT)}) as srv:
        yield srv


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    monkeypatch.setenv("TRIMTAB_BINANCE_API_KEY", KEY)
    monkeypatch.setenv("TRIMTAB_BINANCE_API_SECRET", SECRET)
    strategy = tmp_path / "s.yaml"
    strategy.write_text(STRATEGY)
    prices = tmp_path / "prices.csv"
    prices.write_text("asset,price\nBTC,30000\nETH,2000\nSOL,100\nUSDT,1\n")
    holdings = tmp_path / "h.yaml"
    holdings.write_text("holdings: {BTC: '1', ETH: '10', USDT: '20000'}\n")
    return {"strategy": strategy, "prices": prices, "holdings": holdings, "ledger": tmp_path / "l.sqlite"}


def execute(files: dict[str, Path], server: BinanceServer, *extra: str):  # type: ignore[no-untyped-def]
    return runner.invoke(
        app,
        [
            "execute",
            "-s",
            str(files["strategy"]),
            "-p",
            str(files["holdings"]),
            "--prices",
            str(files["prices"]),
            "--venue",
            "ccxt:binance",
            "--venue-url",
            server.url,
            "--ledger",
            str(files["ledger"]),
            "--yes",
            *extra,
        ],
    )


def test_execute_on_ccxt_plans_on_the_exchange_prices_not_a_file(files: dict[str, Path], server: BinanceServer) -> None:
    files["prices"].write_text("asset,price\nBTC,90000\nETH,9000\nSOL,100\nUSDT,1\n")  # wrong on purpose
    r = execute(files, server)
    assert r.exit_code == 0, r.output
    assert "30,0" in r.output and "90,000" not in r.output  # BTC valued at the exchange's ~30,000


def test_execute_on_ccxt_rebalances_records_and_reports(files: dict[str, Path], server: BinanceServer) -> None:
    r = execute(files, server)
    assert r.exit_code == 0, r.output
    assert "leg 1/" in r.output and "Fill report on binance" in r.output and "slippage bps" in r.output
    orders = server.requests_to("POST", "/api/v3/order")
    assert orders and all(o.api_key == KEY for o in orders)
    sides = [o.params["side"] for o in orders]
    assert sides == sorted(sides, key=lambda s: s == "BUY"), "sells first"
    # the ledger holds exactly what the exchange holds now
    store = SqlLedgerStore(files["ledger"])
    exchange = {a: server.exchange.balance(ACCOUNT, a) for a in ("BTC", "ETH", "USDT")}
    assert {a: q for a, q in store.balances("binance").items() if q} == {a: q for a, q in exchange.items() if q}
    # and it moved toward the targets: BTC was 30k of 70k (43%) and must now be near 50%
    value = exchange["BTC"] * 30000 + exchange["ETH"] * 2000 + exchange["USDT"]
    assert abs(exchange["BTC"] * 30000 / value - D("0.5")) < D("0.01")


def test_execute_on_ccxt_is_stopped_by_a_breaker_before_any_order(
    files: dict[str, Path], server: BinanceServer
) -> None:
    server.exchange.ticker_time_ms = int((time.time() - 7200) * 1000)  # the tickers are two hours old: max 1h
    r = execute(files, server)
    assert r.exit_code == 1
    assert "stale_price" in r.output and "rebalance not started" in r.output
    assert server.requests_to("POST", "/api/v3/order") == []
    assert server.orders(ACCOUNT) == []


def test_missing_keys_and_bad_venue_are_one_line_errors(
    files: dict[str, Path], server: BinanceServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRIMTAB_BINANCE_API_SECRET")
    r = execute(files, server)
    assert r.exit_code == 2 and "TRIMTAB_BINANCE_API_SECRET" in r.output
    r = runner.invoke(app, ["execute", "-s", str(files["strategy"]), "--venue", "ccxt:nosuchexchange", "--yes"])
    assert r.exit_code == 2 and "unknown ccxt exchange" in r.output


def test_plan_routes_shows_the_dry_run(files: dict[str, Path]) -> None:
    r = runner.invoke(
        app,
        [
            "plan",
            "-s",
            str(files["strategy"]),
            "-p",
            str(files["holdings"]),
            "--prices",
            str(files["prices"]),
            "--routes",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "Dry run" in r.output and "worst px" in r.output and "projected weights" in r.output
    assert "BTC (BTC/USDT@strategy)" in r.output


def test_fill_report_compares_expected_and_realised_cost() -> None:
    o = PlannedOrder("BTC", "USDT", Side.BUY, D(1), D(30000), D(30015), CostEstimate(fee=D(30), slippage=D(15)))
    plan = TradePlan((o,), "t")
    fill = Fill("BTC", "USDT", Side.BUY, D(1), D(30030), D("30.03"), D(30))
    (row,) = fill_report(plan, ExecutionReport((fill,), venue="x"))
    assert row["expected_cost"] == D(45)
    assert row["realised_cost"] == D("60.03")  # 30 worse than mid + 30.03 fee
    assert row["slippage_bps"] == pytest.approx((30030 / 30015 - 1) * 1e4)
