"""The decision an external cash flow makes, the same in `trimtab deposit|withdraw` and in a backtest with flows:
a deposit buys the most underweight assets first, a withdrawal sells the most overweight first (core.base.flows)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from trimtab.core.base.flows import flow_weights
from trimtab.core.base.portfolio import PortfolioState
from trimtab.core.base.snapshot import MarketSnapshot
from trimtab.core.base.types import MarketRules
from trimtab.core.execution.planner import plan_rebalance
from trimtab.core.strategy import Decision, Strategy
from trimtab.core.triggers.rules import TriggerKind, TriggerResult


def flow_text(amount: Decimal, quote: str) -> str:
    return f"{'deposit' if amount > 0 else 'withdrawal'} of {abs(amount):,.2f} {quote}"


def flow_decision(
    strategy: Strategy,
    snapshot: MarketSnapshot,
    holdings: dict[str, Decimal],
    amount: Decimal,
    rules: Callable[[str], MarketRules] | None = None,
) -> Decision:
    """One-way trades for a flow of `amount` quote units (deposit +, withdrawal -). `holdings` already include a
    deposit; a withdrawal is paid from the cash the sells raise, so it is not in them yet."""
    quote = strategy.quote
    state = PortfolioState.of(holdings, snapshot.prices, quote)
    targets = strategy.target_weights(snapshot, state)
    what = flow_text(amount, quote)
    plan = plan_rebalance(
        state,
        flow_weights(state, targets, amount),
        strategy.costs,
        rules,
        strategy.settings,
        targets=targets,
        reason=f"{what}: {'buys the most underweight' if amount > 0 else 'sells the most overweight'} first",
    )
    return Decision(
        snapshot.time,
        TriggerResult(True, (plan.reason,), kind=TriggerKind.MANUAL),
        targets,
        state.weights(extra=targets),
        plan,
    )
