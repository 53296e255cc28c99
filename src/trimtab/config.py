"""Strategy files: pydantic models (unknown keys forbidden) validated once, then built into core objects."""

from __future__ import annotations

from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from trimtab.core.costs import CostModel, linear_costs
from trimtab.core.planner import PlanSettings
from trimtab.core.schedule import parse_every
from trimtab.core.strategy import Strategy
from trimtab.core.triggers import AnyOf, Calendar, Never, ThresholdBand, Trigger
from trimtab.core.types import asset_symbol
from trimtab.errors import ConfigError

Fraction = Annotated[float, Field(ge=0, le=1)]
PRESETS_PACKAGE = "trimtab.presets"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _canonical_keys(raw: dict[str, Any], what: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in raw.items():
        sym = asset_symbol(str(k))
        if sym in out:
            raise ValueError(f"{what} lists {sym} twice (symbols are case-insensitive)")
        out[sym] = v
    return out


class TriggerSpec(_Model):
    """`kind` picks the rule; bands are fractions (0.05 = 5 percentage points), `every` a duration."""

    kind: Literal["threshold", "calendar", "hybrid", "never"]
    band: Annotated[float, Field(gt=0, le=1)] | None = None
    relative_band: Annotated[float, Field(gt=0, le=10)] | None = None
    every: str | None = None

    @field_validator("every")
    @classmethod
    def _every(cls, v: str | None) -> str | None:
        if v is not None:
            parse_every(v)
        return v

    @model_validator(mode="after")
    def _fields_for_kind(self) -> TriggerSpec:
        needs_band = self.kind in ("threshold", "hybrid")
        needs_every = self.kind in ("calendar", "hybrid")
        if needs_band and self.band is None and self.relative_band is None:
            raise ValueError(f"kind {self.kind} needs band or relative_band")
        if needs_every and self.every is None:
            raise ValueError(f"kind {self.kind} needs every (e.g. 30d, 1w, 1M)")
        return self

    def build(self) -> Trigger:
        band = ThresholdBand(self.band, self.relative_band)
        if self.kind == "threshold":
            return band
        if self.kind == "never":
            return Never()
        cal = Calendar(parse_every(self.every or ""))
        return cal if self.kind == "calendar" else AnyOf((cal, band))


class CostsSpec(_Model):
    fee_bps: Annotated[float, Field(ge=0, le=1000)] = 10.0
    slippage_bps: Annotated[float, Field(ge=0, le=1000)] = 5.0
    gas_usd_per_trade: Annotated[float, Field(ge=0)] = 0.0

    def build(self) -> CostModel:
        return linear_costs(self.fee_bps, self.slippage_bps, self.gas_usd_per_trade)


class ConstraintsSpec(_Model):
    min_trade_usd: Annotated[float, Field(ge=0)] = 10.0
    cash_buffer: Fraction = 0.0
    min_weight: dict[str, Fraction] = Field(default_factory=dict)
    max_weight: dict[str, Fraction] = Field(default_factory=dict)

    @field_validator("min_weight", "max_weight", mode="before")
    @classmethod
    def _canon(cls, v: Any) -> Any:
        return _canonical_keys(v, "constraint") if isinstance(v, dict) else v


class StrategySpec(_Model):
    name: str = Field(min_length=1)
    description: str = ""
    quote: str = "USDC"
    targets: dict[str, Fraction]
    trigger: TriggerSpec
    rebalance_to: Literal["target", "band_edge"] = "target"
    costs: CostsSpec = CostsSpec()
    constraints: ConstraintsSpec = ConstraintsSpec()
    initial_value: Annotated[float, Field(gt=0)] = 10_000.0

    @field_validator("quote")
    @classmethod
    def _quote(cls, v: str) -> str:
        return asset_symbol(v)

    @field_validator("targets", mode="before")
    @classmethod
    def _targets_keys(cls, v: Any) -> Any:
        if isinstance(v, dict):
            if not v:
                raise ValueError("needs at least one asset")
            return _canonical_keys(v, "targets")
        return v

    @field_validator("targets")
    @classmethod
    def _sum_to_one(cls, v: dict[str, float]) -> dict[str, float]:
        total = sum((Decimal(repr(w)) for w in v.values()), Decimal(0))
        if abs(total - 1) > Decimal("1e-9"):
            raise ValueError(f"weights must sum to 1, got {total.normalize()}")
        return v

    @model_validator(mode="after")
    def _constraints_fit(self) -> StrategySpec:
        c = self.constraints
        for sym in [*c.min_weight, *c.max_weight]:
            if sym not in self.targets:
                raise ValueError(f"constraints: {sym} is not in targets")
        for sym, w in self.targets.items():
            lo, hi = c.min_weight.get(sym, 0.0), c.max_weight.get(sym, 1.0)
            if not lo <= w <= hi:
                raise ValueError(f"targets: {sym} weight {w} outside constraints [{lo}, {hi}]")
        return self

    def build(self) -> Strategy:
        settings = PlanSettings(
            min_trade=Decimal(repr(self.constraints.min_trade_usd)),
            band=self.trigger.band,
            relative_band=self.trigger.relative_band,
        )
        return Strategy(
            name=self.name, quote=self.quote, targets=dict(self.targets), trigger=self.trigger.build(),
            costs=self.costs.build(), rebalance_to=self.rebalance_to, settings=settings,
            cash_buffer=self.constraints.cash_buffer, meta={"spec": self, "initial_value": self.initial_value},
        )


def error_line(err: ValidationError) -> str:
    """The first pydantic error as `field.path: message`, on one line."""
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"] if not str(p).startswith("function-"))
    msg = str(first["msg"]).removeprefix("Value error, ").replace("\n", " ")
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
    return f"{loc}: {msg}" if loc else msg


def read_yaml(path: Path) -> Any:
    """Parse a YAML (or JSON) file, turning parser errors into a one-line ConfigError with the line."""
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(f"cannot read: {e.strerror}", source=str(path)) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"invalid YAML: {where}{problem}", source=str(path)) from None


def preset_names() -> list[str]:
    return sorted(p.name.removesuffix(".yaml") for p in resources.files(PRESETS_PACKAGE).iterdir() if p.name.endswith(".yaml"))


def preset_path(name: str) -> Path:
    return Path(str(resources.files(PRESETS_PACKAGE).joinpath(f"{name}.yaml")))


def resolve_strategy_path(name_or_path: str | Path) -> Path:
    """A strategy file path, or a preset name; otherwise a ConfigError listing the presets."""
    p = Path(name_or_path)
    if p.is_file():
        return p
    if str(name_or_path) in preset_names():
        return preset_path(str(name_or_path))
    raise ConfigError(f"no such file or preset (presets: {', '.join(preset_names())})", source=str(name_or_path))


def parse_strategy(data: Any, source: str) -> StrategySpec:
    if not isinstance(data, dict):
        raise ConfigError("a strategy file must be a mapping of keys to values", source=source)
    try:
        return StrategySpec.model_validate(data)
    except ValidationError as e:
        raise ConfigError(error_line(e), source=source) from None


def load_strategy_spec(name_or_path: str | Path) -> StrategySpec:
    path = resolve_strategy_path(name_or_path)
    source = str(name_or_path) if not Path(name_or_path).is_file() else str(path)
    return parse_strategy(read_yaml(path), source)


def load_strategy(name_or_path: str | Path) -> Strategy:
    """Validate a strategy file or preset and build the core Strategy."""
    return load_strategy_spec(name_or_path).build()
