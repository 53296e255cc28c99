"""Tax lots: every buy opens a lot (quantity, cost basis in the quote with fees, time); every sell closes lots by
FIFO, LIFO, HIFO (highest cost per unit first) or specific identification, realising short- or long-term gains.

Exact in Decimal. The basis of a lot includes the fee and gas of its buy; a sale's proceeds are net of its fee and
gas (the usual rule, e.g. IRS Publication 551 "Basis of Assets" and Publication 544 "Sales and Other Dispositions").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from trimtab.core.base.ledger import EntryKind, LedgerEntry
from trimtab.core.base.types import ZERO
from trimtab.errors import DataError


class LotMethod(StrEnum):
    FIFO = "fifo"
    LIFO = "lifo"
    HIFO = "hifo"
    SPECIFIC = "specific"


@dataclass(frozen=True, slots=True)
class Lot:
    """Units of one asset acquired together; `cost` is the whole basis in the quote (fees included)."""

    lot_id: str
    asset: str
    quantity: Decimal
    cost: Decimal
    acquired: datetime

    @property
    def unit_cost(self) -> Decimal:
        return self.cost / self.quantity if self.quantity else ZERO


@dataclass(frozen=True, slots=True)
class Disposal:
    """Part (or all) of one lot sold: proceeds and basis in the quote, the gain and its term."""

    sold: datetime
    asset: str
    quantity: Decimal
    proceeds: Decimal
    basis: Decimal
    acquired: datetime
    lot_id: str
    term: str  # "short" | "long"

    @property
    def gain(self) -> Decimal:
        return self.proceeds - self.basis


@dataclass
class LotBook:
    """Open lots per asset and every disposal so far."""

    holding_period: timedelta = timedelta(days=365)
    lots: dict[str, list[Lot]] = field(default_factory=dict)
    disposals: list[Disposal] = field(default_factory=list)

    def buy(self, lot_id: str, asset: str, quantity: Decimal, cost: Decimal, time: datetime) -> Lot:
        if quantity <= 0 or cost < 0:
            raise DataError(f"lot {lot_id}: quantity {quantity} and cost {cost} must be positive", field="lots")
        lot = Lot(lot_id, asset, quantity, cost, time)
        self.lots.setdefault(asset, []).append(lot)
        return lot

    def holding(self, asset: str) -> Decimal:
        return sum((lot.quantity for lot in self.lots.get(asset, ())), ZERO)

    def basis(self, asset: str) -> Decimal:
        return sum((lot.cost for lot in self.lots.get(asset, ())), ZERO)

    def order(self, asset: str, method: LotMethod, specific: Sequence[str] = ()) -> list[Lot]:
        """The open lots of `asset` in the order `method` sells them."""
        open_ = list(self.lots.get(asset, ()))
        if method is LotMethod.FIFO:
            return sorted(open_, key=lambda lot: lot.acquired)
        if method is LotMethod.LIFO:
            return sorted(open_, key=lambda lot: lot.acquired, reverse=True)
        if method is LotMethod.HIFO:
            return sorted(open_, key=lambda lot: (-lot.unit_cost, lot.acquired))
        chosen = {lot_id: i for i, lot_id in enumerate(specific)}
        missing = [i for i in specific if i not in {lot.lot_id for lot in open_}]
        if missing:
            raise DataError(f"{asset}: no open lot {', '.join(missing)} to sell", field="lots")
        return sorted((lot for lot in open_ if lot.lot_id in chosen), key=lambda lot: chosen[lot.lot_id])

    def sell(
        self,
        asset: str,
        quantity: Decimal,
        proceeds: Decimal,
        time: datetime,
        method: LotMethod = LotMethod.FIFO,
        specific: Sequence[str] = (),
    ) -> list[Disposal]:
        """Close `quantity` of `asset` from its lots in `method` order; proceeds are split pro rata by quantity."""
        if quantity <= 0:
            raise DataError(f"{asset}: sale quantity {quantity} must be positive", field="lots")
        held = (
            self.holding(asset)
            if method is not LotMethod.SPECIFIC
            else sum((lot.quantity for lot in self.order(asset, method, specific)), ZERO)
        )
        if quantity > held:
            raise DataError(f"{asset}: selling {quantity} but the lots hold {held}", field="lots")
        left, out = quantity, []
        for lot in self.order(asset, method, specific):
            if left <= 0:
                break
            take = min(left, lot.quantity)
            basis = lot.cost if take == lot.quantity else lot.cost * take / lot.quantity
            share = proceeds * take / quantity if take != quantity else proceeds
            term = "long" if time - lot.acquired > self.holding_period else "short"
            out.append(Disposal(time, asset, take, share, basis, lot.acquired, lot.lot_id, term))
            self._reduce(lot, take, basis)
            left -= take
        if out:  # the last share takes the rounding remainder: proceeds are exact in total
            rest = proceeds - sum((d.proceeds for d in out), ZERO)
            out[-1] = replace(out[-1], proceeds=out[-1].proceeds + rest)
        self.disposals.extend(out)
        return out

    def _reduce(self, lot: Lot, take: Decimal, basis: Decimal) -> None:
        lots = self.lots[lot.asset]
        i = lots.index(lot)
        if take == lot.quantity:
            lots.pop(i)
        else:
            lots[i] = replace(lot, quantity=lot.quantity - take, cost=lot.cost - basis)

    def unrealised(self, prices: Mapping[str, Decimal]) -> Decimal:
        """Value of the open lots at `prices` minus their basis."""
        return sum((self.holding(a) * prices[a] - self.basis(a) for a in self.lots if a in prices), ZERO)

    def realised(self, year: int | None = None) -> Decimal:
        return sum((d.gain for d in self.disposals if year is None or d.sold.year == year), ZERO)


@dataclass(frozen=True, slots=True)
class TradeLegs:
    """One fill read back from a ledger: base and quote amounts, fee (asset, amount) and gas, by ref."""

    ref: str
    time: datetime
    asset: str
    base: Decimal  # signed: + bought, - sold
    quote_amount: Decimal  # signed: - paid, + received
    fees_quote: Decimal  # fee and gas valued in the quote
    fee_base: Decimal  # fee taken in the traded asset (reduces the units)


def replay_trades(trades: Iterable[TradeLegs], book: LotBook, method: LotMethod = LotMethod.FIFO) -> LotBook:
    """Open a lot per buy (cost = paid + fees) and close lots per sell (proceeds = received - fees)."""
    for t in sorted(trades, key=lambda x: x.time):  # stable: fills at one time keep their ledger order
        if t.base > 0:
            book.buy(t.ref, t.asset, t.base - t.fee_base, -t.quote_amount + t.fees_quote, t.time)
        elif t.base < 0:
            book.sell(t.asset, -t.base + t.fee_base, t.quote_amount - t.fees_quote, t.time, method)
    return book


def trade_legs(entries: list[LedgerEntry], quote: str) -> tuple[list[TradeLegs], list[LedgerEntry]]:
    """Fills grouped by ref (base leg, quote leg, fee, gas) and the opening deposits of risk assets."""
    by_ref: dict[str, list[LedgerEntry]] = defaultdict(list)
    deposits = []
    for e in entries:
        if e.kind == EntryKind.DEPOSIT and e.asset != quote:
            deposits.append(e)
        elif e.kind in (EntryKind.TRADE, EntryKind.FEE, EntryKind.GAS):
            by_ref[e.ref].append(e)
    legs = []
    for ref, group in by_ref.items():
        base = [e for e in group if e.kind == EntryKind.TRADE and e.asset != quote]
        paid = [e for e in group if e.kind == EntryKind.TRADE and e.asset == quote]
        if len(base) != 1 or len(paid) != 1:
            raise DataError(
                f"fill {ref} has no single {quote} leg: is {quote} the ledger's quote? (--quote)", field="--quote"
            )
        asset = base[0].asset
        fees_quote = -sum((e.amount for e in group if e.kind != EntryKind.TRADE and e.asset == quote), Decimal(0))
        fee_base = -sum((e.amount for e in group if e.kind == EntryKind.FEE and e.asset == asset), Decimal(0))
        legs.append(TradeLegs(ref, base[0].time, asset, base[0].amount, paid[0].amount, fees_quote, fee_base))
    return legs, deposits
