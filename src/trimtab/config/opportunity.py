"""Trigger kinds yield_change, price_shock, risk_event and listing (core/triggers/opportunity.py) for the `trigger:`
union."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from trimtab.config.base import Model
from trimtab.core.base.types import asset_symbol
from trimtab.core.triggers.opportunity import Listing, PriceShock, RiskEvent, ScoreChange, YieldChange
from trimtab.core.triggers.rules import Trigger

Fraction = Annotated[float, Field(ge=0, le=1)]


def _symbols(v: Any) -> Any:
    return [asset_symbol(str(a)) for a in v] if isinstance(v, list | tuple) else v


class YieldChangeSpec(Model):
    """Fire when a candidate's APY beats the held position's by more than `margin` (a fraction: 0.005 = 0.5%)."""

    kind: Literal["yield_change"]
    margin: Annotated[float, Field(ge=0, le=1)] = 0.005

    def build(self, rebalance_to: str = "target") -> Trigger:
        return YieldChange(self.margin)


class PriceShockSpec(Model):
    """Fire when an asset moves more than `pct` or `k_sigma` sigmas within `window` rows."""

    kind: Literal["price_shock"]
    assets: list[str] = Field(default_factory=list)
    window: Annotated[int, Field(ge=1, le=1000)] = 1
    pct: Annotated[float, Field(gt=0, le=10)] | None = None
    k_sigma: Annotated[float, Field(gt=0, le=100)] | None = None
    vol_lookback: Annotated[int, Field(ge=10, le=5000)] = 90

    _assets = field_validator("assets", mode="before")(_symbols)

    @model_validator(mode="after")
    def _limit(self) -> PriceShockSpec:
        if self.pct is None and self.k_sigma is None:
            raise ValueError("kind price_shock needs pct or k_sigma")
        return self

    def build(self, rebalance_to: str = "target") -> Trigger:
        return PriceShock(tuple(self.assets), self.window, self.pct, self.k_sigma, self.vol_lookback)


class ScoreChangeSpec(Model):
    date: date
    protocol: str
    score: Fraction


class RiskEventSpec(Model):
    """Fire (kind risk) on a depeg, a held reserve's utilisation above a cap, or a protocol score falling below
    `min_score`."""

    kind: Literal["risk_event"]
    depeg_tolerance: Annotated[float, Field(gt=0, le=1)] | None = 0.01
    stablecoins: list[str] = Field(default_factory=lambda: ["USDC", "USDT", "DAI"])
    utilization_cap: Fraction | None = None
    min_score: Fraction = 0.5
    score_changes: list[ScoreChangeSpec] = Field(default_factory=list)

    _coins = field_validator("stablecoins", mode="before")(_symbols)

    def build(self, rebalance_to: str = "target") -> Trigger:
        changes = tuple(
            ScoreChange(datetime(c.date.year, c.date.month, c.date.day, tzinfo=UTC), c.protocol.lower(), c.score)
            for c in self.score_changes
        )
        return RiskEvent(self.depeg_tolerance, tuple(self.stablecoins), self.utilization_cap, changes, self.min_score)


class ListingSpec(Model):
    """Fire at the next check after an asset enters the top `top_n` by market cap or a member drops below
    `top_n + buffer_ranks` (pair it with the index's own top_n and buffer)."""

    kind: Literal["listing"]
    top_n: Annotated[int, Field(ge=1, le=500)]
    buffer_ranks: Annotated[int, Field(ge=0, le=500)] = 0
    exclude: list[str] = Field(default_factory=list)

    _exclude = field_validator("exclude", mode="before")(_symbols)

    def build(self, rebalance_to: str = "target") -> Trigger:
        return Listing(self.top_n, self.buffer_ranks, tuple(self.exclude))


OpportunitySpec = YieldChangeSpec | PriceShockSpec | RiskEventSpec | ListingSpec
