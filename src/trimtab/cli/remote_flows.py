"""`trimtab remote deposit|withdraw NAME --amount X`: queue an external cash flow on a running service; its next
cycle records it and trades for it (a deposit buys the most underweight assets first, a withdrawal sells the most
overweight first; withdrawals on paper venues only)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import typer

from trimtab.cli.app import out, positive
from trimtab.cli.service import DEFAULT_SERVER, JsonOpt, NameArg, ServerOpt, _call, _print_json, remote

AmountOpt = Annotated[float, typer.Option("--amount", parser=positive, help="Amount in the portfolio's quote asset.")]


def _flow(server: str, name: str, action: str, amount: float, as_json: bool) -> None:
    body = {"amount": str(Decimal(repr(amount)))}
    doc = _call(server, "POST", f"/api/portfolios/{name}/{action}", admin=True, body=body)
    if as_json:
        _print_json(doc)
        return
    when = "once the portfolio is resumed" if doc["paused"] else "at its next cycle"
    out.print(f"{name}: {doc['action']} of {doc['amount']} queued ({doc['queued']} waiting), taken up {when}")


@remote.command("deposit")
def remote_deposit(
    name: NameArg, amount: AmountOpt, server: ServerOpt = DEFAULT_SERVER, as_json: JsonOpt = False
) -> None:
    """Record a deposit: the next cycle puts it in the ledger and buys the most underweight assets first."""
    _flow(server, name, "deposit", amount, as_json)


@remote.command("withdraw")
def remote_withdraw(
    name: NameArg, amount: AmountOpt, server: ServerOpt = DEFAULT_SERVER, as_json: JsonOpt = False
) -> None:
    """Record a withdrawal (paper venues): the next cycle sells the most overweight assets first, then books it."""
    _flow(server, name, "withdraw", amount, as_json)
