"""`trimtab replay`: the real service over bundled history on a simulated clock, end to end through the CLI."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from tests.service.harness import open_services, write_config
from typer.testing import CliRunner

from trimtab.adapters.bundled import bundled_daily
from trimtab.cli import app
from trimtab.cli.backtest import load_history
from trimtab.config import load_strategy
from trimtab.service.marketdata import ReplaySource
from trimtab.service.replay import SimulatedClock, replay
from trimtab.service.settings import load_settings

runner = CliRunner()
KEYS = {
    "rebalance_times",
    "n_rebalances",
    "final_value",
    "total_costs",
    "reasons",
    "n_checks",
    "final_holdings",
    "alerts",
    "strategy",
}


def _config(tmp: Path, portfolios: list[dict[str, Any]], **top: Any) -> Path:
    path = tmp / "service.yaml"
    path.write_text(yaml.safe_dump({**top, "portfolios": portfolios}))
    return path


def test_replay_command_end_to_end_on_bundled_data(tmp_path: Path) -> None:
    cfg = _config(
        tmp_path,
        [
            {"name": "btc", "strategy": "bitcoin", "check_every": "1d"},
            {"name": "rp", "strategy": "risk-parity", "check_every": "1w", "initial_value": 50_000},
        ],
        alerts={"webhook": "http://127.0.0.1:9/never-called"},
    )  # a dry run delivers no alert
    out, db = tmp_path / "out.json", tmp_path / "kept.db"
    res = runner.invoke(
        app,
        [
            "replay",
            "--config",
            str(cfg),
            "--from",
            "2022-01-01",
            "--to",
            "2022-06-30",
            "--json",
            str(out),
            "--db",
            str(db),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "btc" in res.output and "risk-parity" in res.output
    doc = json.loads(out.read_text())
    assert doc["start"].startswith("2022-01-01") and doc["end"].startswith("2022-06-30")
    btc, rp = doc["portfolios"]["btc"], doc["portfolios"]["rp"]
    for p in (btc, rp):
        assert set(p) >= KEYS
        assert p["n_rebalances"] == len(p["rebalance_times"]) >= 2
        assert p["rebalance_times"][0].startswith("2022-01-01")
        assert p["reasons"][0]["reason"] == "initial allocation" and p["reasons"][0]["traded"]
        assert 0 < p["total_costs"] < 0.01 * p["final_value"]
    assert btc["n_checks"] == 181 and rp["n_checks"] == 26  # every day / every week from 2022-01-01 to 06-30
    times = [datetime.fromisoformat(t) for t in rp["rebalance_times"]]
    assert all(b - a >= timedelta(weeks=1) for a, b in zip(times, times[1:], strict=False))
    # the model holds its universe (not 100% cash): BTC, ETH and others
    assert {"BTC", "ETH"} <= set(rp["final_holdings"]) and len(rp["final_holdings"]) >= 5
    assert btc["alerts"].get("rebalance_completed") == btc["n_rebalances"]
    with sqlite3.connect(db) as conn:  # the kept database is the service's own
        n = conn.execute("SELECT count(*) FROM decisions WHERE portfolio='btc' AND traded").fetchone()[0]
        delivered = {r[0] for r in conn.execute("SELECT delivery FROM alerts")}
    assert n == btc["n_rebalances"] and delivered == {"no channels"}


def test_replay_never_sleeps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A year of daily cycles on the simulated clock: nothing waits for real time."""

    def no_wait(*_: Any, **__: Any) -> bool:
        raise AssertionError("replay waited for real time")

    strategy = load_strategy("ethereum")
    history = load_history(strategy, None, "2022-01-01", "2022-12-31", None)
    settings = load_settings(_config(tmp_path, [{"name": "e", "strategy": "ethereum", "check_every": "1d"}]))
    monkeypatch.setattr(time, "sleep", no_wait)
    monkeypatch.setattr(threading.Event, "wait", no_wait)
    result = replay(settings, {"e": history}, datetime(2022, 1, 1, tzinfo=UTC), datetime(2022, 12, 31, tzinfo=UTC))
    p = result.portfolios["e"]
    assert result.cycles == p.n_checks == 365
    assert p.rebalance_times[-1] <= datetime(2022, 12, 31, tzinfo=UTC)
    assert p.final_value > 0 and p.final_holdings["ETH"] > 0


def test_simulated_clock_only_moves_forward() -> None:
    t0 = datetime(2022, 1, 1, tzinfo=UTC)
    clock = SimulatedClock(t0)
    assert clock.wall_seconds_until(t0 + timedelta(days=365)) == 0.0
    clock.advance_to(t0 + timedelta(days=2))
    clock.advance_to(t0 + timedelta(days=1))
    assert clock.now() == t0 + timedelta(days=2)


def test_replay_source_marks_an_ended_series_at_its_last_price() -> None:
    """ADA's bundled series ends 2023-11-30: a position in it is still priced (last close), like the backtest."""
    history = bundled_daily(["ADA", "BTC", "USDC"], start="2023-11-01", end="2023-12-31", require_complete=False)
    clock = SimulatedClock(datetime(2023, 12, 15, tzinfo=UTC))
    snap = ReplaySource(history, clock).snapshot(["ADA", "BTC"], "USDC")
    last = history.prices[:, history.index_of("ADA")]
    last = last[np.isfinite(last)][-1] / history.prices[np.flatnonzero(np.isfinite(last))[-1], history.index_of("USDC")]
    assert float(snap.prices["ADA"]) == pytest.approx(float(last), rel=1e-3)
    assert snap.history is not None and np.isnan(snap.history.prices[-1, snap.history.index_of("ADA")])


def test_serve_replay_loads_the_model_universe_and_its_warm_up(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path,
        [{"name": "rp", "strategy": "risk-parity", "check_every": "1d"}],
        database_url=str(tmp_path / "svc.db"),
    )
    services = open_services(cfg)
    try:
        history = services.runtimes["rp"].market.history  # type: ignore[attr-defined]
        assert {"BTC", "ETH", "XRP", "SOL", "LINK"} <= set(history.assets)
        assert history.times[0] <= np.datetime64("2021-01-01")  # 400 days before market_data.start 2022-01-01
    finally:
        services.close()


def test_replay_opens_with_the_backtest_deposit_and_keeps_configured_holdings(tmp_path: Path) -> None:
    cfg = _config(
        tmp_path, [{"name": "h", "strategy": "ethereum", "check_every": "1d", "holdings": {"ETH": "2", "USDC": "1000"}}]
    )
    out = tmp_path / "o.json"
    res = runner.invoke(
        app, ["replay", "--config", str(cfg), "--from", "2022-03-01", "--to", "2022-03-10", "--json", str(out)]
    )
    assert res.exit_code == 0, res.output
    p = json.loads(out.read_text())["portfolios"]["h"]
    assert p["n_checks"] == 10
    eth = bundled_daily(["ETH", "USDC"], start="2022-03-01", end="2022-03-01")
    opening = 2 * float(eth.prices[0, eth.index_of("ETH")]) + 1000 * float(eth.prices[0, eth.index_of("USDC")])
    assert p["final_value"] == pytest.approx(opening, rel=0.3)  # started from the holdings, not 10,000 USDC
    assert Decimal(p["final_holdings"]["ETH"]) > 0


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--from", "2022-05-01", "--to", "2022-01-01"], "before"),
        (["--from", "2022-13-01"], "from"),
        (["--from", "2030-01-01"], "2030"),
    ],
)
def test_replay_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], needle: str) -> None:
    cfg = _config(tmp_path, [{"name": "b", "strategy": "bitcoin"}])
    res = runner.invoke(app, ["replay", "--config", str(cfg), *args])
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output and needle in res.output


def test_replay_refuses_to_overwrite_a_database(tmp_path: Path) -> None:
    cfg = _config(tmp_path, [{"name": "b", "strategy": "bitcoin"}])
    db = tmp_path / "x.db"
    db.write_text("")
    res = runner.invoke(
        app, ["replay", "--config", str(cfg), "--from", "2022-01-01", "--to", "2022-01-05", "--db", str(db)]
    )
    assert res.exit_code == 2 and "exists" in res.output


def test_a_tripped_breaker_pauses_the_portfolio_for_the_rest_of_the_replay(tmp_path: Path) -> None:
    cfg = _config(
        tmp_path,
        [
            {"name": "b", "strategy": "bitcoin", "check_every": "1d", "max_drawdown": 0.1},
            {"name": "s", "strategy": "stablecoin-vault", "check_every": "1d"},
        ],
    )
    out = tmp_path / "o.json"
    res = runner.invoke(
        app, ["replay", "--config", str(cfg), "--from", "2022-01-01", "--to", "2022-06-30", "--json", str(out)]
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())["portfolios"]
    b, s = doc["b"], doc["s"]
    assert b["alerts"].get("circuit_breaker") == 1 and b["n_checks"] < 181
    assert s["n_checks"] == 181  # the other portfolio runs to the end
    assert b["final_value"] > 0 and "BTC" in b["final_holdings"]  # still holding, valued at the end


def test_each_portfolio_starts_at_its_own_first_price_row(tmp_path: Path) -> None:
    """One portfolio's data starts later than the other's: it is first checked (and funded) on its own first row."""
    settings = load_settings(
        _config(
            tmp_path,
            [
                {"name": "a", "strategy": "bitcoin", "check_every": "1d"},
                {"name": "b", "strategy": "ethereum", "check_every": "1d"},
            ],
        )
    )
    early = load_history(load_strategy("bitcoin"), None, "2022-01-01", "2022-02-28", None)
    late = load_history(load_strategy("ethereum"), None, "2022-02-01", "2022-02-28", None)
    result = replay(
        settings, {"a": early, "b": late}, datetime(2022, 1, 1, tzinfo=UTC), datetime(2022, 2, 28, tzinfo=UTC)
    )
    assert result.portfolios["a"].rebalance_times[0] == datetime(2022, 1, 1, tzinfo=UTC)
    assert result.portfolios["b"].rebalance_times[0] == datetime(2022, 2, 1, tzinfo=UTC)
    assert result.portfolios["b"].n_checks == 28


def test_the_drawdown_breaker_trips_before_trading(tmp_path: Path) -> None:
    """A strategy that trades every day (a tiny band): on the check whose pre-trade value breaches the limit the
    portfolio pauses and sends nothing, although its trigger fired."""
    (tmp_path / "jumpy.yaml").write_text(
        "name: jumpy\nquote: USDC\ntargets: {BTC: 0.8, USDC: 0.2}\n"
        "trigger: {kind: threshold, band: 0.001}\nconstraints: {min_trade_usd: 1}\n"
    )
    cfg = _config(tmp_path, [{"name": "j", "strategy": "jumpy.yaml", "check_every": "1d", "max_drawdown": 0.1}])
    db = tmp_path / "kept.db"
    res = runner.invoke(
        app, ["replay", "--config", str(cfg), "--from", "2022-01-01", "--to", "2022-03-31", "--db", str(db)]
    )
    assert res.exit_code == 0, res.output
    from trimtab.adapters.storage import SqlLedgerStore
    from trimtab.adapters.storage.service_store import ServiceStore

    ledger = SqlLedgerStore(str(db))
    store = ServiceStore(ledger.engine)
    last = store.decisions("j", limit=1)[0]
    assert store.portfolio("j").paused and "drawdown" in (store.portfolio("j").paused_reason or "")  # type: ignore[union-attr]
    assert last["fired"] and not last["traded"], last  # fired, but the breaker came first
    assert all(e.time < last["time"] for e in ledger.entries("j") if e.kind == "trade")
