"""Overlays: models that wrap another model and adjust its weights (tilt, de-risk, cap).

Each is a frozen dataclass `Overlay(inner=model, ...)` with the same `weights(inp)` method, so
they stack: GroupCaps(inner=DrawdownProtection(inner=RiskParity())). Rules: docs/models.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from trimtab.core.allocation.models import AllocationInput, AllocationModel, AllocationResult, finalise, water_fill
from trimtab.core.base.types import asset_symbol
from trimtab.core.measures.estimators import trailing_returns

FloatArray = npt.NDArray[np.float64]


def _sleeve(res: AllocationResult, quote: str) -> dict[str, float]:
    return {a: w for a, w in res.weights.items() if a != quote}


@dataclass(frozen=True, slots=True)
class MomentumTilt:
    """w_i * (1 + f * s_i), s_i the cross-sectional rank of the trailing return scaled to [-1, 1].

    f > 0 tilts towards recent winners, f < 0 towards losers; the risky sleeve keeps its total and
    is water-filled to `max_weight`. Assets without both prices get s = 0 (untilted, noted).
    """

    inner: AllocationModel
    momentum_factor: float = 0.5
    lookback: int = 90
    max_weight: float = 1.0

    def __post_init__(self) -> None:
        if not -1.0 <= self.momentum_factor <= 1.0:
            raise ValueError(f"momentum_factor must be in [-1, 1], got {self.momentum_factor}")
        if self.lookback < 1 or not 0 < self.max_weight <= 1:
            raise ValueError("need lookback >= 1 and max_weight in (0, 1]")

    def weights(self, inp: AllocationInput) -> AllocationResult:
        base = self.inner.weights(inp)
        sleeve = {a: w for a, w in _sleeve(base, inp.quote).items() if w > 0}
        if len(sleeve) < 2 or self.momentum_factor == 0:
            return base
        h = inp.history
        notes = list(base.notes)
        assets = tuple(sleeve)
        mom = np.zeros(len(assets))
        known = np.zeros(len(assets), dtype=bool)
        if len(h) > self.lookback:
            for k, a in enumerate(assets):
                if a in h.assets:
                    p0, p1 = h.prices[-1 - self.lookback, h.index_of(a)], h.prices[-1, h.index_of(a)]
                    if np.isfinite(p0) and np.isfinite(p1) and p0 > 0:
                        mom[k], known[k] = p1 / p0 - 1.0, True
        if known.sum() < 2:
            return finalise(base.weights, inp.quote, (*notes, "MomentumTilt: too little history: no tilt"))
        if not known.all():
            missing = ", ".join(a for a, k in zip(assets, known, strict=True) if not k)
            notes.append(f"MomentumTilt: no {self.lookback}-period return for {missing}: untilted")
        score = np.zeros(len(assets))
        ranks = _average_ranks(mom[known])
        score[known] = 2.0 * ranks / (known.sum() - 1) - 1.0
        w = np.array([sleeve[a] for a in assets])
        tilted = w * (1.0 + self.momentum_factor * score)
        total = float(w.sum())
        new = water_fill(tilted, self.max_weight, 0.0, total=total) if tilted.sum() > 0 else w
        zeros = dict.fromkeys(_sleeve(base, inp.quote), 0.0)
        return finalise({**zeros, **dict(zip(assets, new.tolist(), strict=True))}, inp.quote, notes)


def drawdown_exposure(
    equity: FloatArray, limit: float, cut_fraction: float, recovery_rate: float, stop_loss: float | None
) -> tuple[float, float]:
    """Replay the exposure rule over the equity path; return (risky multiplier now, drawdown now).

    Per observation: dd >= stop_loss -> m = 0 and the peak resets to the current equity;
    dd >= limit -> m = min(m, 1 - cut_fraction); else m = min(1, m + recovery_rate).
    """
    m, peak, dd = 1.0, -math.inf, 0.0
    for e in np.asarray(equity, dtype=np.float64).tolist():
        if not math.isfinite(e) or e <= 0:
            continue
        peak = max(peak, e)
        dd = 1.0 - e / peak
        if stop_loss is not None and dd >= stop_loss:
            m, peak = 0.0, e
        elif dd >= limit:
            m = min(m, 1.0 - cut_fraction)
        else:
            m = min(1.0, m + recovery_rate)
    return m, dd


@dataclass(frozen=True, slots=True)
class DrawdownProtection:
    """Cut the risky sleeve by `cut_fraction` while the portfolio's drawdown >= `limit`; exit at `stop_loss`.

    Exposure comes back by `recovery_rate` per equity observation once the drawdown is below `limit`
    (see drawdown_exposure); the state is replayed from `inp.equity`, so no hidden state is kept.
    """

    inner: AllocationModel
    limit: float = 0.2
    cut_fraction: float = 0.5
    recovery_rate: float = 0.05
    stop_loss: float | None = 0.4

    def __post_init__(self) -> None:
        if not 0 < self.limit < 1 or not 0 <= self.cut_fraction <= 1 or not 0 < self.recovery_rate <= 1:
            raise ValueError("need 0 < limit < 1, 0 <= cut_fraction <= 1, 0 < recovery_rate <= 1")
        if self.stop_loss is not None and not self.limit < self.stop_loss <= 1:
            raise ValueError(f"stop_loss must be in (limit, 1], got {self.stop_loss}")

    def weights(self, inp: AllocationInput) -> AllocationResult:
        base = self.inner.weights(inp)
        if inp.equity is None or len(inp.equity) < 2:
            return finalise(base.weights, inp.quote, (*base.notes, "DrawdownProtection: no equity path yet: inactive"))
        m, dd = drawdown_exposure(inp.equity, self.limit, self.cut_fraction, self.recovery_rate, self.stop_loss)
        if m >= 1.0:
            return base
        note = f"DrawdownProtection: drawdown {dd:.1%}: risky sleeve at {m:.0%}"
        return finalise({a: w * m for a, w in _sleeve(base, inp.quote).items()}, inp.quote, (*base.notes, note))


@dataclass(frozen=True, slots=True)
class CorrelationLimit:
    """Cap the combined weight of any two assets whose trailing correlation > threshold at max_combined.

    Pairs are scaled down pro rata, most correlated first; scaling only lowers weights, so earlier
    pairs stay within the limit. The excess goes to the quote asset.
    """

    inner: AllocationModel
    threshold: float = 0.9
    max_combined: float = 0.5
    lookback: int = 90
    min_rows: int = 20

    def __post_init__(self) -> None:
        if not -1 < self.threshold <= 1 or not 0 < self.max_combined <= 1:
            raise ValueError("need threshold in (-1, 1] and max_combined in (0, 1]")
        if not 2 <= self.min_rows <= self.lookback:
            raise ValueError("need 2 <= min_rows <= lookback")

    def weights(self, inp: AllocationInput) -> AllocationResult:
        base = self.inner.weights(inp)
        sleeve = _sleeve(base, inp.quote)
        held = tuple(a for a, w in sleeve.items() if w > 0)
        if len(held) < 2:
            return base
        win = trailing_returns(inp.history, held, self.lookback, self.min_rows, "CorrelationLimit")
        notes = list(base.notes)
        if not win.usable or len(win.assets) < 2:
            return finalise(
                base.weights, inp.quote, (*notes, *win.notes, "CorrelationLimit: no correlation estimate: unchanged")
            )
        sd = win.returns.std(axis=0)
        ok = sd > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = np.atleast_2d(np.asarray(np.corrcoef(win.returns, rowvar=False), dtype=np.float64))
        pairs = [
            (float(corr[i, j]), i, j)
            for i in range(len(win.assets))
            for j in range(i + 1, len(win.assets))
            if ok[i] and ok[j] and corr[i, j] > self.threshold
        ]
        w = dict(sleeve)
        for c, i, j in sorted(pairs, reverse=True):
            a, b = win.assets[i], win.assets[j]
            both = w[a] + w[b]
            if both > self.max_combined:
                k = self.max_combined / both
                w[a], w[b] = w[a] * k, w[b] * k
                notes.append(
                    f"CorrelationLimit: {a}/{b} correlation {c:.2f}: combined {both:.1%} cut to {self.max_combined:.0%}"
                )
        return finalise(w, inp.quote, notes)


@dataclass(frozen=True)
class GroupCaps:
    """Cap the total weight of each named group (e.g. {"defi": ("UNI", "AAVE")}: 0.2).

    Excess is water-filled pro rata into assets outside saturated groups (redistribute=True) or held
    in the quote asset; with nowhere to go it is held in the quote asset. Groups must be disjoint.
    A single-asset group is a per-asset cap.
    """

    inner: AllocationModel
    groups: Mapping[str, tuple[str, ...]]
    caps: Mapping[str, float]
    redistribute: bool = True

    def __post_init__(self) -> None:
        groups = {g: tuple(asset_symbol(a) for a in members) for g, members in self.groups.items()}
        seen: dict[str, str] = {}
        for g, members in groups.items():
            for a in members:
                if a in seen:
                    raise ValueError(f"GroupCaps: {a} is in both {seen[a]!r} and {g!r}; groups must be disjoint")
                seen[a] = g
        unknown = set(self.caps) - set(groups)
        if unknown:
            raise ValueError(f"GroupCaps: caps for unknown groups {sorted(unknown)}")
        bad = {g: c for g, c in self.caps.items() if not 0 <= c <= 1}
        if bad:
            raise ValueError(f"GroupCaps: caps must be in [0, 1], got {bad}")
        object.__setattr__(self, "groups", groups)

    def weights(self, inp: AllocationInput) -> AllocationResult:
        base = self.inner.weights(inp)
        w = _sleeve(base, inp.quote)
        notes = list(base.notes)
        fixed: set[str] = set()
        for _ in range(len(self.caps) + 1):
            over = {
                g: tot
                for g, cap in self.caps.items()
                if g not in fixed and (tot := math.fsum(w.get(a, 0.0) for a in self.groups[g])) > cap + 1e-12
            }
            if not over:
                break
            excess = 0.0
            for g, tot in over.items():
                k = self.caps[g] / tot
                for a in self.groups[g]:
                    if a in w:
                        w[a] *= k
                excess += tot - self.caps[g]
                fixed.add(g)
                notes.append(f"GroupCaps: group {g!r} at {tot:.1%} capped to {self.caps[g]:.0%}")
            capped = {a for g in fixed for a in self.groups[g]}
            free = [a for a, v in w.items() if a not in capped and v > 0]
            free_total = math.fsum(w[a] for a in free)
            if not self.redistribute or free_total <= 0:
                if self.redistribute:
                    notes.append(f"GroupCaps: no uncapped asset to take {excess:.1%}: held in {inp.quote}")
                break
            for a in free:
                w[a] += excess * w[a] / free_total
        return finalise(w, inp.quote, notes)


def _average_ranks(x: FloatArray) -> FloatArray:
    """0-based ranks with ties sharing their average rank (scipy.stats.rankdata - 1, without importing scipy.stats)."""
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x), dtype=np.float64)
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    return np.asarray(np.bincount(inverse, weights=ranks) / counts, dtype=np.float64)[inverse]
