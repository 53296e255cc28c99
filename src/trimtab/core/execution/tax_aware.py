"""Tax-aware plans: the gains a plan's sells would realise from the open tax lots (core.base.lots, by the
strategy's lot method), their tax at the given rates, and the choice between the full plan and the plan that only
reaches the band edge when the edge realises less (`tax_aware`) or the year's realised-gain budget is exceeded.

The trade-off follows the tax-aware rebalancing literature (e.g. Jeffrey & Arnott, "Is Your Alpha Big Enough to Cover
Its Taxes?", JPM 1993; Horan & Adler, "Tax-Aware Investment Management Practice", 2009): a rebalance inside the
band's tolerance is worth less than the tax it triggers, so trade only as far as the band requires.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from trimtab.core.base.lots import LotBook, LotMethod
from trimtab.core.base.types import ZERO, Side, TradePlan
from trimtab.core.execution.harvest import HarvestPolicy


@dataclass(frozen=True, slots=True)
class TaxPolicy:
    """The `tax:` block: lot method, holding period, rates per term, a yearly gain budget, tax awareness, harvesting."""

    method: LotMethod = LotMethod.FIFO
    holding_days: int = 365
    short_rate: float = 0.0
    long_rate: float = 0.0
    gain_budget: Decimal | None = None  # realised gains per calendar year, in the quote
    tax_aware: bool = False
    harvest: HarvestPolicy | None = None  # harvest_losses (core.execution.harvest)

    @property
    def holding_period(self) -> timedelta:
        return timedelta(days=self.holding_days)


@dataclass(frozen=True, slots=True)
class TaxImpact:
    """Gains a plan would realise (quote units) by term, and their tax."""

    short: Decimal = ZERO
    long: Decimal = ZERO
    tax: Decimal = ZERO

    @property
    def gain(self) -> Decimal:
        return self.short + self.long

    def text(self) -> str:
        return f"gains {self.gain:,.2f} (short {self.short:,.2f}, long {self.long:,.2f}), tax {self.tax:,.2f}"


def plan_tax(plan: TradePlan | None, book: LotBook, time: datetime, policy: TaxPolicy) -> TaxImpact:
    """Sell each SELL order's quantity from a copy of the lots at its expected proceeds (net of fee and gas); units
    beyond the lots (deposited, basis unknown) realise nothing. Losses offset gains of their term."""
    if plan is None or not any(o.side is Side.SELL for o in plan.orders):
        return TaxImpact()
    trial = copy.deepcopy(book)
    trial.disposals = []
    for o in plan.orders:
        if o.side is not Side.SELL:
            continue
        qty = min(o.quantity, trial.holding(o.asset))
        if qty <= 0:
            continue
        gross = o.gross if o.gross is not None else o.quantity * o.exec_price
        proceeds = (gross - o.cost.fee - o.cost.gas) * qty / o.quantity
        trial.sell(o.asset, qty, proceeds, time, policy.method)
    short = sum((d.gain for d in trial.disposals if d.term == "short"), ZERO)
    long_ = sum((d.gain for d in trial.disposals if d.term == "long"), ZERO)
    rate_s, rate_l = Decimal(repr(policy.short_rate)), Decimal(repr(policy.long_rate))
    tax = max(short, ZERO) * rate_s + max(long_, ZERO) * rate_l
    return TaxImpact(short, long_, tax)


def choose_plan(
    full: TradePlan,
    edge: TradePlan | None,
    book: LotBook,
    time: datetime,
    policy: TaxPolicy,
    realised_this_year: Decimal = ZERO,
) -> tuple[TradePlan, str]:
    """The plan to send and a note with the tax it pays or avoids. The edge plan wins when tax-aware and it pays
    less tax, or when the full plan would take the year's realised gains past the budget and the edge realises
    less."""
    f = plan_tax(full, book, time, policy)
    e = plan_tax(edge, book, time, policy) if edge is not None else None
    budget = policy.gain_budget
    over = budget is not None and realised_this_year + f.gain > budget
    cheaper = e is not None and policy.tax_aware and e.tax < f.tax
    smaller = e is not None and over and e.gain < f.gain
    if e is not None and edge is not None and (cheaper or smaller):
        why = f"the year's gains would pass the budget of {budget:,.2f}" if over and budget is not None else "tax-aware"
        note = f"tax: {why}: band-edge plan realises {e.text()} instead of {f.text()}; avoided {f.tax - e.tax:,.2f} tax"
        return edge, note
    note = f"tax: {f.text()}"
    if over and budget is not None:
        note += f"; the year's gains pass the budget of {budget:,.2f} (no smaller plan reaches the band)"
    return full, note
