"""Point-in-time regime labels: volatility bands, trend vs mean reversion, and bull/bear/sideways/high-vol.

Every label at row t uses prices up to and including row t only; gaps (NaN) are forward-filled
from the past. `labels(...)` gives the rolling series, `label(...)` the value at the last row, and
labels(p)[t] == label(p[: t + 1]). Rules: docs/models.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from trimtab.core.base.history import PriceHistory

FloatArray = npt.NDArray[np.float64]
UNKNOWN = "unknown"  # any label before its window has enough finite prices


class Trend(StrEnum):
    """TrendRegime's labels (Lo-MacKinlay variance ratio): persistent moves, noise, or moves that revert."""

    TRENDING = "trending"
    RANDOM_WALK = "random_walk"
    MEAN_REVERTING = "mean_reverting"


class Market(StrEnum):
    """MarketRegime's labels from the benchmark's trailing return and volatility."""

    BULL = "bull"
    BEAR = "bear"
    SIDEWAYS = "sideways"
    HIGH_VOL = "high_vol"


class Direction(StrEnum):
    """moving_average_trend's labels."""

    UP = "up"
    DOWN = "down"
    FLAT = "flat"


def ffill(prices: FloatArray) -> FloatArray:
    """Carry the last finite positive price forward over gaps (uses only the past; leading gaps stay NaN)."""
    p = np.asarray(prices, dtype=np.float64)
    good = np.isfinite(p) & (p > 0)
    idx = np.where(good, np.arange(len(p)), -1)
    np.maximum.accumulate(idx, out=idx)
    return np.asarray(np.where(idx >= 0, p[np.maximum(idx, 0)], np.nan), dtype=np.float64)


def rolling_vol(prices: FloatArray, window: int, periods_per_year: float) -> FloatArray:
    """Annualised std of the last `window` log returns at each row (NaN until there are enough)."""
    p = ffill(prices)
    r = np.diff(np.log(p))
    out = np.full(len(p), np.nan)
    if len(r) >= window:
        out[window:] = sliding_window_view(r, window).std(axis=1, ddof=1) * math.sqrt(periods_per_year)
    return out


def trailing_return(prices: FloatArray, lookback: int) -> FloatArray:
    """Simple return over the last `lookback` periods at each row (NaN until there are enough)."""
    p = ffill(prices)
    out = np.full(len(p), np.nan)
    out[lookback:] = p[lookback:] / p[:-lookback] - 1.0
    return out


@dataclass(frozen=True, slots=True)
class VolatilityRegime:
    """Annualised realised vol over `window` -> low < t0 <= medium < t1 <= high < t2 <= extreme."""

    window: int = 30
    thresholds: tuple[float, float, float] = (0.15, 0.25, 0.40)
    names: tuple[str, str, str, str] = ("low", "medium", "high", "extreme")

    def __post_init__(self) -> None:
        t = self.thresholds
        if self.window < 2 or not 0 < t[0] < t[1] < t[2]:
            raise ValueError(f"need window >= 2 and 0 < thresholds increasing, got {self.window}, {t}")

    def labels(self, prices: FloatArray, periods_per_year: float) -> npt.NDArray[np.str_]:
        vol = rolling_vol(prices, self.window, periods_per_year)
        band = np.searchsorted(np.asarray(self.thresholds), np.nan_to_num(vol, nan=0.0), side="right")
        out = np.asarray(self.names, dtype=object)[band]
        out[~np.isfinite(vol)] = UNKNOWN
        return out.astype(str)

    def label(self, prices: FloatArray, periods_per_year: float) -> str:
        tail = ffill(prices)[-(self.window + 1) :]
        return str(self.labels(tail, periods_per_year)[-1]) if len(tail) else UNKNOWN


@dataclass(frozen=True, slots=True)
class VarianceRatio:
    """Lo-MacKinlay VR(q) with the homoskedastic z and the heteroskedasticity-robust z*."""

    ratio: float
    z: float
    z_robust: float


def variance_ratio(prices: FloatArray, q: int) -> VarianceRatio:
    """VR(q) = Var(q-period log returns, overlapping) / (q Var(1-period)), Lo & MacKinlay (1988), RFS 1(1).

    Uses the bias-corrected estimators of their eq. (12)-(13) and the z-statistics of Theorems 1-3.
    """
    x = np.log(ffill(prices))
    x = x[np.isfinite(x)]
    n = len(x) - 1
    if q < 2 or n < 2 * q:
        raise ValueError(f"variance ratio needs q >= 2 and at least {2 * q} returns, got q={q}, {n}")
    r = np.diff(x)
    mu = (x[-1] - x[0]) / n
    d = r - mu
    var_a = float(d @ d) / (n - 1)
    rq = x[q:] - x[:-q] - q * mu
    m = q * (n - q + 1) * (1.0 - q / n)
    var_c = float(rq @ rq) / m
    if var_a <= 0:
        return VarianceRatio(1.0, 0.0, 0.0)
    vr = var_c / var_a
    z = (vr - 1.0) / math.sqrt(2.0 * (2 * q - 1) * (q - 1) / (3.0 * q * n))
    d2 = d * d
    denom = float(d2.sum()) ** 2
    theta = sum((2.0 * (q - j) / q) ** 2 * n * float(d2[j:] @ d2[:-j]) / denom for j in range(1, q))
    return VarianceRatio(vr, z, math.sqrt(n) * (vr - 1.0) / math.sqrt(theta) if theta > 0 else 0.0)


@dataclass(frozen=True, slots=True)
class TrendRegime:
    """trending if VR(q) > 1 and z* > z_crit; mean_reverting if VR < 1 and z* < -z_crit; else random_walk.

    Computed on the last `window` returns with the heteroskedasticity-robust z* (crypto returns are
    heteroskedastic), at the two-sided 5% level by default.
    """

    window: int = 180
    q: int = 5
    z_crit: float = 1.96

    def __post_init__(self) -> None:
        if self.q < 2 or self.window < 2 * self.q:
            raise ValueError(f"need q >= 2 and window >= 2q, got q={self.q}, window={self.window}")

    def label(self, prices: FloatArray) -> str:
        tail = ffill(prices)[-(self.window + 1) :]
        if len(tail) < self.window + 1 or not bool(np.all(np.isfinite(tail))):
            return UNKNOWN
        vr = variance_ratio(tail, self.q)
        if vr.ratio > 1 and vr.z_robust > self.z_crit:
            return Trend.TRENDING
        if vr.ratio < 1 and vr.z_robust < -self.z_crit:
            return Trend.MEAN_REVERTING
        return Trend.RANDOM_WALK

    def labels(self, prices: FloatArray) -> npt.NDArray[np.str_]:
        p = np.asarray(prices, dtype=np.float64)
        return np.array([self.label(p[: t + 1]) for t in range(len(p))])


def moving_average_trend(prices: FloatArray, fast: int = 50, slow: int = 200) -> str:
    """up if price > SMA(slow) and SMA(fast) > SMA(slow); down if both below; else flat (unknown if short)."""
    p = ffill(np.asarray(prices, dtype=np.float64))
    if len(p) < slow or not bool(np.all(np.isfinite(p[-slow:]))):
        return UNKNOWN
    sma_fast, sma_slow, last = float(p[-fast:].mean()), float(p[-slow:].mean()), float(p[-1])
    if last > sma_slow and sma_fast > sma_slow:
        return Direction.UP
    if last < sma_slow and sma_fast < sma_slow:
        return Direction.DOWN
    return Direction.FLAT


@dataclass(frozen=True, slots=True)
class MarketRegime:
    """Label each row from the benchmark's trailing return and vol (defaults tuned for BTC, daily).

    high_vol if annualised vol over `vol_window` >= high_vol; else bull if the `lookback` return
    >= bull_return; bear if <= bear_return; else sideways; unknown until both are defined.
    """

    asset: str = "BTC"
    lookback: int = 90
    vol_window: int = 30
    bull_return: float = 0.15
    bear_return: float = -0.15
    high_vol: float = 1.20

    def __post_init__(self) -> None:
        if self.lookback < 1 or self.vol_window < 2 or not self.bear_return < self.bull_return or self.high_vol <= 0:
            raise ValueError("need lookback >= 1, vol_window >= 2, bear_return < bull_return, high_vol > 0")

    def labels_from_prices(self, prices: FloatArray, periods_per_year: float) -> npt.NDArray[np.str_]:
        vol = rolling_vol(prices, self.vol_window, periods_per_year)
        ret = trailing_return(prices, self.lookback)
        out = np.full(len(vol), Market.SIDEWAYS.value, dtype=object)
        out[ret >= self.bull_return] = Market.BULL.value
        out[ret <= self.bear_return] = Market.BEAR.value
        out[vol >= self.high_vol] = Market.HIGH_VOL.value
        out[~(np.isfinite(vol) & np.isfinite(ret))] = UNKNOWN
        return out.astype(str)

    def labels(self, history: PriceHistory) -> npt.NDArray[np.str_]:
        """Rolling labels for every row of `history` (point-in-time)."""
        col = history.prices[:, history.index_of(self.asset)]
        return self.labels_from_prices(col, history.periods_per_year())

    def label(self, history: PriceHistory) -> str:
        """The label at the last row of `history`."""
        n = max(self.lookback, self.vol_window) + 1
        col = ffill(history.prices[:, history.index_of(self.asset)])[-n:]
        return str(self.labels_from_prices(col, history.periods_per_year())[-1]) if len(col) else UNKNOWN
