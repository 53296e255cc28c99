"""Opportunity triggers: act on a better yield, a price shock, a risk event or an index listing change.

Each returns a TriggerResult carrying a structured `kind` (opportunistic or risk) so alerts and the
dashboard need not guess it from the reason text; they compose with the other triggers via AnyOf / AllOf.
Yield data comes in `DecisionContext.reserves` (position -> ReserveState); prices and
market caps from `ctx.history` (rows up to the decision time only).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from trimtab.core.triggers.rules import DecisionContext, TriggerKind, TriggerResult
from trimtab.core.yields.positions import ReserveState

OPPORTUNISTIC = TriggerKind.OPPORTUNISTIC
RISK = TriggerKind.RISK


def tagged(fired: bool, reasons: tuple[str, ...], kind: TriggerKind) -> TriggerResult:
    """A result with its structured kind (scheduled, opportunistic, risk, ...)."""
    return TriggerResult(fired, reasons, kind=kind)


def kind_of(result: TriggerResult) -> str:
    """The structured kind of a result, as text."""
    return result.kind.value


def _states(ctx: DecisionContext) -> Mapping[str, ReserveState | None]:
    return ctx.reserves


@dataclass(frozen=True, slots=True)
class YieldChange:
    """Fire when some candidate's APY beats the held position's (the largest weight) by more than `margin`."""

    margin: float = 0.005

    def check(self, ctx: DecisionContext) -> TriggerResult:
        states = {n: s for n, s in _states(ctx).items() if s is not None}
        if not states:
            return tagged(False, ("yield_change: no yield data",), OPPORTUNISTIC)
        held = [n for n in states if ctx.weights.get(n, 0.0) > 0]
        if not held:
            return tagged(False, ("yield_change: no yield position held",), OPPORTUNISTIC)
        h = max(held, key=lambda n: ctx.weights.get(n, 0.0))
        best = max((n for n in states if n != h), key=lambda n: states[n].apy, default=None)
        if best is None:
            return tagged(False, (f"yield_change: {h} is the only candidate",), OPPORTUNISTIC)
        gap = states[best].apy - states[h].apy
        text = (
            f"yield_change: {best} APY {states[best].apy:.2%} vs held {h} {states[h].apy:.2%} "
            f"({gap * 100:+.2f}pp, margin {self.margin * 100:.2f}pp)"
        )
        return tagged(gap > self.margin, (text,), OPPORTUNISTIC)


@dataclass(frozen=True, slots=True)
class PriceShock:
    """Fire when an asset moves more than `pct` or more than `k_sigma` standard deviations over `window` rows.

    Sigma: the std of one-row log returns over the `vol_lookback` rows before the window, times sqrt(window).
    """

    assets: tuple[str, ...] = ()  # empty: every target asset priced in the history
    window: int = 1
    pct: float | None = None
    k_sigma: float | None = None
    vol_lookback: int = 90

    def check(self, ctx: DecisionContext) -> TriggerResult:
        h = ctx.history
        if h is None or len(h) <= self.window:
            return tagged(False, ("price_shock: not enough history",), OPPORTUNISTIC)
        names = self.assets or tuple(a for a in ctx.targets if a != ctx.quote)
        hits: list[str] = []
        for a in names:
            if a not in h.assets:
                continue
            p = h.prices[:, h.index_of(a)]
            now, then = float(p[-1]), float(p[-1 - self.window])
            if not (now > 0 and then > 0):
                continue
            move = now / then - 1.0
            if self.pct is not None and abs(move) > self.pct:
                hits.append(f"{a} {move:+.1%} in {self.window} rows (beyond {self.pct:.1%})")
                continue
            if self.k_sigma is not None:
                past = p[max(0, len(p) - 1 - self.window - self.vol_lookback) : len(p) - self.window]
                rets = np.diff(np.log(past[past > 0]))
                if rets.size >= 10:
                    sigma = float(np.std(rets, ddof=1)) * math.sqrt(self.window)
                    z = math.log(now / then) / sigma if sigma > 0 else math.inf
                    if abs(z) > self.k_sigma:
                        hits.append(f"{a} {move:+.1%} in {self.window} rows = {z:+.1f} sigma (beyond {self.k_sigma:g})")
        if hits:
            return tagged(True, tuple(f"price_shock: {x}" for x in hits), OPPORTUNISTIC)
        return tagged(False, ("price_shock: no asset beyond its limits",), OPPORTUNISTIC)


@dataclass(frozen=True, slots=True)
class ScoreChange:
    """A protocol's user-given risk score from `at` on."""

    at: datetime
    protocol: str
    score: float


@dataclass(frozen=True, slots=True)
class RiskEvent:
    """Fire (kind risk) on a stablecoin depeg beyond `depeg_tolerance`, a held reserve's utilisation above
    `utilization_cap`, or a protocol's risk score falling below `min_score` since the previous check."""

    depeg_tolerance: float | None = 0.01
    stablecoins: tuple[str, ...] = ("USDC", "USDT", "DAI")
    utilization_cap: float | None = None
    score_changes: tuple[ScoreChange, ...] = ()
    min_score: float = 0.5

    def check(self, ctx: DecisionContext) -> TriggerResult:
        hits: list[str] = []
        h = ctx.history
        if self.depeg_tolerance is not None and h is not None and len(h):
            for a in self.stablecoins:
                if a in h.assets and a != ctx.quote:
                    p = float(h.prices[-1, h.index_of(a)])
                    if math.isfinite(p) and abs(p - 1.0) > self.depeg_tolerance:
                        hits.append(f"{a} depeg at {p:.4f} (beyond {self.depeg_tolerance:.2%}): reduce exposure")
        if self.utilization_cap is not None:
            for name, s in _states(ctx).items():
                if s is not None and ctx.weights.get(name, 0.0) > 0 and s.utilization > self.utilization_cap:
                    hits.append(
                        f"{name} utilisation {s.utilization:.1%} above {self.utilization_cap:.1%}: "
                        "withdrawals may block, exit"
                    )
        for c in self.score_changes:
            new = c.at <= ctx.time and (ctx.previous is None or c.at > ctx.previous)
            if new and c.score < self.min_score:
                hits.append(f"{c.protocol} risk score now {c.score:g} (below {self.min_score:g}): exit its positions")
        if hits:
            return tagged(True, tuple(f"risk_event: {x}" for x in hits), RISK)
        return tagged(False, ("risk_event: none",), RISK)


def _members(caps: np.ndarray, assets: tuple[str, ...], n: int) -> list[str]:
    ok = np.flatnonzero(np.isfinite(caps) & (caps > 0))
    order = ok[np.argsort(-caps[ok], kind="stable")]
    return [assets[j] for j in order[:n]]


@dataclass(frozen=True, slots=True)
class Listing:
    """For market-cap indexes: fire at the first check after a new asset enters the top `top_n` or a member
    falls below rank `top_n + buffer_ranks` (the index model then phases it in or out), instead of waiting."""

    top_n: int
    buffer_ranks: int = 0
    exclude: tuple[str, ...] = ()

    def check(self, ctx: DecisionContext) -> TriggerResult:
        h = ctx.history
        if h is None or h.market_caps is None or len(h) < 2 or ctx.previous is None:
            return tagged(False, ("listing: no earlier market caps to compare",), OPPORTUNISTIC)
        prev_row = (
            int(np.searchsorted(h.times, np.datetime64(ctx.previous.replace(tzinfo=None), "ns"), side="right")) - 1
        )
        if prev_row < 0 or prev_row == len(h) - 1:
            return tagged(False, ("listing: no new market caps since the previous check",), OPPORTUNISTIC)
        keep = [j for j, a in enumerate(h.assets) if a not in self.exclude and a != ctx.quote]
        assets = tuple(h.assets[j] for j in keep)
        now = h.market_caps[-1, keep]
        before = set(_members(h.market_caps[prev_row, keep], assets, self.top_n))
        top = _members(now, assets, self.top_n)
        wide = set(_members(now, assets, self.top_n + self.buffer_ranks))
        entered = [a for a in top if a not in before]
        left = sorted(a for a in before if a not in wide)
        if entered or left:
            parts = ([f"{', '.join(entered)} entered the top {self.top_n}"] if entered else []) + (
                [f"{', '.join(left)} left the top {self.top_n + self.buffer_ranks}"] if left else []
            )
            return tagged(True, (f"listing: {'; '.join(parts)} (phase-in per the index)",), OPPORTUNISTIC)
        return tagged(False, (f"listing: top {self.top_n} unchanged",), OPPORTUNISTIC)


def score_changes_in(trigger: object) -> tuple[ScoreChange, ...]:
    """Every RiskEvent score change in a trigger tree (AnyOf / AllOf / Not included)."""
    return tuple(c for e in risk_events_in(trigger) for c in e.score_changes)


def scores_at(changes: tuple[ScoreChange, ...], now: datetime) -> dict[str, float]:
    """Each protocol's latest score from changes dated at or before `now`."""
    out: dict[str, float] = {}
    for c in sorted(changes, key=lambda c: c.at):
        if c.at <= now:
            out[c.protocol] = c.score
    return out


def risk_events_in(trigger: object) -> tuple[RiskEvent, ...]:
    """Every RiskEvent in a trigger tree (AnyOf / AllOf / Not included)."""
    if isinstance(trigger, RiskEvent):
        return (trigger,)
    kids = getattr(trigger, "triggers", None) or (
        (getattr(trigger, "trigger", None),) if hasattr(trigger, "trigger") else ()
    )
    return tuple(r for k in kids if k is not None for r in risk_events_in(k))


def depegged(events: tuple[RiskEvent, ...], prices: Mapping[str, float]) -> dict[str, str]:
    """Coins (of `prices`, coin -> USD) further from $1 than some event's depeg tolerance, with the reason."""
    out: dict[str, str] = {}
    for e in events:
        if e.depeg_tolerance is None:
            continue
        for coin, p in prices.items():
            if coin in e.stablecoins and math.isfinite(p) and abs(p - 1.0) > e.depeg_tolerance and coin not in out:
                out[coin] = f"risk_event: {coin} depeg at {p:.4f} (beyond {e.depeg_tolerance:.2%})"
    return out
