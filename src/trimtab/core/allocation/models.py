"""AllocationModel protocol, its input/result values, cap water-filling and the simple models.

Every model is a small frozen dataclass with one method, `weights(inp) -> AllocationResult`; it
reads only `inp.history` (rows up to the decision time) and returns long-only weights that sum to
1, the quote asset holding whatever the risky sleeve does not (docs/models.md).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from trimtab.core.base.history import PriceHistory
from trimtab.core.base.types import asset_symbol
from trimtab.core.measures.estimators import ewma_vol, trailing_returns

FloatArray = npt.NDArray[np.float64]
SUM_TOL = 1e-9


@dataclass(frozen=True, eq=False)
class AllocationInput:
    """What a model may see at a decision time: history up to now, the universe, own equity, current weights."""

    history: PriceHistory
    universe: tuple[str, ...]
    quote: str
    equity: FloatArray | None = None
    current: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "universe", tuple(asset_symbol(a) for a in self.universe))
        object.__setattr__(self, "quote", asset_symbol(self.quote))
        object.__setattr__(self, "current", {asset_symbol(k): float(v) for k, v in self.current.items()})


@dataclass(frozen=True)
class AllocationResult:
    """Target weights (>= 0, summing to 1, the quote asset as cash sleeve) and the fallbacks taken."""

    weights: dict[str, float]
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        vals = list(self.weights.values())
        if not all(math.isfinite(v) and v >= 0 for v in vals):
            raise ValueError(f"weights must be finite and >= 0, got {self.weights}")
        if abs(math.fsum(vals) - 1.0) > SUM_TOL:
            raise ValueError(f"weights must sum to 1, got {math.fsum(vals)!r}")

    def risky(self, quote: str) -> dict[str, float]:
        """Weights of everything but the quote asset."""
        return {a: w for a, w in self.weights.items() if a != quote}


class AllocationModel(Protocol):
    def weights(self, inp: AllocationInput) -> AllocationResult: ...


def finalise(weights: Mapping[str, float], quote: str, notes: Iterable[str] = ()) -> AllocationResult:
    """Clip round-off negatives, give the quote asset 1 - sum(risky), and rescale if the sleeve exceeds 1."""
    notes = tuple(notes)
    risky: dict[str, float] = {}
    for a, w in weights.items():
        if a == quote:
            continue
        if not math.isfinite(w):
            return AllocationResult({quote: 1.0}, (*notes, f"non-finite weight for {a}: all in {quote}"))
        risky[a] = max(float(w), 0.0)
    total = math.fsum(risky.values())
    if total > 1.0:
        risky = {a: w / total for a, w in risky.items()}
        total = math.fsum(risky.values())
    cash = 1.0 - total
    if not risky or total <= 0.0:
        return AllocationResult({**dict.fromkeys(risky, 0.0), quote: 1.0}, notes)
    if cash < 1e-12:  # round-off: rescale the sleeve instead of a dust cash weight
        return AllocationResult({a: w / total for a, w in risky.items()}, notes)
    return AllocationResult({**risky, quote: cash}, notes)


def water_fill(raw: FloatArray, max_weight: float = 1.0, min_weight: float = 0.0, total: float = 1.0) -> FloatArray:
    """Scale `raw` to sum `total` with every entry in [min_weight, max_weight], redistributing excess pro rata.

    Iterative water-filling: pin entries over the cap (then under the floor) and rescale the free ones.
    If n * max_weight < total every entry ends at the cap and the sum falls short (caller: quote takes it).
    """
    raw = np.maximum(np.nan_to_num(np.asarray(raw, dtype=np.float64), nan=0.0), 0.0)
    n = len(raw)
    out = np.zeros(n)
    if n == 0:
        return out
    if n * max_weight <= total + 1e-15:
        return np.full(n, max_weight)
    free = np.ones(n, dtype=bool)
    for _ in range(2 * n + 1):
        remaining = total - float(out[~free].sum())
        base = raw[free]
        s = float(base.sum())
        x = base * (remaining / s) if s > 0 else np.full(len(base), remaining / len(base))
        over = x > max_weight + 1e-15
        under = x < min_weight - 1e-15
        idx = np.flatnonzero(free)
        if over.any():
            out[idx[over]] = max_weight
            free[idx[over]] = False
        elif under.any():
            out[idx[under]] = min_weight
            free[idx[under]] = False
        else:
            out[idx] = x
            break
        if not free.any():
            break
    return out


def capped_weights(
    assets: tuple[str, ...], raw: FloatArray, quote: str, max_weight: float, min_weight: float, who: str
) -> tuple[dict[str, float], tuple[str, ...]]:
    """Water-filled weights for `assets`; when the caps cannot hold 100%, a note and the quote takes the rest."""
    notes: tuple[str, ...] = ()
    if len(assets) * max_weight < 1.0 - 1e-12 and assets:
        notes = (
            f"{who}: {len(assets)} assets x max_weight {max_weight:g} < 100%: "
            f"{1 - len(assets) * max_weight:.2%} left in {quote}",
        )
    w = water_fill(raw, max_weight, min(min_weight, 1.0 / max(len(assets), 1)))
    return dict(zip(assets, (float(v) for v in w), strict=True)), notes


def equal_weight(
    assets: tuple[str, ...], quote: str, notes: Iterable[str], who: str, max_weight: float = 1.0
) -> AllocationResult:
    """Equal weights over `assets` (all in the quote asset when there are none), recording the fallback."""
    notes = tuple(notes)
    if not assets:
        return finalise({}, quote, (*notes, f"{who}: no usable assets: all in {quote}"))
    w, cap_notes = capped_weights(assets, np.ones(len(assets)), quote, max_weight, 0.0, who)
    return finalise(w, quote, (*notes, f"{who}: fell back to equal weight", *cap_notes))


def check_caps(max_weight: float, min_weight: float = 0.0) -> None:
    """Validate cap parameters at construction."""
    if not 0.0 < max_weight <= 1.0:
        raise ValueError(f"max_weight must be in (0, 1], got {max_weight}")
    if not 0.0 <= min_weight <= max_weight:
        raise ValueError(f"min_weight must be in [0, max_weight], got {min_weight}")


@dataclass(frozen=True)
class Static:
    """Fixed target weights (e.g. 60% BTC / 40% ETH); may include the quote asset as a cash sleeve."""

    targets: Mapping[str, float]

    def __post_init__(self) -> None:
        clean = {asset_symbol(a): float(w) for a, w in self.targets.items()}
        if not clean:
            raise ValueError("Static needs at least one weight")
        bad = {a: w for a, w in clean.items() if not (math.isfinite(w) and w >= 0)}
        if bad:
            raise ValueError(f"Static weights must be finite and >= 0, got {bad}")
        if abs(math.fsum(clean.values()) - 1.0) > SUM_TOL:
            raise ValueError(f"Static weights must sum to 1, got {math.fsum(clean.values())}")
        object.__setattr__(self, "targets", clean)

    def weights(self, inp: AllocationInput) -> AllocationResult:
        w = dict(self.targets)
        total = math.fsum(w.values())
        return AllocationResult({a: v / total for a, v in w.items()})


@dataclass(frozen=True, slots=True)
class EqualWeight:
    """1/N over the universe assets priced at the decision time, capped at max_weight."""

    max_weight: float = 1.0

    def __post_init__(self) -> None:
        check_caps(self.max_weight)

    def weights(self, inp: AllocationInput) -> AllocationResult:
        h = inp.history
        priced = tuple(
            a
            for a in inp.universe
            if a in h.assets and len(h) and np.isfinite(h.prices[-1, h.index_of(a)]) and h.prices[-1, h.index_of(a)] > 0
        )
        if not priced:
            return finalise({}, inp.quote, (f"EqualWeight: no priced assets: all in {inp.quote}",))
        w, notes = capped_weights(priced, np.ones(len(priced)), inp.quote, self.max_weight, 0.0, "EqualWeight")
        return finalise(w, inp.quote, notes)


@dataclass(frozen=True, slots=True)
class InverseVolatility:
    """w_i proportional to 1 / sigma_i over the trailing `lookback` returns (EWMA when halflife is set)."""

    lookback: int = 90
    halflife: float | None = None
    min_rows: int = 20
    max_weight: float = 1.0

    def __post_init__(self) -> None:
        check_caps(self.max_weight)
        if self.lookback < 2 or not 2 <= self.min_rows <= self.lookback:
            raise ValueError(f"need 2 <= min_rows <= lookback, got {self.min_rows}, {self.lookback}")

    def weights(self, inp: AllocationInput) -> AllocationResult:
        win = trailing_returns(inp.history, inp.universe, self.lookback, self.min_rows, "InverseVolatility")
        if not win.usable:
            return equal_weight(win.assets, inp.quote, win.notes, "InverseVolatility", self.max_weight)
        r = win.returns
        vol = ewma_vol(r, self.halflife) if self.halflife else r.std(axis=0, ddof=1)
        notes = list(win.notes)
        floor = 1e-10
        if bool(np.any(vol < floor)):
            flat = [a for a, v in zip(win.assets, vol, strict=True) if v < floor]
            notes.append(f"InverseVolatility: zero volatility for {', '.join(flat)}: floored at {floor:g}")
        raw = 1.0 / np.maximum(vol, floor)
        w, cap_notes = capped_weights(win.assets, raw, inp.quote, self.max_weight, 0.0, "InverseVolatility")
        return finalise(w, inp.quote, (*notes, *cap_notes))
