"""Append-only ledger entries in Decimal: balances are derived, never stored (double-entry per fill)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from trimtab.core.base.types import QUANTUM, ZERO, Fill, Side


class EntryKind:
    DEPOSIT = "deposit"
    WITHDRAW = "withdraw"
    TRADE = "trade"
    FEE = "fee"
    GAS = "gas"


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One signed movement of one asset in one account; `ref` ties the legs of one fill together."""

    account: str
    asset: str
    amount: Decimal
    kind: str
    ref: str
    time: datetime
    rebalance_id: str = ""
    price: Decimal = ZERO  # execution price for trade legs, informational
    note: str = ""


def entries_for_fill(
    fill: Fill, *, account: str, time: datetime, ref: str, rebalance_id: str = ""
) -> tuple[LedgerEntry, ...]:
    """The legs of one fill: base in/out, quote out/in, fee and gas, each its own entry."""
    sign = Decimal(1) if fill.side is Side.BUY else Decimal(-1)
    gross = fill.quote_amount
    price = fill.price.quantize(QUANTUM)  # informational only: the legs carry the exact amounts
    legs = [
        LedgerEntry(account, fill.asset, sign * fill.quantity, EntryKind.TRADE, ref, time, rebalance_id, price),
        LedgerEntry(account, fill.quote, -sign * gross, EntryKind.TRADE, ref, time, rebalance_id, Decimal(1)),
    ]
    if fill.fee:
        legs.append(
            LedgerEntry(account, fill.fee_asset or fill.quote, -fill.fee, EntryKind.FEE, ref, time, rebalance_id)
        )
    if fill.gas:
        legs.append(LedgerEntry(account, fill.quote, -fill.gas, EntryKind.GAS, ref, time, rebalance_id))
    return tuple(legs)


def deposit_entries(holdings: dict[str, Decimal], *, account: str, time: datetime, ref: str) -> tuple[LedgerEntry, ...]:
    """Opening balances of an account as deposits."""
    return tuple(LedgerEntry(account, a, q, EntryKind.DEPOSIT, ref, time) for a, q in sorted(holdings.items()) if q)


def balances_from(entries: Iterable[LedgerEntry]) -> dict[str, Decimal]:
    """Sum of entries per asset; exact in Decimal."""
    out: dict[str, Decimal] = {}
    for e in entries:
        out[e.asset] = out.get(e.asset, ZERO) + e.amount
    return out
