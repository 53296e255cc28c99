"""Estimators: returns, EWMA (batch == online), sample covariance, Ledoit-Wolf, trailing windows, ridge."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trimtab.core.base.history import PriceHistory
from trimtab.core.measures.estimators import (
    EwmaEstimator,
    ewma_cov,
    ewma_mean,
    ewma_vol,
    ewma_weights,
    ledoit_wolf,
    log_returns,
    regularise,
    sample_cov,
    simple_returns,
    trailing_returns,
)


def _history(prices: np.ndarray, assets: tuple[str, ...]) -> PriceHistory:
    times = np.datetime64("2021-01-01", "ns") + np.arange(len(prices)) * np.timedelta64(1, "D")
    return PriceHistory(times=times, assets=assets, prices=prices)


def test_simple_and_log_returns_by_hand() -> None:
    p = np.array([[100.0, 10.0], [110.0, 5.0], [99.0, np.nan]])
    r = simple_returns(p)
    assert r[0] == pytest.approx([0.1, -0.5])
    assert r[1, 0] == pytest.approx(-0.1)
    assert np.isnan(r[1, 1])
    assert log_returns(p)[0] == pytest.approx(np.log([1.1, 0.5]))
    assert np.isnan(log_returns(np.array([1.0, 0.0]))[0])


def test_ewma_weights_halve_every_halflife() -> None:
    w = ewma_weights(50, halflife=10)
    assert w.sum() == pytest.approx(1.0)
    assert w[-11] / w[-1] == pytest.approx(0.5)
    assert np.all(np.diff(w) > 0)


def test_ewma_with_long_halflife_tends_to_the_sample_moments() -> None:
    rng = np.random.default_rng(1)
    r = rng.normal(0.001, 0.02, size=(200, 3))
    assert ewma_mean(r, 1e9) == pytest.approx(r.mean(axis=0), rel=1e-6)
    assert ewma_cov(r, 1e9) == pytest.approx(sample_cov(r, ddof=0), rel=1e-6)
    assert ewma_vol(r, 1e9) == pytest.approx(r.std(axis=0), rel=1e-6)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    t=st.integers(1, 120),
    n=st.integers(1, 6),
    halflife=st.floats(0.5, 500.0),
    demean=st.booleans(),
)
def test_online_ewma_matches_batch(seed: int, t: int, n: int, halflife: float, demean: bool) -> None:
    rng = np.random.default_rng(seed)
    r = rng.normal(0.0, 0.05, size=(t, n)) * rng.uniform(0.1, 3.0, size=n)
    est = EwmaEstimator(n, halflife, demean=demean)
    for row in r:
        est.update(row)
    batch = ewma_cov(r, halflife, demean=demean)
    assert np.max(np.abs(est.cov - batch)) <= 1e-10 * max(1.0, np.max(np.abs(batch)))
    if demean:
        assert np.max(np.abs(est.mean - ewma_mean(r, halflife))) <= 1e-10
    assert est.state.count == t


def test_online_ewma_rejects_bad_rows() -> None:
    est = EwmaEstimator(2, 10)
    with pytest.raises(ValueError, match="finite"):
        est.update(np.array([0.1, np.nan]))
    with pytest.raises(ValueError, match="at least one"):
        _ = est.cov


def test_sample_cov_matches_numpy() -> None:
    r = np.random.default_rng(2).normal(size=(50, 4))
    assert sample_cov(r) == pytest.approx(np.cov(r, rowvar=False))


def _lw_identity_reference(x: np.ndarray) -> float:
    """LW (2004, JMA) Lemma 3.2-3.4 with the paper's normalised Frobenius norm, written loop by loop."""
    t, n = x.shape
    x = x - x.mean(axis=0)
    s = x.T @ x / t
    m = np.trace(s) / n
    d2 = np.sum((s - m * np.eye(n)) ** 2) / n
    b2 = sum(np.sum((np.outer(x[k], x[k]) - s) ** 2) / n for k in range(t)) / t**2
    return float(min(b2, d2) / d2)


def _lw_cc_reference(x: np.ndarray) -> float:
    """LW (2004, "Honey") kappa/T computed element by element from the paper's definitions."""
    t, n = x.shape
    x = x - x.mean(axis=0)
    s = x.T @ x / t
    sd = np.sqrt(np.diag(s))
    rbar = sum(s[i, j] / (sd[i] * sd[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    f = rbar * np.outer(sd, sd)
    np.fill_diagonal(f, np.diag(s))
    pi = sum(np.mean((x[:, i] * x[:, j] - s[i, j]) ** 2) for i in range(n) for j in range(n))
    rho = sum(np.mean((x[:, i] * x[:, i] - s[i, i]) ** 2) for i in range(n))
    for i in range(n):
        for j in range(n):
            if i != j:
                th_ii = np.mean((x[:, i] ** 2 - s[i, i]) * (x[:, i] * x[:, j] - s[i, j]))
                th_jj = np.mean((x[:, j] ** 2 - s[j, j]) * (x[:, i] * x[:, j] - s[i, j]))
                rho += rbar / 2 * (sd[j] / sd[i] * th_ii + sd[i] / sd[j] * th_jj)
    gamma = np.sum((f - s) ** 2)
    return float(min(1.0, max(0.0, (pi - rho) / gamma / t)))


@pytest.mark.parametrize("shape", [(40, 3), (25, 6), (10, 12)])
def test_ledoit_wolf_intensity_matches_the_papers_formulas(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(shape[0])
    x = rng.standard_t(4, size=shape) @ rng.normal(size=(shape[1], shape[1])) * 0.01
    ident = ledoit_wolf(x, "identity")
    cc = ledoit_wolf(x, "constant_correlation")
    assert ident.intensity == pytest.approx(_lw_identity_reference(x), rel=1e-9)
    assert cc.intensity == pytest.approx(_lw_cc_reference(x), rel=1e-9)
    s = sample_cov(x, ddof=0)
    for res in (ident, cc):
        assert 0 <= res.intensity <= 1
        assert res.cov == pytest.approx(res.intensity * res.target + (1 - res.intensity) * s)


def test_ledoit_wolf_makes_a_rank_deficient_sample_positive_definite() -> None:
    x = np.random.default_rng(3).normal(size=(8, 20)) * 0.02  # N > T: sample covariance is singular
    assert np.linalg.eigvalsh(sample_cov(x))[0] < 1e-12
    for target in ("identity", "constant_correlation"):
        assert np.linalg.eigvalsh(ledoit_wolf(x, target).cov)[0] > 0


def test_trailing_returns_leaves_out_young_and_unpriced_assets() -> None:
    t = 60
    p = np.cumprod(1 + np.random.default_rng(4).normal(0, 0.01, size=(t, 3)), axis=0)
    p[:50, 1] = np.nan  # listed 10 rows ago
    p[-1, 2] = np.nan  # no price now
    h = _history(p, ("A", "B", "C"))
    win = trailing_returns(h, ("A", "B", "C", "ZZZ"), lookback=40, min_rows=20, who="Test")
    assert win.usable and win.assets == ("A",)
    assert win.returns.shape == (40, 1)
    text = " | ".join(win.notes)
    assert "B has 9 < 20 returns" in text and "C has no price" in text and "ZZZ not in price history" in text
    short = trailing_returns(h.upto(10), ("A",), lookback=40, min_rows=20, who="Test")
    assert not short.usable and "too little history for Test (10 < 20 rows)" in short.notes[0]


def test_regularise_adds_a_ridge_only_when_needed() -> None:
    x = np.random.default_rng(5).normal(size=(100, 2))
    good = sample_cov(x)
    same, notes = regularise(good, "T")
    assert notes == () and same == pytest.approx(good)
    dup = sample_cov(np.column_stack([x[:, 0], x[:, 0], x[:, 1]]))
    fixed, notes = regularise(dup, "T")
    assert "ill-conditioned" in notes[0]
    eig = np.linalg.eigvalsh(fixed)
    assert eig[0] > 0 and eig[-1] / eig[0] <= 1.01e10
