"""Regimes: vol bands on series of known vol, variance ratio, MA trend, market labels, point-in-time."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

import trimtab
from trimtab.core.base.history import PriceHistory
from trimtab.core.measures.regimes import (
    MarketRegime,
    TrendRegime,
    VolatilityRegime,
    ffill,
    moving_average_trend,
    rolling_vol,
    variance_ratio,
)

DAY = np.timedelta64(1, "D")


def known_vol_returns(vol: float, n: int, window: int = 30) -> np.ndarray:
    """Alternating +-a log returns: every even window has sample std a*sqrt(w/(w-1)) = vol/sqrt(365)."""
    a = vol / np.sqrt(365) / np.sqrt(window / (window - 1))
    return np.tile([a, -a], n // 2)


def btc_history(start: str = "2018-01-01", end: str = "2024-06-30") -> PriceHistory:
    return _btc(start, end)


@functools.cache
def _btc(start: str, end: str) -> PriceHistory:
    import pandas as pd

    here = Path(trimtab.__file__).parent / "data" / "daily_prices_usd.csv.gz"
    path = here if here.exists() else Path("/work/shared/data/daily_prices_usd.csv.gz")
    df = pd.read_csv(path, parse_dates=["date"])
    days = pd.date_range(start, end, freq="D")
    px = df[df["asset"] == "btc"].set_index("date")["price_usd"].reindex(days)
    return PriceHistory(days.values.astype("datetime64[ns]"), ("BTC",), px.to_numpy(float)[:, None])


def test_ffill_uses_only_the_past() -> None:
    p = np.array([np.nan, 1.0, np.nan, -3.0, 2.0])
    assert np.isnan(ffill(p)[0])
    assert ffill(p)[1:].tolist() == [1.0, 1.0, 1.0, 2.0]


def test_vol_regime_on_series_of_known_vol() -> None:
    segments = [(0.10, "low"), (0.20, "medium"), (0.30, "high"), (0.60, "extreme")]
    r = np.concatenate([known_vol_returns(v, 60) for v, _ in segments])
    p = 100 * np.exp(np.concatenate([[0.0], np.cumsum(r)]))
    vol = rolling_vol(p, 30, 365)
    model = VolatilityRegime(window=30)
    labels = model.labels(p, 365)
    assert labels[0] == "unknown" and labels[29] == "unknown"
    for k, (v, name) in enumerate(segments):
        end = 60 * (k + 1)  # the last row of the segment: its window lies inside the segment
        assert vol[end] == pytest.approx(v, rel=1e-9)
        assert labels[end] == name
        assert model.label(p[: end + 1], 365) == name
    custom = VolatilityRegime(window=30, thresholds=(0.5, 0.7, 0.9))
    assert custom.label(p, 365) == "medium"


def test_vol_regime_labels_are_point_in_time_on_real_btc() -> None:
    h = btc_history("2019-01-01", "2020-12-31")
    p = h.prices[:, 0]
    model = VolatilityRegime()
    labels = model.labels(p, 365)
    for t in range(0, len(p), 7):
        assert model.label(p[: t + 1], 365) == labels[t]
    assert {"high", "extreme"} <= set(labels.tolist())


def test_variance_ratio_detects_autocorrelation() -> None:
    rng = np.random.default_rng(42)
    n = 3000
    for phi, name in ((0.0, "random_walk"), (0.3, "trending"), (-0.3, "mean_reverting")):
        e = rng.normal(0, 0.02, n)
        r = np.empty(n)
        r[0] = e[0]
        for t in range(1, n):
            r[t] = phi * r[t - 1] + e[t]
        p = 100 * np.exp(np.concatenate([[0.0], np.cumsum(r)]))
        vr2 = variance_ratio(p, 2)
        assert vr2.ratio == pytest.approx(1 + phi, abs=0.06)  # VR(2) = 1 + rho_1
        assert TrendRegime(window=n, q=5).label(p) == name
    with pytest.raises(ValueError, match="variance ratio"):
        variance_ratio(np.ones(5), 5)


def test_variance_ratio_z_matches_the_asymptotic_variance_by_hand() -> None:
    rng = np.random.default_rng(1)
    p = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 501)))
    vr = variance_ratio(p, 4)
    n = 500
    assert vr.z == pytest.approx((vr.ratio - 1) / np.sqrt(2 * 7 * 3 / (3 * 4 * n)))
    # homoskedastic data: the robust z* is close to z (Lo-MacKinlay Theorem 3 reduces to Theorem 1)
    assert vr.z_robust == pytest.approx(vr.z, rel=0.1)


def test_moving_average_trend() -> None:
    t = np.arange(300, dtype=np.float64)
    assert moving_average_trend(np.asarray(100 * 1.002**t, dtype=np.float64)) == "up"
    assert moving_average_trend(np.asarray(100 * 0.998**t, dtype=np.float64)) == "down"
    mixed = np.array([100.0] * 250 + [90.0] * 49 + [120.0])  # last > SMA200 but SMA50 < SMA200
    assert moving_average_trend(mixed) == "flat"
    assert moving_average_trend(np.ones(50)) == "unknown"


def _hist(prices: np.ndarray) -> PriceHistory:
    times = np.datetime64("2020-01-01", "ns") + np.arange(len(prices)) * DAY
    return PriceHistory(times, ("BTC",), prices[:, None])


def test_market_regime_rules_on_synthetic_paths() -> None:
    model = MarketRegime(lookback=90, vol_window=30)
    calm = known_vol_returns(0.3, 120)
    up = 100 * np.exp(np.cumsum(calm + 0.003))
    down = 100 * np.exp(np.cumsum(calm - 0.003))
    flat = 100 * np.exp(np.cumsum(calm))
    wild = 100 * np.exp(np.cumsum(known_vol_returns(1.5, 120) + 0.003))
    assert model.label(_hist(up)) == "bull"
    assert model.label(_hist(down)) == "bear"
    assert model.label(_hist(flat)) == "sideways"
    assert model.label(_hist(wild)) == "high_vol"
    assert model.label(_hist(up[:50])) == "unknown"


def test_market_regime_on_real_btc_is_point_in_time() -> None:
    h = btc_history()
    model = MarketRegime()
    labels = model.labels(h)
    for t in range(0, len(h), 11):
        assert model.label(h.upto(t)) == labels[t]

    def on(day: str) -> str:
        return str(labels[int(np.searchsorted(h.times, np.datetime64(day, "ns")))])

    assert on("2020-03-20") == "high_vol"  # a week after the March 2020 crash
    assert on("2021-03-15") == "bull"
    assert on("2022-01-25") == "bear"
    assert set(labels.tolist()) == {"unknown", "bull", "bear", "sideways", "high_vol"}
