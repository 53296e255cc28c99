"""Backtest semantics on hand-computed cases, properties, and fast/step parity on real data."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trimtab.adapters.bundled import bundled_daily
from trimtab.backtest.fastpath import fast_backtest, kernel_spec
from trimtab.backtest.runner import backtest
from trimtab.backtest.simulator import step_backtest
from trimtab.core.base.history import PriceHistory
from trimtab.core.base.schedule import parse_every
from trimtab.core.costs.model import linear_costs
from trimtab.core.execution.planner import PlanSettings
from trimtab.core.strategy import Strategy
from trimtab.core.triggers.rules import AnyOf, Calendar, Never, ThresholdBand

PATHS = ("fast", "step")


def hist(prices: list[list[float]], assets: tuple[str, ...], step: str = "D") -> PriceHistory:
    t = np.arange(len(prices)).astype(f"timedelta64[{step}]") + np.datetime64("2024-01-01", step)
    return PriceHistory(times=t, assets=assets, prices=np.array(prices, dtype=float))


def strat(
    trigger,
    targets,
    fee_bps=0.0,
    slip_bps=0.0,
    gas=0.0,
    band=None,
    rel=None,
    to="target",
    quote="USDC",
    min_trade: float = 0.0,
) -> Strategy:
    return Strategy(
        "t",
        quote,
        targets,
        trigger,
        linear_costs(fee_bps, slip_bps, gas),
        rebalance_to=to,
        settings=PlanSettings(min_trade=Decimal(repr(min_trade)), band=band, relative_band=rel),
    )


def run(s: Strategy, h: PriceHistory, path: str, v0: float = 1000.0):
    return fast_backtest(s, h, v0) if path == "fast" else step_backtest(s, h, v0)


@pytest.mark.parametrize("path", PATHS)
def test_threshold_two_assets_three_steps_with_ten_percent_fee(path: str) -> None:
    h = hist([[100, 1], [200, 1], [100, 1]], ("A", "USDC"))
    s = strat(ThresholdBand(band=0.1), {"A": 0.5, "USDC": 0.5}, fee_bps=1000, band=0.1)
    r = run(s, h, path)
    # step 0: V' = 1000 - 0.1 * 0.5 V'  ->  V' = 1000 / 1.05
    v0 = 1000 / 1.05
    # step 1: A doubles; w_A = 2/3 > 0.5 + 0.1: sell. V' = V - 0.1 (a - 0.5 V')  ->  V' = (V - 0.1 a) / 0.95
    a1, c1 = v0, v0 / 2
    v1 = (a1 + c1 - 0.1 * a1) / 0.95
    # step 2: A halves; w_A = 1/3: buy. V' = V - 0.1 (0.5 V' - a)  ->  V' = (V + 0.1 a) / 1.05
    a2, c2 = v1 / 4, v1 / 2
    v2 = (a2 + c2 + 0.1 * a2) / 1.05
    assert np.allclose(r.equity, [v0, v1, v2], rtol=1e-12)
    assert r.rebalanced.tolist() == [True, True, True]
    # with no slippage or gas, each step's fee is exactly the value the rebalance lost
    assert np.allclose(r.fee, [1000 - v0, a1 + c1 - v1, a2 + c2 - v2], rtol=1e-12)
    assert np.allclose(r.weights[-1], [0.5, 0.5])


@pytest.mark.parametrize("path", PATHS)
def test_band_not_breached_means_no_trade(path: str) -> None:
    h = hist([[100, 1], [110, 1], [105, 1]], ("A", "USDC"))
    r = run(strat(ThresholdBand(band=0.1), {"A": 0.5, "USDC": 0.5}, fee_bps=10, band=0.1), h, path)
    assert r.rebalanced.tolist() == [True, False, False]
    assert r.fee[1:].sum() == 0


@pytest.mark.parametrize("path", PATHS)
def test_calendar_every_two_days_and_gas_per_order(path: str) -> None:
    h = hist([[100, 50]] * 3 + [[120, 40]] * 2, ("A", "B"))
    s = strat(Calendar(parse_every("2d")), {"A": 0.5, "B": 0.5}, gas=1.0)
    r = run(s, h, path)
    # step 2 is due, but constant prices leave nothing to trade: a rebalance is a firing that trades
    assert np.flatnonzero(r.rebalanced).tolist() == [0, 4]
    assert r.gas[0] == 2.0  # two buys from cash
    assert r.gas[4] == 2.0


@pytest.mark.parametrize("path", PATHS)
def test_band_edge_moves_only_to_edge(path: str) -> None:
    h = hist([[100, 1], [200, 1]], ("A", "USDC"))
    r = run(strat(ThresholdBand(band=0.05), {"A": 0.5, "USDC": 0.5}, band=0.05, to="band_edge"), h, path)
    assert r.rebalanced.tolist() == [True, True]
    assert np.isclose(r.weights[1, 0], 0.55, atol=1e-12)


@pytest.mark.parametrize("path", PATHS)
def test_buy_and_hold_trades_once(path: str) -> None:
    h = hist([[100, 1], [300, 1], [50, 1]], ("A", "USDC"))
    r = run(strat(Never(), {"A": 0.5, "USDC": 0.5}, fee_bps=50), h, path)
    assert r.rebalanced.tolist() == [True, False, False]
    assert r.fee[0] > 0


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0.01, 1000), st.floats(0.01, 1000)), min_size=2, max_size=30),
    st.floats(0, 100),
    st.floats(0, 100),
    st.floats(0.01, 0.5),
)
def test_value_and_costs_never_negative(rows, fee_bps, slip_bps, band) -> None:
    h = hist([list(r) for r in rows], ("A", "B"))
    r = run(strat(ThresholdBand(band=band), {"A": 0.6, "B": 0.4}, fee_bps, slip_bps, band=band), h, "fast")
    assert (r.equity > 0).all()
    assert (r.fee >= 0).all() and (r.slippage >= 0).all() and (r.gas >= 0).all()


@settings(max_examples=20, deadline=None)
@given(st.lists(st.floats(0.01, 1000), min_size=2, max_size=4), st.integers(2, 20))
def test_zero_fee_daily_calendar_on_constant_prices_has_no_turnover_after_start(prices, steps) -> None:
    assets = tuple(f"A{i}" for i in range(len(prices)))
    h = hist([prices] * steps, assets)
    targets = {a: 1 / len(assets) for a in assets}
    for path in PATHS:
        r = run(strat(Calendar(parse_every("1d")), targets), h, path)
        assert r.turnover[1:].sum() == 0


REAL_TRIGGERS = {
    "threshold": (ThresholdBand(band=0.05), 0.05, None, "target"),
    "relative": (ThresholdBand(relative_band=0.25), None, 0.25, "target"),
    "calendar": (Calendar(parse_every("1M")), None, None, "target"),
    "hybrid": (AnyOf((Calendar(parse_every("2w")), ThresholdBand(band=0.05))), 0.05, None, "target"),
    "band_edge": (ThresholdBand(band=0.03), 0.03, None, "band_edge"),
    "buy_and_hold": (Never(), None, None, "target"),
}


@pytest.fixture(scope="module")
def real() -> PriceHistory:
    return bundled_daily(["BTC", "ETH", "SOL", "BNB", "XRP"], start="2020-06-01", quote="USDC")


@pytest.mark.parametrize("min_trade", [0.0, 2000.0])
@pytest.mark.parametrize("name", list(REAL_TRIGGERS))
def test_fast_and_step_paths_agree_on_real_data(real: PriceHistory, name: str, min_trade: float) -> None:
    trig, band, rel, to = REAL_TRIGGERS[name]
    targets = {"BTC": 0.4, "ETH": 0.25, "SOL": 0.1, "BNB": 0.1, "XRP": 0.05, "USDC": 0.1}
    s = strat(trig, targets, fee_bps=10, slip_bps=5, gas=2.0, band=band, rel=rel, to=to, min_trade=min_trade)
    assert kernel_spec(s) is not None
    fast, step = fast_backtest(s, real, 100_000.0), step_backtest(s, real, 100_000.0)
    assert np.array_equal(fast.rebalanced, step.rebalanced)
    assert abs(fast.equity[-1] / step.equity[-1] - 1) < 1e-9
    assert np.allclose(fast.fee, step.fee, rtol=1e-9, atol=1e-9)
    assert fast.rebalanced.sum() > (1 if name != "buy_and_hold" else 0)


def test_auto_path_picks_kernel_and_step_when_needed(real: PriceHistory) -> None:
    s = strat(ThresholdBand(band=0.05), {"BTC": 0.5, "USDC": 0.5}, band=0.05)
    assert backtest(s, real, initial_value=1000).path == "fast"
    odd = dataclasses.replace(s, trigger=AnyOf((ThresholdBand(band=0.05), Never(), Never())))
    assert backtest(odd, real, initial_value=1000).path == "step"


def test_gas_is_priced_at_each_step_from_the_bundled_gas_series(tmp_path) -> None:
    from trimtab.backtest.runner import backtest
    from trimtab.config import load_strategy
    from trimtab.core.base.types import Side

    spec = tmp_path / "gas.yaml"
    spec.write_text(
        "name: g\nquote: USDC\ntargets: {ETH: 0.5, USDC: 0.5}\ntrigger: {kind: threshold, band: 0.05}\n"
        "costs: {fee_bps: 30, slippage_bps: 10, gas: {units: 150000, gwei: bundled}}\n"
    )
    s = load_strategy(spec)
    h = bundled_daily(["ETH"], start="2020-01-01", end="2021-12-31", quote="USDC")
    r = backtest(s, h, initial_value=100_000)
    assert r.path == "step"
    (gas_part,) = [p for p in s.costs.parts if hasattr(p, "at")]
    steps = np.flatnonzero(r.gas > 0)
    assert len(steps) > 5
    for k in steps[:3]:
        when = r.times[k]
        per_order = float(gas_part.at(when).gas("ETH", Side.BUY))  # quote units
        unit = float(h.prices[k, h.index_of("USDC")])
        assert r.gas[k] == pytest.approx(per_order * unit * round(r.gas[k] / (per_order * unit)), rel=1e-9)
    assert r.gas[steps].max() > 5 * r.gas[steps].min()  # 2020 vs the 2021 gas spike: really per day


def test_square_root_impact_calibrated_on_past_volumes_scales_as_size_to_three_halves(tmp_path) -> None:
    from trimtab.backtest.runner import backtest
    from trimtab.cli.backtest import load_history
    from trimtab.config import load_strategy

    spec = tmp_path / "imp.yaml"
    spec.write_text(
        "name: imp\nquote: USDC\ntargets: {BTC: 0.5, ETH: 0.3, USDC: 0.2}\ntrigger: {kind: threshold, band: 0.05}\n"
        "costs: {model: sqrt_impact, fee_bps: 0, sqrt_impact: {calibrate_window: 30, y: 0.8}}\n"
    )
    s = load_strategy(spec)
    h = load_history(s, None, "2021-06-01", "2021-12-31", None)
    assert h.warmup > 30  # two months of rows to calibrate on before the first trade
    small, big = backtest(s, h, initial_value=1e6), backtest(s, h, initial_value=4e6)
    assert small.path == "step" and small.slippage[0] > 0
    assert big.slippage[0] / small.slippage[0] == pytest.approx(4**1.5, rel=0.02)  # cost = Q * Y*sigma*sqrt(Q/V)
