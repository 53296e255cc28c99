"""Covariance-based models: RiskParity (ERC), MinimumVariance, FractionalKelly and VolatilityTarget.

Each reads only the trailing `lookback` returns of the history it is given and falls back in a
documented way (a note in the result) when history is short or the covariance is ill-conditioned.
Formulas and sources: docs/models.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from trimtab.core.allocation.models import (
    AllocationInput,
    AllocationModel,
    AllocationResult,
    capped_weights,
    check_caps,
    equal_weight,
    finalise,
)
from trimtab.core.measures.estimators import ewma_cov, ledoit_wolf, regularise, sample_cov, trailing_returns

FloatArray = npt.NDArray[np.float64]
Shrinkage = Literal["constant_correlation", "identity"]


def _check_window(lookback: int, min_rows: int) -> None:
    if lookback < 2 or not 2 <= min_rows <= lookback:
        raise ValueError(f"need 2 <= min_rows <= lookback, got min_rows={min_rows}, lookback={lookback}")


def estimate_cov(returns: FloatArray, halflife: float | None, shrink: Shrinkage | None = None) -> FloatArray:
    """Per-period covariance: Ledoit-Wolf if `shrink`, else EWMA if `halflife`, else the sample covariance."""
    if shrink is not None:
        return ledoit_wolf(returns, shrink).cov
    if halflife:
        return ewma_cov(returns, halflife)
    return sample_cov(returns)


def erc_weights(cov: FloatArray, tol: float = 1e-13, max_iter: int = 200) -> FloatArray:
    """Equal-risk-contribution weights by damped Newton on Spinu's convex problem.

    min_x 0.5 x'Cx - sum_i ln x_i has x_i (Cx)_i = 1 at its optimum, so w = x / sum(x) gives equal
    risk contributions (Spinu 2013, "An algorithm for computing risk parity weights"; damped Newton
    as in Nesterov's self-concordant analysis). C must be positive definite.
    """
    c = np.asarray(cov / float(np.mean(np.diag(cov))), dtype=np.float64)
    x = 1.0 / np.sqrt(np.diag(c))
    x /= np.sqrt(x @ c @ x)
    for _ in range(max_iter):
        cx = c @ x
        g = cx - 1.0 / x
        h = c + np.diag(1.0 / (x * x))
        dx = np.linalg.solve(h, g)
        dec = math.sqrt(max(float(g @ dx), 0.0))  # Newton decrement
        x = x - dx / (1.0 + dec) if dec > 0.25 else x - dx
        if dec < tol:
            break
    w = x / x.sum()
    return np.asarray(w, dtype=np.float64)


def risk_contributions(w: FloatArray, cov: FloatArray) -> FloatArray:
    """Fractional risk contributions w_i (C w)_i / w'Cw (they sum to 1)."""
    cw = cov @ w
    return np.asarray(w * cw / float(w @ cw), dtype=np.float64)


def project_capped_simplex(v: FloatArray, cap: float, total: float = 1.0) -> FloatArray:
    """Euclidean projection of v onto {0 <= w_i <= cap, sum w = total} (bisection on the shift tau)."""
    v = np.asarray(v, dtype=np.float64)
    if len(v) * cap <= total:
        return np.full(len(v), cap)
    lo, hi = float(v.min()) - cap, float(v.max())
    for _ in range(200):
        tau = 0.5 * (lo + hi)
        if float(np.clip(v - tau, 0.0, cap).sum()) > total:
            lo = tau
        else:
            hi = tau
    w = np.clip(v - 0.5 * (lo + hi), 0.0, cap)
    s = float(w.sum())
    return w * (total / s) if s > 0 else w


def project_long_only(v: FloatArray, cap: float, budget: float = 1.0) -> FloatArray:
    """Euclidean projection onto {0 <= w_i <= cap, sum w <= budget}: box-clip, else the capped simplex."""
    w = np.clip(v, 0.0, cap)
    return w if float(w.sum()) <= budget else project_capped_simplex(v, cap, budget)


def min_variance_weights(cov: FloatArray, max_weight: float = 1.0, max_iter: int = 0) -> tuple[FloatArray, bool]:
    """Long-only minimum variance, sum w = 1, 0 <= w_i <= max_weight; returns (w, converged).

    Primal active-set method for convex QPs (Nocedal & Wright 2006, Algorithm 16.3): solve the
    equality-constrained KKT system on the free set, step to the first blocking bound, and release
    the bound with the most negative multiplier until all multipliers are >= 0. A ridge caps the
    condition number at 1e8 (ties between duplicate assets are then split evenly).
    """
    n = len(cov)
    q = np.asarray(cov / float(np.mean(np.diag(cov))), dtype=np.float64)
    eig = np.linalg.eigvalsh(q)
    q = q + max(eig[-1] * 1e-8 - eig[0], 0.0) * np.eye(n)  # condition <= 1e8 keeps the KKT solves exact enough
    if n * max_weight <= 1.0:
        return np.full(n, max_weight), True
    w = np.full(n, 1.0 / n)
    at_low = np.zeros(n, dtype=bool)
    at_up = np.zeros(n, dtype=bool)
    solved = False  # True right after a full step: w is the minimiser on the current free set
    for _ in range(max_iter or 10 * n + 50):
        free = ~(at_low | at_up)
        f = np.flatnonzero(free)
        g = q @ w
        k = len(f)
        kkt = np.zeros((k + 1, k + 1))
        kkt[:k, :k] = q[np.ix_(f, f)]
        kkt[:k, k] = kkt[k, :k] = 1.0
        sol = np.linalg.solve(kkt, np.concatenate([-g[f], [0.0]]))
        p, nu = sol[:k], -sol[k]
        if solved or float(np.max(np.abs(p))) <= 1e-12:
            mult = np.where(at_low, g - nu, np.where(at_up, nu - g, 0.0))
            worst = int(np.argmin(mult))
            if mult[worst] >= -1e-10:
                return np.clip(w, 0.0, max_weight), True
            at_low[worst] = at_up[worst] = False
            solved = False
            continue
        wf = w[f]
        with np.errstate(divide="ignore", invalid="ignore"):
            to_low = np.where(p < 0, -wf / p, np.inf)
            to_up = np.where(p > 0, (max_weight - wf) / p, np.inf)
        step = min(1.0, float(to_low.min()), float(to_up.min()))
        w[f] = wf + step * p
        solved = step == 1.0
        if step < 1.0:
            if float(to_low.min()) <= float(to_up.min()):
                j = f[int(np.argmin(to_low))]
                at_low[j], w[j] = True, 0.0
            else:
                j = f[int(np.argmin(to_up))]
                at_up[j], w[j] = True, max_weight
    return project_capped_simplex(w, max_weight), False


@dataclass(frozen=True, slots=True)
class RiskParity:
    """Equal risk contribution over the trailing window (no caps: wrap in GroupCaps to cap)."""

    lookback: int = 365
    halflife: float | None = None
    min_rows: int = 30

    def __post_init__(self) -> None:
        _check_window(self.lookback, self.min_rows)

    def weights(self, inp: AllocationInput) -> AllocationResult:
        win = trailing_returns(inp.history, inp.universe, self.lookback, self.min_rows, "RiskParity")
        if not win.usable:
            return equal_weight(win.assets, inp.quote, win.notes, "RiskParity")
        cov, reg_notes = regularise(estimate_cov(win.returns, self.halflife), "RiskParity")
        w = erc_weights(cov)
        return finalise(dict(zip(win.assets, w.tolist(), strict=True)), inp.quote, (*win.notes, *reg_notes))


@dataclass(frozen=True, slots=True)
class MinimumVariance:
    """Long-only minimum variance w'Cw subject to sum w = 1, 0 <= w_i <= max_weight (Ledoit-Wolf shrunk C by
    default)."""

    lookback: int = 365
    halflife: float | None = None
    min_rows: int = 30
    max_weight: float = 1.0
    shrink: Shrinkage | None = "constant_correlation"

    def __post_init__(self) -> None:
        _check_window(self.lookback, self.min_rows)
        check_caps(self.max_weight)

    def weights(self, inp: AllocationInput) -> AllocationResult:
        who = "MinimumVariance"
        win = trailing_returns(inp.history, inp.universe, self.lookback, self.min_rows, who)
        if not win.usable:
            return equal_weight(win.assets, inp.quote, win.notes, who, self.max_weight)
        notes = list(win.notes)
        n = len(win.assets)
        if n * self.max_weight < 1.0 - 1e-12:
            w_cap, cap_notes = capped_weights(win.assets, np.ones(n), inp.quote, self.max_weight, 0.0, who)
            return finalise(w_cap, inp.quote, (*notes, *cap_notes))
        cov, reg_notes = regularise(estimate_cov(win.returns, self.halflife, self.shrink), who)
        notes.extend(reg_notes)
        w, ok = min_variance_weights(cov, self.max_weight)
        if not ok:
            notes.append(f"{who}: active-set solver did not converge: used its last iterate projected onto the caps")
        return finalise(dict(zip(win.assets, w.tolist(), strict=True)), inp.quote, notes)


@dataclass(frozen=True, slots=True)
class FractionalKelly:
    """w = c * inv(Sigma) (mu - rf), Sigma Ledoit-Wolf shrunk, projected to long-only, caps, sum <= 1.

    `shrinkage` fixes the intensity towards the target (0 = plain 1/T sample covariance); None
    uses the Ledoit-Wolf optimal intensity. With too little history it holds only the quote asset.
    """

    risk_tolerance: float = 0.5
    rf: float = 0.0
    lookback: int = 365
    min_rows: int = 60
    max_weight: float = 1.0
    target: Shrinkage = "constant_correlation"
    shrinkage: float | None = None

    def __post_init__(self) -> None:
        _check_window(self.lookback, self.min_rows)
        check_caps(self.max_weight)
        if not 0.0 < self.risk_tolerance <= 1.0:
            raise ValueError(f"risk_tolerance (Kelly fraction) must be in (0, 1], got {self.risk_tolerance}")
        if self.shrinkage is not None and not 0.0 <= self.shrinkage <= 1.0:
            raise ValueError(f"shrinkage must be in [0, 1], got {self.shrinkage}")

    def raw_weights(self, returns: FloatArray, periods_per_year: float) -> tuple[FloatArray, tuple[str, ...]]:
        """Unconstrained c * inv(Sigma) (mu - rf) on per-period simple returns, and any ridge note."""
        lw = ledoit_wolf(returns, self.target)
        if self.shrinkage is None:
            cov = lw.cov
        else:
            cov = self.shrinkage * lw.target + (1.0 - self.shrinkage) * sample_cov(returns, ddof=0)
        cov, notes = regularise(cov, "FractionalKelly")
        rf_period = (1.0 + self.rf) ** (1.0 / periods_per_year) - 1.0
        excess = returns.mean(axis=0) - rf_period
        return np.asarray(self.risk_tolerance * np.linalg.solve(cov, excess), dtype=np.float64), notes

    def weights(self, inp: AllocationInput) -> AllocationResult:
        who = "FractionalKelly"
        win = trailing_returns(inp.history, inp.universe, self.lookback, self.min_rows, who)
        if not win.usable:
            return finalise({}, inp.quote, (*win.notes, f"{who}: no edge estimate: all in {inp.quote}"))
        raw, reg_notes = self.raw_weights(win.returns, inp.history.periods_per_year())
        w = project_long_only(raw, self.max_weight, 1.0)
        notes = [*win.notes, *reg_notes]
        if float(w.sum()) <= 0.0:
            notes.append(f"{who}: no asset has a positive Kelly weight: all in {inp.quote}")
        return finalise(dict(zip(win.assets, w.tolist(), strict=True)), inp.quote, notes)


class VolForecaster(Protocol):
    """Forecast the annualised volatility of a portfolio from its past per-period returns."""

    def annual_vol(self, returns: FloatArray, periods_per_year: float) -> float: ...


@dataclass(frozen=True, slots=True)
class VolatilityTarget:
    """Scale the base model's risky sleeve so forecast annual vol = target_vol (leverage <= 1; rest to quote).

    The forecast is sqrt(w' Sigma w * periods_per_year) on the trailing window, or a `forecaster`'s
    (e.g. adapters.garch.GarchForecaster) on the sleeve's past returns.
    """

    target_vol: float
    base: AllocationModel
    lookback: int = 90
    halflife: float | None = None
    min_rows: int = 20
    forecaster: VolForecaster | None = None

    def __post_init__(self) -> None:
        _check_window(self.lookback, self.min_rows)
        if not self.target_vol > 0:
            raise ValueError(f"target_vol must be > 0, got {self.target_vol}")

    def weights(self, inp: AllocationInput) -> AllocationResult:
        who = "VolatilityTarget"
        base = self.base.weights(inp)
        risky = {a: w for a, w in base.risky(inp.quote).items() if w > 0}
        if not risky:
            return base
        assets = tuple(risky)
        win = trailing_returns(inp.history, assets, self.lookback, self.min_rows, who)
        if not win.usable or win.assets != assets:
            return finalise(
                base.weights, inp.quote, (*base.notes, *win.notes, f"{who}: no vol forecast: base weights kept")
            )
        w = np.array([risky[a] for a in assets])
        ppy = inp.history.periods_per_year()
        if self.forecaster is not None:
            vol = float(self.forecaster.annual_vol(win.returns @ w, ppy))
        else:
            cov = ewma_cov(win.returns, self.halflife) if self.halflife else sample_cov(win.returns)
            vol = float(np.sqrt(max(float(w @ cov @ w), 0.0) * ppy))
        max_scale = 1.0 / float(w.sum())
        scale = min(self.target_vol / vol, max_scale) if vol > 0 and np.isfinite(vol) else max_scale
        scaled = {a: risky[a] * scale for a in assets}
        zeros = {a: 0.0 for a in base.risky(inp.quote) if a not in scaled}
        return finalise({**zeros, **scaled}, inp.quote, base.notes)
