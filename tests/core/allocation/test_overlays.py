"""Overlays: momentum tilt, drawdown protection, correlation limit, group caps; hand cases and real data."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import trimtab
from trimtab.core.allocation.models import AllocationInput, EqualWeight, Static
from trimtab.core.allocation.optimizers import RiskParity
from trimtab.core.allocation.overlays import (
    CorrelationLimit,
    DrawdownProtection,
    GroupCaps,
    MomentumTilt,
    drawdown_exposure,
)
from trimtab.core.base.history import PriceHistory

QUOTE = "USDC"
DAY = np.timedelta64(1, "D")


def make_input(prices: np.ndarray, assets: tuple[str, ...], equity: np.ndarray | None = None) -> AllocationInput:
    times = np.datetime64("2022-01-01", "ns") + np.arange(len(prices)) * DAY
    return AllocationInput(PriceHistory(times, assets, prices), assets, QUOTE, equity=equity)


@functools.cache
def real_input(day: str = "2021-06-30") -> AllocationInput:
    import pandas as pd

    here = Path(trimtab.__file__).parent / "data" / "daily_prices_usd.csv.gz"
    path = here if here.exists() else Path("/work/shared/data/daily_prices_usd.csv.gz")
    df = pd.read_csv(path, parse_dates=["date"])
    assets = ("BTC", "ETH", "BNB", "ADA", "DOGE", "LTC", "LINK", "UNI")
    days = pd.date_range("2020-06-01", day, freq="D")
    px = df.pivot(index="date", columns="asset", values="price_usd").reindex(
        index=days, columns=[a.lower() for a in assets]
    )
    h = PriceHistory(days.values.astype("datetime64[ns]"), assets, px.to_numpy(float))
    btc = h.prices[:, 0]
    return AllocationInput(h, assets, QUOTE, equity=btc[~np.isnan(btc)] * 0.01)


def trend_prices() -> np.ndarray:
    t = np.arange(100)
    return np.column_stack([100 * 1.01**t, 100 * 0.99**t, 100 + 0 * t]).astype(float)


def test_momentum_tilt_favours_winners_and_keeps_the_sleeve() -> None:
    inp = make_input(trend_prices(), ("UP", "DOWN", "FLAT"))
    base = Static({"UP": 0.3, "DOWN": 0.3, "FLAT": 0.2, QUOTE: 0.2})
    res = MomentumTilt(base, momentum_factor=0.5, lookback=30).weights(inp)
    assert res.weights == pytest.approx({"UP": 0.45, "DOWN": 0.15, "FLAT": 0.2, QUOTE: 0.2})
    contra = MomentumTilt(base, momentum_factor=-1.0, lookback=30).weights(inp)
    assert contra.weights == pytest.approx({"UP": 0.0, "DOWN": 0.6, "FLAT": 0.2, QUOTE: 0.2})
    short = MomentumTilt(base, 0.5, lookback=500).weights(inp)
    assert short.weights == pytest.approx(base.weights(inp).weights) and "no tilt" in short.notes[-1]
    with pytest.raises(ValueError, match="momentum_factor"):
        MomentumTilt(base, 1.5)


def test_drawdown_exposure_rules() -> None:
    flat = np.full(10, 100.0)
    assert drawdown_exposure(flat, 0.2, 0.5, 0.1, 0.4) == (1.0, 0.0)
    m, dd = drawdown_exposure(np.array([100.0, 90.0, 75.0]), 0.2, 0.5, 0.1, 0.4)
    assert m == 0.5 and dd == pytest.approx(0.25)
    m, _ = drawdown_exposure(np.array([100.0, 70.0, 55.0]), 0.2, 0.5, 0.1, 0.4)
    assert m == 0.0  # stop-loss: out, and the peak resets to 55
    # after the stop the equity is flat (in cash): exposure ramps back at 10% per observation
    m, _ = drawdown_exposure(np.array([100.0, 55.0] + [55.0] * 3), 0.2, 0.5, 0.1, 0.4)
    assert m == pytest.approx(0.3)
    # cut at 25% drawdown, recover to 15% drawdown: +10% per observation from 50%
    m, _ = drawdown_exposure(np.array([100.0, 75.0, 85.0, 85.0]), 0.2, 0.5, 0.1, 0.4)
    assert m == pytest.approx(0.7)


def test_drawdown_protection_scales_the_risky_sleeve() -> None:
    inp = make_input(trend_prices(), ("UP", "DOWN", "FLAT"), equity=np.array([100.0, 120.0, 90.0]))
    res = DrawdownProtection(EqualWeight(), limit=0.2, cut_fraction=0.5).weights(inp)
    assert res.weights == pytest.approx({"UP": 1 / 6, "DOWN": 1 / 6, "FLAT": 1 / 6, QUOTE: 0.5})
    assert "drawdown 25.0%" in res.notes[-1]
    no_eq = DrawdownProtection(EqualWeight()).weights(make_input(trend_prices(), ("UP", "DOWN", "FLAT")))
    assert no_eq.weights == pytest.approx({"UP": 1 / 3, "DOWN": 1 / 3, "FLAT": 1 / 3})
    assert "inactive" in no_eq.notes[-1]
    with pytest.raises(ValueError, match="stop_loss"):
        DrawdownProtection(EqualWeight(), limit=0.3, stop_loss=0.2)


def test_correlation_limit_caps_correlated_pairs() -> None:
    rng = np.random.default_rng(3)
    z = rng.normal(0, 0.02, size=(120, 2))
    r = np.column_stack([z[:, 0], z[:, 0] + rng.normal(0, 0.002, 120), z[:, 1]])
    p = 100 * np.cumprod(1 + r, axis=0)
    inp = make_input(p, ("A", "A2", "B"))
    res = CorrelationLimit(EqualWeight(), threshold=0.9, max_combined=0.4, lookback=100).weights(inp)
    assert res.weights == pytest.approx({"A": 0.2, "A2": 0.2, "B": 1 / 3, QUOTE: 1 - 0.4 - 1 / 3})
    assert "A/A2 correlation" in res.notes[0]


def test_group_caps_redistribute_or_hold_cash() -> None:
    base = Static({"UNI": 0.3, "AAVE": 0.2, "BTC": 0.3, "ETH": 0.2})
    inp = make_input(trend_prices(), ("UP", "DOWN", "FLAT"))
    res = GroupCaps(base, {"defi": ("uni", "aave")}, {"defi": 0.25}).weights(inp)
    # 25% excess over BTC:ETH = 3:2
    assert res.weights == pytest.approx({"UNI": 0.15, "AAVE": 0.1, "BTC": 0.45, "ETH": 0.3})
    cash = GroupCaps(base, {"defi": ("UNI", "AAVE")}, {"defi": 0.25}, redistribute=False).weights(inp)
    assert cash.weights == pytest.approx({"UNI": 0.15, "AAVE": 0.1, "BTC": 0.3, "ETH": 0.2, QUOTE: 0.25})
    both = GroupCaps(base, {"defi": ("UNI", "AAVE"), "l1": ("BTC", "ETH")}, {"defi": 0.25, "l1": 0.4}).weights(inp)
    assert both.weights == pytest.approx({"UNI": 0.15, "AAVE": 0.1, "BTC": 0.24, "ETH": 0.16, QUOTE: 0.35})
    assert any("no uncapped asset" in n for n in both.notes)
    with pytest.raises(ValueError, match="disjoint"):
        GroupCaps(base, {"a": ("BTC",), "b": ("btc",)}, {"a": 0.1})


@settings(max_examples=50, deadline=None)
@given(
    w=st.lists(st.floats(0.0, 1.0), min_size=4, max_size=4).filter(lambda v: sum(v) > 0),
    caps=st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0)),
)
def test_group_caps_always_hold(w: list[float], caps: tuple[float, float]) -> None:
    total = sum(w)
    base = Static({a: v / total for a, v in zip(("A", "B", "C", "D"), w, strict=True)})
    inp = make_input(trend_prices(), ("UP", "DOWN", "FLAT"))
    res = GroupCaps(base, {"g1": ("A", "B"), "g2": ("C",)}, {"g1": caps[0], "g2": caps[1]}).weights(inp)
    ws = res.weights
    assert ws.get("A", 0) + ws.get("B", 0) <= caps[0] + 1e-9 and ws.get("C", 0) <= caps[1] + 1e-9
    assert abs(sum(ws.values()) - 1) <= 1e-9 and min(ws.values()) >= 0


def test_overlays_stack_on_real_data() -> None:
    inp = real_input()
    model = GroupCaps(
        DrawdownProtection(
            CorrelationLimit(MomentumTilt(RiskParity(lookback=180), 0.5, lookback=60), 0.8, 0.3), 0.2, 0.5, 0.05, 0.5
        ),
        {"defi": ("UNI", "LINK")},
        {"defi": 0.1},
    )
    res = model.weights(inp)
    ws = res.weights
    assert abs(sum(ws.values()) - 1) <= 1e-9 and min(ws.values()) >= 0
    assert ws["UNI"] + ws["LINK"] <= 0.1 + 1e-9
    # BTC fell ~50% from its April 2021 high: the drawdown rule cut the risky sleeve
    assert any("DrawdownProtection: drawdown" in n for n in res.notes)
    assert ws[QUOTE] >= 0.5 - 1e-9
