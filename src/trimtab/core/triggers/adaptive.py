"""Adaptive triggers: bands and check frequency from the volatility regime, the trend regime, or trading costs.

Each is a small frozen dataclass with `check(ctx) -> TriggerResult`. It reads only `ctx.history` (rows up to
`ctx.time`) and only a trailing window of it, so a check costs O(window x assets) and cannot see the future.
The result's reason says which regime or band applied and why it fired or held. Rules: docs/models.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from trimtab.core.base.schedule import Every, parse_every
from trimtab.core.base.types import asset_symbol
from trimtab.core.measures.drift import effective_band
from trimtab.core.measures.estimators import ewma_vol, simple_returns
from trimtab.core.measures.regimes import (
    UNKNOWN,
    Trend,
    TrendRegime,
    VolatilityRegime,
    ffill,
    rolling_vol,
    variance_ratio,
)
from trimtab.core.triggers.rules import DecisionContext, TriggerKind, TriggerResult

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class RegimeRule:
    """What one regime means for rebalancing: a band (relative to the target, or absolute) and a check period."""

    band: float
    every: Every

    def __post_init__(self) -> None:
        if not 0 < self.band <= 10:
            raise ValueError(f"band must be in (0, 10], got {self.band}")


def rule(band: float, every: str) -> RegimeRule:
    return RegimeRule(band, parse_every(every))


DEFAULT_VOL_RULES = (rule(0.15, "1M"), rule(0.25, "2w"), rule(0.40, "1w"), rule(0.60, "1d"))


def reference_prices(ctx: DecisionContext, source: str | None, rows: int) -> FloatArray | None:
    """The last `rows` prices of asset `source`, or (source None) an index of the target mix rebalanced each period.

    The index compounds sum_i w*_i r_i: an unpriced asset (not listed yet, or the quote without a column) adds 0.
    """
    h = ctx.history
    if h is None or len(h) < 2:
        return None
    tail = h.prices[-rows:]
    if source is not None:
        return tail[:, h.index_of(source)] if source in h.assets else None
    w = np.array([ctx.targets.get(a, 0.0) for a in h.assets])
    rp = np.nan_to_num(simple_returns(tail)) @ w
    return np.concatenate(([1.0], np.cumprod(1.0 + rp)))


def band_result(
    ctx: DecisionContext,
    bands: Mapping[str, float],
    head: str,
    *,
    calendar: bool = False,
    kind: TriggerKind = TriggerKind.THRESHOLD,
) -> TriggerResult:
    """Fire when some asset's |w - w*| exceeds its absolute half-width in `bands` (assets absent: no band)."""
    names = list(ctx.targets) + [a for a in ctx.weights if a not in ctx.targets]
    breached: list[str] = []
    closest: tuple[float, str, float, float] | None = None
    for a in names:
        b = bands.get(a, math.inf)
        d = ctx.weights.get(a, 0.0) - ctx.targets.get(a, 0.0)
        if abs(d) > b + 1e-12:
            breached.append(f"{a} drift {d * 100:+.2f}pp beyond band {b * 100:.2f}pp")
        elif math.isfinite(b) and (closest is None or b - abs(d) < closest[0]):
            closest = (b - abs(d), a, abs(d), b)
    if breached:
        return TriggerResult(
            True,
            (f"{head}: " + "; ".join(breached),),
            calendar=calendar,
            bands=dict(bands),
            kind=TriggerKind.SCHEDULED if calendar else kind,
        )
    why = f"closest {closest[1]} {closest[2] * 100:.2f}pp of {closest[3] * 100:.2f}pp" if closest else "no bands"
    return TriggerResult(False, (f"{head}: all within band ({why})",), bands=dict(bands), kind=kind)


def _bands(ctx: DecisionContext, band: float, relative: bool) -> dict[str, float]:
    return {
        a: effective_band(t, None if relative else band, band if relative else None) for a, t in ctx.targets.items()
    }


def _not_due(ctx: DecisionContext, every: Every, head: str) -> TriggerResult | None:
    """A hold with its reason when this regime's check is not due yet; None when the bands should be checked."""
    due = _due(ctx, every)
    if due is None:
        return TriggerResult(False, (f"{head}: schedule not started",))
    if not due:
        return TriggerResult(False, (f"{head}: check not due",))
    return None


def _due(ctx: DecisionContext, every: Every) -> bool | None:
    if ctx.anchor is None or ctx.previous is None:
        return None
    return every.due_between(ctx.anchor, ctx.previous, ctx.time)


def _label_source(source: str | None) -> str:
    return source or "portfolio"


@dataclass(frozen=True)
class VolatilityAdaptive:
    """Band and check period from the annualised realised volatility regime (low / medium / high / extreme).

    The volatility is that of `source` (an asset, e.g. BTC) or, by default, of the target mix over the last
    `regime.window` returns (core.measures.regimes.rolling_vol). Too little history counts as the last (widest) regime.
    """

    regime: VolatilityRegime = VolatilityRegime()
    rules: tuple[RegimeRule, RegimeRule, RegimeRule, RegimeRule] = DEFAULT_VOL_RULES
    source: str | None = None
    relative: bool = True

    def __post_init__(self) -> None:
        if len(self.rules) != 4:
            raise ValueError(f"need 4 regime rules (low, medium, high, extreme), got {len(self.rules)}")
        if self.source is not None:
            object.__setattr__(self, "source", asset_symbol(self.source))

    def regime_now(self, ctx: DecisionContext) -> tuple[str, float, RegimeRule]:
        """The regime name, the volatility behind it (NaN if unknown) and its rule."""
        p = reference_prices(ctx, self.source, self.regime.window + 1)
        ppy = ctx.history.periods_per_year() if ctx.history is not None else 365.0
        vol = (
            float(rolling_vol(p, self.regime.window, ppy)[-1])
            if p is not None and len(p) > self.regime.window
            else math.nan
        )
        if not math.isfinite(vol):
            return UNKNOWN, vol, self.rules[-1]
        k = int(np.searchsorted(np.asarray(self.regime.thresholds), vol, side="right"))
        return self.regime.names[k], vol, self.rules[k]

    def check(self, ctx: DecisionContext) -> TriggerResult:
        name, vol, r = self.regime_now(ctx)
        vol_text = f"{vol:.1%}" if math.isfinite(vol) else "unknown"
        kind = "relative " if self.relative else ""
        head = (
            f"volatility_adaptive: {_label_source(self.source)} vol {vol_text} ({name}): "
            f"{kind}band {r.band:.0%}, every {r.every.text}"
        )
        held = _not_due(ctx, r.every, head)
        if held is not None:
            return held
        return band_result(ctx, _bands(ctx, r.band, self.relative), head, kind=TriggerKind.RISK)


TREND_RULES = {
    Trend.MEAN_REVERTING.value: rule(0.03, "1w"),
    Trend.RANDOM_WALK.value: rule(0.05, "2w"),
    Trend.TRENDING.value: rule(0.10, "1M"),
}


@dataclass(frozen=True)
class RegimeAware:
    """Trend vs mean reversion (Lo-MacKinlay variance ratio) picks the band and check period.

    Mean-reverting markets get the tighter band and shorter period, trending ones the wider band and longer
    period (rebalancing sells winners, which pays when prices revert and costs when they trend). With
    `momentum_bias` b > 0, in a trending regime an asset that is overweight after outperforming the target mix
    over `momentum_lookback` (or underweight after underperforming) gets its band widened by (1 + b): winners
    are let run. Unknown (too little history) uses the random_walk rule.
    """

    trend: TrendRegime = TrendRegime()
    rules: Mapping[str, RegimeRule] = field(default_factory=lambda: dict(TREND_RULES))
    source: str | None = None
    relative: bool = False
    momentum_bias: float = 0.0
    momentum_lookback: int = 90

    def __post_init__(self) -> None:
        missing = {t.value for t in Trend} - set(self.rules)
        if missing:
            raise ValueError(f"missing regime rules: {sorted(missing)}")
        if not 0 <= self.momentum_bias <= 10 or self.momentum_lookback < 1:
            raise ValueError("need 0 <= momentum_bias <= 10 and momentum_lookback >= 1")
        if self.source is not None:
            object.__setattr__(self, "source", asset_symbol(self.source))

    def regime_now(self, ctx: DecisionContext) -> tuple[str, float]:
        """The trend label and the variance ratio behind it (NaN if unknown)."""
        p = reference_prices(ctx, self.source, self.trend.window + 1)
        if p is None or len(p) < self.trend.window + 1:
            return UNKNOWN, math.nan
        tail = ffill(p)
        if not bool(np.all(np.isfinite(tail))):
            return UNKNOWN, math.nan
        vr = variance_ratio(tail, self.trend.q)
        if vr.ratio > 1 and vr.z_robust > self.trend.z_crit:
            return Trend.TRENDING, vr.ratio
        if vr.ratio < 1 and vr.z_robust < -self.trend.z_crit:
            return Trend.MEAN_REVERTING, vr.ratio
        return Trend.RANDOM_WALK, vr.ratio

    def _momentum(self, ctx: DecisionContext) -> dict[str, float]:
        """Trailing return of each targeted asset minus that of the target mix (0 when unknown)."""
        h = ctx.history
        n = self.momentum_lookback + 1
        p = reference_prices(ctx, None, n)
        if h is None or p is None or len(p) < n:
            return {}
        mix = float(p[-1] / p[0] - 1.0)
        out = {}
        for a in ctx.targets:
            if a in h.assets:
                col = h.prices[-n:, h.index_of(a)]
                if np.isfinite(col[0]) and np.isfinite(col[-1]) and col[0] > 0:
                    out[a] = float(col[-1] / col[0] - 1.0) - mix
        return out

    def check(self, ctx: DecisionContext) -> TriggerResult:
        name, ratio = self.regime_now(ctx)
        r = self.rules["random_walk" if name == UNKNOWN else name]
        vr = f"VR({self.trend.q}) {ratio:.2f}" if math.isfinite(ratio) else "VR unknown"
        kind = "relative " if self.relative else ""
        head = (
            f"regime_aware: {_label_source(self.source)} {vr} ({name}): {kind}band {r.band:.0%}, every {r.every.text}"
        )
        held = _not_due(ctx, r.every, head)
        if held is not None:
            return held
        bands = _bands(ctx, r.band, self.relative)
        if name == "trending" and self.momentum_bias > 0:
            for a, m in self._momentum(ctx).items():
                d = ctx.weights.get(a, 0.0) - ctx.targets.get(a, 0.0)
                if d * m > 0:  # drifted the way its trend pushes it
                    bands[a] *= 1.0 + self.momentum_bias
            head += f", momentum bias {self.momentum_bias:g}"
        return band_result(ctx, bands, head, kind=TriggerKind.RISK)


@dataclass(frozen=True, slots=True)
class CostBands:
    """Per-asset estimates behind a CostAware decision (fractions of portfolio value; per year for s)."""

    bands: dict[str, float]
    diffusion: dict[str, float]  # s_i = w*_i * annualised vol of (r_i - r_target_mix)
    cost_rate: dict[str, float]  # one-way proportional cost per unit traded (fee + slippage + per-asset extra)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class CostAware:
    """Per-asset no-trade bands from volatility and all-in cost, and a benefit-vs-cost test before trading.

    Band (docs/models.md): b_i = (3/2 * c_i * s_i^2 / gamma)^(1/3), the optimal reflection barrier of a
    weight deviation diffusing at s_i with running penalty (gamma/2) x^2 per year and proportional cost c_i
    (the c^(1/3) law of Janecek & Shreve 2004; Rogers 2004); for one asset against cash s = w(1-w) sigma.
    Benefit of the proposed trade x -> x': sum_i (gamma/2)(x_i^2 - x_i'^2) H_i, H_i the horizon (default the
    mean time b_i^2/s_i^2 for a deviation to cross the band again); cost: sum_i c_i |x_i - x_i'| plus gas.
    """

    aversion: float = 1.0
    lookback: int = 90
    halflife: float | None = 30.0
    min_rows: int = 20
    horizon_days: float | None = None
    asset_cost_bps: Mapping[str, float] = field(default_factory=dict)
    min_band: float = 0.002
    max_band: float = 0.5
    fallback_band: float = 0.05
    band_edge: bool = False  # the strategy trades to the band edge (benefit of x -> edge) instead of to target
    benefit_test: bool = True  # False: trade whenever a band is breached (the bands alone)

    def __post_init__(self) -> None:
        if not self.aversion > 0:
            raise ValueError(f"aversion must be > 0, got {self.aversion}")
        if self.lookback < 2 or not 2 <= self.min_rows <= self.lookback:
            raise ValueError(f"need 2 <= min_rows <= lookback, got {self.min_rows}, {self.lookback}")
        if not 0 < self.min_band <= self.fallback_band <= self.max_band <= 1:
            raise ValueError("need 0 < min_band <= fallback_band <= max_band <= 1")
        if self.horizon_days is not None and not self.horizon_days > 0:
            raise ValueError(f"horizon_days must be > 0, got {self.horizon_days}")
        object.__setattr__(self, "asset_cost_bps", {asset_symbol(a): float(v) for a, v in self.asset_cost_bps.items()})

    def estimate(self, ctx: DecisionContext) -> CostBands:
        """Bands for every targeted or held asset except the quote, from the trailing `lookback` returns."""
        h = ctx.history
        names = [a for a in dict.fromkeys([*ctx.targets, *ctx.weights]) if a != ctx.quote]
        notes: list[str] = []
        sig: dict[str, float] = {}
        if h is not None and len(h) > self.min_rows:
            tail = h.prices[-(self.lookback + 1) :]
            rets = simple_returns(tail)
            w = np.array([ctx.targets.get(a, 0.0) for a in h.assets])
            rp = np.nan_to_num(rets) @ w
            ppy = h.periods_per_year()
            for a in names:
                if a not in h.assets:
                    continue
                rel = rets[:, h.index_of(a)] - rp
                rel = rel[np.isfinite(rel)]
                if len(rel) >= self.min_rows:
                    v = ewma_vol(rel[:, None], self.halflife)[0] if self.halflife else float(np.std(rel, ddof=1))
                    sig[a] = float(v) * math.sqrt(ppy)
        fallback = max(sig.values()) if sig else math.nan
        if len(sig) < len(names):
            short = [a for a in names if a not in sig]
            notes.append(
                f"no volatility estimate for {', '.join(short)}: "
                + (f"used the largest ({fallback:.0%})" if sig else f"fallback band {self.fallback_band:.1%}")
            )
        bands: dict[str, float] = {}
        diff: dict[str, float] = {}
        rates: dict[str, float] = {}
        for a in names:
            c = ctx.costs_rate + self.asset_cost_bps.get(a, 0.0) * 1e-4
            s = ctx.targets.get(a, 0.0) * sig.get(a, fallback)
            if not (math.isfinite(s) and s > 0):
                bands[a], diff[a], rates[a] = self.fallback_band, 0.0, c
                continue
            b = self._band(c, s)
            if ctx.gas_per_order > 0 and ctx.value > 0:  # gas as a fraction of a band-sized trade, twice to settle
                for _ in range(2):
                    b = self._band(c + ctx.gas_per_order / (b * ctx.value), s)
            bands[a], diff[a], rates[a] = b, s, c
        return CostBands(bands, diff, rates, tuple(notes))

    def _band(self, c: float, s: float) -> float:
        raw = (1.5 * c * s * s / self.aversion) ** (1.0 / 3.0) if c > 0 else 0.0
        return min(max(raw, self.min_band), self.max_band)

    def benefit_and_cost(self, ctx: DecisionContext, est: CostBands) -> tuple[float, float]:
        """Expected penalty saved over the horizon and the cost of the trade, both as fractions of value."""
        benefit = cost = 0.0
        for a, b in est.bands.items():
            x = ctx.weights.get(a, 0.0) - ctx.targets.get(a, 0.0)
            x_new = math.copysign(b, x) if self.band_edge and abs(x) > b else (x if self.band_edge else 0.0)
            trade = abs(x - x_new)
            if trade <= 1e-12:
                continue
            s = est.diffusion[a]
            horizon = self.horizon_days / 365.0 if self.horizon_days else (b * b / (s * s) if s > 0 else 1.0)
            benefit += 0.5 * self.aversion * (x * x - x_new * x_new) * horizon
            cost += est.cost_rate[a] * trade + (ctx.gas_per_order / ctx.value if ctx.value > 0 else 0.0)
        return benefit, cost

    def check(self, ctx: DecisionContext) -> TriggerResult:
        est = self.estimate(ctx)
        head = "cost_aware"
        if est.notes:
            head += f" ({'; '.join(est.notes)})"
        res = band_result(ctx, est.bands, head)
        if not res.fired or not self.benefit_test:
            return res
        benefit, cost = self.benefit_and_cost(ctx, est)
        verdict = f"benefit {benefit * 1e4:.1f} bps {'>' if benefit > cost else '<='} cost {cost * 1e4:.1f} bps"
        if benefit > cost:
            return TriggerResult(True, (f"{res.reason}; {verdict}",), bands=est.bands, kind=TriggerKind.OPPORTUNISTIC)
        return TriggerResult(
            False, (f"{res.reason}; {verdict}: hold",), bands=est.bands, kind=TriggerKind.OPPORTUNISTIC
        )


def reads_history(trigger: object) -> bool:
    """True when the trigger (or a member of a combination) estimates from past prices: live runs must supply them."""
    from trimtab.core.triggers.rules import AllOf, AnyOf, Not

    if isinstance(trigger, AnyOf | AllOf):
        return any(reads_history(t) for t in trigger.triggers)
    if isinstance(trigger, Not):
        return reads_history(trigger.trigger)
    return isinstance(trigger, VolatilityAdaptive | RegimeAware | CostAware)
