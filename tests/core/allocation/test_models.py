"""Allocation models: invariants for every model (properties), no look-ahead, hand cases, real data."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import trimtab
from trimtab.core.allocation.market_cap import MarketCapIndex
from trimtab.core.allocation.models import (
    AllocationInput,
    AllocationModel,
    AllocationResult,
    EqualWeight,
    InverseVolatility,
    Static,
    finalise,
    water_fill,
)
from trimtab.core.allocation.optimizers import (
    FractionalKelly,
    MinimumVariance,
    RiskParity,
    VolatilityTarget,
    erc_weights,
    min_variance_weights,
    project_capped_simplex,
    risk_contributions,
)
from trimtab.core.allocation.overlays import CorrelationLimit, DrawdownProtection, GroupCaps, MomentumTilt
from trimtab.core.base.history import PriceHistory
from trimtab.core.measures.estimators import sample_cov, simple_returns

QUOTE = "USDC"
DAY = np.timedelta64(1, "D")


# ---------- helpers ----------------------------------------------------------------------------


def make_history(prices: np.ndarray, assets: tuple[str, ...], caps: np.ndarray | None = None) -> PriceHistory:
    times = np.datetime64("2021-01-01", "ns") + np.arange(len(prices)) * DAY
    return PriceHistory(times=times, assets=assets, prices=prices, market_caps=caps)


@functools.cache
def real_history(assets: tuple[str, ...], start: str, end: str) -> PriceHistory:
    """Bundled CoinGecko daily data (pandas in tests only), gaps kept as NaN rows."""
    import pandas as pd

    here = Path(trimtab.__file__).parent / "data" / "daily_prices_usd.csv.gz"
    path = here if here.exists() else Path("/work/shared/data/daily_prices_usd.csv.gz")
    df = pd.read_csv(path, parse_dates=["date"])
    df = df[df["asset"].isin([a.lower() for a in assets])]
    days = pd.date_range(start, end, freq="D")
    cols = [a.lower() for a in assets]
    px = df.pivot(index="date", columns="asset", values="price_usd").reindex(index=days, columns=cols)
    mc = df.pivot(index="date", columns="asset", values="market_cap_usd").reindex(index=days, columns=cols)
    return PriceHistory(
        times=days.values.astype("datetime64[ns]"),
        assets=assets,
        prices=px.to_numpy(dtype=float),
        market_caps=mc.to_numpy(dtype=float),
        source="daily_prices_usd.csv.gz",
    )


MAJORS = ("BTC", "ETH", "BNB", "XRP", "ADA", "DOGE", "LTC", "LINK", "TRX", "EOS")


def real_input(t: str = "2021-06-30", universe: tuple[str, ...] = MAJORS, **kw: Any) -> AllocationInput:
    h = real_history(MAJORS, "2019-01-01", "2023-11-30")
    i = int(np.searchsorted(h.times, np.datetime64(t, "ns")))
    return AllocationInput(history=h.upto(i), universe=universe, quote=QUOTE, **kw)


def assert_valid(res: AllocationResult, max_weight: float = 1.0) -> None:
    w = np.array(list(res.weights.values()))
    assert np.all(np.isfinite(w)) and np.all(w >= 0)
    assert abs(w.sum() - 1.0) <= 1e-9
    risky = [v for a, v in res.weights.items() if a != QUOTE]
    assert all(v <= max_weight + 1e-9 for v in risky)


# ---------- properties over random histories -------------------------------------------------------


@st.composite
def random_inputs(draw: st.DrawFn) -> AllocationInput:
    seed = draw(st.integers(0, 2**32 - 1))
    t = draw(st.integers(1, 90))
    n = draw(st.integers(1, 6))
    rng = np.random.default_rng(seed)
    vols = rng.uniform(0.0, 0.15, size=n)
    r = rng.normal(0.0, 1.0, size=(t, n)) * vols
    if n > 1 and draw(st.booleans()):
        r[:, 1] = r[:, 0]  # a duplicated asset: singular covariance
    prices = 50.0 * np.exp(np.cumsum(r, axis=0))
    for j in range(n):
        start = draw(st.integers(0, t))  # listing date: NaN before
        prices[:start, j] = np.nan
    if draw(st.booleans()):
        prices[-1, draw(st.integers(0, n - 1))] = np.nan  # a gap at the decision time
    caps = prices * rng.uniform(1e6, 1e9, size=n)
    assets = tuple(f"A{j}" for j in range(n))
    current = {a: float(v) for a, v in zip(assets, rng.dirichlet(np.ones(n)) * rng.integers(0, 2, size=n), strict=True)}
    equity = 1000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.05, size=t)))
    return AllocationInput(make_history(prices, assets, caps), assets, QUOTE, equity=equity, current=current)


RP = RiskParity(lookback=60, min_rows=10)
MODELS: list[tuple[AllocationModel, float]] = [
    (EqualWeight(max_weight=0.4), 0.4),
    (InverseVolatility(lookback=30, min_rows=10, max_weight=0.5), 0.5),
    (InverseVolatility(lookback=30, halflife=5, min_rows=10), 1.0),
    (RP, 1.0),
    (RiskParity(lookback=60, halflife=10, min_rows=10), 1.0),
    (MinimumVariance(lookback=60, min_rows=10, max_weight=0.35), 0.35),
    (MinimumVariance(lookback=60, min_rows=10, shrink=None), 1.0),
    (FractionalKelly(lookback=60, min_rows=10, max_weight=0.3), 0.3),
    (VolatilityTarget(0.3, RP, lookback=30, min_rows=10), 1.0),
    (MarketCapIndex(top_n=3, max_weight=0.4, min_weight=0.05, buffer_ranks=1, phase_in=3, staleness_days=10), 0.4),
    (MarketCapIndex(top_n=2, weighting="sqrt_cap", max_weight=0.6), 0.6),
    (MomentumTilt(RP, 0.8, lookback=20, max_weight=0.6), 1.0),
    (DrawdownProtection(InverseVolatility(lookback=30, min_rows=10, max_weight=0.5), 0.1, 0.5, 0.1, 0.3), 0.5),
    (CorrelationLimit(EqualWeight(), 0.5, 0.4, lookback=30, min_rows=10), 1.0),
    (GroupCaps(MinimumVariance(lookback=60, min_rows=10), {"g": ("A0", "A1")}, {"g": 0.3}), 1.0),
    (Static({"A0": 0.7, QUOTE: 0.3}), 1.0),
]


def rows_needed(model: Any) -> int:
    """How many trailing rows a model reads (daily history)."""
    if isinstance(model, MarketCapIndex):
        return int(model.staleness_days) + 1
    own = getattr(model, "lookback", 0) + 1
    inner = [getattr(model, k) for k in ("inner", "base") if hasattr(model, k)]
    return max([own, *(rows_needed(m) for m in inner)])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inp=random_inputs())
def test_every_model_returns_valid_capped_weights(inp: AllocationInput) -> None:
    for model, cap in MODELS:
        res = model.weights(inp)
        assert_valid(res, cap)
        if isinstance(model, GroupCaps):
            assert res.weights.get("A0", 0.0) + res.weights.get("A1", 0.0) <= 0.3 + 1e-9


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inp=random_inputs(), data=st.data())
def test_no_model_reads_past_the_decision_time(inp: AllocationInput, data: st.DataObject) -> None:
    h = inp.history
    t = data.draw(st.integers(0, len(h) - 1))
    garbage = np.array([np.nan, 1e300, -5.0, 0.0])[np.arange(6) % 4]
    future = np.repeat(garbage[:, None], len(h.assets), axis=1)
    times = np.concatenate([h.times, h.times[-1] + np.arange(1, 7) * DAY])
    assert h.market_caps is not None
    polluted = PriceHistory(times, h.assets, np.vstack([h.prices, future]), np.vstack([h.market_caps, future]))
    eq = None if inp.equity is None else inp.equity[: t + 1]
    for model, _ in MODELS:
        clean = model.weights(AllocationInput(h.upto(t), inp.universe, QUOTE, eq, inp.current))
        dirty = model.weights(AllocationInput(polluted.upto(t), inp.universe, QUOTE, eq, inp.current))
        assert clean == dirty
        lo = max(0, t + 1 - rows_needed(model))
        window = PriceHistory(h.times[lo : t + 1], h.assets, h.prices[lo : t + 1], h.market_caps[lo : t + 1])
        assert model.weights(AllocationInput(window, inp.universe, QUOTE, eq, inp.current)) == clean


# ---------- simple models and helpers ----------------------------------------------------------------


def test_static_validates_and_returns_its_targets() -> None:
    with pytest.raises(ValueError, match="sum to 1"):
        Static({"btc": 0.5, "eth": 0.4})
    with pytest.raises(ValueError, match=">= 0"):
        Static({"btc": 1.5, "eth": -0.5})
    res = Static({"btc": 0.6, "eth": 0.4}).weights(real_input())
    assert res.weights == {"BTC": pytest.approx(0.6), "ETH": pytest.approx(0.4)}


def test_result_rejects_bad_weights_and_finalise_fills_the_quote() -> None:
    with pytest.raises(ValueError):
        AllocationResult({"A": 0.5})
    with pytest.raises(ValueError):
        AllocationResult({"A": float("nan"), "B": 1.0})
    res = finalise({"A": 0.3, "B": 0.2}, QUOTE)
    assert res.weights[QUOTE] == pytest.approx(0.5)
    assert finalise({"A": float("nan")}, QUOTE).weights == {QUOTE: 1.0}


def test_water_fill_hand_case() -> None:
    # raw 60/30/10 capped at 40%: 60 -> 40, excess 20 goes 3:1 to the others -> 45/15, then 45 -> 40 ...
    w = water_fill(np.array([0.6, 0.3, 0.1]), max_weight=0.4)
    assert w == pytest.approx([0.4, 0.4, 0.2])
    w = water_fill(np.array([0.6, 0.3, 0.05, 0.05]), max_weight=0.5, min_weight=0.1)
    assert w == pytest.approx([0.5, 0.3, 0.1, 0.1])
    assert water_fill(np.ones(5), max_weight=0.15) == pytest.approx([0.15] * 5)  # infeasible: sum 75%


def test_inverse_volatility_hand_case() -> None:
    a = 0.01
    r = np.tile([[a, 2 * a], [-a, -2 * a]], (20, 1))  # vol ratio exactly 1:2
    r[:, 1] = np.roll(r[:, 1], 1)
    p = 100 * np.cumprod(np.vstack([np.ones(2), 1 + r]), axis=0)
    res = InverseVolatility(lookback=40, min_rows=10).weights(
        AllocationInput(make_history(p, ("A", "B")), ("A", "B"), QUOTE)
    )
    assert res.weights["A"] == pytest.approx(2 / 3, rel=1e-6)
    assert res.weights["B"] == pytest.approx(1 / 3, rel=1e-6)


def test_too_little_history_falls_back_to_equal_weight_with_a_note() -> None:
    res = RiskParity(lookback=365, min_rows=30).weights(real_input("2019-01-13"))
    assert res.weights["BTC"] == pytest.approx(0.1)
    assert "too little history for RiskParity (12 < 30 rows)" in res.notes[0]
    assert "fell back to equal weight" in res.notes[-1]


# ---------- risk parity ------------------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 25))
def test_erc_risk_contributions_are_equal(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, n)) * rng.uniform(0.1, 5, size=n)
    cov = a @ a.T + 1e-3 * np.eye(n)
    w = erc_weights(cov)
    rc = risk_contributions(w, cov)
    assert np.all(w > 0) and w.sum() == pytest.approx(1.0)
    assert np.max(np.abs(rc - 1.0 / n)) <= 1e-6


def test_risk_parity_on_real_data_equalises_risk() -> None:
    inp = real_input()
    res = RiskParity(lookback=365).weights(inp)
    assert_valid(res)
    assert res.notes == ()
    h = inp.history
    r = simple_returns(h.prices[-366:, [h.index_of(a) for a in MAJORS]])
    w = np.array([res.weights[a] for a in MAJORS])
    assert np.max(np.abs(risk_contributions(w, sample_cov(r)) - 0.1)) <= 1e-6
    assert res.weights["BTC"] > res.weights["DOGE"]  # BTC is the least volatile of these


# ---------- minimum variance -------------------------------------------------------------------------


def test_min_variance_matches_the_closed_form_when_no_bound_binds() -> None:
    cov = np.array([[0.04, 0.01, 0.0], [0.01, 0.09, 0.02], [0.0, 0.02, 0.16]])
    inv1 = np.linalg.solve(cov, np.ones(3))
    w, ok = min_variance_weights(cov)
    assert ok and w == pytest.approx(inv1 / inv1.sum(), abs=1e-7)


def test_min_variance_with_caps_beats_random_feasible_portfolios() -> None:
    rng = np.random.default_rng(7)
    a = rng.normal(size=(6, 6))
    cov = a @ a.T / 6 + np.diag([0.01, 0.02, 0.5, 0.6, 0.7, 0.8])
    w, ok = min_variance_weights(cov, max_weight=0.3)
    assert ok and w.max() <= 0.3 + 1e-12 and w.sum() == pytest.approx(1.0)
    best = w @ cov @ w
    for _ in range(2000):
        x = project_capped_simplex(rng.dirichlet(np.ones(6)), 0.3)
        assert x @ cov @ x >= best - 1e-12


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 15), slack=st.floats(0.0, 1.0), dup=st.booleans())
def test_min_variance_satisfies_the_kkt_conditions(seed: int, n: int, slack: float, dup: bool) -> None:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, n)) * rng.uniform(0.1, 3, size=n)
    if dup:
        a[1] = a[0]  # two identical assets: singular covariance
    cov = a @ a.T + 1e-9 * np.eye(n)
    cap = 1.0 / n + slack * (1.0 - 1.0 / n) + 1e-6
    w, ok = min_variance_weights(cov, min(cap, 1.0))
    cap = min(cap, 1.0)
    assert ok and abs(w.sum() - 1) <= 1e-12 and w.min() >= 0 and w.max() <= cap + 1e-12
    g = cov @ w / np.mean(np.diag(cov))
    free = (w > 1e-9) & (w < cap - 1e-9)
    nu = g[free].mean() if free.any() else None
    if nu is not None:
        tol = 1e-6 * max(1.0, float(np.abs(g).max()))  # the solver ridge caps the condition at 1e8
        assert np.all(np.abs(g[free] - nu) <= tol)
        assert np.all(g[w <= 1e-9] >= nu - tol) and np.all(g[w >= cap - 1e-9] <= nu + tol)


def test_min_variance_caps_that_cannot_be_met_leave_the_rest_in_quote() -> None:
    res = MinimumVariance(max_weight=0.15).weights(real_input(universe=MAJORS[:5]))
    assert res.weights[QUOTE] == pytest.approx(0.25)
    assert any("< 100%" in n for n in res.notes)


def test_min_variance_on_real_data() -> None:
    res = MinimumVariance(max_weight=0.3).weights(real_input())
    assert_valid(res, 0.3)
    assert res.weights["BTC"] == pytest.approx(0.3, abs=1e-6)  # the least volatile asset hits the cap


# ---------- fractional Kelly -------------------------------------------------------------------------


def test_kelly_two_asset_hand_case() -> None:
    rng = np.random.default_rng(11)
    r = np.column_stack([0.002 + 0.03 * rng.standard_normal(200), 0.001 + 0.05 * rng.standard_normal(200)])
    p = 100 * np.cumprod(np.vstack([np.ones(2), 1 + r]), axis=0)
    inp = AllocationInput(make_history(p, ("A", "B")), ("A", "B"), QUOTE)
    model = FractionalKelly(risk_tolerance=0.1, rf=0.0, lookback=200, min_rows=50, shrinkage=0.0)
    # by hand: S = 1/T sample covariance, w = c * S^-1 mu with the explicit 2x2 inverse
    rr = simple_returns(np.asarray(p, dtype=np.float64))
    mu = rr.mean(axis=0)
    d = rr - mu
    a, b, c = (d[:, 0] @ d[:, 0]) / 200, (d[:, 0] @ d[:, 1]) / 200, (d[:, 1] @ d[:, 1]) / 200
    det = a * c - b * b
    expected = 0.1 * np.array([c * mu[0] - b * mu[1], a * mu[1] - b * mu[0]]) / det
    assert 0 < expected.min() and expected.sum() < 1  # inside the constraints: no projection
    res = model.weights(inp)
    assert [res.weights["A"], res.weights["B"]] == pytest.approx(expected.tolist(), rel=1e-9)
    assert res.weights[QUOTE] == pytest.approx(1 - expected.sum())


def test_kelly_projects_onto_long_only_caps_and_budget() -> None:
    rng = np.random.default_rng(12)
    r = np.column_stack([0.01 + 0.02 * rng.standard_normal(300), -0.01 + 0.02 * rng.standard_normal(300)])
    p = 100 * np.cumprod(np.vstack([np.ones(2), 1 + r]), axis=0)
    inp = AllocationInput(make_history(p, ("A", "B")), ("A", "B"), QUOTE)
    res = FractionalKelly(risk_tolerance=1.0, lookback=300, max_weight=0.8).weights(inp)
    assert res.weights["A"] == pytest.approx(0.8) and res.weights["B"] == 0.0
    losers = FractionalKelly(lookback=300).weights(AllocationInput(make_history(p[:, 1:], ("B",)), ("B",), QUOTE))
    assert losers.weights[QUOTE] == 1.0 and "no asset has a positive Kelly weight" in losers.notes[-1]


def test_kelly_on_real_data() -> None:
    res = FractionalKelly(risk_tolerance=0.25, rf=0.04, max_weight=0.4).weights(real_input())
    assert_valid(res, 0.4)
    assert sum(v for a, v in res.weights.items() if a != QUOTE) <= 1.0 + 1e-12


# ---------- volatility target ------------------------------------------------------------------------


def test_vol_target_scales_the_risky_sleeve() -> None:
    daily = 0.8 / np.sqrt(365)
    r = np.tile([daily, -daily], 50)[:, None]
    p = 100 * np.cumprod(np.vstack([[1.0], 1 + r]), axis=0)
    inp = AllocationInput(make_history(p, ("A",)), ("A",), QUOTE)
    base = Static({"A": 1.0})
    sd = np.std(r, ddof=1) * np.sqrt(365)
    half = VolatilityTarget(0.4, base, lookback=100, min_rows=20).weights(inp)
    assert half.weights["A"] == pytest.approx(0.4 / sd, rel=1e-9)
    assert half.weights[QUOTE] == pytest.approx(1 - 0.4 / sd, rel=1e-9)
    assert VolatilityTarget(2.0, base, lookback=100).weights(inp).weights == {"A": 1.0}  # leverage capped at 1


def test_vol_target_on_real_data_meets_the_target() -> None:
    inp = real_input()
    res = VolatilityTarget(0.3, RiskParity(), lookback=90).weights(inp)
    assert_valid(res)
    assets = [a for a in MAJORS if res.weights.get(a, 0) > 0]
    h = inp.history
    r = simple_returns(h.prices[-91:, [h.index_of(a) for a in assets]])
    w = np.array([res.weights[a] for a in assets])
    assert np.sqrt(w @ sample_cov(r) @ w * 365) == pytest.approx(0.3, rel=1e-9)
