"""The `tax:` block in the service: the same pipeline prices each fired plan from the portfolio's own tax lots (its
ledger) and, tax-aware, sends the band-edge plan when it pays less tax, with the reason stating it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.service.harness import open_services, write_config

from trimtab.service.replay import SimulatedClock
from trimtab.service.runner import Runner

STRATEGY = """\
name: taxed
quote: USDC
targets: {BTC: 0.4, ETH: 0.4, USDC: 0.2}
trigger: {kind: threshold, band: 0.05}
costs: {fee_bps: 10, slippage_bps: 5}
tax: {method: hifo, rates: {short: 0.35, long: 0.15}, tax_aware: true}
"""


def test_a_tax_aware_portfolio_trades_to_the_band_edge_and_says_what_it_avoided(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(STRATEGY)
    spec = {"name": "p", "strategy": "s.yaml", "check_every": "1d", "initial_value": 100_000}
    replay = {"source": "replay", "start": "2020-10-01", "speed": 86_400}
    config = write_config(tmp_path, [spec], database_url=str(tmp_path / "svc.db"), market_data=replay)
    start = datetime(2020, 10, 1, tzinfo=UTC)  # BTC and ETH ran away from their targets that autumn
    clock = SimulatedClock(start)
    services = open_services(config, clock=clock)
    try:
        runner = Runner(services)
        for day in range(90):
            clock.advance_to(start + timedelta(days=day))
            runner.run_once()
        traded = services.store.decisions("p", limit=200, traded_only=True, newest_first=False)
        later = [d for d in traded if d["kind"] != "initial"]
        assert later and all("tax: " in d["reason"] for d in later)
        edge = [d for d in later if "band-edge plan realises" in d["reason"]]
        assert edge, [d["reason"] for d in later]
        for d in edge:  # at the band's edge afterwards, not back at target: only as far as the band requires
            w = d["weights"]
            drift = max(abs(w.get(a, 0.0) - t) for a, t in {"BTC": 0.4, "ETH": 0.4, "USDC": 0.2}.items())
            assert drift == pytest.approx(0.05, abs=2e-3)
    finally:
        services.close()
