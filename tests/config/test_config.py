"""Every malformed strategy gives one line naming the file and the field, and exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from trimtab.cli import app
from trimtab.config import load_strategy, preset_names
from trimtab.core.triggers.rules import AnyOf, Calendar, Never, ThresholdBand
from trimtab.errors import ConfigError

runner = CliRunner()

GOOD = """\
name: t
quote: usdc
targets: {btc: 0.6, ETH: 0.3, USDC: 0.1}
trigger: {kind: threshold, band: 0.05}
"""


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_good_file_builds_with_case_insensitive_symbols(tmp_path: Path) -> None:
    s = load_strategy(write(tmp_path, GOOD))
    assert dict(s.targets) == {"BTC": 0.6, "ETH": 0.3, "USDC": 0.1}
    assert s.quote == "USDC"
    assert isinstance(s.trigger, ThresholdBand) and s.trigger.band == 0.05


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        (GOOD.replace("0.6", "0.55"), "targets", "weights must sum to 1, got 0.95"),
        (GOOD + "colour: red\n", "colour", "unknown key"),
        (GOOD.replace("band: 0.05", "band: 0.05, bandd: 1"), "trigger.bandd", "unknown key"),
        (GOOD.replace("kind: threshold, band: 0.05", "kind: calendar"), "trigger", "needs every"),
        (GOOD.replace("kind: threshold", "kind: sometimes"), "trigger.kind", "Input should be"),
        (GOOD.replace("band: 0.05", "band: 0.05, every: 3 weeks"), "trigger.every", "invalid duration"),
        (GOOD.replace("btc: 0.6", "btc: -0.1, SOL: 0.7"), "targets.BTC", "greater than or equal to 0"),
        (GOOD.replace("btc: 0.6", "btc: 0.3, BTC: 0.3"), "targets", "BTC twice"),
        (GOOD + "constraints: {max_weight: {BTC: 0.5}}\n", "", "BTC weight 0.6 outside constraints"),
        (GOOD.replace("targets: {btc: 0.6, ETH: 0.3, USDC: 0.1}\n", ""), "targets", "Field required"),
    ],
)
def test_bad_strategy_gives_one_line_with_file_and_field(tmp_path: Path, text: str, field: str, message: str) -> None:
    path = write(tmp_path, text)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert "\n" not in line
    assert line.startswith(f"error: {path}: ")
    assert field in line and message in line


def test_malformed_yaml_names_line(tmp_path: Path) -> None:
    path = write(tmp_path, "name: t\ntargets: {btc: 0.5\n")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {path}: invalid YAML: line")


def test_unknown_preset_lists_presets() -> None:
    result = runner.invoke(app, ["validate", "no-such-preset"])
    assert result.exit_code == 2
    assert "no such file or preset (presets: bitcoin, bitcoin-sleeves, cost-aware, custom" in result.stderr


@pytest.mark.parametrize("name", ["stablecoin-vault", "index-fund", "bitcoin", "ethereum", "custom"])
def test_each_preset_validates_and_builds(name: str) -> None:
    assert name in preset_names()
    s = load_strategy(name)
    assert abs(sum(s.targets.values()) - 1) < 1e-9
    result = runner.invoke(app, ["validate", name])
    assert result.exit_code == 0, result.stderr


def test_presets_carry_their_documented_bands_and_schedules() -> None:
    expect = {
        "stablecoin-vault": (0.10, 7 * 86400),
        "index-fund": (0.05, None),
        "bitcoin": (0.07, 14 * 86400),
        "ethereum": (0.07, 14 * 86400),
    }
    for name, (band, seconds) in expect.items():
        trig = load_strategy(name).trigger
        assert isinstance(trig, AnyOf)
        cal, thr = trig.triggers
        assert isinstance(cal, Calendar) and isinstance(thr, ThresholdBand)
        assert thr.band == band
        if seconds:
            assert cal.every.seconds == seconds
        else:
            assert cal.every.months == 1


def test_trigger_kinds_build(tmp_path: Path) -> None:
    kinds = {
        "kind: never": Never,
        "kind: calendar, every: 30d": Calendar,
        "kind: hybrid, band: 0.05, every: 720h": AnyOf,
        "kind: threshold, relative_band: 0.25": ThresholdBand,
    }
    for spec, cls in kinds.items():
        s = load_strategy(write(tmp_path, GOOD.replace("kind: threshold, band: 0.05", spec)))
        assert isinstance(s.trigger, cls)


def test_init_writes_an_editable_copy(tmp_path: Path) -> None:
    dest = tmp_path / "mine.yaml"
    assert runner.invoke(app, ["init", "custom", "--out", str(dest)]).exit_code == 0
    assert load_strategy(dest).name == "my-strategy"
    again = runner.invoke(app, ["init", "custom", "--out", str(dest)])
    assert again.exit_code == 2 and "already exists" in again.stderr


def test_config_error_message_format() -> None:
    e = ConfigError("weights must sum to 1, got 0.95", source="my.yaml", field="targets")
    assert str(e) == "my.yaml: targets: weights must sum to 1, got 0.95"
