"""`trimtab execute`: one flow for every venue (paper, ccxt:<exchange>, uniswap) through trimtab.pipeline.

Inputs differ by venue (holdings from a file or the venue, prices from a file or the venue's own market), the
rest is one path: decide -> show -> confirm -> (only then) open the ledger -> guards -> TWAP -> venue -> ledger.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import typer

from trimtab.cli.app import out
from trimtab.core.base.portfolio import PortfolioState
from trimtab.core.base.ports import Closable
from trimtab.core.base.snapshot import MarketSnapshot
from trimtab.core.strategy import Strategy
from trimtab.errors import ConfigError


@dataclass
class ExecuteArgs:
    """What the `execute` command was given."""

    strategy: str
    portfolio: str = "example"
    prices: str | None = None
    rules: Path | None = None
    venue: str = "paper"
    ledger: Path = Path("trimtab-ledger.sqlite")
    account: str | None = None
    yes: bool = False
    force: bool = False
    venue_url: str | None = None
    rpc: str | None = None
    deployment: Path | None = None
    key_file: Path | None = None
    forward_fill: int | None = None


@dataclass
class Inputs:
    strategy: Strategy
    holdings: dict[str, Decimal]
    snapshot: MarketSnapshot
    account: str
    venue: Any  # the base venue (PaperVenue, CcxtVenue, DexVenue)
    rules: Any = None
    fresh: bool = True  # the ledger has no balances for the account yet


def _live_snapshot(
    strat: Strategy,
    holdings: dict[str, Decimal],
    prices: dict[str, Decimal],
    when: datetime,
    price_file: str | None,
    forward_fill: int | None = None,
) -> MarketSnapshot:
    """The venue's own prices now, with a point-in-time history for models and history-reading triggers."""
    from trimtab.cli.inputs import history_for
    from trimtab.core.costs.parts import market_bound
    from trimtab.core.triggers.adaptive import reads_history

    needs = strat.allocation is not None or reads_history(strat.trigger) or market_bound(strat.costs)
    history = history_for(strat, price_file, holdings, forward_fill) if needs else None
    return MarketSnapshot(time=when, prices=prices, history=history)


def _paper_inputs(a: ExecuteArgs, acct_default: str) -> Inputs:
    from trimtab.adapters.files import load_rules
    from trimtab.cli.inputs import load_inputs
    from trimtab.pipeline.tracked import EphemeralPaper

    strat, holdings, snap = load_inputs(a.strategy, a.portfolio, a.prices, a.forward_fill)
    acct = a.account or acct_default
    opening = _ledger_balances(a.ledger, acct)
    fresh = not any(opening.values())
    if not fresh:
        out.print(f"[dim]account {acct} exists in {a.ledger}: using its ledger balances[/dim]")
    current = holdings if fresh else opening
    rules = load_rules(a.rules)
    return Inputs(strat, current, snap, acct, EphemeralPaper(current, strat.costs, snap.prices, rules), rules, fresh)


def _ccxt_inputs(a: ExecuteArgs, strat: Strategy) -> Inputs:
    from trimtab.pipeline.tracked import CcxtTracked
    from trimtab.pipeline.venues import open_ccxt

    live = CcxtTracked(open_ccxt(a.venue.split(":", 1)[1], url=a.venue_url, field="--venue"))
    holdings = dict(live.balances())
    assets = sorted({*strat.universe, *holdings} - {strat.quote})
    tickers = {x: live.market.ticker(x, strat.quote) for x in assets if _has_market(live, x, strat)}
    prices = {strat.quote: Decimal(1), **{x: p for x, (p, _) in tickers.items()}}
    snap = replace(
        _live_snapshot(strat, holdings, prices, datetime.now(UTC), a.prices, a.forward_fill),
        price_times={x: t for x, (_, t) in tickers.items()},
    )  # each ticker's own time
    acct = a.account or a.venue.split(":", 1)[1]
    return Inputs(
        strat,
        holdings,
        snap,
        acct,
        live,
        lambda x: live.rules(x, strat.quote),
        not any(_ledger_balances(a.ledger, acct).values()),
    )


def _has_market(live: Any, asset: str, strat: Strategy) -> bool:
    try:
        live.rules(asset, strat.quote)
    except Exception:  # noqa: BLE001  (an unlisted universe asset is not priced; a held or targeted one fails later)
        return asset in strat.targets
    return True


def _dex_inputs(a: ExecuteArgs, strat: Strategy) -> Inputs:
    from trimtab.pipeline.tracked import DexTracked
    from trimtab.pipeline.venues import open_dex

    venue = DexTracked(open_dex(strat, a.rpc, a.deployment, a.key_file, fields=("--rpc", "--deployment")))
    holdings = venue.balances()
    assets = sorted({*strat.targets, *holdings})
    when = venue.chain_time()
    snap = _live_snapshot(strat, holdings, venue.mid_prices(assets, strat.quote), when, a.prices, a.forward_fill)
    acct = a.account or f"evm-{venue.address[:10].lower()}"
    opening = _ledger_balances(a.ledger, acct)
    fresh = not any(opening.values())
    if not fresh and {k: q for k, q in opening.items() if q} != holdings:
        out.print(f"[yellow]ledger account {acct} differs from the chain; planning on the ledger[/yellow]")
    return Inputs(
        strat, holdings if fresh else opening, snap, acct, venue, lambda x: venue.rules(x, strat.quote), fresh
    )


def _ledger_balances(path: Path, account: str) -> dict[str, Decimal]:
    """Balances of `account` if the ledger file exists (reading never creates it)."""
    if not path.exists():
        return {}
    from trimtab.adapters.storage import SqlLedgerStore

    store = SqlLedgerStore(str(path))
    try:
        return store.balances(account)
    finally:
        store.close()


def _ledger_lots(path: Path, account: str, strat: Strategy) -> Any:
    """The account's open tax lots from the ledger file, for a strategy with a tax: block (None otherwise)."""
    if strat.tax is None:
        return None
    from trimtab.pipeline.tax import lots_from

    def entries() -> list[Any]:
        if not path.exists():
            return []
        from trimtab.adapters.storage import SqlLedgerStore

        store = SqlLedgerStore(str(path))
        try:
            return store.entries(account)
        finally:
            store.close()

    return lots_from(entries, strat.quote, strat.tax)


def _equity_marks(path: Path) -> Any:
    """The equity marks kept in the ledger file (read-only until something is confirmed; None without a file)."""
    if not path.exists():
        return None
    from trimtab.adapters.storage import SqlLedgerStore
    from trimtab.adapters.storage.price_store import EquityMarks

    return EquityMarks(SqlLedgerStore(str(path)).engine)


def _reference(strat: Strategy, venue: Any) -> Any:
    from trimtab.pipeline.references import open_reference

    guards = strat.execution.guards
    return open_reference(guards.reference if guards else None, venue=venue)


@dataclass
class Prepared:
    """Inputs, the pipeline and its decision: what `plan` shows and `execute` sends."""

    inputs: Inputs
    kind: str
    pipeline: Any
    bound: Strategy
    decision: Any


def prepare(a: ExecuteArgs) -> Prepared:
    """Load the inputs for the venue, build the pipeline and decide; nothing is written or sent."""
    from trimtab.config import load_strategy
    from trimtab.pipeline import Pipeline, refuse_unsupported
    from trimtab.pipeline.checks import venue_kind

    try:
        kind = venue_kind(a.venue)
    except ConfigError:
        raise ConfigError("unknown venue (paper, ccxt:<exchange id>, uniswap)", field="--venue") from None
    if kind == "paper":
        default = "example" if a.portfolio == "example" else Path(a.portfolio).stem
        inputs = _paper_inputs(a, default)
    else:
        strat = load_strategy(a.strategy)
        refuse_unsupported(strat, "execute", kind)
        inputs = _ccxt_inputs(a, strat) if kind == "ccxt" else _dex_inputs(a, strat)
    refuse_unsupported(inputs.strategy, "execute", kind)
    pipeline = Pipeline(
        inputs.strategy,
        inputs.venue,
        rules=inputs.rules,
        reference=_reference(inputs.strategy, inputs.venue),
        now=lambda: datetime.now(UTC),
        equity=_equity_marks(a.ledger),
        equity_key=inputs.account,
        lots=_ledger_lots(a.ledger, inputs.account, inputs.strategy),
    )
    bound = pipeline.bound(inputs.snapshot)
    pipeline.follow(inputs.snapshot, bound)
    # the ledger file's equity marks (drawdown protection); this run's mark is written only once confirmed
    decision = pipeline.decide(inputs.snapshot, inputs.holdings, initial=a.force, strategy=bound, record_equity=False)
    return Prepared(inputs, kind, pipeline, bound, decision)


def show_decision(p: Prepared) -> None:
    from trimtab.cli.tables import drift_table, plan_table

    inputs, decision = p.inputs, p.decision
    strat = inputs.strategy
    state = PortfolioState.of(inputs.holdings, inputs.snapshot.prices, strat.quote)
    out.print(drift_table(state, strat, f"{strat.name} on {inputs.venue.name}: before", decision.targets))
    out.print(f"trigger: {'FIRED' if decision.trigger.fired else 'not fired'} - {decision.reason}")
    if decision.plan is not None and not decision.plan.is_empty:
        out.print(plan_table(decision.plan))


def show_venue_routes(p: Prepared) -> None:
    """The routes the venue itself will take: the DEX venue's own pre-flight, or each leg's direct market."""
    plan = p.decision.plan
    if plan is None or plan.is_empty:
        return
    if p.kind == "uniswap":
        pre = p.inputs.venue.preview(plan)
        out.print("Routes on uniswap (the venue's own pre-flight on the current pools):")
        for leg in pre.legs:
            out.print(f"  leg {leg.index + 1}: {leg.describe()}")
        for i, fail in pre.failures:
            out.print(f"  [red]leg {i + 1}: {fail.reason}[/red]")
        return
    from trimtab.cli.execution import show_routes

    state = PortfolioState.of(p.inputs.holdings, p.inputs.snapshot.prices, p.inputs.strategy.quote)
    show_routes(plan, p.bound, state, p.inputs.rules)


def run_plan(a: ExecuteArgs, routes: bool) -> None:
    """`plan` on a live venue: the same decision `execute` would send, and (with --routes) its routes."""
    p = prepare(a)
    try:
        show_decision(p)
        if routes:
            show_venue_routes(p)
    finally:
        if isinstance(p.inputs.venue, Closable):
            p.inputs.venue.close()


def run_execute(a: ExecuteArgs) -> None:
    """Plan, confirm, execute through the pipeline on the chosen venue and record every fill in the ledger."""
    from trimtab.adapters.storage import SqlLedgerStore
    from trimtab.adapters.storage.price_store import EquityMarks
    from trimtab.cli.execution import ProgressVenue
    from trimtab.core.base.ledger import deposit_entries
    from trimtab.pipeline.journal import JournaledVenue, JournalLedger

    p = prepare(a)
    inputs, kind, pipeline, bound, decision = p.inputs, p.kind, p.pipeline, p.bound, p.decision
    strat, snap, acct, venue = inputs.strategy, inputs.snapshot, inputs.account, inputs.venue
    try:
        show_decision(p)
        if decision.plan is None or decision.plan.is_empty:
            out.print("nothing to do")
            return
        if strat.execution.twap is not None:
            twap = strat.execution.twap
            out.print(f"TWAP: child orders every {twap.interval_s:g} s over {twap.horizon_s:g} s")
        _approval_gate(strat, decision.plan, inputs.holdings, snap, a.yes)
        if not a.yes and not typer.confirm(f"send these orders to {venue.name}?", default=False):
            out.print("aborted: nothing executed, nothing written")
            raise typer.Exit(code=1)
        store = SqlLedgerStore(str(a.ledger))
        try:
            if inputs.fresh:
                store.append(deposit_entries(inputs.holdings, account=acct, time=snap.time, ref=f"open-{acct}"))
            if strat.allocation is not None:  # the pre-trade equity of this confirmed run, for drawdown protection
                pipeline.equity = EquityMarks(store.engine)
                pipeline.mark(snap, pipeline.value(snap, inputs.holdings, bound))
                pipeline.remember(bound)
            n = len(decision.plan.orders)
            jv = JournaledVenue(None, store, acct, snap.time, extra={"source": "cli", "venue": venue.name})

            def wrap(v: Any) -> Any:  # journaled like the service (crash-safe, a rebalances row); progress on ccxt
                return jv.around(ProgressVenue(v, n) if kind == "ccxt" else v)

            result = pipeline.execute(
                decision,
                snap,
                store,
                account=acct,
                holdings=inputs.holdings,
                strategy=bound,
                wrap=wrap,
                record=JournalLedger(store, jv),
            )
            if result.report is None or result.decision.plan is None:
                raise RuntimeError(
                    "internal invariant broken: expected result.report is not None, result.decision.plan is not None"
                )
            _after(kind, venue, result, strat, snap, store, acct)
            out.print(f"recorded {len(result.entries)} ledger entries in {a.ledger} (account {acct})")
        finally:
            store.close()
        if not result.report.complete and kind == "uniswap":
            raise typer.Exit(code=1)
    finally:
        if isinstance(venue, Closable):
            venue.close()


def _approval_gate(strat: Strategy, plan: Any, holdings: dict[str, Decimal], snap: MarketSnapshot, yes: bool) -> None:
    """Above the strategy's approval: thresholds the prompt is the approval: --yes does not give it (exit 1)."""
    from trimtab.core.approval import needs_approval

    why = needs_approval(plan, PortfolioState.of(holdings, snap.prices, strat.quote), strat.approval)
    if why is None:
        return
    out.print(f"[yellow]approval needed: {why}[/yellow]")
    if yes:
        out.print("not sent: --yes does not approve a plan above the approval: thresholds (confirm it without --yes)")
        raise typer.Exit(code=1)


def _after(kind: str, venue: Any, result: Any, strat: Strategy, snap: MarketSnapshot, store: Any, acct: str) -> None:
    from trimtab.cli.execution import fill_report_table
    from trimtab.cli.tables import drift_table

    if kind == "uniswap":
        from trimtab.cli.chain import print_execution

        print_execution(venue.dex, result.report)
        prices = venue.mid_prices(sorted({*strat.targets, *snap.prices} - {strat.quote}), strat.quote)
    else:
        out.print(fill_report_table(result.decision.plan, result.report))
        for note in result.report.notes:
            out.print(f"[yellow]note: {note}[/yellow]")
        prices = snap.prices
    balances = store.balances(acct) if kind != "ccxt" else venue.balances()
    after = PortfolioState.of(balances, {**prices, strat.quote: Decimal(1)}, strat.quote)
    out.print(drift_table(after, strat, f"{strat.name} on {venue.name}: after", result.decision.targets))
