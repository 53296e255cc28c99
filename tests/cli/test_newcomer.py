"""A newcomer's first hour: sensible defaults, nothing accepted silently, output people expect."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from trimtab.cli import app

runner = CliRunner()


def _wide_csv(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    path.write_text("date,BTC,ETH\n" + "".join(f"{d},{b},{e}\n" for d, b, e in rows))
    return path


def test_a_preset_backtests_without_start_from_the_first_date_every_asset_is_priced(tmp_path: Path) -> None:
    out = tmp_path / "m.json"
    result = runner.invoke(app, ["backtest", "-s", "stablecoin-vault", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "window starts 2018-10-05, the first date every asset has a price (USDC lists last)" in result.output
    assert json.loads(out.read_text())["start"].startswith("2018-10-05")


def test_the_default_window_of_a_price_file_starts_when_its_last_asset_lists(tmp_path: Path) -> None:
    prices = _wide_csv(tmp_path / "p.csv", [(f"2024-01-{d:02d}", str(40_000 + d), "" if d < 6 else str(2_000 + d))
                                            for d in range(1, 29)])
    (tmp_path / "s.yaml").write_text("name: s\nquote: USD\ntargets: {BTC: 0.5, ETH: 0.5}\n"
                                     "trigger: {kind: threshold, band: 0.05}\n")
    out = tmp_path / "m.json"
    result = runner.invoke(app, ["backtest", "-s", str(tmp_path / "s.yaml"), "--prices", str(prices), "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "window starts 2024-01-06" in result.output and "(ETH lists last)" in result.output
    assert json.loads(out.read_text())["start"].startswith("2024-01-06")
    early = runner.invoke(app, ["backtest", "-s", str(tmp_path / "s.yaml"), "--prices", str(prices), "--start", "2024-01-02"])
    assert early.exit_code == 2 and "use --start 2024-01-06 or later" in early.output
