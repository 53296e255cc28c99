"""The `yield:` block of a strategy file: candidate positions with risk scores and the migration rule
(docs/yield.md)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator

from trimtab.config.base import Model
from trimtab.core.base.schedule import parse_every
from trimtab.core.base.types import asset_symbol
from trimtab.core.yields.migration import GasUnits, MigrationRule, SwapCosts
from trimtab.core.yields.positions import CASH, YieldPosition

Fraction = Annotated[float, Field(ge=0, le=1)]


class CandidateSpec(Model):
    """A reserve money may sit in: `reserve` is its symbol in the rates file; `position` its asset name (e.g. aUSDC)."""

    reserve: str
    position: str | None = None
    underlying: str | None = None
    protocol: str = "aave_v3"
    market: str = "aave_v3_ethereum"
    risk_score: Fraction = 1.0

    @field_validator("reserve", "underlying")
    @classmethod
    def _sym(cls, v: str | None) -> str | None:
        return asset_symbol(v) if v is not None else v

    @field_validator("protocol")
    @classmethod
    def _protocol(cls, v: str) -> str:
        if v.strip().lower() == CASH:
            raise ValueError(f"{CASH!r} is reserved for idle cash")
        return v.strip().lower()

    def build(self) -> YieldPosition:
        under = self.underlying or self.reserve
        return YieldPosition(
            name=self.position or f"a{self.reserve}",
            underlying=under,
            protocol=self.protocol,
            reserve=self.reserve,
            market=self.market,
            risk_score=self.risk_score,
        )


class SwapSpec(Model):
    fee_bps: Annotated[float, Field(ge=0, le=1000)] = 1.0
    slippage_bps: Annotated[float, Field(ge=0, le=1000)] = 1.0
    depth_usd: Annotated[float, Field(gt=0)] = 5e9


class GasSpec(Model):
    deposit: Annotated[int, Field(ge=0, le=10_000_000)] = 200_000
    withdraw: Annotated[int, Field(ge=0, le=10_000_000)] = 250_000
    swap: Annotated[int, Field(ge=0, le=10_000_000)] = 150_000


class YieldSpec(Model):
    """Candidates and the migration rule; every threshold of issue 14 with its default."""

    candidates: Annotated[list[CandidateSpec], Field(min_length=1)]
    min_score: Fraction = 0.0
    protocol_caps: dict[str, Fraction] = Field(default_factory=dict)
    min_differential: Annotated[float, Field(ge=0, le=1)] = 0.005
    horizon: str = "30d"
    min_liquidity_usd: Annotated[float, Field(ge=0)] = 1e6
    max_utilization: Fraction = 0.95
    max_slippage: Fraction = 0.001
    max_gas_fraction: Fraction = 0.0001
    max_step: Annotated[float, Field(gt=0, le=1)] = 0.25
    min_move_usd: Annotated[float, Field(ge=0)] = 100.0
    apy_window: Annotated[int, Field(ge=1, le=365)] = 1  # decide on the mean APR of the last N days (1: the day's)
    swap: SwapSpec = SwapSpec()
    gas_units: GasSpec = GasSpec()

    @field_validator("horizon")
    @classmethod
    def _horizon(cls, v: str) -> str:
        if parse_every(v).approx_seconds() <= 0:
            raise ValueError("must be a positive duration")
        return v

    @field_validator("protocol_caps", mode="before")
    @classmethod
    def _caps(cls, v: Any) -> Any:
        return {str(k).strip().lower(): x for k, x in v.items()} if isinstance(v, dict) else v

    @model_validator(mode="after")
    def _unique(self) -> YieldSpec:
        names = [c.build().name for c in self.candidates]
        for n in names:
            if names.count(n) > 1:
                raise ValueError(f"candidates: position {n} listed twice")
        protocols = {c.protocol for c in self.candidates}
        for p in self.protocol_caps:
            if p not in protocols:
                raise ValueError(f"protocol_caps: {p} is not the protocol of any candidate")
        if all(c.risk_score < self.min_score for c in self.candidates):
            raise ValueError(f"candidates: none has a risk_score >= min_score {self.min_score:g}")
        return self

    @property
    def horizon_days(self) -> float:
        return parse_every(self.horizon).approx_seconds() / 86400.0

    def positions(self) -> tuple[YieldPosition, ...]:
        return tuple(c.build() for c in self.candidates)

    def rule(self) -> MigrationRule:
        return MigrationRule(
            min_differential=self.min_differential,
            horizon_days=self.horizon_days,
            min_liquidity_usd=self.min_liquidity_usd,
            max_utilization=self.max_utilization,
            max_slippage=self.max_slippage,
            max_gas_fraction=self.max_gas_fraction,
            max_step=self.max_step,
            min_score=self.min_score,
            protocol_caps=dict(self.protocol_caps),
            swap=SwapCosts(self.swap.fee_bps, self.swap.slippage_bps, self.swap.depth_usd),
            gas=GasUnits(self.gas_units.deposit, self.gas_units.withdraw, self.gas_units.swap),
            min_move_usd=self.min_move_usd,
        )
