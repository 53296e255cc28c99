"""The `sleeves:` block: derived targets, the split's trigger, and one line naming the field for each mistake."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from trimtab.cli import app
from trimtab.config import load_strategy
from trimtab.core.sleeves import SleeveSplit
from trimtab.core.triggers.rules import Calendar, ThresholdBand

runner = CliRunner()

GOOD = """\
name: two
quote: USDC
sleeves:
  core: {weight: 0.6, targets: {btc: 0.8, USDC: 0.2}, trigger: {kind: calendar, every: 1M}}
  alts: {weight: 0.4, targets: {ETH: 0.5, SOL: 0.5}, trigger: {kind: threshold, band: 0.1}}
trigger: {kind: threshold, band: 0.05}
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "s.yaml"
    p.write_text(text)
    return p


def test_targets_are_weight_times_sleeve_target_and_the_trigger_is_the_split(tmp_path: Path) -> None:
    s = load_strategy(write(tmp_path, GOOD))
    assert dict(s.targets) == pytest.approx({"BTC": 0.48, "USDC": 0.12, "ETH": 0.2, "SOL": 0.2})
    assert isinstance(s.trigger, SleeveSplit) and s.trigger.names == ("core", "alts")
    assert s.trigger.sleeves[0].assets == ("BTC", "USDC") and isinstance(s.trigger.sleeves[0].trigger, Calendar)
    assert isinstance(s.trigger.split, ThresholdBand) and s.trigger.split.band == 0.05


def test_the_shipped_preset_builds_four_sleeves() -> None:
    s = load_strategy("bitcoin-sleeves")
    assert isinstance(s.trigger, SleeveSplit)
    assert s.trigger.names == ("native", "wrapped", "derivatives", "infrastructure")
    assert sum(s.targets.values()) == pytest.approx(1.0)
    assert s.targets["WBTC"] == pytest.approx(0.3) and s.targets["USDC"] == pytest.approx(0.15)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("weight: 0.6", "weight: 0.5", "sleeves: weights must sum to 1, got 0.9"),
        ("weight: 0.6", "weight: 0", "sleeves.core.weight: Input should be greater than 0"),
        ("btc: 0.8", "btc: 0.7", "sleeves.core.targets: weights inside the sleeve must sum to 1, got 0.9"),
        ("ETH: 0.5", "BTC: 0.5", "sleeves.alts.targets: BTC is already in sleeve core (a sleeve's assets are its own)"),
        ("ETH: 0.5", "usdc: 0.5", "sleeves.alts.targets: USDC is already in sleeve core (one sleeve holds the quote"),
        ("core:", "core sleeve:", "sleeves.core sleeve: a sleeve name is up to 40 letters, digits, _ or -"),
        ("every: 1M}", "every: 1M}, colour: red", "sleeves.core.colour: unknown key"),
        ("kind: calendar, every: 1M", "kind: calendar", "sleeves.core.trigger: kind calendar needs every"),
        ("kind: calendar", "kind: sometimes", "sleeves.core.trigger.kind: Input should be"),
        ("trigger: {kind: threshold, band: 0.05}", "trigger: {kind: volatility_adaptive}", "trigger.kind: the split"),
        ("quote: USDC", "quote: USDC\ntargets: {BTC: 1}", "targets: leave targets out beside sleeves"),
        ("quote: USDC", "quote: USDC\nrebalance_to: band_edge", "rebalance_to: sleeves rebalance to target"),
        ("quote: USDC", "quote: USDC\nuniverse: [BTC]", "universe: not with sleeves"),
        ("quote: USDC", "quote: USDC\nconstraints: {cash_buffer: 0.1}", "constraints.cash_buffer: not with sleeves"),
        ("sleeves:\n", "sleeves: {}\nx:\n", "sleeves: Dictionary should have at least 1 item"),
        ("quote: USDC", "quote: USDC\napproval: {max_auto_notional: 1000}", "approval: not with sleeves yet"),
        (
            "{kind: threshold, band: 0.1}",
            "{kind: volatility_adaptive, source: DOGE}",
            "sleeves.alts.trigger.source: DOGE is not in any sleeve's targets",
        ),
    ],
)
def test_a_bad_sleeve_gives_one_line_naming_the_field(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    line = result.stderr.strip()
    assert "\n" not in line and line.startswith(f"error: {path}: ")
    assert message in line, line


def test_validate_names_each_sleeve_and_checks_its_prices(tmp_path: Path) -> None:
    ok = runner.invoke(app, ["validate", str(write(tmp_path, GOOD))])
    assert ok.exit_code == 0 and "sleeve core 60.00% (BTC 80.00%, USDC 20.00%; calendar)" in ok.output
    bad = runner.invoke(app, ["validate", str(write(tmp_path, GOOD.replace("SOL", "NOPE")))])
    assert bad.exit_code == 2 and "sleeves.alts.targets.NOPE: no price for NOPE in the bundled data" in bad.stderr
