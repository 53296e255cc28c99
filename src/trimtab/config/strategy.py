"""Strategy files: pydantic models (unknown keys forbidden) validated once, then built into core objects."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator

from trimtab.config.allocation import AllocationSpec, MarketCapIndexSpec, StaticSpec
from trimtab.config.approval import ApprovalSpec
from trimtab.config.base import Model, target_keys
from trimtab.config.costs import CostsSpec, DexSpec, ExecutionSpec, GuardsSpec
from trimtab.config.sleeves import Sleeves, check_sleeves, derived_targets, sleeve_split
from trimtab.config.tax import TaxSpec
from trimtab.config.triggers import TriggerSpec, plan_bands, sources
from trimtab.config.yields import YieldSpec
from trimtab.core.allocation.targets import ModelTargets
from trimtab.core.base.schedule import parse_every
from trimtab.core.base.types import asset_symbol, canonical_keys
from trimtab.core.execution.planner import PlanSettings
from trimtab.core.policy import BacktestWindow, ExecutionPolicy
from trimtab.core.strategy import Strategy
from trimtab.core.yield_check import YieldSetup, setup_from
from trimtab.errors import ConfigError

Fraction = Annotated[float, Field(ge=0, le=1)]
PRESETS_PACKAGE = "trimtab.presets"


class ConstraintsSpec(Model):
    min_trade_usd: Annotated[float, Field(ge=0)] = 10.0
    cash_buffer: Fraction = 0.0
    min_weight: dict[str, Fraction] = Field(default_factory=dict)
    max_weight: dict[str, Fraction] = Field(default_factory=dict)

    @field_validator("min_weight", "max_weight", mode="before")
    @classmethod
    def _canon(cls, v: Any) -> Any:
        return canonical_keys(v, "constraint") if isinstance(v, dict) else v


class BacktestSpec(Model):
    """Default window for `trimtab backtest` (the command's --start / --end win); ISO dates."""

    start: str | None = None
    end: str | None = None

    @field_validator("start", "end", mode="before")
    @classmethod
    def _date(cls, v: Any) -> Any:
        if v is not None:
            v = str(v)
            try:
                date.fromisoformat(v[:10])
            except ValueError:
                raise ValueError(f"not a date (YYYY-MM-DD): {v!r}") from None
        return v


class StrategySpec(Model):
    """A strategy file. With `allocation:` (other than `model: static`) the model sets the weights over `universe`
    and `targets` is left out; `model: static` applies overlays to `targets` (docs/models.md)."""

    name: str = Field(min_length=1)
    description: str = ""
    quote: str = "USDC"
    targets: dict[str, Fraction] | None = None
    sleeves: Sleeves | None = None  # components with their own targets and triggers (config.sleeves)
    universe: list[str] | None = None
    allocation: AllocationSpec | None = None
    trigger: TriggerSpec
    rebalance_to: Literal["target", "band_edge"] = "target"
    costs: CostsSpec = CostsSpec()
    guards: GuardsSpec | None = None
    execution: ExecutionSpec | None = None
    dex: DexSpec | None = None
    constraints: ConstraintsSpec = ConstraintsSpec()
    initial_value: Annotated[float, Field(gt=0)] = 10_000.0
    cash_flow_first: bool | str = False  # true (a 30d horizon) or a horizon such as 14d: backtests with --flows
    backtest: BacktestSpec | None = None
    approval: ApprovalSpec | None = None  # plans above its thresholds wait for an admin (serve)
    tax: TaxSpec | None = None  # lot method, rates, gain budget, tax-aware plans (config.tax)
    yield_: YieldSpec | None = Field(
        None, validation_alias=AliasChoices("yield", "yield_"), serialization_alias="yield"
    )

    @field_validator("quote")
    @classmethod
    def _quote(cls, v: str) -> str:
        return asset_symbol(v)

    @field_validator("targets", mode="before")
    @classmethod
    def _targets_keys(cls, v: Any) -> Any:
        return target_keys(v)

    @field_validator("universe", mode="before")
    @classmethod
    def _universe(cls, v: Any) -> Any:
        if isinstance(v, list | tuple):
            if not v:
                raise ValueError("needs at least one asset")
            return _symbols(list(v))
        return v

    @field_validator("targets")
    @classmethod
    def _sum_to_one(cls, v: dict[str, float] | None) -> dict[str, float] | None:
        if v is None:
            return v
        total = sum((Decimal(repr(w)) for w in v.values()), Decimal(0))
        if abs(total - 1) > Decimal("1e-9"):
            raise ValueError(f"weights must sum to 1, got {total.normalize()}")
        return v

    @model_validator(mode="after")
    def _shape(self) -> StrategySpec:
        if self.tax is not None:
            self.tax.check_harvest(self.quote, self.targets, self.sleeves is None and self.allocation is None)
        if self.sleeves is not None:  # targets derived from the sleeves; the trigger is the split's band
            check_sleeves(self)
            return self
        alloc = self.allocation
        static = alloc is None or isinstance(alloc, StaticSpec)
        if static and self.targets is None:
            raise ValueError("targets: Field required (or set allocation.model to a model that picks the weights)")
        if alloc is not None and not static:
            if self.targets is not None:
                raise ValueError(
                    f"targets: leave targets out when allocation.model {alloc.model} sets the weights "
                    "(model: static applies overlays to targets)"
                )
            if self.universe is None and not isinstance(alloc, MarketCapIndexSpec):
                raise ValueError(f"universe: Field required for allocation.model {alloc.model}")
            try:
                alloc.check_universe(self.universe)
            except ValueError as e:
                raise ValueError(f"allocation: {e}") from None
        elif self.universe is not None:
            raise ValueError("universe: only used with an allocation model (a static strategy holds its targets)")
        if self.universe is not None and self.quote in self.universe:
            raise ValueError(f"universe: {self.quote} is the quote asset (it holds the remainder): leave it out")
        self._check_sources_and_constraints()
        return self

    def _check_sources_and_constraints(self) -> None:
        """Trigger sources among the strategy's assets; min/max weights name targets and hold them."""
        names = set(self.targets or {}) | set(self.universe or ())
        for src in sources(self.trigger):
            if names and src not in names:
                raise ValueError(f"trigger.source: {src} is not in the strategy's targets or universe")
        c = self.constraints
        for sym in [*c.min_weight, *c.max_weight]:
            if sym not in (self.targets or {}):
                raise ValueError(f"constraints: {sym} is not in targets")
        for sym, w in (self.targets or {}).items():
            lo, hi = c.min_weight.get(sym, 0.0), c.max_weight.get(sym, 1.0)
            if not lo <= w <= hi:
                raise ValueError(f"targets: {sym} weight {w} outside constraints [{lo}, {hi}]")

    @field_validator("cash_flow_first")
    @classmethod
    def _cash_flow_first(cls, v: bool | str) -> bool | str:
        if isinstance(v, str):
            try:
                parse_every(v)
            except ValueError:
                raise ValueError(f"true, false or a horizon such as 30d, got {v!r}") from None
        return v

    def cash_flow_horizon_s(self) -> float | None:
        if self.cash_flow_first is False:
            return None
        return parse_every("30d" if self.cash_flow_first is True else self.cash_flow_first).approx_seconds()

    def yield_setup(self, initial_value: float | None = None, name: str | None = None) -> YieldSetup:
        """The `yield:` block as what its check runs on (cash in the quote first); the same in backtest and serve."""
        if self.yield_ is None:
            raise ConfigError("the strategy has no yield: block", field="yield")
        if self.approval is not None:  # its migration rule moves money: no plan waits for an admin
            raise ConfigError("a yield: strategy has no approval step: leave approval out", field="approval")
        ys = self.yield_
        value = initial_value if initial_value is not None else self.initial_value
        trigger = self.trigger.build(self.rebalance_to)
        return setup_from(name or self.name, self.quote, ys.positions(), ys.rule(), trigger, value, ys.apy_window)

    def build(self) -> Strategy:
        band, rel = plan_bands(self.trigger)
        settings = PlanSettings(min_trade=Decimal(repr(self.constraints.min_trade_usd)), band=band, relative_band=rel)
        targets = dict(self.targets or {})
        trigger = self.trigger.build(self.rebalance_to)
        if self.sleeves is not None:  # weight x sleeve target per asset; the split's band and each sleeve's trigger
            targets, trigger = derived_targets(self.sleeves), sleeve_split(self.sleeves, self.trigger)
        alloc = None
        if self.allocation is not None and not (
            isinstance(self.allocation, StaticSpec) and not self.allocation.overlays
        ):
            every = parse_every(self.allocation.reestimate) if self.allocation.reestimate else None
            universe = tuple(self.universe or (a for a in targets if a != self.quote))
            alloc = ModelTargets(self.allocation.build(targets), universe, every)
        return Strategy(
            name=self.name,
            quote=self.quote,
            targets=targets,
            trigger=trigger,
            costs=self.costs.build(),
            rebalance_to=self.rebalance_to,
            settings=settings,
            cash_buffer=self.constraints.cash_buffer,
            allocation=alloc,
            execution=self.execution_policy(),
            initial_value=self.initial_value,
            description=self.description,
            window=BacktestWindow(self.backtest.start, self.backtest.end) if self.backtest else BacktestWindow(),
            cash_flow_first_s=self.cash_flow_horizon_s(),
            approval=self.approval.policy() if self.approval is not None else None,
            tax=self.tax.policy() if self.tax is not None else None,
        )

    def execution_policy(self) -> ExecutionPolicy:
        twap = self.execution.twap.build() if self.execution and self.execution.twap else None
        return ExecutionPolicy(
            guards=self.guards.policy() if self.guards is not None else None,
            twap=twap,
            dex=self.dex.build() if self.dex is not None else None,
        )


def _symbols(v: list[Any]) -> list[str]:
    """Canonical symbols; a symbol listed twice (case-insensitive) is an error."""
    out: list[str] = []
    for a in v:
        sym = asset_symbol(str(a))
        if sym in out:
            raise ValueError(f"lists {sym} twice (symbols are case-insensitive)")
        out.append(sym)
    return out


def error_line(err: ValidationError, data: Any = None) -> str:
    """The first pydantic error as `field.path: message`, on one line; union tags (e.g. `threshold`) left out."""
    first = err.errors()[0]
    loc: list[str] = []
    node = data
    for p in first["loc"]:
        key = str(p)
        if key.startswith("function-"):
            continue
        if (
            isinstance(node, dict)
            and key not in node
            and key in (node.get("kind"), node.get("model"), node.get("overlay"))
        ):
            continue  # a discriminated union's tag, not a key the user wrote
        loc.append(key)
        if isinstance(node, dict):
            node = node.get(p)
        else:
            node = node[p] if isinstance(node, list) and isinstance(p, int) and p < len(node) else None
    msg = str(first["msg"]).removeprefix("Value error, ").replace("\n", " ")
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
    elif first["type"] in ("union_tag_invalid", "union_tag_not_found"):
        ctx = first.get("ctx") or {}
        loc.append(str(ctx.get("discriminator", "kind")).strip("'"))
        msg = (
            f"Input should be one of {ctx.get('expected_tags', '')}"
            if first["type"] == "union_tag_invalid"
            else "Field required"
        )
    where = ".".join(loc)
    return f"{where}: {msg}" if where else msg


_FAST = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Path) -> Any:
    """Parse a YAML (or JSON) file, turning parser errors into a one-line ConfigError with the line."""
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(f"cannot read: {e.strerror}", source=str(path)) from None
    try:
        return yaml.load(text, Loader=_FAST)  # noqa: S506 - a safe loader: libyaml's CSafeLoader when present
    except (yaml.YAMLError, ValueError):
        pass  # parse again with the pure loader, whose messages name the problem and its line
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"invalid YAML: {where}{problem}", source=str(path)) from None
    except ValueError as e:  # a well-formed scalar the YAML constructor rejects, e.g. the date 2019-13-01
        raise ConfigError(f"invalid YAML: {e}", source=str(path)) from None


def preset_names() -> list[str]:
    return sorted(
        p.name.removesuffix(".yaml") for p in resources.files(PRESETS_PACKAGE).iterdir() if p.name.endswith(".yaml")
    )


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
        raise ConfigError(error_line(e, data), source=source) from None


def load_strategy_spec(name_or_path: str | Path) -> StrategySpec:
    path = resolve_strategy_path(name_or_path)
    source = str(name_or_path) if not Path(name_or_path).is_file() else str(path)
    return parse_strategy(read_yaml(path), source)


def load_strategy(name_or_path: str | Path) -> Strategy:
    """Validate a strategy file or preset and build the core Strategy (a yield strategy has no target weights to
    plan: its positions run in `trimtab backtest|compare` and `trimtab serve`, which read its spec)."""
    spec = load_strategy_spec(name_or_path)
    if spec.yield_ is not None:
        raise ConfigError(
            "positions accruing by an index are not planned to target weights here: "
            "trimtab backtest, compare and serve run a yield strategy",
            source=str(name_or_path),
            field="yield",
        )
    return spec.build()
