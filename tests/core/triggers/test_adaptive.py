"""Adaptive triggers: each rule on synthetic data, the reasons they give, and no look-ahead."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trimtab.core.base.history import PriceHistory
from trimtab.core.measures.estimators import ewma_vol, simple_returns
from trimtab.core.measures.regimes import TrendRegime
from trimtab.core.triggers.adaptive import CostAware, RegimeAware, VolatilityAdaptive, rule
from trimtab.core.triggers.rules import AnyOf, DecisionContext

T0 = datetime(2022, 1, 1, tzinfo=UTC)


def history(returns: np.ndarray, assets: tuple[str, ...]) -> PriceHistory:
    r = np.atleast_2d(returns.T).T if returns.ndim == 1 else returns
    prices = 100 * np.vstack([np.ones(r.shape[1]), np.cumprod(1 + r, axis=0)])
    times = np.datetime64("2022-01-01") + np.arange(len(prices)).astype("timedelta64[D]")
    return PriceHistory(times=times, assets=assets, prices=prices)


def ctx(
    h: PriceHistory, weights: dict[str, float], targets: dict[str, float], *, due: bool = True, **kw: object
) -> DecisionContext:
    """Context at the last row; `due` puts the previous check a month back so every period is due."""
    now = T0 + timedelta(days=len(h) - 1)
    prev = now - (timedelta(days=40) if due else timedelta(hours=1))
    return DecisionContext(time=now, weights=weights, targets=targets, anchor=T0, previous=prev, history=h, **kw)  # type: ignore[arg-type]


def gbm(rng: np.random.Generator, n: int, annual_vol: float, k: int = 1) -> np.ndarray:
    return rng.normal(0, annual_vol / math.sqrt(365), (n, k))


TARGETS = {"A": 0.5, "USDC": 0.5}


@pytest.mark.parametrize(
    ("vol", "label", "band"),
    [(0.08, "low", 0.15), (0.20, "medium", 0.25), (0.33, "high", 0.40), (0.90, "extreme", 0.60)],
)
def test_volatility_adaptive_picks_band_from_regime(vol: float, label: str, band: float) -> None:
    rng = np.random.default_rng(1)
    # the target mix is half cash, so its volatility is half the asset's
    h = history(gbm(rng, 200, 2 * vol), ("A",))
    trig = VolatilityAdaptive()
    name, measured, r = trig.regime_now(ctx(h, TARGETS, TARGETS))
    assert name == label and r.band == band
    assert abs(measured - vol) < 0.3 * vol
    inside = {"A": 0.5 * (1 + 0.9 * band), "USDC": 0.5 * (1 - 0.9 * band)}
    outside = {"A": 0.5 * (1 + 1.1 * band), "USDC": 0.5 * (1 - 1.1 * band)}
    held = trig.check(ctx(h, inside, TARGETS))
    fired = trig.check(ctx(h, outside, TARGETS))
    assert not held.fired and fired.fired
    assert f"({label})" in fired.reason and "beyond band" in fired.reason and "within band" in held.reason


def test_volatility_adaptive_checks_only_when_its_period_is_due() -> None:
    rng = np.random.default_rng(2)
    h = history(gbm(rng, 200, 0.16), ("A",))  # mix vol ~8%: low regime, monthly checks
    far = {"A": 0.9, "USDC": 0.1}
    trig = VolatilityAdaptive()
    res = trig.check(ctx(h, far, TARGETS, due=False))
    assert not res.fired and "check not due" in res.reason and "every 1M" in res.reason
    assert trig.check(ctx(h, far, TARGETS, due=True)).fired


def test_volatility_adaptive_on_a_benchmark_asset_and_unknown_history() -> None:
    rng = np.random.default_rng(3)
    r = np.hstack([gbm(rng, 100, 0.05), gbm(rng, 100, 1.5)])
    h = history(r, ("A", "BTC"))
    targets = {"A": 0.9, "BTC": 0.1}
    assert VolatilityAdaptive(source="btc").regime_now(ctx(h, targets, targets))[0] == "extreme"
    assert VolatilityAdaptive().regime_now(ctx(h, targets, targets))[0] == "low"
    short = history(r[:10], ("A", "BTC"))
    name, vol, rr = VolatilityAdaptive().regime_now(ctx(short, targets, targets))
    assert name == "unknown" and math.isnan(vol) and rr.band == 0.60  # the widest rule


def ar1(rng: np.random.Generator, n: int, phi: float) -> np.ndarray:
    e = rng.normal(0, 0.02, n)
    out = np.zeros(n)
    for t in range(1, n):
        out[t] = phi * out[t - 1] + e[t]
    return out


@pytest.mark.parametrize(
    ("phi", "label", "band"), [(-0.4, "mean_reverting", 0.03), (0.4, "trending", 0.10), (0.0, "random_walk", 0.05)]
)
def test_regime_aware_band_follows_variance_ratio(phi: float, label: str, band: float) -> None:
    rng = np.random.default_rng(4)
    h = history(ar1(rng, 400, phi), ("A",))
    targets = {"A": 1.0}
    trig = RegimeAware(TrendRegime(window=360, q=5))
    name, ratio = trig.regime_now(ctx(h, targets, targets))
    assert name == label
    assert (ratio < 1) if phi < 0 else (ratio > 1) if phi > 0 else True
    w_in = {"A": 0.5 - 0.9 * band, "USDC": 0.5 + 0.9 * band}
    w_out = {"A": 0.5 - 1.1 * band, "USDC": 0.5 + 1.1 * band}
    half = {"A": 0.5, "USDC": 0.5}
    assert not trig.check(ctx(h, w_in, half)).fired
    res = trig.check(ctx(h, w_out, half))
    assert res.fired and f"({label})" in res.reason and f"band {band:.0%}" in res.reason


def test_regime_aware_momentum_bias_widens_the_band_of_a_trending_winner() -> None:
    rng = np.random.default_rng(5)
    up = ar1(rng, 400, 0.4) + 0.01  # trending and rising
    flat = rng.normal(0, 0.001, 400)
    h = history(np.column_stack([up, flat]), ("A", "B"))
    targets = {"A": 0.5, "B": 0.5}
    weights = {"A": 0.62, "B": 0.38}  # A overweight after outperforming: 12pp over a 10pp trending band
    plain = RegimeAware(TrendRegime(window=360), source="A")
    biased = RegimeAware(TrendRegime(window=360), source="A", momentum_bias=0.5)
    assert plain.regime_now(ctx(h, weights, targets))[0] == "trending"
    assert plain.check(ctx(h, weights, targets)).fired
    res = biased.check(ctx(h, weights, targets))
    assert not res.fired and "momentum bias 0.5" in res.reason


def test_cost_aware_band_is_the_documented_formula() -> None:
    rng = np.random.default_rng(6)
    h = history(gbm(rng, 120, 0.8), ("A",))
    targets = {"A": 0.6, "USDC": 0.4}
    c, gamma = 0.0015, 2.0
    trig = CostAware(aversion=gamma, lookback=90, halflife=30)
    est = trig.estimate(ctx(h, targets, targets, costs_rate=c, quote="USDC"))
    rets = simple_returns(h.prices[-91:])[:, 0]
    rel = rets - 0.6 * rets  # asset minus the target mix (cash earns 0)
    sigma = float(ewma_vol(rel[:, None], 30)[0]) * math.sqrt(365)
    s = 0.6 * sigma  # = w (1 - w) sigma_asset for one asset against cash
    assert est.bands["A"] == pytest.approx((1.5 * c * s * s / gamma) ** (1 / 3), rel=1e-9)
    assert "USDC" not in est.bands  # the quote has no band of its own


def test_cost_aware_bands_widen_with_cost_volatility_and_gas() -> None:
    rng = np.random.default_rng(7)
    h = history(np.hstack([gbm(rng, 120, 0.4), gbm(rng, 120, 1.2)]), ("LOW", "HIGH"))
    targets = {"LOW": 0.45, "HIGH": 0.45, "USDC": 0.1}
    trig = CostAware()
    base = trig.estimate(ctx(h, targets, targets, costs_rate=0.001, quote="USDC"))
    dear = trig.estimate(ctx(h, targets, targets, costs_rate=0.004, quote="USDC"))
    gas = trig.estimate(ctx(h, targets, targets, costs_rate=0.001, gas_per_order=20.0, value=10_000.0, quote="USDC"))
    assert base.bands["HIGH"] > base.bands["LOW"]
    assert all(dear.bands[a] > base.bands[a] and gas.bands[a] > base.bands[a] for a in ("LOW", "HIGH"))
    assert dear.bands["HIGH"] == pytest.approx(base.bands["HIGH"] * 4 ** (1 / 3), rel=1e-9)  # the c^(1/3) law


def test_cost_aware_records_benefit_and_cost_and_holds_when_cost_wins() -> None:
    rng = np.random.default_rng(8)
    h = history(gbm(rng, 120, 0.8), ("A",))
    targets = {"A": 0.6, "USDC": 0.4}
    trig = CostAware(aversion=1.0)
    band = trig.estimate(ctx(h, targets, targets, costs_rate=0.0015, quote="USDC")).bands["A"]
    far = {"A": 0.6 + 3 * band, "USDC": 0.4 - 3 * band}
    c = ctx(h, far, targets, costs_rate=0.0015, quote="USDC")
    res = trig.check(c)
    benefit, cost = trig.benefit_and_cost(c, trig.estimate(c))
    assert res.fired and benefit > cost
    assert f"benefit {benefit * 1e4:.1f} bps > cost {cost * 1e4:.1f} bps" in res.reason
    # just past the band the benefit over the band-crossing horizon is ~3/4 of the cost: hold, and say so
    near = {"A": 0.6 + 1.05 * band, "USDC": 0.4 - 1.05 * band}
    held = trig.check(ctx(h, near, targets, costs_rate=0.0015, quote="USDC"))
    assert not held.fired and "<= cost" in held.reason and held.reason.endswith(": hold")
    assert CostAware(benefit_test=False).check(ctx(h, near, targets, costs_rate=0.0015, quote="USDC")).fired


def test_cost_aware_without_history_uses_the_fallback_band() -> None:
    h = history(np.zeros((3, 1)), ("A",))
    targets = {"A": 0.5, "USDC": 0.5}
    trig = CostAware(fallback_band=0.07)
    est = trig.estimate(ctx(h, targets, targets, costs_rate=0.001, quote="USDC"))
    assert est.bands == {"A": 0.07} and "fallback band 7.0%" in est.notes[0]
    assert trig.check(ctx(h, {"A": 0.58, "USDC": 0.42}, targets, costs_rate=0.001, quote="USDC")).fired


@settings(max_examples=40, deadline=None)
@given(st.floats(0.0001, 0.02), st.floats(0.01, 100.0), st.floats(0.05, 0.95))
def test_cost_aware_bands_stay_in_their_limits(c: float, gamma: float, w: float) -> None:
    rng = np.random.default_rng(9)
    h = history(gbm(rng, 60, 0.7), ("A",))
    targets = {"A": w, "USDC": 1 - w}
    trig = CostAware(aversion=gamma, min_band=0.002, max_band=0.3)
    b = trig.estimate(ctx(h, targets, targets, costs_rate=c, quote="USDC")).bands["A"]
    assert 0.002 <= b <= 0.3


@pytest.mark.parametrize(
    "trig",
    [
        VolatilityAdaptive(),
        RegimeAware(TrendRegime(window=60)),
        CostAware(),
        AnyOf((VolatilityAdaptive(source="A"), CostAware())),
    ],
)
def test_garbage_future_rows_do_not_change_the_decision(trig: object) -> None:
    rng = np.random.default_rng(10)
    r = np.hstack([gbm(rng, 150, 0.7), gbm(rng, 150, 0.9)])
    h = history(r, ("A", "B"))
    garbage = np.vstack([h.prices, rng.uniform(1e-3, 1e6, (30, 2))])
    times = np.datetime64("2022-01-01") + np.arange(len(garbage)).astype("timedelta64[D]")
    hg = PriceHistory(times=times, assets=("A", "B"), prices=garbage)
    targets = {"A": 0.45, "B": 0.45, "USDC": 0.1}
    weights = {"A": 0.52, "B": 0.38, "USDC": 0.1}
    for t in (40, 90, 150):
        a = trig.check(ctx(h.upto(t), weights, targets, costs_rate=0.0015, quote="USDC"))  # type: ignore[attr-defined]
        b = trig.check(ctx(hg.upto(t), weights, targets, costs_rate=0.0015, quote="USDC"))  # type: ignore[attr-defined]
        assert a == b


def test_regime_rules_reject_bad_bands() -> None:
    with pytest.raises(ValueError, match="band"):
        rule(0.0, "1w")
    with pytest.raises(ValueError, match="4 regime rules"):
        VolatilityAdaptive(rules=(rule(0.1, "1w"),))  # type: ignore[arg-type]
