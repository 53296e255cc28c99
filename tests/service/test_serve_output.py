"""What `trimtab serve` tells its operator: one line per cycle that traded, a line on shutdown, and service time
(simulated when replaying) on alerts, audit entries and controls."""

from __future__ import annotations

import signal
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from tests.service.harness import open_services, serve_process, write_config

from trimtab.service.commands import pause
from trimtab.service.runner import Runner

STRATEGY = """
name: busy
quote: USDC
targets: {BTC: 0.5, ETH: 0.3, USDC: 0.2}
trigger: {kind: threshold, band: 0.01}
costs: {fee_bps: 10, slippage_bps: 5}
"""


def _config(tmp_path: Path) -> Path:
    (tmp_path / "busy.yaml").write_text(STRATEGY)
    return write_config(
        tmp_path,
        [{"name": "busy", "strategy": "busy.yaml", "check_every": "1d", "initial_value": 10_000}],
        database_url="svc.db",
        market_data={"source": "replay", "start": "2022-01-01", "speed": 20 * 86_400},
    )


@pytest.mark.slow
def test_serve_prints_a_line_per_trading_cycle_and_one_on_shutdown(tmp_path: Path) -> None:
    config = _config(tmp_path)
    proc = serve_process(config)
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while sum("rebalance" in ln for ln in lines) < 3 and time.monotonic() < deadline:
            lines.append(proc.stdout.readline())
        proc.send_signal(signal.SIGTERM)
        rest, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    lines += rest.splitlines()
    assert proc.returncode == 0, err
    trades = [ln for ln in lines if " busy: " in ln and "rebalance" in ln]
    assert len(trades) >= 3, lines
    first = trades[0].split()
    when = datetime.strptime(f"{first[0]} {first[1]}", "%Y-%m-%d %H:%MZ")
    assert datetime(2022, 1, 1) <= when < datetime(2023, 1, 1), "the cycle's service (replay) time, not the wall"
    assert "order(s)" in trades[0] and "fill(s)" in trades[0] and "cost " in trades[0] and "USDC" in trades[0]
    assert any(ln.startswith("trimtab service stopped after ") and "cycle(s)" in ln for ln in lines), lines


def test_alerts_audit_and_controls_carry_service_time_when_replaying(tmp_path: Path) -> None:
    services = open_services(_config(tmp_path))
    try:
        Runner(services).run_once()
        pause(services, "busy", actor="admin", reason="checking the times")
        now = services.clock.now()
        assert now < datetime(2023, 1, 1, tzinfo=now.tzinfo), "the replay clock runs in 2022"
        alerts = services.store.alerts("busy", limit=10)
        audit = services.store.audit_log("busy")
        assert alerts and audit
        for row in [*alerts, *audit]:
            stamp = row["created_at"]
            stamp = stamp if stamp.tzinfo else stamp.replace(tzinfo=now.tzinfo)
            assert abs(stamp - now) < timedelta(days=30), row
    finally:
        services.close()


def test_remote_status_shows_the_last_decision_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.service.harness import RunningService
    from typer.testing import CliRunner

    from trimtab.cli import app

    services = open_services(_config(tmp_path))
    runner = Runner(services)
    for _ in range(20):  # until a decision's reason is longer than the 60 characters the listing used to show
        time.sleep(0.1)  # two days of replay: prices move
        services.store.update_portfolio("busy", next_check_at=services.clock.now() - timedelta(seconds=1))
        runner.run_once()
        last = services.store.decisions("busy", limit=1)[0]
        if len(last["reason"]) > 60:
            break
    assert len(last["reason"]) > 60, last
    svc = RunningService(services, scheduler=False)
    try:
        monkeypatch.setenv("TRIMTAB_API_TOKEN", "read-token-0123456789abcdef")
        monkeypatch.setenv("COLUMNS", "400")
        one = CliRunner().invoke(app, ["remote", "status", "busy", "--server", svc.url])
        assert one.exit_code == 0, one.output
        assert "last decision: " in one.output and last["reason"] in " ".join(one.output.split())
        listing = CliRunner().invoke(app, ["remote", "status", "--server", svc.url])
        assert listing.exit_code == 0 and last["reason"] in " ".join(listing.output.replace("│", " ").split())
    finally:
        svc.stop()
        services.close()
