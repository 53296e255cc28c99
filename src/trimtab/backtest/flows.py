"""External cash flows inside a backtest: each flow lands at the first step on or after its date, in the ledger and
the paper venue, and trades one way (pipeline.flows), before that step's own check. Flows never count as returns:
metrics use the time-weighted index, with the money-weighted return beside it (core.base.flows)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from trimtab.adapters.paper import PaperVenue
from trimtab.backtest.ledger import RunningLedger
from trimtab.core.base.ledger import EntryKind, LedgerEntry
from trimtab.core.base.snapshot import MarketSnapshot
from trimtab.core.strategy import Strategy
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
    return out


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
