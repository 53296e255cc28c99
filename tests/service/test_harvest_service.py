"""`harvest_losses` in the service: the same pipeline sells the lots 20% under their basis (the reason names each
lot and the tax it saves) and buys none of that asset back within the wait, on the real SQLite database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.service.harness import open_services, write_config

from trimtab.service.replay import SimulatedClock
from trimtab.service.runner import Runner

STRATEGY = """\
name: harvesting
quote: USDC
targets: {BTC: 0.4, ETH: 0.4, USDC: 0.2}
trigger: {kind: threshold, band: 0.05}
costs: {fee_bps: 10, slippage_bps: 5}
tax: {method: hifo, rates: {short: 0.35, long: 0.15}, harvest_losses: {threshold: 0.2, wait: 30d}}
"""


def test_the_service_harvests_losses_and_waits_before_buying_back(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(STRATEGY)
    spec = {"name": "p", "strategy": "s.yaml", "check_every": "1d", "initial_value": 100_000}
    replay = {"source": "replay", "start": "2021-11-01", "speed": 86_400}  # the top, then a 50% fall
    config = write_config(tmp_path, [spec], database_url=str(tmp_path / "svc.db"), market_data=replay)
    start = datetime(2021, 11, 1, tzinfo=UTC)
    clock = SimulatedClock(start)
    services = open_services(config, clock=clock)
    try:
        runner = Runner(services)
        for day in range(120):
            clock.advance_to(start + timedelta(days=day))
            runner.run_once()
        traded = services.store.decisions("p", limit=500, traded_only=True, newest_first=False)
        harvests = [(d, a) for d in traded for a in ("BTC", "ETH") if f"harvest: {a} lot" in d["reason"]]
        assert harvests, [d["reason"][:120] for d in traded]
        first, asset = harvests[0]
        assert "saves" in first["reason"] and "tax at the" in first["reason"]
        wait_ends = first["time"] + timedelta(days=30)
        bought = [
            d["time"]
            for d in traded
            if first["time"] < d["time"] < wait_ends
            for f in (d["report"] or {}).get("fills", [])
            if f["asset"] == asset and f["side"] == "buy"
        ]
        assert bought == [], f"{asset} bought back within the wait on {bought}"
    finally:
        services.close()
