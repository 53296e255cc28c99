"""Drift of weights from targets: absolute, relative (zero-target fallback) and aggregate norms."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AssetDrift:
    """One asset's weight against its target and its band; distance > 0 means inside the band."""

    asset: str
    weight: float
    target: float
    abs_drift: float  # weight - target (signed, fraction)
    rel_drift: float  # (weight - target) / target; equals abs_drift when target == 0
    band: float  # effective absolute half-width of the band around target (inf if no band)
    distance: float  # band - |abs_drift|: how much more drift before the trigger fires

    @property
    def breached(self) -> bool:
        return self.distance < 0


def effective_band(target: float, band: float | None, relative_band: float | None) -> float:
    """Tightest absolute half-width implied by an absolute band and a band relative to the target."""
    widths = []
    if band is not None and band > 0:
        widths.append(band)
    if relative_band is not None and relative_band > 0 and target > 0:
        widths.append(relative_band * target)
    return min(widths) if widths else float("inf")


def asset_drifts(
    weights: Mapping[str, float],
    targets: Mapping[str, float],
    band: float | None = None,
    relative_band: float | None = None,
    tol: float = 1e-12,
) -> list[AssetDrift]:
    """Per-asset drift for the union of held and targeted assets (targets first, in their order)."""
    names = list(targets) + [a for a in weights if a not in targets]
    out = []
    for a in names:
        w = weights.get(a, 0.0)
        t = targets.get(a, 0.0)
        d = w - t
        rel = d / t if t > 0 else d
        b = effective_band(t, band, relative_band)
        # tol absorbs float noise so an asset sitting exactly on its band edge counts as inside.
        out.append(AssetDrift(a, w, t, d, rel, b, b - abs(d) + tol))
    return out


def max_abs_drift(weights: Mapping[str, float], targets: Mapping[str, float]) -> float:
    """L-infinity drift: the largest |w - w*| over assets."""
    names = set(weights) | set(targets)
    return max((abs(weights.get(a, 0.0) - targets.get(a, 0.0)) for a in names), default=0.0)


def tracking_error(weights: Mapping[str, float], targets: Mapping[str, float]) -> float:
    """Half the L1 distance between weights and targets: the fraction of value misallocated."""
    names = set(weights) | set(targets)
    return 0.5 * sum(abs(weights.get(a, 0.0) - targets.get(a, 0.0)) for a in names)
