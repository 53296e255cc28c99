"""`trimtab tax-report`: the disposals of one year from a ledger file, by lot method, as a table and a CSV an
accountant can import (date, asset, quantity, proceeds, basis, gain, term, acquired, lot)."""

from __future__ import annotations

import csv
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from trimtab.cli.app import app, guarded, ledger_in, maybe_file, out, output_file
from trimtab.errors import ConfigError, DataError

if TYPE_CHECKING:
    from trimtab.core.base.ledger import LedgerEntry
    from trimtab.core.base.lots import Disposal

CENT = Decimal("0.01")
COLUMNS = ("date", "asset", "quantity", "proceeds", "basis", "gain", "term", "acquired", "lot")


def _opening_value(deposit: LedgerEntry, prices: str | None) -> Decimal:
    """Fair market value of an opening deposit at its time: the bundled daily close, or the user's price file."""
    from trimtab.adapters.bundled import bundled_daily
    from trimtab.adapters.pricefile import load_prices_with_report

    day = f"{deposit.time:%Y-%m-%d}"
    try:
        if prices is None:
            history = bundled_daily([deposit.asset], end=day, require_complete=False)
        else:
            history, _ = load_prices_with_report(prices, assets=[deposit.asset], end=day, require_complete=False)
    except (DataError, ConfigError) as err:
        raise DataError(
            f"no price for {deposit.asset} on {day} to value its opening deposit ({err}); pass --prices",
            field="--prices",
        ) from None
    col = history.prices[:, history.index_of(deposit.asset)]
    good = [float(p) for p in col if p == p and p > 0]
    if not good:
        raise DataError(f"no price for {deposit.asset} on or before {day}; pass --prices", field="--prices")
    return deposit.amount * Decimal(repr(good[-1]))


def disposals_of(
    ledger: Path, account: str | None, quote: str, method: str, holding_days: int, prices: str | None
) -> list[Disposal]:
    from trimtab.adapters.storage import SqlLedgerStore
    from trimtab.core.base.lots import LotBook, LotMethod, replay_trades, trade_legs

    store = SqlLedgerStore(str(ledger))
    try:
        entries = store.entries(account)
    finally:
        store.close()
    accounts = {e.account for e in entries}
    if len(accounts) > 1:
        raise ConfigError(f"the ledger holds accounts {', '.join(sorted(accounts))}: choose one", field="--account")
    legs, deposits = trade_legs(entries, quote)
    book = LotBook(timedelta(days=holding_days))
    for d in deposits:  # opening positions: basis at their market value when deposited
        book.buy(f"{d.ref}:{d.asset}", d.asset, d.amount, _opening_value(d, prices), d.time)
    replay_trades(legs, book, LotMethod(method))
    return book.disposals


@app.command("tax-report")
@guarded
def tax_report(
    ledger: Annotated[Path, typer.Option("--ledger", parser=ledger_in, help="SQLite ledger file.")],
    year: Annotated[int, typer.Option("--year", min=2009, max=2100, help="Tax year (UTC dates of the sales).")],
    account: Annotated[
        str | None, typer.Option("--account", help="Ledger account (needed when it holds several).")
    ] = None,
    method: Annotated[
        Literal["fifo", "lifo", "hifo"], typer.Option("--method", help="Lots sold first: fifo | lifo | hifo.")
    ] = "fifo",
    quote: Annotated[
        str, typer.Option("--quote", help="The ledger's quote asset (proceeds and basis are in it).")
    ] = "USDC",
    holding_days: Annotated[
        int, typer.Option("--holding-days", min=1, max=3650, help="Held longer than this: long term.")
    ] = 365,
    prices: Annotated[
        str | None,
        typer.Option("--prices", parser=maybe_file, help="Prices to value opening deposits (default: bundled)."),
    ] = None,
    csv_out: Annotated[
        Path | None, typer.Option("--csv", parser=output_file, help="Write the disposals as CSV.")
    ] = None,
) -> None:
    """Realised gains of one year from a ledger: every disposal with its proceeds, basis, gain and term."""
    from rich.table import Table

    rows = [
        d for d in disposals_of(ledger, account, quote.upper(), method, holding_days, prices) if d.sold.year == year
    ]
    t = Table(title=f"Disposals in {year} ({method.upper()}, {quote.upper()})", title_justify="left")
    for col in COLUMNS:
        t.add_column(col, justify="left" if col in ("date", "asset", "term", "acquired", "lot") else "right")
    for d in rows:
        t.add_row(
            f"{d.sold:%Y-%m-%d}",
            d.asset,
            f"{d.quantity.normalize():f}",
            f"{d.proceeds:,.2f}",
            f"{d.basis:,.2f}",
            f"{d.gain:,.2f}",
            d.term,
            f"{d.acquired:%Y-%m-%d}",
            d.lot_id,
        )
    out.print(t)
    for term in ("short", "long"):
        gain = sum((d.gain for d in rows if d.term == term), Decimal(0))
        out.print(f"{term}-term gain: {gain:,.2f} {quote.upper()}")
    if csv_out is not None:
        with csv_out.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(COLUMNS)
            for d in rows:  # cents: the gain is proceeds minus basis as printed, so the columns add up
                proceeds, basis = d.proceeds.quantize(CENT), d.basis.quantize(CENT)
                w.writerow(
                    [
                        f"{d.sold:%Y-%m-%d}",
                        d.asset,
                        f"{d.quantity.normalize():f}",
                        f"{proceeds}",
                        f"{basis}",
                        f"{proceeds - basis}",
                        d.term,
                        f"{d.acquired:%Y-%m-%d}",
                        d.lot_id,
                    ]
                )
        out.print(f"{len(rows)} disposal(s) written to {csv_out}")
