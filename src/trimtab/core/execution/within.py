"""Partial plans: groups of assets (a strategy's sleeves) each rebalanced inside its own value, nothing else traded.

Each group is planned by the one planner (core.execution.planner) on a sub-portfolio of its own holdings: a group
without the quote funds its buys from its own sells and pays its own costs, so the other groups' holdings and the
quote's owner keep their value; lot-size leftovers of a group's sells land in the quote.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from trimtab.core.base.portfolio import PortfolioState
from trimtab.core.base.types import ZERO, MarketRules, PlannedOrder, Residual, Side, TradePlan
from trimtab.core.costs.model import CostModel
from trimtab.core.execution.planner import PlanSettings, RulesFor, apply_orders, plan_rebalance


def group_state(state: PortfolioState, group: Sequence[str]) -> PortfolioState:
    """The holdings of `group` alone (the quote only when the group holds it), at the state's prices."""
    holdings: dict[str, Decimal] = {a: state.quantity(a) for a in group}
    holdings.setdefault(state.quote, ZERO)
    return PortfolioState(holdings=holdings, prices=state.prices, quote=state.quote)


def group_targets(targets: Mapping[str, float], group: Sequence[str]) -> dict[str, float]:
    """The group's share of `targets`, scaled to sum to 1 inside the group (empty when the group has none)."""
    total = sum(targets.get(a, 0.0) for a in group)
    return {a: targets.get(a, 0.0) / total for a in group} if total > 0 else {}


def plan_within(
    state: PortfolioState,
    targets: Mapping[str, float],
    groups: Sequence[Sequence[str]],
    costs: CostModel,
    rules: RulesFor | Mapping[str, MarketRules] | None = None,
    settings: PlanSettings = PlanSettings(),
    *,
    reason: str = "",
) -> TradePlan:
    """Orders moving each group to its share of `targets` inside the group's current value; sells first."""
    total = state.total
    sells: list[PlannedOrder] = []
    buys: list[PlannedOrder] = []
    residual: list[Residual] = []
    for group in groups:
        sub = group_state(state, group)
        desired = group_targets(targets, group)
        if sub.total <= 0 or not desired:
            continue
        plan = plan_rebalance(sub, desired, costs, rules, settings, reason=reason)
        for o in plan.orders:
            (sells if o.side is Side.SELL else buys).append(o)
        scale = float(sub.total / total) if total > 0 else 0.0
        residual += [Residual(r.asset, r.drift * scale, r.reason) for r in plan.residual if r.asset in desired]
    orders = tuple(sorted(sells, key=lambda o: -o.notional) + sorted(buys, key=lambda o: -o.notional))
    post = apply_orders(state, orders).weights(extra=targets)
    return TradePlan(orders=orders, reason=reason, residual=tuple(residual), post_weights=post)
