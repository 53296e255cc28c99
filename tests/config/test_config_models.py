"""Allocation models, overlays and adaptive triggers in strategy files: YAML to core objects, and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from trimtab.cli import app
from trimtab.config import load_strategy, preset_names
from trimtab.core.allocation.market_cap import MarketCapIndex
from trimtab.core.allocation.models import InverseVolatility, Static
from trimtab.core.allocation.optimizers import FractionalKelly, MinimumVariance, RiskParity, VolatilityTarget
from trimtab.core.allocation.overlays import CorrelationLimit, DrawdownProtection, GroupCaps, MomentumTilt
from trimtab.core.allocation.targets import ModelTargets
from trimtab.core.triggers.adaptive import CostAware, RegimeAware, VolatilityAdaptive
from trimtab.core.triggers.rules import AllOf, AnyOf, Calendar, Not, ThresholdBand

runner = CliRunner()

MODEL = """\
name: m
quote: usdc
universe: [btc, eth, sol, bnb]
allocation: {model: risk_parity, lookback: 120, min_rows: 30}
trigger: {kind: calendar, every: 1w}
"""
STATIC = """\
name: s
quote: usdc
targets: {btc: 0.6, ETH: 0.3, USDC: 0.1}
trigger: {kind: threshold, band: 0.05}
"""
NEW_PRESETS = [
    "index-top10",
    "risk-parity",
    "inverse-vol",
    "vol-target",
    "min-variance",
    "kelly",
    "volatility-adaptive",
    "regime-aware",
    "cost-aware",
]


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "s.yaml"
    p.write_text(text)
    return p


def test_model_strategy_builds_model_targets_over_its_universe(tmp_path: Path) -> None:
    s = load_strategy(write(tmp_path, MODEL))
    assert isinstance(s.allocation, ModelTargets) and isinstance(s.allocation.model, RiskParity)
    assert s.allocation.model.lookback == 120 and s.allocation.every is not None and s.allocation.every.text == "1w"
    assert s.allocation.universe == ("BTC", "ETH", "SOL", "BNB")
    assert s.universe == ("BTC", "ETH", "SOL", "BNB", "USDC") and dict(s.targets) == {}
    assert not s.universe_from_data


@pytest.mark.parametrize(
    ("block", "cls"),
    [
        ("{model: inverse_vol, max_weight: 0.3}", InverseVolatility),
        ("{model: min_variance, max_weight: 0.4, shrink: identity}", MinimumVariance),
        ("{model: kelly, risk_tolerance: 0.25, max_weight: 0.5}", FractionalKelly),
        ("{model: vol_target, target_vol: 0.4, base: {model: risk_parity}}", VolatilityTarget),
        ("{model: market_cap_index, top_n: 3, max_weight: 0.5, buffer_ranks: 1, phase_in: 2}", MarketCapIndex),
    ],
)
def test_each_model_kind_builds(tmp_path: Path, block: str, cls: type) -> None:
    text = MODEL.replace("{model: risk_parity, lookback: 120, min_rows: 30}", block)
    s = load_strategy(write(tmp_path, text))
    assert isinstance(s.allocation, ModelTargets) and isinstance(s.allocation.model, cls)


def test_overlays_wrap_in_order_and_group_caps_take_symbols_any_case(tmp_path: Path) -> None:
    text = MODEL.replace(
        "min_rows: 30}",
        """min_rows: 30, reestimate: 1M, overlays: [
      {overlay: momentum_tilt, momentum_factor: -0.5},
      {overlay: drawdown_protection, limit: 0.25, cut_fraction: 0.5},
      {overlay: correlation_limit, threshold: 0.8, max_combined: 0.6},
      {overlay: group_caps, groups: {l1: [eth, Sol]}, caps: {l1: 0.4}}]}""",
    )
    s = load_strategy(write(tmp_path, text))
    m = s.allocation.model  # type: ignore[union-attr]
    assert isinstance(m, GroupCaps) and m.groups == {"l1": ("ETH", "SOL")} and m.caps == {"l1": 0.4}
    assert isinstance(m.inner, CorrelationLimit) and isinstance(m.inner.inner, DrawdownProtection)
    assert isinstance(m.inner.inner.inner, MomentumTilt) and m.inner.inner.inner.momentum_factor == -0.5
    assert isinstance(m.inner.inner.inner.inner, RiskParity)
    assert s.allocation.every.months == 1  # type: ignore[union-attr]


def test_market_cap_index_takes_its_universe_from_the_data(tmp_path: Path) -> None:
    text = MODEL.replace("universe: [btc, eth, sol, bnb]\n", "").replace(
        "{model: risk_parity, lookback: 120, min_rows: 30}", "{model: market_cap_index, top_n: 10, exclude: [usdt]}"
    )
    s = load_strategy(write(tmp_path, text))
    assert s.universe_from_data and s.universe == ("USDC",)
    assert s.allocation.model.exclude == ("USDT",)  # type: ignore[union-attr]


def test_static_model_with_overlays_keeps_targets(tmp_path: Path) -> None:
    s = load_strategy(
        write(tmp_path, STATIC + "allocation: {model: static, overlays: [{overlay: drawdown_protection}]}\n")
    )
    assert dict(s.targets) == {"BTC": 0.6, "ETH": 0.3, "USDC": 0.1}
    assert isinstance(s.allocation, ModelTargets) and isinstance(s.allocation.model.inner, Static)  # type: ignore[attr-defined]
    plain = load_strategy(write(tmp_path, STATIC + "allocation: {model: static}\n"))
    assert plain.allocation is None  # nothing to do: the fast path still applies


def test_adaptive_triggers_and_combinators_build(tmp_path: Path) -> None:
    kinds = {
        "{kind: volatility_adaptive, source: btc, thresholds: [0.3, 0.5, 0.8], low: {band: 0.1, every: 1M}}": (
            VolatilityAdaptive
        ),
        "{kind: regime_aware, window: 120, q: 4, momentum_bias: 0.5, trending: {band: 0.12, every: 2M}}": RegimeAware,
        "{kind: cost_aware, aversion: 3, horizon: 30d, asset_cost_bps: {eth: 5}}": CostAware,
        "{kind: all_of, triggers: [{kind: calendar, every: 1w}, {kind: threshold, band: 0.02}]}": AllOf,
        "{kind: not, triggers: [{kind: never}]}": Not,
    }
    for spec, cls in kinds.items():
        s = load_strategy(write(tmp_path, STATIC.replace("{kind: threshold, band: 0.05}", spec)))
        assert isinstance(s.trigger, cls), spec
    va = load_strategy(write(tmp_path, STATIC.replace("{kind: threshold, band: 0.05}", next(iter(kinds))))).trigger
    assert va.source == "BTC" and va.regime.thresholds == (0.3, 0.5, 0.8) and va.rules[0].band == 0.1  # type: ignore[attr-defined]
    ca = load_strategy(
        write(
            tmp_path,
            STATIC.replace("{kind: threshold, band: 0.05}", "{kind: cost_aware, horizon: 30d}")
            + "rebalance_to: band_edge\n",
        )
    ).trigger
    assert isinstance(ca, CostAware) and ca.band_edge and ca.horizon_days == pytest.approx(30.0)


def test_any_of_calendar_threshold_equals_hybrid(tmp_path: Path) -> None:
    hybrid = load_strategy(
        write(tmp_path, STATIC.replace("{kind: threshold, band: 0.05}", "{kind: hybrid, band: 0.05, every: 1M}"))
    )
    any_of = load_strategy(
        write(
            tmp_path,
            STATIC.replace(
                "{kind: threshold, band: 0.05}",
                "{kind: any_of, triggers: [{kind: calendar, every: 1M}, {kind: threshold, band: 0.05}]}",
            ),
        )
    )
    assert isinstance(any_of.trigger, AnyOf) and any_of.trigger == hybrid.trigger
    assert isinstance(any_of.trigger.triggers[0], Calendar) and isinstance(any_of.trigger.triggers[1], ThresholdBand)
    assert any_of.settings.band == 0.05  # the planner reports residuals against the nested band


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        (MODEL.replace("risk_parity", "risk_pariti"), "allocation.model", "Input should be one of 'static'"),
        (MODEL.replace("lookback: 120", "lookback: 120, colour: red"), "allocation.colour", "unknown key"),
        (
            MODEL.replace(
                "{model: risk_parity, lookback: 120, min_rows: 30}", "{model: inverse_vol, max_weight: 0.15}"
            ),
            "allocation",
            "caps cannot be met: 4 assets x max_weight 0.15 = 60% < 100%",
        ),
        (
            MODEL.replace(
                "{model: risk_parity, lookback: 120, min_rows: 30}",
                "{model: market_cap_index, top_n: 5, max_weight: 0.15}",
            ),
            "allocation",
            "caps cannot be met: top_n 5 x max_weight 0.15",
        ),
        (
            MODEL.replace("{model: risk_parity, lookback: 120, min_rows: 30}", "{model: market_cap_index, top_n: 5}"),
            "allocation",
            "universe has 4 eligible assets, fewer than top_n 5",
        ),
        (MODEL.replace("min_rows: 30", "min_rows: 200"), "allocation", "min_rows 200 exceeds lookback 120"),
        (
            MODEL.replace("universe: [btc, eth, sol, bnb]\n", ""),
            "universe",
            "Field required for allocation.model risk_parity",
        ),
        (
            MODEL.replace("universe: [btc, eth, sol, bnb]", "universe: [btc, eth, usdc]"),
            "universe",
            "USDC is the quote asset",
        ),
        (MODEL.replace("universe: [btc, eth, sol, bnb]", "universe: [btc, BTC]"), "universe", "lists BTC twice"),
        (MODEL + "targets: {btc: 1}\n", "targets", "leave targets out"),
        (
            MODEL.replace(
                "min_rows: 30}",
                "min_rows: 30, overlays: [{overlay: group_caps, groups: {l1: [eth, doge]}, caps: {l1: 0.3}}]}",
            ),
            "allocation",
            "group_caps lists DOGE, not in the universe",
        ),
        (
            MODEL.replace(
                "min_rows: 30}",
                "min_rows: 30, overlays: [{overlay: group_caps, groups: {a: [eth], b: [eth]}, caps: {a: 0.3}}]}",
            ),
            "allocation.overlays.0",
            "groups must be disjoint",
        ),
        (
            MODEL.replace("min_rows: 30}", "min_rows: 30, overlays: [{overlay: sideways}]}"),
            "allocation.overlays.0.overlay",
            "Input should be one of",
        ),
        (
            MODEL.replace("min_rows: 30}", "min_rows: 30, reestimate: weekly}"),
            "allocation.reestimate",
            "invalid duration",
        ),
        (
            STATIC.replace("{kind: threshold, band: 0.05}", "{kind: volatility_adaptive, thresholds: [0.4, 0.2, 0.5]}"),
            "trigger.thresholds",
            "must be increasing",
        ),
        (
            STATIC.replace("{kind: threshold, band: 0.05}", "{kind: regime_aware, source: doge}"),
            "trigger.source",
            "DOGE is not in the strategy's targets or universe",
        ),
        (
            STATIC.replace("{kind: threshold, band: 0.05}", "{kind: cost_aware, aversion: 0}"),
            "trigger.aversion",
            "greater than 0",
        ),
        (
            STATIC.replace("{kind: threshold, band: 0.05}", "{kind: any_of, triggers: [{kind: threshold, bandd: 1}]}"),
            "trigger.triggers.0.bandd",
            "unknown key",
        ),
        (
            STATIC.replace("{kind: threshold, band: 0.05}", "{kind: not, triggers: [{kind: never}, {kind: never}]}"),
            "trigger.triggers",
            "at most 1 item",
        ),
        (STATIC + "universe: [btc]\n", "universe", "only used with an allocation model"),
        (STATIC + "backtest: {start: 2019-02-30}\n", "", "invalid YAML"),
        (STATIC + "backtest: {start: soon}\n", "backtest.start", "not a date"),
    ],
)
def test_bad_model_files_give_one_line_naming_the_field(tmp_path: Path, text: str, field: str, message: str) -> None:
    path = write(tmp_path, text)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    line = result.stderr.strip()
    assert "\n" not in line and line.startswith(f"error: {path}: ")
    assert f": {field}" in line if field else True
    assert message in line, line


@pytest.mark.parametrize("name", NEW_PRESETS)
def test_each_new_preset_validates(name: str) -> None:
    assert name in preset_names()
    s = load_strategy(name)
    assert s.window.start == "2019-01-01"
    assert (s.allocation is not None) == (name not in ("volatility-adaptive", "regime-aware", "cost-aware"))
    assert runner.invoke(app, ["validate", name]).exit_code == 0
