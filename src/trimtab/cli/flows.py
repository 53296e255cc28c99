"""`trimtab deposit` and `trimtab withdraw`: an external cash flow recorded in the ledger, and the trades that let it
rebalance (a deposit buys the most underweight assets first, a withdrawal sells the most overweight first)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer

from trimtab.cli.app import PricesOpt, StrategyArg, app, guarded, ledger_in, out, positive
from trimtab.errors import ConfigError, DataError

AmountOpt = Annotated[float, typer.Option("--amount", parser=positive, help="Amount in the strategy's quote asset.")]
AccountOpt = Annotated[str, typer.Option("--account", help="Ledger account the flow belongs to.")]
LedgerOpt = Annotated[Path, typer.Option("--ledger", parser=ledger_in, help="SQLite ledger file (must exist).")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def run_flow(strategy: str, ledger: Path, account: str, prices: str | None, amount: Decimal, yes: bool) -> None:
    """Plan the flow's one-way trades on the ledger's balances, confirm, then record the flow and the fills."""
    from trimtab.adapters.storage import SqlLedgerStore
    from trimtab.cli.execute_flow import ExecuteArgs, _paper_inputs
    from trimtab.cli.tables import drift_table, plan_table
    from trimtab.core.base.ledger import EntryKind, LedgerEntry
    from trimtab.core.base.portfolio import PortfolioState
    from trimtab.pipeline import Pipeline
    from trimtab.pipeline.flows import flow_decision, flow_text
    from trimtab.pipeline.journal import JournaledVenue, JournalLedger
    from trimtab.pipeline.tracked import EphemeralPaper

    inputs = _paper_inputs(ExecuteArgs(strategy, prices=prices, ledger=ledger, account=account), account)
    if inputs.fresh:
        raise ConfigError(f"no account {account} in {ledger}: run `trimtab execute` once to open it", field="--account")
    strat, snap = inputs.strategy, inputs.snapshot
    quote = strat.quote
    holdings = dict(inputs.holdings)
    if amount > 0:  # the deposit is in the account before the buys it pays for
        holdings[quote] = holdings.get(quote, Decimal(0)) + amount
    state = PortfolioState.of(holdings, snap.prices, quote)
    what = flow_text(amount, quote)
    if amount < 0 and -amount > state.total:
        raise DataError(
            f"the {what} is more than the account is worth ({state.total:,.2f} {quote}): it can raise at most that",
            field="--amount",
        )
    decision = flow_decision(strat, snap, holdings, amount, inputs.rules)
    plan, targets = decision.plan, decision.targets
    if plan is None:
        raise RuntimeError("internal invariant broken: a flow decision always has a plan")
    cash_after = state.quantity(quote) + sum((o.quote_delta for o in plan.orders), Decimal(0))
    if amount < 0 and cash_after < -amount:
        raise DataError(
            f"the {what} needs {-amount:,.2f} {quote}; the account can raise {cash_after:,.2f}", field="--amount"
        )
    out.print(drift_table(state, strat, f"{strat.name}: {what}", targets))
    if plan.orders:
        out.print(plan_table(plan))
    else:
        out.print("no trade needed: the flow alone keeps the portfolio on target")
    if not yes and not typer.confirm(f"record the {what} and send these orders?", default=False):
        out.print("aborted: nothing recorded")
        raise typer.Exit(code=1)
    ref = f"flow-{uuid.uuid4().hex[:12]}"
    kind = EntryKind.DEPOSIT if amount > 0 else EntryKind.WITHDRAW
    flow = LedgerEntry(account, quote, amount, kind, ref, snap.time, note=what)
    store = SqlLedgerStore(str(ledger))
    try:
        if amount > 0:
            store.append([flow])
        if plan.orders:
            venue = EphemeralPaper(holdings, strat.costs, snap.prices, inputs.rules)
            jv = JournaledVenue(None, store, account, snap.time, extra={"source": "cli", "flow": what})
            result = Pipeline(strat, venue, rules=inputs.rules).execute(
                decision,
                snap,
                store,
                account=account,
                holdings=holdings,
                wrap=jv.around,
                record=JournalLedger(store, jv),
            )
            out.print(f"{len(result.report.fills) if result.report else 0} fill(s) recorded")
        if amount < 0:
            have = store.balances(account).get(quote, Decimal(0))
            if have < -amount:  # never a negative balance: pay out what the fills raised and say so
                flow = replace(flow, amount=-have, note=f"{what}: only {have:,.2f} raised")
                out.print(f"[yellow]only {have:,.2f} {quote} raised: that much is withdrawn[/yellow]")
            store.append([flow])
        after = PortfolioState.of(store.balances(account), snap.prices, quote)
        out.print(drift_table(after, strat, f"{strat.name}: after the {what}", targets))
    finally:
        store.close()


@app.command()
@guarded
def deposit(
    strategy: StrategyArg,
    amount: AmountOpt,
    account: AccountOpt,
    ledger: LedgerOpt,
    prices: PricesOpt = None,
    yes: YesOpt = False,
) -> None:
    """Record a deposit and buy the most underweight assets with it (no sells)."""
    run_flow(strategy, ledger, account, prices, Decimal(repr(amount)), yes)


@app.command()
@guarded
def withdraw(
    strategy: StrategyArg,
    amount: AmountOpt,
    account: AccountOpt,
    ledger: LedgerOpt,
    prices: PricesOpt = None,
    yes: YesOpt = False,
) -> None:
    """Sell the most overweight assets to raise a withdrawal, then record it (no buys)."""
    run_flow(strategy, ledger, account, prices, -Decimal(repr(amount)), yes)
