"""`trimtab execute` with an `approval:` block: above the thresholds the prompt is the approval (--yes does not give
it: exit 1, nothing written); under them --yes sends as before."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from trimtab.adapters.storage import SqlLedgerStore
from trimtab.cli import app
from trimtab.config import load_strategy_spec

runner = CliRunner()


def _strategy(tmp_path: Path, approval: dict[str, object]) -> Path:
    data = load_strategy_spec("index-fund").model_dump(mode="json", by_alias=True, exclude_none=True)
    path = tmp_path / "gated.yaml"
    path.write_text(yaml.safe_dump({**data, "approval": approval}))
    return path


def test_yes_does_not_approve_a_plan_above_the_thresholds(tmp_path: Path) -> None:
    ledger = tmp_path / "l.sqlite"
    args = ["execute", "-s", str(_strategy(tmp_path, {"max_auto_notional": 100})), "--ledger", str(ledger)]
    r = runner.invoke(app, [*args, "--yes"])
    assert r.exit_code == 1, r.output
    assert "approval needed: notional" in r.output and "above max_auto_notional 100.00 USDC" in r.output
    assert "--yes does not approve" in r.output and not ledger.exists()
    confirmed = runner.invoke(app, args, input="y\n")  # the interactive confirmation is the approval
    assert confirmed.exit_code == 0, confirmed.output
    assert "approval needed" in confirmed.output and SqlLedgerStore(ledger).entries("example")


def test_a_plan_under_the_thresholds_goes_with_yes(tmp_path: Path) -> None:
    ledger = tmp_path / "l.sqlite"
    strategy = _strategy(tmp_path, {"max_auto_notional": 10_000_000, "max_auto_cost": 1_000})
    r = runner.invoke(app, ["execute", "-s", str(strategy), "--ledger", str(ledger), "--yes"])
    assert r.exit_code == 0, r.output
    assert "approval needed" not in r.output and SqlLedgerStore(ledger).entries("example")
