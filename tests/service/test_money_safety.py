"""Money-safety defects of the live path, each with the real service on SQLite and a durable paper exchange:
a pause pressed mid-rebalance stops the legs not yet sent; a ledger that disagrees with the venue pauses the
portfolio before any plan; a real venue on replayed prices is refused at start."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.service.harness import open_services, write_config
from typer.testing import CliRunner

from trimtab.cli import app
from trimtab.service import commands
from trimtab.service.runner import Runner

STRATEGY = """
name: four
quote: USDC
targets: {BTC: 0.3, ETH: 0.3, SOL: 0.2, USDC: 0.2}
trigger: {kind: threshold, band: 0.05}
costs: {fee_bps: 10, slippage_bps: 5}
"""


def _config(tmp_path: Path) -> Path:
    (tmp_path / "four.yaml").write_text(STRATEGY)
    return write_config(
        tmp_path,
        [
            {
                "name": "p",
                "strategy": "four.yaml",
                "check_every": "1d",
                "initial_value": 100_000,
                "paper_state": "exchange.sqlite",
            }
        ],
        database_url="svc.db",
        market_data={"source": "replay", "start": "2022-01-03", "speed": 1.0},
    )


class PauseAfterFirstLeg:
    """The real durable paper exchange; after its first leg the owner presses pause (as from the dashboard)."""

    def __init__(self, venue: Any, services: Any) -> None:
        self._venue, self._services, self.sent = venue, services, 0
        self.name = venue.name

    def __getattr__(self, name: str) -> Any:
        return getattr(self._venue, name)

    def execute(self, plan: Any) -> Any:
        report = self._venue.execute(plan)
        self.sent += 1
        if self.sent == 1:
            commands.pause(self._services, "p", actor="admin", reason="owner pressed pause")
        return report


def test_a_pause_pressed_mid_rebalance_stops_the_legs_not_yet_sent(tmp_path: Path) -> None:
    services = open_services(_config(tmp_path))
    try:
        rt = services.runtimes["p"]
        rt.venue = PauseAfterFirstLeg(rt.venue, services)  # type: ignore[assignment]
        Runner(services).run_once()
        assert rt.venue.sent == 1, "three buys were planned; only the first may leave"  # type: ignore[attr-defined]
        rebalance = services.ledger.rebalances("p")[-1]
        assert rebalance.status.value == "partial" and "paused" in (rebalance.report_json or "")
        row = services.store.portfolio("p")
        assert row is not None and row.paused
        booked = {a: q for a, q in services.ledger.balances("p").items() if q}
        assert booked == rt.venue.balances()
    finally:
        services.close()


def test_a_ledger_that_differs_from_the_venue_pauses_before_any_plan(tmp_path: Path) -> None:
    services = open_services(_config(tmp_path))
    try:
        runner = Runner(services)
        runner.run_once()  # the initial allocation
        with sqlite3.connect(tmp_path / "exchange.sqlite") as db:  # someone withdraws BTC at the exchange
            db.execute("UPDATE balances SET quantity = '0.1' WHERE account = 'p' AND asset = 'BTC'")
        before = len(services.ledger.rebalances("p"))
        services.store.update_portfolio("p", next_check_at=services.clock.now() - timedelta(seconds=1))
        runner.run_once()
        row = services.store.portfolio("p")
        assert row is not None and row.paused and "BTC: ledger" in (row.paused_reason or "")
        assert "venue 0.1" in (row.paused_reason or "")
        assert len(services.ledger.rebalances("p")) == before, "nothing planned on wrong holdings"
        alert = services.store.alerts("p", limit=5, kind="circuit_breaker")[0]
        assert "ledger and venue balances differ" in alert["title"]
    finally:
        services.close()


def test_serve_refuses_a_ccxt_portfolio_on_replayed_prices(tmp_path: Path) -> None:
    (tmp_path / "four.yaml").write_text(STRATEGY)
    config = write_config(tmp_path, [{"name": "live", "strategy": "four.yaml", "venue": "ccxt:binance"}])
    r = CliRunner().invoke(app, ["serve", "--config", str(config), "--check"])
    assert r.exit_code == 2, r.output
    assert "market_data.source" in r.output and len(r.output.strip().splitlines()) == 1
