"""External cash flows inside a backtest: each flow lands at the first step on or after its date, in the ledger and
the paper venue, and trades one way (pipeline.flows), before that step's own check. Flows never count as returns:
metrics use the time-weighted index, with the money-weighted return beside it (core.base.flows)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from trimtab.adapters.paper import PaperVenue
from trimtab.backtest.ledger import RunningLedger
from trimtab.core.base.flows import flow_weights
from trimtab.core.base.ledger import EntryKind, LedgerEntry
from trimtab.core.base.portfolio import PortfolioState
from trimtab.core.base.snapshot import MarketSnapshot
from trimtab.core.measures.drift import asset_drifts
from trimtab.core.strategy import Decision, Strategy
from trimtab.engine import CycleResult
from trimtab.errors import ConfigError
from trimtab.pipeline import Pipeline
from trimtab.pipeline.flows import flow_decision, flow_text


def flows_by_step(flows: Sequence[tuple[datetime, Decimal]], times: npt.NDArray[np.datetime64]) -> dict[int, Decimal]:
    """Step index (into `times`) -> quote amount: each flow at the first step at or after its date."""
    if not len(flows):
        return {}
    stamps = times.astype("datetime64[s]").astype(np.int64)
    out: dict[int, Decimal] = {}
    for when, amount in flows:
        k = int(np.searchsorted(stamps, int(when.timestamp()), side="left"))
        if when.timestamp() < stamps[0]:
            raise ConfigError(f"a flow on {when:%Y-%m-%d} is before the backtest starts", field="--flows")
        if k >= len(stamps):
            raise ConfigError(f"a flow on {when:%Y-%m-%d} is after the backtest ends", field="--flows")
        out[k] = out.get(k, Decimal(0)) + amount
    return dict(sorted(out.items()))  # in step order, however the caller listed them


def apply_flow(
    pipeline: Pipeline,
    venue: PaperVenue,
    ledger: RunningLedger,
    snap: MarketSnapshot,
    strategy: Strategy,
    amount: Decimal,
    *,
    account: str,
    trade: bool,
) -> tuple[Decimal, CycleResult | None, str]:
    """Book a flow (deposit +, withdrawal -) and, when `trade`, its one-way trades; returns the amount booked (a
    withdrawal is capped at the cash the sells raise: a ledger never goes negative), the trades and a note."""
    quote, ref = strategy.quote, f"flow-{snap.time:%Y%m%d%H%M}"
    what = flow_text(amount, quote)
    result = None
    if amount > 0:
        ledger.append([LedgerEntry(account, quote, amount, EntryKind.DEPOSIT, ref, snap.time, note=what)])
        venue.transfer(quote, amount)
    if trade:
        holdings = ledger.balances(account)
        decision = flow_decision(strategy, snap, holdings, amount)
        result = pipeline.execute(decision, snap, ledger, account=account, holdings=holdings, strategy=strategy)
    if amount >= 0:
        return amount, result, what
    cash = ledger.balances(account).get(quote, Decimal(0))
    paid = min(-amount, cash)
    if paid > 0:
        ledger.append([LedgerEntry(account, quote, -paid, EntryKind.WITHDRAW, ref, snap.time, note=what)])
        venue.transfer(quote, -paid)
    note = what if paid == -amount else f"{what}: only {paid:,.2f} {quote} could be raised"
    return -paid, result, note


def weights_after_flow(state: PortfolioState, targets: Mapping[str, float], amount: Decimal) -> dict[str, float]:
    """Weights once a flow and its one-way trades are done (costs left out: a look-ahead, not a plan). `state`
    holds the portfolio before the flow."""
    quote = state.quote
    if amount > 0:
        state = PortfolioState.of({**state.holdings, quote: state.quantity(quote) + amount}, state.prices, quote)
    weights = flow_weights(state, targets, amount)
    total, after = state.total, state.total + min(amount, Decimal(0))
    if amount >= 0 or after <= 0:
        return weights
    scale = float(total / after)  # a withdrawal leaves the account: the rest is a bigger share of less
    out = {a: w * scale for a, w in weights.items() if a != quote}
    out[quote] = max(0.0, 1.0 - sum(out.values()))
    return out


def defer_for_flow(
    strategy: Strategy,
    decision: Decision,
    snap: MarketSnapshot,
    holdings: Mapping[str, Decimal],
    flows: Mapping[int, Decimal],
    times: Mapping[int, datetime],
    step: int,
) -> Decision:
    """`cash_flow_first`: a due rebalance is skipped when the next known flow (`flows` by step, in step order),
    within the strategy's horizon, would by itself bring every asset inside its band; the decision says which."""
    horizon = strategy.cash_flow_first_s
    if horizon is None or decision.plan is None:
        return decision
    nxt = next((j for j in flows if j > step), None)
    if nxt is None:
        return decision
    when, amount = times[nxt], flows[nxt]
    if (when - snap.time).total_seconds() > horizon:
        return decision
    state = PortfolioState.of(dict(holdings), snap.prices, strategy.quote)
    after = weights_after_flow(state, decision.targets, amount)
    band, rel = strategy.settings.band, strategy.settings.relative_band
    if band is None and rel is None:
        return decision  # no band to land inside: the flow cannot be shown to fix the drift
    if any(d.breached for d in asset_drifts(after, decision.targets, band, rel)):
        return decision
    why = (
        f"cash_flow_first: {decision.reason}; the {flow_text(amount, strategy.quote)} on {when:%Y-%m-%d} brings "
        "every asset inside its band, so no trade now"
    )
    trigger = replace(decision.trigger, fired=False, reasons=(why,))
    return replace(decision, trigger=trigger, plan=None)
