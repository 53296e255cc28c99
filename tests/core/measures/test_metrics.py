"""Metrics against hand formulas and numpy, degenerate input, and invariants."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trimtab.core.measures import metrics as m

EQ = np.array([100.0, 110.0, 99.0, 120.0, 108.0])


def test_returns_and_total_return_by_hand() -> None:
    np.testing.assert_allclose(m.returns(EQ), [0.1, -0.1, 120 / 99 - 1, -0.1])
    assert m.total_return(EQ) == pytest.approx(0.08)


def test_cagr_compounds_over_the_number_of_periods() -> None:
    # 4 periods of a quarterly series = one year
    assert m.cagr(EQ, periods_per_year=4) == pytest.approx(0.08)
    assert m.cagr(EQ, periods_per_year=2) == pytest.approx(1.08**0.5 - 1)
    assert m.cagr([5.0], 365) == 0.0
    assert m.cagr([5.0, 0.0], 365) == -1.0


def test_volatility_sharpe_sortino_by_hand() -> None:
    r = np.array([0.02, -0.01, 0.03, -0.02, 0.01])
    mean, sd = r.mean(), math.sqrt(((r - r.mean()) ** 2).sum() / 4)
    assert m.volatility(r, 365) == pytest.approx(sd * math.sqrt(365))
    assert m.sharpe(r, 365) == pytest.approx(mean / sd * math.sqrt(365))
    rf = 0.0365  # annual -> 0.0001 per day
    assert m.sharpe(r, 365, rf=rf) == pytest.approx((mean - 0.0001) / sd * math.sqrt(365))
    downside = math.sqrt((0.01**2 + 0.02**2) / 5)
    assert m.sortino(r, 365) == pytest.approx(mean / downside * math.sqrt(365))


def test_degenerate_ratios_are_zero_not_nan() -> None:
    flat = np.zeros(10)
    assert m.volatility(flat, 365) == 0.0 and m.sharpe(flat, 365) == 0.0
    assert m.sortino(np.full(10, 0.01), 365) == 0.0  # no downside
    assert m.sharpe([0.01], 365) == 0.0 and m.volatility([0.01], 365) == 0.0
    assert m.calmar([1.0, 2.0, 3.0], 365) == 0.0  # no drawdown
    assert m.max_drawdown([7.0]) == 0.0


def test_empty_input_raises() -> None:
    with pytest.raises(ValueError, match="empty"):
        m.returns([])
    with pytest.raises(ValueError, match="empty"):
        m.sharpe([], 365)


def test_drawdowns_and_calmar_by_hand() -> None:
    np.testing.assert_allclose(m.drawdown_series(EQ), [0.0, 0.0, 0.1, 0.0, 0.1])
    assert m.max_drawdown([100.0, 80.0, 120.0, 60.0, 90.0]) == pytest.approx(0.5)
    assert m.calmar(EQ, 4) == pytest.approx(0.08 / 0.1)


def test_historical_var_and_cvar_on_a_known_sample() -> None:
    r = np.arange(-50, 50) / 1000.0  # -0.050 ... 0.049
    q = np.quantile(r, 0.05)
    assert m.var_historical(r, 0.95) == pytest.approx(-q)
    assert m.cvar_historical(r, 0.95) == pytest.approx(-r[r <= q].mean())
    assert m.cvar_historical(r, 0.95) >= m.var_historical(r, 0.95)


def test_parametric_var_and_cvar_match_the_gaussian_formulas() -> None:
    rng = np.random.default_rng(0)
    r = rng.normal(0.001, 0.02, 5000)
    mu, sd = r.mean(), r.std(ddof=1)
    z = NormalDist().inv_cdf(0.99)
    assert m.var_parametric(r, 0.99) == pytest.approx(-mu + sd * z)
    assert m.cvar_parametric(r, 0.99) == pytest.approx(-mu + sd * NormalDist().pdf(z) / 0.01)
    # for a large Gaussian sample the historical figures approach the parametric ones
    assert m.var_historical(r, 0.99) == pytest.approx(m.var_parametric(r, 0.99), rel=0.1)


def test_rolling_correlation_matches_numpy_corrcoef() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 3))
    x[:, 2] = x[:, 0] * 0.5 + rng.normal(scale=0.1, size=40)
    out = m.rolling_correlation(x, window=10)
    assert out.shape == (40, 3, 3) and np.isnan(out[:9]).all()
    for t in (9, 20, 39):
        np.testing.assert_allclose(out[t], np.corrcoef(x[t - 9 : t + 1].T), atol=1e-12)
    short = m.rolling_correlation(x[:5], window=10)
    assert np.isnan(short).all()


def test_rolling_correlation_of_a_constant_column_is_nan() -> None:
    x = np.column_stack([np.arange(10.0), np.ones(10)])
    out = m.rolling_correlation(x, 5)
    assert out[-1, 0, 0] == pytest.approx(1.0) and np.isnan(out[-1, 0, 1])


def test_summary_collects_the_headline_metrics() -> None:
    s = m.summary(EQ, 4)
    assert s["total_return"] == pytest.approx(0.08) and s["max_drawdown"] == pytest.approx(0.1)
    assert set(s) == {
        "total_return",
        "cagr",
        "volatility",
        "sharpe",
        "sortino",
        "max_drawdown",
        "calmar",
        "var_95",
        "cvar_95",
    }
    assert m.summary([1.0], 365)["sharpe"] == 0.0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0.01, 1e6), min_size=1, max_size=200))
def test_drawdown_is_a_fraction_and_zero_at_new_highs(values: list[float]) -> None:
    e = np.array(values)
    dd = m.drawdown_series(e)
    assert np.all((dd >= 0.0) & (dd < 1.0))
    assert np.all(dd[e >= np.maximum.accumulate(e)] == 0.0)
    assert m.max_drawdown(e) == pytest.approx(dd.max())


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-0.5, 0.5), min_size=2, max_size=200), st.floats(0.8, 0.99))
def test_cvar_is_at_least_var_and_total_return_compounds_returns(rets: list[float], level: float) -> None:
    r = np.array(rets)
    assert m.cvar_historical(r, level) >= m.var_historical(r, level) - 1e-12
    assert m.cvar_parametric(r, level) >= m.var_parametric(r, level) - 1e-12
    equity = np.cumprod(np.r_[1.0, 1.0 + r])
    assert m.total_return(equity) == pytest.approx(np.prod(1.0 + r) - 1.0, rel=1e-9, abs=1e-12)
    np.testing.assert_allclose(m.returns(equity), r, atol=1e-9)
