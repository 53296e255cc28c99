"""Tiered autonomy: plans at or under every threshold execute by themselves, a larger one waits for an admin.

Pure: the thresholds (`ApprovalPolicy`), the test a plan must pass (`needs_approval`), the rule an approved plan's
re-plan on fresh prices must meet to execute without asking again (`replan_difference`), and the trigger that
re-plans the approved rebalance (`ApprovedTrigger`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from trimtab.core.base.portfolio import PortfolioState
from trimtab.core.base.types import ZERO, TradePlan
from trimtab.core.triggers.rules import DecisionContext, TriggerKind, TriggerResult

REPLAN_TOLERANCE = Decimal("0.10")  # a re-plan executes if its notional and cost are within 10% of the approved


@dataclass(frozen=True, slots=True)
class ApprovalPolicy:
    """The strategy file's `approval:` block: the largest plan sent without an admin, and how long one waits."""

    max_auto_notional: Decimal | None = None  # quote units, mid-price notional of all legs
    max_auto_cost: Decimal | None = None  # quote units, estimated fee + slippage + gas
    max_auto_turnover: float | None = None  # notional as a fraction of the portfolio value
    expires_s: float = 4 * 3600.0


def plan_notional(plan: TradePlan) -> Decimal:
    """Mid-price notional of every leg, in the quote."""
    return sum((o.notional for o in plan.orders), ZERO)


def _q(x: Decimal, quote: str) -> str:
    return f"{x:,.2f} {quote}"


def needs_approval(plan: TradePlan | None, state: PortfolioState, policy: ApprovalPolicy | None) -> str | None:
    """Why `plan` needs an admin (each threshold it exceeds, with both numbers); None when it may go by itself."""
    if policy is None or plan is None or plan.is_empty:
        return None
    quote = state.quote
    notional, cost = plan_notional(plan), plan.total_cost.total
    out = []
    if policy.max_auto_notional is not None and notional > policy.max_auto_notional:
        out.append(f"notional {_q(notional, quote)} above max_auto_notional {_q(policy.max_auto_notional, quote)}")
    if policy.max_auto_cost is not None and cost > policy.max_auto_cost:
        out.append(f"estimated cost {_q(cost, quote)} above max_auto_cost {_q(policy.max_auto_cost, quote)}")
    value = state.total
    if policy.max_auto_turnover is not None and value > 0:
        turnover = float(notional / value)
        if turnover > policy.max_auto_turnover:
            out.append(
                f"turnover {turnover:.2%} of the portfolio above max_auto_turnover {policy.max_auto_turnover:.2%}"
            )
    return "; ".join(out) or None


def plan_sides(plan: TradePlan) -> dict[str, str]:
    """Each traded asset's side ("buy" / "sell")."""
    return {o.asset: o.side.value for o in plan.orders}


def replan_difference(
    plan: TradePlan, notional: Decimal, cost: Decimal, sides: Mapping[str, str], quote: str
) -> str | None:
    """Why a re-plan on fresh prices is not the approved plan (None: it may execute without asking again).

    Comparable: every leg trades an asset the approved plan traded, on the same side, and neither its notional nor
    its estimated cost is more than REPLAN_TOLERANCE above the approved plan's."""
    for asset, side in plan_sides(plan).items():
        if sides.get(asset) != side:
            was = sides.get(asset)
            return f"{side} {asset} was not approved" + (f" (the approved plan would {was} it)" if was else "")
    limit = 1 + REPLAN_TOLERANCE
    new_notional, new_cost = plan_notional(plan), plan.total_cost.total
    if new_notional > notional * limit:
        return f"notional {_q(new_notional, quote)} is more than {limit}x the approved {_q(notional, quote)}"
    if new_cost > cost * limit:
        return f"estimated cost {_q(new_cost, quote)} is more than {limit}x the approved {_q(cost, quote)}"
    return None


@dataclass(frozen=True, slots=True)
class ApprovedTrigger:
    """Fires as the approved decision's trigger did, so the strategy re-plans that rebalance on fresh prices."""

    result: TriggerResult

    def check(self, ctx: DecisionContext) -> TriggerResult:
        return self.result


def trigger_doc(result: TriggerResult) -> dict[str, Any]:
    """A trigger result as JSON (stored with a pending approval)."""
    return {
        "fired": result.fired,
        "reasons": list(result.reasons),
        "calendar": result.calendar,
        "band": result.band,
        "relative_band": result.relative_band,
        "bands": dict(result.bands) if result.bands is not None else None,
        "kind": result.kind.value,
    }


def trigger_from(doc: Mapping[str, Any]) -> TriggerResult:
    """The trigger result `trigger_doc` stored."""
    bands = doc.get("bands")
    return TriggerResult(
        bool(doc["fired"]),
        tuple(doc.get("reasons") or ()),
        calendar=bool(doc.get("calendar")),
        band=doc.get("band"),
        relative_band=doc.get("relative_band"),
        bands={str(k): float(v) for k, v in bands.items()} if bands is not None else None,
        kind=TriggerKind(doc.get("kind", TriggerKind.THRESHOLD.value)),
    )
