"""The `trigger:` block of a strategy file: one pydantic model per `kind`, a discriminated union, built into core
triggers.

Kinds: threshold, calendar, hybrid, never (bands and schedules), volatility_adaptive, regime_aware, cost_aware
(core/triggers/adaptive.py), the opportunity kinds yield_change, price_shock, risk_event, listing
(config_opportunity.py,
core/triggers/opportunity.py) and the combinators any_of, all_of, not with nested `triggers:` lists (so `hybrid` is
`any_of: [calendar, threshold]`). Unknown keys are errors; every rule is in docs/models.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from trimtab.config.base import Model
from trimtab.config.opportunity import ListingSpec, PriceShockSpec, RiskEventSpec, YieldChangeSpec
from trimtab.core.base.schedule import parse_every
from trimtab.core.base.types import asset_symbol, canonical_keys
from trimtab.core.measures.regimes import Trend, TrendRegime, VolatilityRegime
from trimtab.core.triggers.adaptive import (
    DEFAULT_VOL_RULES,
    TREND_RULES,
    CostAware,
    RegimeAware,
    RegimeRule,
    VolatilityAdaptive,
)
from trimtab.core.triggers.rules import AllOf, AnyOf, Calendar, Never, Not, ThresholdBand, Trigger

Band = Annotated[float, Field(gt=0, le=1)]
RelBand = Annotated[float, Field(gt=0, le=10)]


def _duration(v: str | None) -> str | None:
    if v is not None:
        parse_every(v)
    return v


def _source(v: str | None) -> str | None:
    """An asset symbol, or None for the target mix ('portfolio')."""
    if v is None or str(v).strip().lower() == "portfolio":
        return None
    return asset_symbol(str(v))


class BandSpec(Model):
    """`kind` picks the rule; bands are fractions (0.05 = 5 percentage points), `every` a duration."""

    kind: Literal["threshold", "calendar", "hybrid", "never"]
    band: Band | None = None
    relative_band: RelBand | None = None
    every: str | None = None

    _every = field_validator("every")(_duration)

    @model_validator(mode="after")
    def _fields_for_kind(self) -> BandSpec:
        needs_band = self.kind in ("threshold", "hybrid")
        needs_every = self.kind in ("calendar", "hybrid")
        if needs_band and self.band is None and self.relative_band is None:
            raise ValueError(f"kind {self.kind} needs band or relative_band")
        if needs_every and self.every is None:
            raise ValueError(f"kind {self.kind} needs every (e.g. 30d, 1w, 1M)")
        return self

    def build(self, rebalance_to: str = "target") -> Trigger:
        band = ThresholdBand(self.band, self.relative_band)
        if self.kind == "threshold":
            return band
        if self.kind == "never":
            return Never()
        cal = Calendar(parse_every(self.every or ""))
        return cal if self.kind == "calendar" else AnyOf((cal, band))


class RuleSpec(Model):
    """One regime's band (relative to each target, or absolute: see the trigger's `relative`) and check period."""

    band: RelBand
    every: str

    _every = field_validator("every")(_duration)

    def build(self) -> RegimeRule:
        return RegimeRule(self.band, parse_every(self.every))


def _rule(r: RegimeRule) -> RuleSpec:
    return RuleSpec(band=r.band, every=r.every.text)


class VolatilityAdaptiveSpec(Model):
    """Band and check period per volatility regime (low / medium / high / extreme); defaults from the issue's table."""

    kind: Literal["volatility_adaptive"]
    source: str | None = None  # an asset (e.g. BTC) or `portfolio` (default): the target mix
    window: Annotated[int, Field(ge=2, le=5000)] = 30
    thresholds: tuple[Band, Band, Band] = (0.15, 0.25, 0.40)  # annualised vol bounds low|medium|high|extreme
    relative: bool = True
    low: RuleSpec = _rule(DEFAULT_VOL_RULES[0])
    medium: RuleSpec = _rule(DEFAULT_VOL_RULES[1])
    high: RuleSpec = _rule(DEFAULT_VOL_RULES[2])
    extreme: RuleSpec = _rule(DEFAULT_VOL_RULES[3])

    _source = field_validator("source")(_source)

    @field_validator("thresholds")
    @classmethod
    def _increasing(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        if not v[0] < v[1] < v[2]:
            raise ValueError(f"must be increasing, got {list(v)}")
        return v

    def build(self, rebalance_to: str = "target") -> Trigger:
        rules = (self.low.build(), self.medium.build(), self.high.build(), self.extreme.build())
        return VolatilityAdaptive(VolatilityRegime(self.window, self.thresholds), rules, self.source, self.relative)


class RegimeAwareSpec(Model):
    """Band and check period per trend regime (variance ratio): mean_reverting, random_walk, trending."""

    kind: Literal["regime_aware"]
    source: str | None = None
    window: Annotated[int, Field(ge=10, le=5000)] = 180
    q: Annotated[int, Field(ge=2, le=100)] = 5
    z_crit: Annotated[float, Field(gt=0)] = 1.96
    relative: bool = False
    mean_reverting: RuleSpec = _rule(TREND_RULES["mean_reverting"])
    random_walk: RuleSpec = _rule(TREND_RULES["random_walk"])
    trending: RuleSpec = _rule(TREND_RULES["trending"])
    momentum_bias: Annotated[float, Field(ge=0, le=10)] = 0.0
    momentum_lookback: Annotated[int, Field(ge=1, le=5000)] = 90

    _source = field_validator("source")(_source)

    @model_validator(mode="after")
    def _window(self) -> RegimeAwareSpec:
        if self.window < 2 * self.q:
            raise ValueError(f"window {self.window} must be at least 2 x q ({2 * self.q})")
        return self

    def build(self, rebalance_to: str = "target") -> Trigger:
        rules = {
            Trend.MEAN_REVERTING.value: self.mean_reverting.build(),
            Trend.RANDOM_WALK.value: self.random_walk.build(),
            Trend.TRENDING.value: self.trending.build(),
        }
        return RegimeAware(
            TrendRegime(self.window, self.q, self.z_crit),
            rules,
            self.source,
            self.relative,
            self.momentum_bias,
            self.momentum_lookback,
        )


class CostAwareSpec(Model):
    """Per-asset bands from volatility and all-in cost (the strategy's `costs:`), and a benefit > cost test."""

    kind: Literal["cost_aware"]
    aversion: Annotated[float, Field(gt=0, le=1e6)] = 1.0  # gamma: penalty (gamma/2) x^2 per year on a deviation x
    lookback: Annotated[int, Field(ge=2, le=5000)] = 90
    halflife: Annotated[float, Field(gt=0)] | None = 30.0
    min_rows: Annotated[int, Field(ge=2)] = 20
    horizon: str | None = None  # benefit horizon (e.g. 30d); default: per asset, the time to cross its band again
    asset_cost_bps: dict[str, Annotated[float, Field(ge=0, le=1000)]] = Field(default_factory=dict)
    min_band: Band = 0.002
    max_band: Band = 0.5
    fallback_band: Band = 0.05
    benefit_test: bool = True  # false: trade whenever a band is breached

    _horizon = field_validator("horizon")(_duration)

    @field_validator("asset_cost_bps", mode="before")
    @classmethod
    def _canon(cls, v: Any) -> Any:
        return canonical_keys(v, "asset_cost_bps") if isinstance(v, dict) else v

    @model_validator(mode="after")
    def _ranges(self) -> CostAwareSpec:
        if self.min_rows > self.lookback:
            raise ValueError(f"min_rows {self.min_rows} exceeds lookback {self.lookback}")
        if not self.min_band <= self.fallback_band <= self.max_band:
            raise ValueError("need min_band <= fallback_band <= max_band")
        return self

    def build(self, rebalance_to: str = "target") -> Trigger:
        days = parse_every(self.horizon).approx_seconds() / 86400 if self.horizon else None
        return CostAware(
            self.aversion,
            self.lookback,
            self.halflife,
            self.min_rows,
            days,
            dict(self.asset_cost_bps),
            self.min_band,
            self.max_band,
            self.fallback_band,
            band_edge=rebalance_to == "band_edge",
            benefit_test=self.benefit_test,
        )


class AnyOfSpec(Model):
    """Fire when any nested trigger fires."""

    kind: Literal["any_of"]
    triggers: Annotated[list[TriggerSpec], Field(min_length=1)]

    def build(self, rebalance_to: str = "target") -> Trigger:
        return AnyOf(tuple(t.build(rebalance_to) for t in self.triggers))


class AllOfSpec(Model):
    """Fire only when every nested trigger fires."""

    kind: Literal["all_of"]
    triggers: Annotated[list[TriggerSpec], Field(min_length=1)]

    def build(self, rebalance_to: str = "target") -> Trigger:
        return AllOf(tuple(t.build(rebalance_to) for t in self.triggers))


class NotSpec(Model):
    """Fire when the single nested trigger does not."""

    kind: Literal["not"]
    triggers: Annotated[list[TriggerSpec], Field(min_length=1, max_length=1)]

    def build(self, rebalance_to: str = "target") -> Trigger:
        return Not(self.triggers[0].build(rebalance_to))


AnySpec = (
    BandSpec
    | VolatilityAdaptiveSpec
    | RegimeAwareSpec
    | CostAwareSpec
    | AnyOfSpec
    | AllOfSpec
    | NotSpec
    | YieldChangeSpec
    | PriceShockSpec
    | RiskEventSpec
    | ListingSpec
)
TriggerSpec = Annotated[AnySpec, Field(discriminator="kind")]
for _m in (AnyOfSpec, AllOfSpec, NotSpec):
    _m.model_rebuild()


def walk(spec: AnySpec) -> Iterator[AnySpec]:
    """The spec and every nested trigger spec, depth first."""
    yield spec
    for child in getattr(spec, "triggers", ()):
        yield from walk(child)


def plan_bands(spec: AnySpec) -> tuple[float | None, float | None]:
    """The first band / relative band in the tree: the planner reports residuals and band edges against it."""
    for s in walk(spec):
        if isinstance(s, BandSpec) and (s.band is not None or s.relative_band is not None):
            return s.band, s.relative_band
    return None, None


def sources(spec: AnySpec) -> list[str]:
    """Assets that adaptive triggers in the tree read (their `source`)."""
    return [src for s in walk(spec) if (src := getattr(s, "source", None))]
