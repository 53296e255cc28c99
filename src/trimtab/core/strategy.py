"""A strategy composes targets (or an allocation model), a trigger, a cost model and constraints."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from trimtab.core.approval import ApprovalPolicy
from trimtab.core.base.portfolio import PortfolioState
from trimtab.core.base.snapshot import MarketSnapshot
from trimtab.core.base.types import TradePlan
from trimtab.core.costs.model import CostModel, Fee, Gas, Slippage
from trimtab.core.execution.planner import PlanSettings, RulesFor, band_edge_targets, plan_rebalance
from trimtab.core.execution.tax_aware import TaxPolicy
from trimtab.core.execution.within import plan_within
from trimtab.core.policy import BacktestWindow, ExecutionPolicy
from trimtab.core.triggers.rules import DecisionContext, Trigger, TriggerKind, TriggerResult


@dataclass(frozen=True)
class Schedule:
    """Where a portfolio is in its calendar: first decision (anchor) and previous check."""

    anchor: datetime | None = None
    previous: datetime | None = None

    def advance(self, now: datetime) -> Schedule:
        return Schedule(anchor=self.anchor or now, previous=now)


@dataclass(frozen=True)
class Decision:
    """Hold or trade, with the trigger's reason; `plan` is None when holding."""

    time: datetime
    trigger: TriggerResult
    targets: dict[str, float]
    weights: dict[str, float]
    plan: TradePlan | None = None

    @property
    def reason(self) -> str:
        return self.trigger.reason


class AllocationSource(Protocol):
    """Where a model strategy's targets come from (core.allocation.targets.ModelTargets): point-in-time weights."""

    universe: tuple[str, ...]

    def targets(
        self, snapshot: MarketSnapshot, state: PortfolioState, strategy: Any, equity: Sequence[float] | None = None
    ) -> dict[str, float]: ...

    def reset(self) -> None: ...

    def notes(self) -> Mapping[str, tuple[str, ...]]: ...

    def period_weights(self) -> tuple[str, dict[str, float]] | None: ...

    def restore(self, period: str, weights: Mapping[str, float]) -> None: ...


@dataclass(frozen=True)
class Strategy:
    """Everything that decides; the same object runs in backtests and live (only data and venue change)."""

    name: str
    quote: str
    targets: Mapping[str, float]
    trigger: Trigger
    costs: CostModel
    rebalance_to: str = "target"  # or "band_edge"
    settings: PlanSettings = PlanSettings()
    cash_buffer: float = 0.0
    allocation: AllocationSource | None = None  # None: static targets
    execution: ExecutionPolicy = ExecutionPolicy()
    initial_value: float = 10_000.0  # opening deposit in the quote when a portfolio starts from cash
    window: BacktestWindow = BacktestWindow()
    description: str = ""
    cash_flow_first_s: float | None = None  # skip a due rebalance a known flow within this many seconds would fix
    approval: ApprovalPolicy | None = None  # plans above these thresholds wait for an admin (service only)
    tax: TaxPolicy | None = None  # tax lots and tax-aware plans (core.execution.tax_aware; the pipeline applies it)

    @property
    def assets(self) -> tuple[str, ...]:
        return tuple(self.targets)

    @property
    def universe(self) -> tuple[str, ...]:
        """Every asset the strategy may hold: static targets, the model's universe, harvest substitutes, the quote."""
        names = [*self.targets, *(self.allocation.universe if self.allocation is not None else ())]
        harvest = self.tax.harvest if self.tax is not None else None
        names += list(harvest.substitute.values()) if harvest is not None else []
        return tuple(dict.fromkeys(a for a in [*names, self.quote] if a))

    @property
    def universe_from_data(self) -> bool:
        """True when the model picks its assets from the data itself (a market-cap index without a universe)."""
        return self.allocation is not None and not self.allocation.universe

    def target_weights(
        self, snapshot: MarketSnapshot, state: PortfolioState, equity: Sequence[float] | None = None
    ) -> dict[str, float]:
        """Targets at this moment: static, or from the allocation model on point-in-time data; then the cash buffer.

        `equity` is a stored pre-trade equity path ending now (live runs); without it a model tracks its own."""
        base = dict(self.targets)
        if self.allocation is not None:
            base = self.allocation.targets(snapshot, state, self, equity=equity)
        return apply_cash_buffer(base, self.quote, self.cash_buffer)

    def decide(
        self,
        snapshot: MarketSnapshot,
        state: PortfolioState,
        *,
        schedule: Schedule = Schedule(),
        rules: RulesFor | None = None,
        initial: bool = False,
        equity: Sequence[float] | None = None,
    ) -> Decision:
        """Check the trigger on pre-trade weights at `snapshot.time`; plan the trades if it fires."""
        targets = self.target_weights(snapshot, state, equity)
        weights = state.weights(extra=targets)
        rate, gas = cost_rates(self.costs)
        ctx = DecisionContext(
            time=snapshot.time,
            weights=weights,
            targets=targets,
            anchor=schedule.anchor,
            previous=schedule.previous,
            history=snapshot.history,
            initial=initial,
            costs_rate=rate,
            value=float(state.total),
            gas_per_order=gas,
            quote=self.quote,
        )
        result = (
            TriggerResult(True, ("initial allocation",), calendar=True, kind=TriggerKind.INITIAL)
            if initial
            else self.trigger.check(ctx)
        )
        if not result.fired:
            return Decision(snapshot.time, result, targets, weights)
        if result.groups is not None:  # sleeves (core.sleeves): only the fired ones, each inside its own value
            plan = plan_within(state, targets, result.groups, self.costs, rules, self.settings, reason=result.reason)
            return Decision(snapshot.time, result, targets, weights, plan)
        desired = targets
        if self.rebalance_to == "band_edge" and not result.calendar:
            if result.bands is not None:
                desired = edge_targets(weights, targets, result.bands)
            else:
                desired = band_edge_targets(weights, targets, self.settings.band, self.settings.relative_band)
        plan = plan_rebalance(state, desired, self.costs, rules, self.settings, targets=targets, reason=result.reason)
        return Decision(snapshot.time, result, targets, weights, plan)


def apply_cash_buffer(targets: Mapping[str, float], quote: str, buffer: float) -> dict[str, float]:
    """Keep at least `buffer` of value in the quote asset by scaling the other targets down."""
    current = targets.get(quote, 0.0)
    if buffer <= current or buffer <= 0:
        return dict(targets)
    scale = (1.0 - buffer) / (1.0 - current) if current < 1 else 0.0
    out = {a: w * scale for a, w in targets.items() if a != quote}
    out[quote] = buffer
    return out


def cost_rates(costs: CostModel) -> tuple[float, float]:
    """Proportional cost per unit traded (fee + slippage) and flat cost per order, for cost-aware triggers."""
    rate = gas = 0.0
    for part in costs.parts:
        if isinstance(part, (Fee, Slippage)):
            rate += float(part.bps) * 1e-4
        elif isinstance(part, Gas):
            gas += float(part.per_order)
    return rate, gas


def edge_targets(
    weights: Mapping[str, float], targets: Mapping[str, float], bands: Mapping[str, float]
) -> dict[str, float]:
    """Like planner.band_edge_targets with per-asset half-widths: breaching assets go to their band edge."""
    names = list(targets) + [a for a in weights if a not in targets]
    edge: dict[str, float] = {}
    free: dict[str, float] = {}
    for a in names:
        w, t = weights.get(a, 0.0), targets.get(a, 0.0)
        b = bands.get(a, float("inf"))
        if abs(w - t) > b:
            edge[a] = t + (b if w > t else -b)
        else:
            free[a] = w
    rest = 1.0 - sum(edge.values())
    free_total = sum(free.values())
    if free_total > 0:
        return {**edge, **{a: w * rest / free_total for a, w in free.items()}}
    total = sum(edge.values())
    return {a: w / total for a, w in edge.items()} if total > 0 else dict(targets)
