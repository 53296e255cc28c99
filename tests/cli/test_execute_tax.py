"""`trimtab execute` with a `tax:` block: the plan is priced from the ledger file's own lots, and tax-aware it
trades only to the band's edge, saying what that avoided (the same pipeline step as backtests and the service)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from typer.testing import CliRunner

from trimtab.adapters.storage import SqlLedgerStore
from trimtab.cli import app

runner = CliRunner()
STRATEGY = """\
name: taxed
quote: USDC
targets: {BTC: 0.5, USDC: 0.5}
trigger: {kind: threshold, band: 0.05}
costs: {fee_bps: 0, slippage_bps: 0}
tax: {rates: {short: 0.3, long: 0.15}, tax_aware: true}
"""


def test_execute_prices_the_sells_from_the_ledger_lots_and_stops_at_the_band_edge(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(STRATEGY)
    (tmp_path / "p.yaml").write_text("holdings: {USDC: '10000'}\n")
    (tmp_path / "p1.csv").write_text("asset,price\nBTC,20000\nUSDC,1\n")
    (tmp_path / "p2.csv").write_text("asset,price\nBTC,40000\nUSDC,1\n")
    ledger = tmp_path / "l.sqlite"
    base = ["execute", "-s", str(tmp_path / "s.yaml"), "-p", str(tmp_path / "p.yaml"), "--ledger", str(ledger)]
    first = runner.invoke(app, [*base, "--prices", str(tmp_path / "p1.csv"), "--force", "--yes"])
    assert first.exit_code == 0, first.output  # 0.25 BTC bought at 20,000: one lot, basis 5,000
    second = runner.invoke(app, [*base, "--prices", str(tmp_path / "p2.csv"), "--yes"])
    assert second.exit_code == 0, second.output
    # BTC doubled: 15,000 with w_BTC 2/3. To target: sell 0.0625 BTC (gain 1,250, tax 375); to the edge (0.55):
    # sell 0.04375 BTC for 1,750 (basis 875): gain 875, tax 262.50, so 112.50 avoided
    text = " ".join(second.output.split())
    assert "band-edge plan realises gains 875.00" in text and "avoided 112.50 tax" in text
    balances = SqlLedgerStore(str(ledger)).balances("p")  # the account is named after the holdings file
    assert balances["BTC"] == Decimal("0.25") - Decimal("0.04375")
