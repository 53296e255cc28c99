"""Return, mean, volatility and covariance estimators over price matrices; point-in-time only.

Batch functions work on the rows they are given (the caller passes history up to the decision
time); `EwmaEstimator` is the online twin of the batch EWMA (cvxportfolio's online/from-scratch
split) and matches it to 1e-10. Formulas and sources: docs/models.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from trimtab.core.base.history import PriceHistory

FloatArray = npt.NDArray[np.float64]


def simple_returns(prices: FloatArray) -> FloatArray:
    """Per-period simple returns p_t / p_{t-1} - 1 of a [T, N] (or [T]) price array; NaN propagates."""
    p = np.asarray(prices, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return p[1:] / p[:-1] - 1.0


def log_returns(prices: FloatArray) -> FloatArray:
    """Per-period log returns ln(p_t / p_{t-1}); NaN propagates, non-positive prices give NaN."""
    p = np.asarray(prices, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        lp = np.where(p > 0, np.log(np.where(p > 0, p, 1.0)), np.nan)
    return np.diff(lp, axis=0)


def decay_factor(halflife: float) -> float:
    """RiskMetrics decay lambda with weight halving every `halflife` periods: lambda = 0.5 ** (1 / h)."""
    if not halflife > 0:
        raise ValueError(f"halflife must be > 0, got {halflife}")
    return float(0.5 ** (1.0 / halflife))


def ewma_weights(n: int, halflife: float) -> FloatArray:
    """Normalised weights lambda^(n-1-i), i = 0..n-1 (newest row last and heaviest), summing to 1."""
    lam = decay_factor(halflife)
    w = lam ** np.arange(n - 1, -1, -1, dtype=np.float64)
    return np.asarray(w / w.sum(), dtype=np.float64)


def ewma_mean(returns: FloatArray, halflife: float) -> FloatArray:
    """EWMA mean of each column of a [T, N] return matrix (no NaN allowed)."""
    r = np.asarray(returns, dtype=np.float64)
    return np.asarray(ewma_weights(len(r), halflife) @ r, dtype=np.float64)


def ewma_cov(returns: FloatArray, halflife: float, *, demean: bool = True) -> FloatArray:
    """EWMA covariance sum_i w_i (r_i - m)(r_i - m)' with normalised weights (RiskMetrics 1996).

    `demean=False` is the classic RiskMetrics zero-mean form sum_i w_i r_i r_i'.
    """
    r = np.asarray(returns, dtype=np.float64)
    w = ewma_weights(len(r), halflife)
    x = r - w @ r if demean else r
    return np.asarray((x * w[:, None]).T @ x, dtype=np.float64)


def ewma_vol(returns: FloatArray, halflife: float, *, demean: bool = True) -> FloatArray:
    """Per-period EWMA volatility of each column (square root of the EWMA variance)."""
    r = np.asarray(returns, dtype=np.float64)
    w = ewma_weights(len(r), halflife)
    x = r - w @ r if demean else r
    return np.asarray(np.sqrt(w @ (x * x)), dtype=np.float64)


def sample_cov(returns: FloatArray, ddof: int = 1) -> FloatArray:
    """Sample covariance of a [T, N] return matrix, (X - mean)'(X - mean) / (T - ddof)."""
    r = np.asarray(returns, dtype=np.float64)
    x = r - r.mean(axis=0)
    return np.asarray(x.T @ x / max(len(r) - ddof, 1), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class EwmaState:
    """Online EWMA state: total weight W, mean m [N] and unnormalised co-moment M2 [N, N]."""

    weight: float
    mean: FloatArray
    comoment: FloatArray
    count: int


@dataclass(slots=True)
class EwmaEstimator:
    """Online EWMA mean/covariance: update(row) is O(N^2) and equals the batch ewma_* on all rows seen.

    Recursion (West 1979 weighted update with decay): W' = lam W + 1, d = r - m, m' = m + d / W',
    M2' = lam M2 + (lam W / W') d d'; cov = M2 / W. With demean=False, m stays 0 and M2' = lam M2 + r r'.
    """

    n_assets: int
    halflife: float
    demean: bool = True
    state: EwmaState = field(init=False)

    def __post_init__(self) -> None:
        n = self.n_assets
        self.state = EwmaState(0.0, np.zeros(n), np.zeros((n, n)), 0)

    def update(self, row: FloatArray) -> EwmaState:
        """Fold one return row into the state; rows with NaN/inf are rejected, not skipped."""
        r = np.asarray(row, dtype=np.float64)
        if r.shape != (self.n_assets,) or not bool(np.all(np.isfinite(r))):
            raise ValueError(f"EWMA update needs {self.n_assets} finite returns, got {r!r}")
        lam = decay_factor(self.halflife)
        s = self.state
        w_old = lam * s.weight
        w_new = w_old + 1.0
        if self.demean:
            d = r - s.mean
            mean = s.mean + d / w_new
            comoment = lam * s.comoment + (w_old / w_new) * np.outer(d, d)
        else:
            mean = s.mean
            comoment = lam * s.comoment + np.outer(r, r)
        self.state = EwmaState(w_new, mean, comoment, s.count + 1)
        return self.state

    @property
    def mean(self) -> FloatArray:
        return self.state.mean.copy()

    @property
    def cov(self) -> FloatArray:
        if self.state.count == 0:
            raise ValueError("EWMA covariance needs at least one update")
        return np.asarray(self.state.comoment / self.state.weight, dtype=np.float64)

    @property
    def vol(self) -> FloatArray:
        return np.asarray(np.sqrt(np.diag(self.cov)), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class Shrunk:
    """A shrunk covariance (1/T sample basis), the target used and the intensity delta in [0, 1]."""

    cov: FloatArray
    target: FloatArray
    intensity: float


def ledoit_wolf(
    returns: FloatArray, target: Literal["constant_correlation", "identity"] = "constant_correlation"
) -> Shrunk:
    """Ledoit-Wolf shrinkage delta F + (1 - delta) S with the asymptotically optimal delta.

    constant_correlation: Ledoit & Wolf (2004), "Honey, I shrunk the sample covariance matrix",
    J. Portfolio Management 30(4). identity: Ledoit & Wolf (2004), "A well-conditioned estimator
    for large-dimensional covariance matrices", J. Multivariate Analysis 88(2). S uses 1/T.
    """
    r = np.asarray(returns, dtype=np.float64)
    t, n = r.shape
    x = r - r.mean(axis=0)
    s = x.T @ x / t
    if target == "identity":
        mu = float(np.trace(s)) / n
        f = mu * np.eye(n)
        d2 = float(np.sum((s - f) ** 2))
        x2 = x * x
        # (1/T^2) sum_t ||x_t x_t' - S||_F^2 = (1/T^2) sum_t ||x_t||^4 - ||S||_F^2 / T
        b2_bar = float(np.sum(np.sum(x2, axis=1) ** 2)) / t**2 - float(np.sum(s * s)) / t
        delta = 0.0 if d2 <= 0 else min(max(b2_bar, 0.0), d2) / d2
    elif target == "constant_correlation":
        var = np.diag(s).copy()
        sd = np.sqrt(var)
        with np.errstate(divide="ignore", invalid="ignore"):
            outer_sd = np.outer(sd, sd)
            corr = np.where(outer_sd > 0, s / np.where(outer_sd > 0, outer_sd, 1.0), 0.0)
            r_bar = (float(np.sum(corr)) - float(np.sum(np.diag(corr)))) / (n * (n - 1)) if n > 1 else 0.0
            f = r_bar * outer_sd
            np.fill_diagonal(f, var)
            y = x * x
            phi_mat = y.T @ y / t - s * s
            phi = float(np.sum(phi_mat))
            theta = (x**3).T @ x / t - var[:, None] * s  # theta_ii,ij = mean(x_i^3 x_j) - s_ii s_ij
            np.fill_diagonal(theta, 0.0)
            ratio = np.where(sd[:, None] > 0, sd[None, :] / np.where(sd[:, None] > 0, sd[:, None], 1.0), 0.0)
            rho = float(np.sum(np.diag(phi_mat))) + r_bar * float(np.sum(ratio * theta))
            gamma = float(np.sum((s - f) ** 2))
        kappa = (phi - rho) / gamma if gamma > 0 else 0.0
        delta = min(1.0, max(0.0, kappa / t))
    else:
        raise ValueError(f"unknown shrinkage target {target!r}")
    cov = delta * f + (1.0 - delta) * s
    return Shrunk(cov=np.asarray(cov, dtype=np.float64), target=np.asarray(f, dtype=np.float64), intensity=delta)


@dataclass(frozen=True, slots=True)
class ReturnsWindow:
    """Clean trailing returns [T, K] for the `assets` kept, and notes on what was left out and why."""

    assets: tuple[str, ...]
    returns: FloatArray
    notes: tuple[str, ...]
    usable: bool


def trailing_returns(
    history: PriceHistory, universe: tuple[str, ...], lookback: int, min_rows: int, who: str
) -> ReturnsWindow:
    """Simple returns over the last `lookback` periods for the `universe` assets priced at the last row.

    Assets without a price now are left out; assets with fewer than `min_rows` returns in the window
    are left out; then only rows where every kept asset has a return are used. `usable` is False
    (with a note) when fewer than `min_rows` clean rows remain: callers then fall back.
    """
    notes: list[str] = []
    priced: list[str] = []
    for a in universe:
        if a not in history.assets:
            notes.append(f"{who}: {a} not in price history: left out")
            continue
        last = history.prices[-1, history.index_of(a)] if len(history) else np.nan
        if not (np.isfinite(last) and last > 0):
            notes.append(f"{who}: {a} has no price at the decision time: left out")
            continue
        priced.append(a)
    rows = min(len(history), lookback + 1)
    if not priced or rows - 1 < min_rows:
        if priced:
            notes.append(f"too little history for {who} ({max(rows - 1, 0)} < {min_rows} rows)")
        return ReturnsWindow(tuple(priced), np.empty((0, len(priced))), tuple(notes), False)
    idx = [history.index_of(a) for a in priced]
    rets = simple_returns(history.prices[len(history) - rows :, idx])
    ok = np.isfinite(rets)
    counts = ok.sum(axis=0)
    keep = [j for j in range(len(priced)) if counts[j] >= min_rows]
    for j in range(len(priced)):
        if counts[j] < min_rows:
            notes.append(f"{who}: {priced[j]} has {int(counts[j])} < {min_rows} returns in the window: left out")
    if not keep:
        return ReturnsWindow(tuple(priced), np.empty((0, len(priced))), tuple(notes), False)
    rets = rets[:, keep]
    clean = rets[np.all(np.isfinite(rets), axis=1)]
    assets = tuple(priced[j] for j in keep)
    if len(clean) < min_rows:
        notes.append(f"too little history for {who} ({len(clean)} < {min_rows} rows with all assets priced)")
        return ReturnsWindow(assets, clean, tuple(notes), False)
    return ReturnsWindow(assets, np.ascontiguousarray(clean), tuple(notes), True)


def regularise(cov: FloatArray, who: str, max_condition: float = 1e10) -> tuple[FloatArray, tuple[str, ...]]:
    """Add a ridge eps * mean variance * I when cov is singular or its condition number > max_condition."""
    c = 0.5 * (cov + cov.T)
    n = len(c)
    scale = float(np.trace(c)) / n if n else 0.0
    if not np.isfinite(scale) or scale <= 0:
        return np.eye(n) * 1e-12, (f"{who}: covariance is zero or not finite: used a tiny identity",)
    eig = np.linalg.eigvalsh(c)
    if eig[0] > eig[-1] / max_condition:
        return c, ()
    ridge = eig[-1] / max_condition - min(eig[0], 0.0)
    cond = eig[-1] / eig[0] if eig[0] > 0 else float("inf")
    note = f"{who}: covariance ill-conditioned (condition {cond:.3g}): added ridge {ridge / scale:.3g} x mean variance"
    return c + ridge * np.eye(n), (note,)
