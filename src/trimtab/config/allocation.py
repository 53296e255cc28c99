"""The `allocation:` block of a strategy file: one pydantic model per `model`, optional `overlays:`, built into core.

Every model's parameters are checked here (unknown keys forbidden, caps that cannot be met, universes smaller
than top_n) so a bad file fails at validation with one line naming the field. Models: docs/models.md.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from trimtab.config.base import Model
from trimtab.core.allocation.market_cap import MarketCapIndex
from trimtab.core.allocation.models import AllocationModel, EqualWeight, InverseVolatility, Static
from trimtab.core.allocation.optimizers import FractionalKelly, MinimumVariance, RiskParity, VolatilityTarget
from trimtab.core.allocation.overlays import CorrelationLimit, DrawdownProtection, GroupCaps, MomentumTilt
from trimtab.core.base.schedule import parse_every
from trimtab.core.base.types import asset_symbol

Weight = Annotated[float, Field(gt=0, le=1)]
Rows = Annotated[int, Field(ge=2, le=10_000)]
Shrink = Literal["constant_correlation", "identity"]


def _symbols(v: Any) -> Any:
    if isinstance(v, list | tuple):
        out = [asset_symbol(str(a)) for a in v]
        dup = sorted({a for a in out if out.count(a) > 1})
        if dup:
            raise ValueError(f"lists {', '.join(dup)} twice (symbols are case-insensitive)")
        return out
    return v


# ---- overlays -------------------------------------------------------------------------------------------------


class MomentumTiltSpec(Model):
    overlay: Literal["momentum_tilt"]
    momentum_factor: Annotated[float, Field(ge=-1, le=1)] = 0.5
    lookback: Annotated[int, Field(ge=1, le=5000)] = 90
    max_weight: Weight = 1.0

    def wrap(self, inner: AllocationModel) -> AllocationModel:
        return MomentumTilt(inner, self.momentum_factor, self.lookback, self.max_weight)


class DrawdownProtectionSpec(Model):
    overlay: Literal["drawdown_protection"]
    limit: Annotated[float, Field(gt=0, lt=1)] = 0.2
    cut_fraction: Annotated[float, Field(ge=0, le=1)] = 0.5
    recovery_rate: Annotated[float, Field(gt=0, le=1)] = 0.05
    stop_loss: Annotated[float, Field(gt=0, le=1)] | None = 0.4

    @model_validator(mode="after")
    def _order(self) -> DrawdownProtectionSpec:
        if self.stop_loss is not None and self.stop_loss <= self.limit:
            raise ValueError(f"stop_loss {self.stop_loss} must be above limit {self.limit}")
        return self

    def wrap(self, inner: AllocationModel) -> AllocationModel:
        return DrawdownProtection(inner, self.limit, self.cut_fraction, self.recovery_rate, self.stop_loss)


class CorrelationLimitSpec(Model):
    overlay: Literal["correlation_limit"]
    threshold: Annotated[float, Field(gt=-1, le=1)] = 0.9
    max_combined: Weight = 0.5
    lookback: Rows = 90
    min_rows: Rows = 20

    @model_validator(mode="after")
    def _rows(self) -> CorrelationLimitSpec:
        if self.min_rows > self.lookback:
            raise ValueError(f"min_rows {self.min_rows} exceeds lookback {self.lookback}")
        return self

    def wrap(self, inner: AllocationModel) -> AllocationModel:
        return CorrelationLimit(inner, self.threshold, self.max_combined, self.lookback, self.min_rows)


class GroupCapsSpec(Model):
    overlay: Literal["group_caps"]
    groups: dict[str, list[str]]
    caps: dict[str, Annotated[float, Field(ge=0, le=1)]]
    redistribute: bool = True

    @field_validator("groups", mode="before")
    @classmethod
    def _canon(cls, v: Any) -> Any:
        return {g: _symbols(m) for g, m in v.items()} if isinstance(v, dict) else v

    @model_validator(mode="after")
    def _consistent(self) -> GroupCapsSpec:
        seen: dict[str, str] = {}
        for g, members in self.groups.items():
            for a in members:
                if a in seen:
                    raise ValueError(f"{a} is in both groups {seen[a]!r} and {g!r}; groups must be disjoint")
                seen[a] = g
        unknown = sorted(set(self.caps) - set(self.groups))
        if unknown:
            raise ValueError(f"caps for unknown groups: {', '.join(unknown)}")
        return self

    def wrap(self, inner: AllocationModel) -> AllocationModel:
        return GroupCaps(inner, {g: tuple(m) for g, m in self.groups.items()}, dict(self.caps), self.redistribute)


OverlaySpec = Annotated[
    MomentumTiltSpec | DrawdownProtectionSpec | CorrelationLimitSpec | GroupCapsSpec, Field(discriminator="overlay")
]


# ---- models ---------------------------------------------------------------------------------------------------


class _Alloc(Model):
    """Keys every model accepts: how often to re-estimate, and overlays applied in order (innermost first)."""

    reestimate: str | None = "1w"  # a duration; null re-estimates at every decision
    overlays: list[OverlaySpec] = Field(default_factory=list)

    @field_validator("reestimate")
    @classmethod
    def _every(cls, v: str | None) -> str | None:
        if v is not None:
            parse_every(v)
        return v

    def core(self, targets: dict[str, float]) -> AllocationModel:
        raise NotImplementedError

    def build(self, targets: dict[str, float]) -> AllocationModel:
        model = self.core(targets)
        for o in self.overlays:
            model = o.wrap(model)
        return model

    def check_universe(self, universe: list[str] | None) -> None:
        """Raise ValueError when the parameters cannot work with this universe (None: the data picks it)."""
        for o in self.overlays:
            if isinstance(o, GroupCapsSpec) and universe is not None:
                stray = sorted({a for m in o.groups.values() for a in m} - set(universe))
                if stray:
                    raise ValueError(f"group_caps lists {', '.join(stray)}, not in the universe")


def _cap_check(universe: list[str] | None, max_weight: float) -> None:
    if universe is not None and len(universe) * max_weight < 1.0 - 1e-12:
        raise ValueError(
            f"caps cannot be met: {len(universe)} assets x max_weight {max_weight:g} = "
            f"{len(universe) * max_weight:.0%} < 100%"
        )


class StaticSpec(_Alloc):
    """The strategy's `targets`, with overlays applied (e.g. drawdown protection on a fixed mix)."""

    model: Literal["static"]

    def core(self, targets: dict[str, float]) -> AllocationModel:
        return Static(targets)


class EqualWeightSpec(_Alloc):
    model: Literal["equal_weight"]
    max_weight: Weight = 1.0

    def core(self, targets: dict[str, float]) -> AllocationModel:
        return EqualWeight(self.max_weight)

    def check_universe(self, universe: list[str] | None) -> None:
        super().check_universe(universe)
        _cap_check(universe, self.max_weight)


class MarketCapIndexSpec(_Alloc):
    model: Literal["market_cap_index"]
    top_n: Annotated[int, Field(ge=1, le=500)] = 10
    weighting: Literal["market_cap", "sqrt_cap", "equal"] = "market_cap"
    max_weight: Weight = 1.0
    min_weight: Annotated[float, Field(ge=0, le=1)] = 0.0
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    buffer_ranks: Annotated[int, Field(ge=0, le=500)] = 0
    phase_in: Annotated[int, Field(ge=1, le=100)] = 1
    staleness_days: Annotated[float, Field(ge=0)] = 45.0

    _syms = field_validator("include", "exclude", mode="before")(_symbols)

    @model_validator(mode="after")
    def _valid(self) -> MarketCapIndexSpec:
        self.core({})  # MarketCapIndex checks caps, includes and excludes; its ValueError names the problem
        return self

    def core(self, targets: dict[str, float]) -> AllocationModel:
        return MarketCapIndex(
            self.top_n,
            self.weighting,
            self.max_weight,
            self.min_weight,
            tuple(self.include),
            tuple(self.exclude),
            self.buffer_ranks,
            self.phase_in,
            self.staleness_days,
        )

    def check_universe(self, universe: list[str] | None) -> None:
        super().check_universe(universe)
        if universe is not None:
            eligible = {*universe, *self.include} - set(self.exclude)
            if len(eligible) < self.top_n:
                raise ValueError(f"universe has {len(eligible)} eligible assets, fewer than top_n {self.top_n}")


class _Window(_Alloc):
    lookback: Rows = 365
    min_rows: Rows = 30

    @model_validator(mode="after")
    def _rows(self) -> _Window:
        if self.min_rows > self.lookback:
            raise ValueError(f"min_rows {self.min_rows} exceeds lookback {self.lookback}")
        return self


class RiskParitySpec(_Window):
    """Equal risk contribution (no caps: add a group_caps overlay to cap)."""

    model: Literal["risk_parity"]
    halflife: Annotated[float, Field(gt=0)] | None = None

    def core(self, targets: dict[str, float]) -> AllocationModel:
        return RiskParity(self.lookback, self.halflife, self.min_rows)


class InverseVolSpec(_Window):
    model: Literal["inverse_vol"]
    lookback: Rows = 90
    min_rows: Rows = 20
    halflife: Annotated[float, Field(gt=0)] | None = None
    max_weight: Weight = 1.0

    def core(self, targets: dict[str, float]) -> AllocationModel:
        return InverseVolatility(self.lookback, self.halflife, self.min_rows, self.max_weight)

    def check_universe(self, universe: list[str] | None) -> None:
        super().check_universe(universe)
        _cap_check(universe, self.max_weight)


class MinVarianceSpec(_Window):
    model: Literal["min_variance"]
    halflife: Annotated[float, Field(gt=0)] | None = None
    max_weight: Weight = 1.0
    shrink: Shrink | None = "constant_correlation"

    def core(self, targets: dict[str, float]) -> AllocationModel:
        return MinimumVariance(self.lookback, self.halflife, self.min_rows, self.max_weight, self.shrink)

    def check_universe(self, universe: list[str] | None) -> None:
        super().check_universe(universe)
        _cap_check(universe, self.max_weight)


class KellySpec(_Window):
    """Fractional Kelly: risk_tolerance x inv(Sigma)(mu - rf), long-only, capped, the rest in the quote asset."""

    model: Literal["kelly"]
    risk_tolerance: Annotated[float, Field(gt=0, le=1)] = 0.5
    rf: Annotated[float, Field(ge=-0.5, le=1)] = 0.0
    min_rows: Rows = 60
    max_weight: Weight = 1.0
    target: Shrink = "constant_correlation"
    shrinkage: Annotated[float, Field(ge=0, le=1)] | None = None

    def core(self, targets: dict[str, float]) -> AllocationModel:
        return FractionalKelly(
            self.risk_tolerance, self.rf, self.lookback, self.min_rows, self.max_weight, self.target, self.shrinkage
        )


class VolTargetSpec(_Window):
    """Scale a base model's risky sleeve to a forecast annual volatility (leverage <= 1; the rest in the quote)."""

    model: Literal["vol_target"]
    target_vol: Annotated[float, Field(gt=0, le=5)]
    base: BaseSpec = Field(default_factory=lambda: EqualWeightSpec(model="equal_weight", reestimate=None))
    lookback: Rows = 90
    min_rows: Rows = 20
    halflife: Annotated[float, Field(gt=0)] | None = None

    @model_validator(mode="after")
    def _base(self) -> VolTargetSpec:
        if isinstance(self.base, VolTargetSpec):
            raise ValueError("base: vol_target cannot wrap another vol_target")
        return self

    def core(self, targets: dict[str, float]) -> AllocationModel:
        return VolatilityTarget(self.target_vol, self.base.build(targets), self.lookback, self.halflife, self.min_rows)

    def check_universe(self, universe: list[str] | None) -> None:
        super().check_universe(universe)
        self.base.check_universe(universe)


BaseSpec = Annotated[
    StaticSpec
    | EqualWeightSpec
    | MarketCapIndexSpec
    | RiskParitySpec
    | InverseVolSpec
    | MinVarianceSpec
    | KellySpec
    | VolTargetSpec,
    Field(discriminator="model"),
]
VolTargetSpec.model_rebuild()
AllocationSpec = BaseSpec
AnyAllocation = (
    StaticSpec
    | EqualWeightSpec
    | MarketCapIndexSpec
    | RiskParitySpec
    | InverseVolSpec
    | MinVarianceSpec
    | KellySpec
    | VolTargetSpec
)
