"""`trimtab execute` runs a sleeve strategy through the one pipeline: only the sleeve that fired trades."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from typer.testing import CliRunner

from trimtab.adapters.storage import SqlLedgerStore
from trimtab.cli import app

STRATEGY = """\
name: two-sleeves
quote: USDC
sleeves:
  core: {weight: 0.6, targets: {BTC: 0.5, ETH: 0.5}, trigger: {kind: threshold, band: 0.05}}
  cash: {weight: 0.4, targets: {SOL: 0.5, USDC: 0.5}, trigger: {kind: threshold, band: 0.10}}
trigger: {kind: never}
"""
# at the bundled 2024-06-30 closes: core = BTC ~6,090 + ETH ~10,120 (38/62 inside: beyond 5pp), cash = SOL ~4,200
# + USDC 4,000 (51/49 inside: within 10pp)
HOLDINGS = 'holdings: {BTC: "0.1", ETH: "3", SOL: "30", USDC: "4000"}\n'


def test_execute_trades_only_the_sleeve_that_fired(tmp_path: Path) -> None:
    strategy, holdings, ledger = tmp_path / "s.yaml", tmp_path / "h.yaml", tmp_path / "l.sqlite"
    strategy.write_text(STRATEGY)
    holdings.write_text(HOLDINGS)
    args = ["-s", str(strategy), "-p", str(holdings)]
    res = CliRunner().invoke(app, ["execute", *args, "--ledger", str(ledger), "--account", "a", "--yes"])
    assert res.exit_code == 0, res.output
    assert "sleeve core: ETH drift" in res.output and "sleeve cash" not in res.output
    bal = SqlLedgerStore(str(ledger)).balances("a")
    assert bal["SOL"] == Decimal(30) and abs(bal["USDC"] - 4000) < Decimal("0.01")
    assert bal["BTC"] > Decimal("0.1") and bal["ETH"] < Decimal(3)
