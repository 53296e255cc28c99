"""Live parity: the service on the local Binance server backfills daily history from its klines, a risk-parity
and a cost-aware portfolio rebalance on it, and a restart keeps the history and the drawdown state."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.service.harness import open_services, write_config
from tests.support.binance_server import ApiKey, BinanceServer
from tests.support.market_history import DAY_MS, exchange_with_history

from trimtab.adapters.storage.price_store import EquityMarks, PriceStore
from trimtab.cli import backtest
from trimtab.config import load_strategy
from trimtab.errors import DataError
from trimtab.service import history
from trimtab.service.protection import DrawdownState
from trimtab.service.runner import Runner

RP_UNIVERSE = ["BTC", "ETH", "BNB", "XRP", "SOL", "ADA", "DOGE", "TRX", "LTC", "LINK"]
KEYS = {"rp": ("R" * 64, "rp-secret"), "ca": ("C" * 64, "ca-secret")}
DAYS = 450  # served days: more than the 400-day model warm-up


@pytest.fixture
def server() -> Iterator[BinanceServer]:
    ex = exchange_with_history(RP_UNIVERSE, "USDC", DAYS)
    for account in KEYS:
        ex.deposit(account, "USDC", Decimal(100_000))
    with BinanceServer(ex, {key: ApiKey(secret, account) for account, (key, secret) in KEYS.items()}) as srv:
        yield srv


def live_config(tmp_path: Path, server: BinanceServer, database: str | None = None, **market: Any) -> Path:
    portfolios = []
    for name, preset in (("rp", "risk-parity"), ("ca", "cost-aware")):
        key, secret = KEYS[name]
        creds = tmp_path / f"{name}.json"
        creds.write_text(json.dumps({"api_key": key, "api_secret": secret}))
        portfolios.append(
            {
                "name": name,
                "strategy": preset,
                "venue": "ccxt:binance",
                "url": server.url,
                "credentials": str(creds),
                "check_every": "1d",
                "max_drawdown": 0.5,
            }
        )
    return write_config(
        tmp_path,
        portfolios,
        database_url=database or str(tmp_path / "live.db"),
        market_data={"source": "venue", "history": "venue", **market},
    )


def klines(server: BinanceServer) -> int:
    return len(server.requests_to("GET", "/api/v3/klines"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres])])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return str(tmp_path / "live.db") if request.param == "sqlite" else str(request.getfixturevalue("pg_url"))


@pytest.mark.slow
def test_service_backfills_trades_models_on_live_history_and_restarts(
    tmp_path: Path, server: BinanceServer, database: str
) -> None:
    config = live_config(tmp_path, server, database)
    services = open_services(config)
    prices = PriceStore(services.ledger.engine)
    assert {a: prices.count(a, "USDC", "venue") for a in RP_UNIVERSE} == dict.fromkeys(RP_UNIVERSE, 400)
    fetched = klines(server)
    assert fetched >= len(RP_UNIVERSE)
    runner = Runner(services)
    assert runner.run_once() == 2
    rp, ca = (services.store.decisions(n)[0] for n in ("rp", "ca"))
    assert rp["status"] == "done" and ca["status"] == "done", (rp["reason"], ca["reason"])
    model = rp["targets"]
    assert set(model) <= {*RP_UNIVERSE, "USDC"} and len([a for a, w in model.items() if w > 0.01]) >= 8
    assert max(model.values()) < 0.5 and model.get("USDC", 0) < 0.01  # equal risk: no single asset, not cash
    assert ca["targets"] == {"BTC": 0.4, "ETH": 0.25, "BNB": 0.1, "XRP": 0.1, "DOGE": 0.05, "USDC": 0.1}
    assert {o.symbol for o in server.orders("rp")} >= {f"{a}USDC" for a in RP_UNIVERSE if model.get(a, 0) > 0.01}
    assert len(server.orders("ca")) == 5
    snap = services.runtimes["rp"].market.snapshot(["USDC"], "USDC")
    assert snap.history is not None and len(snap.history) == 400 and set(snap.price_times) == set(RP_UNIVERSE)
    assert snap.time == max(snap.price_times.values())
    assert prices.count("BTC", "USDC", "ticker") >= 2  # every cycle's tickers are appended
    # a later check: the cost-aware trigger estimates its bands from the stored history, holds within them
    services.store.update_portfolio("ca", next_check_at=services.clock.now())
    assert runner.run_once() == 1
    check = services.store.decisions("ca")[0]
    assert check["kind"] == "check" and not check["fired"] and "no volatility estimate" not in check["reason"]
    state = DrawdownState(EquityMarks(services.ledger.engine), "rp")
    for d in services.store.decisions("rp", newest_first=False):
        state.update(d["time"], Decimal(repr(d["value"])))
    state.update(snap.time, state.peak * Decimal("0.8"))  # type: ignore[operator]
    peak = state.peak
    bars = prices.count()
    services.close()

    again = open_services(config)  # a restart on the same database
    try:
        assert klines(server) == fetched  # history already there: no second backfill
        stored = PriceStore(again.ledger.engine)
        assert stored.count() == bars and stored.count("BTC", "USDC", "venue") == 400
        restarted = DrawdownState(EquityMarks(again.ledger.engine), "rp")
        assert restarted.peak == peak and restarted.drawdown(peak * Decimal("0.8")) == Decimal("0.2")  # type: ignore[operator]
        assert again.runtimes["rp"].market.snapshot([], "USDC").history is not None
    finally:
        again.close()


@pytest.mark.slow
def test_a_window_too_short_names_the_asset_and_the_missing_rows(tmp_path: Path) -> None:
    ex = exchange_with_history(RP_UNIVERSE, "USDC", 100)  # a venue with 100 days: risk parity reads 181
    with BinanceServer(ex, {key: ApiKey(secret, account) for account, (key, secret) in KEYS.items()}) as short:
        services = open_services(live_config(tmp_path, short))
        try:
            assert PriceStore(services.ledger.engine).count("BTC", "USDC", "venue") == 100
            with pytest.raises(DataError, match=r"BTC: the strategy reads 181 daily closes .* has 100 \(81 missing"):
                services.runtimes["rp"].market.snapshot([], "USDC")
            Runner(services).run_once()  # the cycle fails with that line, alerted; nothing is traded
            row = services.store.portfolio("rp")
            assert row is not None and row.failures == 1 and short.orders("rp") == []
            assert any("81 missing" in a["body"] for a in services.store.alerts("rp"))
            short.exchange.ticker_time_ms = int((datetime.now(UTC) - timedelta(hours=2)).timestamp() * 1000)
            with pytest.raises(DataError, match=r"BNB: stale ticker: stamped .*, 2:00:0\d before now"):
                services.runtimes["ca"].market.snapshot(["BTC"], "USDC")
        finally:
            services.close()


def test_history_needs_follow_the_strategy() -> None:
    assert (history.WARMUP_DAYS, history.COST_WARMUP_DAYS) == (backtest.WARMUP_DAYS, backtest.COST_WARMUP_DAYS)
    rp, ca, static = (load_strategy(p) for p in ("risk-parity", "cost-aware", "index-fund"))
    assert history.window_rows(rp) == 181 and history.backfill_rows(rp) == 400
    assert history.window_rows(ca) == 91 and history.backfill_rows(ca) == 91
    assert history.window_rows(static) == 0 and history.backfill_rows(static) == 1
    assert "SOL" in rp.universe and "SOL" not in rp.targets  # the model's universe is priced, not only targets


@pytest.mark.slow
def test_history_from_a_price_file_needs_no_klines(tmp_path: Path, server: BinanceServer) -> None:
    days = {a: server.exchange.daily[a + "USDC"] for a in RP_UNIVERSE}
    lines = ["date,asset,close"] + [
        f"{datetime.fromtimestamp((opened + DAY_MS) / 1000, UTC):%Y-%m-%d},{a},{close}"
        for a, rows in days.items()
        for opened, close, _ in rows
    ]
    (tmp_path / "prices.csv").write_text("\n".join(lines) + "\n")
    before = klines(server)
    services = open_services(live_config(tmp_path, server, history="file", history_file="prices.csv"))
    try:
        assert klines(server) == before
        prices = PriceStore(services.ledger.engine)
        assert prices.count("SOL", "USDC", "file") == 400 and prices.count(source="venue") == 0
        first = prices.bars("BTC", "USDC", datetime(2000, 1, 1, tzinfo=UTC), datetime.now(UTC))[0]
        assert first.close == days["BTC"][DAYS - 400][1]  # the file's close, exactly
        snap = services.runtimes["rp"].market.snapshot([], "USDC")
        assert snap.history is not None and len(snap.history) == 400
    finally:
        services.close()


def test_bundled_history_is_stored_in_the_quote_and_must_reach_today(tmp_path: Path, server: BinanceServer) -> None:
    from trimtab.adapters.bundled import bundled_daily

    services = open_services(live_config(tmp_path, server, history="bundled"))
    try:
        market = services.runtimes["ca"].market
        assert isinstance(market, history.StoredHistorySource)
        assert sum(market.backfilled.values()) == 0  # the bundled data ends before the live window starts
        with pytest.raises(DataError, match=r"has 0 \(91 missing; history from bundled\)"):
            market.snapshot([], "USDC")
        added = market.backfill(datetime(2023, 6, 1, tzinfo=UTC))  # a window the bundled data covers
        assert added["BTC"] == 91
        ref = bundled_daily(["BTC", "USDC"], start="2023-06-01", end="2023-06-01")
        bar = PriceStore(services.ledger.engine).latest("BTC", "USDC", "bundled")
        assert bar is not None and bar.time == datetime(2023, 6, 1, tzinfo=UTC)
        assert float(bar.close) == pytest.approx(ref.prices[0, 0] / ref.prices[0, 1], rel=1e-12)
    finally:
        services.close()


def test_history_file_goes_with_history_file_only(tmp_path: Path) -> None:
    from trimtab.errors import ConfigError
    from trimtab.service.settings import load_settings

    for market in ({"history": "file"}, {"history": "venue", "history_file": "p.csv"}):
        path = write_config(tmp_path, [{"name": "p", "strategy": "bitcoin"}], market_data={"source": "venue", **market})
        with pytest.raises(ConfigError, match="history_file"):
            load_settings(path)


def test_replay_prices_a_models_universe(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        [{"name": "rp", "strategy": "risk-parity", "initial_value": 100_000}],
        database_url=str(tmp_path / "replay.db"),
    )
    services = open_services(config)
    try:
        snap = services.runtimes["rp"].market.snapshot([], "USDC")
        assert snap.history is not None and set(RP_UNIVERSE) <= set(snap.history.assets)
        Runner(services).run_once()
        d = services.store.decisions("rp")[0]
        assert d["status"] == "done" and len([a for a, w in d["targets"].items() if w > 0.01]) >= 8
    finally:
        services.close()


@pytest.mark.slow
def test_each_newly_closed_day_is_fetched_once(tmp_path: Path, server: BinanceServer) -> None:
    ex = server.exchange
    last = {s: days.pop() for s, days in ex.daily.items()}  # the venue has not closed yesterday's candle yet
    services = open_services(live_config(tmp_path, server))
    try:
        prices = PriceStore(services.ledger.engine)
        newest = prices.latest("BTC", "USDC", "venue")
        assert newest is not None and newest.time == today() - timedelta(days=1)
        for s, row in last.items():
            ex.daily[s].append(row)  # ... now it has
        before = klines(server)
        market = services.runtimes["rp"].market
        market.snapshot([], "USDC")
        assert klines(server) - before == len(RP_UNIVERSE)  # one request per asset for the new day
        newest = prices.latest("BTC", "USDC", "venue")
        assert newest is not None and newest.time == today() and newest.close == last["BTCUSDC"][1]
        assert prices.count("BTC", "USDC", "venue") == 400
        market.snapshot([], "USDC")
        services.runtimes["ca"].market.snapshot([], "USDC")  # the other portfolio's source finds the day stored
        assert klines(server) - before == len(RP_UNIVERSE)
    finally:
        services.close()


def today() -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
