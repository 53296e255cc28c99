"""Performance and risk metrics of an equity curve (pure numpy): used by backtests, overlays and the live monitor.

Conventions: `returns` are simple per-period returns; `ppy` is periods per year (365 daily, 8760 hourly for
24/7 crypto); drawdowns, VaR and CVaR are positive loss fractions. Degenerate input (zero volatility, no
downside, no drawdown, fewer than two points) gives 0.0 for ratios rather than nan or inf, so reports and
sweeps can sort and aggregate them; only an empty series raises ValueError.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def _series(x: npt.ArrayLike, name: str) -> FloatArray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name} is empty")
    return a


def returns(equity: npt.ArrayLike) -> FloatArray:
    """Simple returns r_t = E_t / E_{t-1} - 1 (length T - 1)."""
    e = _series(equity, "equity")
    return e[1:] / e[:-1] - 1.0


def total_return(equity: npt.ArrayLike) -> float:
    """E_T / E_0 - 1."""
    e = _series(equity, "equity")
    return float(e[-1] / e[0] - 1.0)


def cagr(equity: npt.ArrayLike, periods_per_year: float) -> float:
    """Compound annual growth (E_T / E_0) ** (ppy / (T - 1)) - 1; 0.0 for one point, -1.0 if wiped out."""
    e = _series(equity, "equity")
    if e.size < 2:
        return 0.0
    growth = e[-1] / e[0]
    if growth <= 0:
        return -1.0
    return float(growth ** (periods_per_year / (e.size - 1)) - 1.0)


def volatility(rets: npt.ArrayLike, periods_per_year: float) -> float:
    """Annualised volatility: sample std (ddof=1) * sqrt(ppy); 0.0 with fewer than two returns."""
    r = _series(rets, "returns")
    if r.size < 2:
        return 0.0
    return float(np.std(r, ddof=1) * math.sqrt(periods_per_year))


def sharpe(rets: npt.ArrayLike, periods_per_year: float, rf: float = 0.0) -> float:
    """Annualised Sharpe ratio mean(r - rf/ppy) / std(r - rf/ppy) * sqrt(ppy) (Sharpe 1994); `rf` is annual.

    0.0 when the excess returns have zero (or undefined) volatility.
    """
    r = _series(rets, "returns") - rf / periods_per_year
    if r.size < 2:
        return 0.0
    sd = float(np.std(r, ddof=1))
    if sd <= 0.0 or not math.isfinite(sd):
        return 0.0
    return float(np.mean(r) / sd * math.sqrt(periods_per_year))


def sortino(rets: npt.ArrayLike, periods_per_year: float, rf: float = 0.0) -> float:
    """Annualised Sortino ratio mean(x) / sqrt(mean(min(x, 0)^2)) * sqrt(ppy), x = r - rf/ppy.

    Target downside deviation over all periods (Sortino & Price 1994); 0.0 when there is no downside.
    """
    x = _series(rets, "returns") - rf / periods_per_year
    dd = math.sqrt(float(np.mean(np.minimum(x, 0.0) ** 2)))
    if dd <= 0.0 or not math.isfinite(dd):
        return 0.0
    return float(np.mean(x) / dd * math.sqrt(periods_per_year))


def drawdown_series(equity: npt.ArrayLike) -> FloatArray:
    """1 - E_t / max_{s<=t} E_s at each step (0 at a new high)."""
    e = _series(equity, "equity")
    return 1.0 - e / np.maximum.accumulate(e)


def max_drawdown(equity: npt.ArrayLike) -> float:
    """Largest peak-to-trough loss as a positive fraction."""
    return float(np.max(drawdown_series(equity)))


def calmar(equity: npt.ArrayLike, periods_per_year: float) -> float:
    """CAGR / max drawdown (Young 1991); 0.0 when there was no drawdown."""
    mdd = max_drawdown(equity)
    return cagr(equity, periods_per_year) / mdd if mdd > 0.0 else 0.0


def var_historical(rets: npt.ArrayLike, level: float = 0.95) -> float:
    """Per-period historical VaR: minus the (1 - level) empirical quantile of returns (linear interpolation)."""
    r = _series(rets, "returns")
    return float(-np.quantile(r, 1.0 - level))


def cvar_historical(rets: npt.ArrayLike, level: float = 0.95) -> float:
    """Per-period historical CVaR (expected shortfall): minus the mean of returns at or below the VaR quantile.

    Rockafellar & Uryasev (2002), "Conditional value-at-risk for general loss distributions".
    """
    r = _series(rets, "returns")
    q = np.quantile(r, 1.0 - level)
    return float(-np.mean(r[r <= q]))


def var_parametric(rets: npt.ArrayLike, level: float = 0.95) -> float:
    """Gaussian VaR -mu + sigma * z_level (McNeil, Frey & Embrechts, Quantitative Risk Management, 2nd ed. 2015, ch.
    2)."""
    r = _series(rets, "returns")
    sigma = float(np.std(r, ddof=1)) if r.size > 1 else 0.0
    return float(-np.mean(r) + sigma * NormalDist().inv_cdf(level))


def cvar_parametric(rets: npt.ArrayLike, level: float = 0.95) -> float:
    """Gaussian expected shortfall -mu + sigma * phi(z_level) / (1 - level) (McNeil, Frey & Embrechts 2015, ch. 2)."""
    r = _series(rets, "returns")
    sigma = float(np.std(r, ddof=1)) if r.size > 1 else 0.0
    std_normal = NormalDist()
    return float(-np.mean(r) + sigma * std_normal.pdf(std_normal.inv_cdf(level)) / (1.0 - level))


def rolling_correlation(returns_matrix: npt.ArrayLike, window: int) -> FloatArray:
    """Pearson correlation matrices [T, N, N] over trailing windows of `window` rows; rows before the first full
    window, and pairs with a zero-variance column, are nan."""
    x = np.asarray(returns_matrix, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"returns_matrix must be a non-empty [T, N] matrix, got shape {x.shape}")
    if window < 2:
        raise ValueError(f"window must be >= 2, got {window}")
    t_len, n = x.shape
    out = np.full((t_len, n, n), np.nan)
    if t_len < window:
        return out
    win = np.lib.stride_tricks.sliding_window_view(x, window, axis=0)  # [T - window + 1, N, window]
    dev = win - win.mean(axis=2, keepdims=True)
    cov = np.einsum("tiw,tjw->tij", dev, dev)
    sd = np.sqrt(np.einsum("tii->ti", cov))
    denom = sd[:, :, None] * sd[:, None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = np.where(denom > 0.0, cov / denom, np.nan)
    out[window - 1 :] = np.clip(corr, -1.0, 1.0)
    return out


def summary(equity: npt.ArrayLike, periods_per_year: float) -> dict[str, float]:
    """The headline metrics of an equity curve, keyed by name (VaR/CVaR at 95 %, per period)."""
    e = _series(equity, "equity")
    r = returns(e) if e.size > 1 else np.zeros(1)
    return {
        "total_return": total_return(e),
        "cagr": cagr(e, periods_per_year),
        "volatility": volatility(r, periods_per_year),
        "sharpe": sharpe(r, periods_per_year),
        "sortino": sortino(r, periods_per_year),
        "max_drawdown": max_drawdown(e),
        "calmar": calmar(e, periods_per_year),
        "var_95": var_historical(r),
        "cvar_95": cvar_historical(r),
    }
