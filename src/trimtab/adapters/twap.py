"""TWAP execution: any Venue wrapped so each order goes out as child orders spread over a horizon.

All parents share one timeline (the horizon is the rebalance's, not each order's); at every instant sells go
before buys, so sells keep funding buys. Each child is its own one-order plan with a derived plan id, so venues
give every child its own idempotent client order id; child fills are reported as they are (exact accounting).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal

from trimtab.core.base.ports import ExecutionReport, LegFailure, Venue
from trimtab.core.base.types import ZERO, Fill, MarketRules, PlannedOrder, Side, TradePlan
from trimtab.core.execution.slicing import TwapSettings
from trimtab.errors import VenueError


@dataclass(frozen=True, slots=True)
class _Child:
    offset_s: float
    parent: int
    index: int
    order: PlannedOrder


class TwapVenue:
    """Executes plans on `venue` as TWAP child orders; `sleep`/`clock` are injectable for tests."""

    def __init__(
        self,
        venue: Venue,
        settings: TwapSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._venue = venue
        self._settings = settings
        self._sleep = sleep
        self._clock = clock
        self.name = f"{venue.name}+twap"

    def balances(self) -> dict[str, Decimal]:
        return self._venue.balances()

    def rules(self, asset: str, quote: str) -> MarketRules:
        return self._venue.rules(asset, quote)

    def client_id(self, plan: TradePlan, index: int) -> str:
        """The parent order's id on the venue underneath (children get ids of their own: `client_ids`)."""
        return str(self._venue.client_id(plan, index))  # type: ignore[attr-defined]

    def client_ids(self, plan: TradePlan) -> list[str]:
        """Every child order's client id, in sending order, known before anything is sent (for the journal)."""
        return [
            str(self._venue.client_id(self._child_plan(plan, c), 0))  # type: ignore[attr-defined]
            for c in self.schedule(plan)
        ]

    def find_fill(self, client_id: str, order: PlannedOrder) -> Fill | None:
        return self._venue.find_fill(client_id, order)  # type: ignore[attr-defined, no-any-return]

    @staticmethod
    def _child_plan(plan: TradePlan, child: _Child) -> TradePlan:
        return TradePlan((child.order,), plan.reason, plan_id=f"{plan.plan_id}/{child.parent}.{child.index}")

    def schedule(self, plan: TradePlan) -> list[_Child]:
        """Every child order of the plan on the shared timeline: by offset, sells first, then plan order."""
        children = []
        for p, order in enumerate(plan.orders):
            twap = self._settings.twap_for(order, self._venue.rules(order.asset, order.quote))
            for k, child in enumerate(twap.slices(order.quantity)):
                children.append(_Child(child.offset_s, p, k, _scaled(order, child.quantity)))
        return sorted(children, key=lambda c: (c.offset_s, c.order.side is Side.BUY, c.parent, c.index))

    def execute(self, plan: TradePlan) -> ExecutionReport:
        """Send each child at its offset; a parent whose child fails sends no more children (the rest is reported)."""
        start = self._clock()
        fills: list[Fill] = []
        filled: dict[int, Decimal] = {}
        failed: dict[int, str] = {}
        notes: list[str] = []
        for child in self.schedule(plan):
            if child.parent in failed:
                continue
            wait = child.offset_s - (self._clock() - start)
            if wait > 0:
                self._sleep(wait)
            one = self._child_plan(plan, child)
            try:
                report = self._venue.execute(one)
            except VenueError as err:
                partial = err.partial_report
                if isinstance(partial, ExecutionReport):
                    fills.extend(partial.fills)
                err.partial_report = ExecutionReport(tuple(fills), (), self.name)
                raise
            fills.extend(report.fills)
            filled[child.parent] = filled.get(child.parent, ZERO) + sum((f.quantity for f in report.fills), ZERO)
            for f in report.failures:
                failed[child.parent] = f"child {child.index + 1}: {f.reason}"
            notes.extend(report.notes)
        failures = tuple(
            LegFailure(order, f"{failed[p]}; {order.quantity - filled.get(p, ZERO)} not sent", filled.get(p, ZERO))
            for p, order in enumerate(plan.orders)
            if p in failed
        )
        return ExecutionReport(tuple(fills), failures, self.name, tuple(notes))


def _scaled(order: PlannedOrder, quantity: Decimal) -> PlannedOrder:
    """The parent order resized to one child (its cost estimate scaled in proportion)."""
    share = quantity / order.quantity
    cost = replace(order.cost, fee=order.cost.fee * share, slippage=order.cost.slippage * share, gas=order.cost.gas)
    return replace(order, quantity=quantity, cost=cost, gross=None)
