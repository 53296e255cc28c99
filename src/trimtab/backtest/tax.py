"""Realised gains and after-tax values of a backtest: the step path's ledger replayed into tax lots (core.base.lots),
the same way `trimtab tax-report` reads a live ledger.

Tax per calendar year is rate x gain for each term, a year's net loss in a term counting as zero (no carry-forward
or netting across terms: a conservative estimate, not tax advice). `after_tax_liquidation_value` also pays the tax
on the gains still open at the last prices, as if everything were sold then.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from trimtab.core.base.ledger import LedgerEntry
from trimtab.core.base.lots import Disposal, LotBook, LotMethod, replay_trades, trade_legs

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class TaxRates:
    """Rates on short- and long-term gains (fractions), the lot method and the holding period."""

    short: float
    long: float
    method: LotMethod = LotMethod.FIFO
    holding_days: int = 365


def _tax(disposals: Sequence[Disposal], rates: TaxRates) -> Decimal:
    by: dict[tuple[int, str], Decimal] = {}
    for d in disposals:
        key = (d.sold.year, d.term)
        by[key] = by.get(key, ZERO) + d.gain
    rate = {"short": Decimal(repr(rates.short)), "long": Decimal(repr(rates.long))}
    return sum((max(g, ZERO) * rate[term] for (_, term), g in by.items()), ZERO)


def tax_summary(
    entries: Sequence[LedgerEntry],
    quote: str,
    last_prices: Mapping[str, Decimal],
    end: datetime,
    final_value: float,
    unit: float,
    rates: TaxRates,
) -> dict[str, Any]:
    """Gains and tax in the quote; the after-tax values in the history's unit, as `final_value` (`unit`: the
    quote's price in it)."""
    legs, _ = trade_legs(list(entries), quote)
    book = replay_trades(legs, LotBook(timedelta(days=rates.holding_days)), rates.method)
    realised = {t: sum((d.gain for d in book.disposals if d.term == t), ZERO) for t in ("short", "long")}
    paid = _tax(book.disposals, rates)
    open_sales = []  # selling every open lot at the last prices, on the last day
    for asset, lots in book.lots.items():
        price = last_prices.get(asset, ZERO)
        for lot in lots:
            term = "long" if end - lot.acquired > book.holding_period else "short"
            open_sales.append(
                Disposal(end, asset, lot.quantity, lot.quantity * price, lot.cost, lot.acquired, lot.lot_id, term)
            )
    at_exit = _tax([*book.disposals, *open_sales], rates) - paid
    return {
        "tax_method": rates.method.value,
        "realised_gain_short": float(realised["short"]),
        "realised_gain_long": float(realised["long"]),
        "unrealised_gain": float(sum((s.gain for s in open_sales), ZERO)),
        "tax_paid": float(paid),
        "after_tax_final_value": final_value - float(paid) * unit,
        "after_tax_liquidation_value": final_value - float(paid + at_exit) * unit,
    }
