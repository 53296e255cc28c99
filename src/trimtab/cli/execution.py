"""Execution views and venues for the CLI: `plan --routes` (routes, splits, slices, dry run) and
`execute --venue ccxt:<exchange>` (progress and a fill report of expected vs realised cost per leg)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import typer
from rich.table import Table

from trimtab.cli.app import out
from trimtab.core.execplan import ExecutionPlan, ExecutionSettings, build_execution_plan
from trimtab.core.guards import GuardSet
from trimtab.core.portfolio import PortfolioState
from trimtab.core.ports import ExecutionReport, Venue
from trimtab.core.routing import Market, MarketGraph
from trimtab.core.strategy import Strategy
from trimtab.core.types import MarketRules, PlannedOrder, Side, TradePlan
from trimtab.errors import ConfigError


# -- routes ---------------------------------------------------------------------------------------------
def strategy_graph(strat: Strategy, state: PortfolioState, rules: Callable[[str], MarketRules] | None = None) -> MarketGraph:
    """One market per priced asset against the quote, priced by the strategy's cost model (its venue)."""
    markets = [Market("strategy", a, strat.quote, p, strat.costs, rules(a) if rules else MarketRules(0, 0))  # type: ignore[arg-type]
               for a, p in sorted(state.prices.items()) if a != strat.quote]
    return MarketGraph(tuple(markets))


def execution_plan(plan: TradePlan, strat: Strategy, state: PortfolioState,
                   rules: Callable[[str], MarketRules] | None = None) -> ExecutionPlan:
    return build_execution_plan(plan, strategy_graph(strat, state, rules), state, ExecutionSettings())


def routes_table(ex: ExecutionPlan) -> Table:
    t = Table(title=f"Dry run: {len(ex.legs)} leg(s)", title_justify="left")
    for col in ("#", "side", "asset", "quantity", "route", "expected px", "worst px", "exp. cost", "slices"):
        t.add_column(col, justify="left" if col in ("side", "asset", "route") else "right")
    for i, leg in enumerate(ex.legs, 1):
        o = leg.order
        t.add_row(str(i), o.side.value, o.asset, f"{o.quantity.normalize():f}", leg.route, f"{leg.expected_price:,.4f}",
                  f"{leg.worst_price:,.4f}", f"{leg.expected_cost:,.4f}", str(len(leg.slices) or 1))
    for o, why in ex.unrouted:
        t.add_row("—", o.side.value, o.asset, f"{o.quantity.normalize():f}", f"UNROUTED: {why}", "", "", "", "",
                  style="red")
    weights = ", ".join(f"{a} {w:.2%}" for a, w in ex.projected_weights.items())
    t.caption = (f"expected cost {ex.expected_cost:,.2f}; batching saves {ex.batching_saving:,.2f}; "
                 f"projected weights: {weights}")
    return t


def show_routes(plan: TradePlan | None, strat: Strategy, state: PortfolioState,
                rules: Callable[[str], MarketRules] | None = None) -> ExecutionPlan | None:
    if plan is None or plan.is_empty:
        return None
    ex = execution_plan(plan, strat, state, rules)
    out.print(routes_table(ex))
    return ex


# -- venues -----------------------------------------------------------------------------------------------
def _api_urls(exchange_id: str, base_url: str) -> dict[str, str]:
    """The exchange's API URLs with scheme and host replaced by `base_url` (paths kept): a local test server."""
    import ccxt

    target = urlsplit(base_url)
    if not target.scheme or not target.netloc:
        raise ConfigError("must be a URL like http://127.0.0.1:8080", field="--venue-url")
    api = getattr(ccxt, exchange_id)().urls.get("api")
    entries = api.items() if isinstance(api, dict) else [("public", api), ("private", api)]
    urls = {}
    for key, url in entries:
        if isinstance(url, str):
            path = urlsplit(url).path
            urls[key] = f"{target.scheme}://{target.netloc}{path}"
    return urls


def open_ccxt(venue: str, venue_url: str | None) -> Any:
    """`ccxt:<exchange>` -> CcxtVenue with keys from TRIMTAB_<EXCHANGE>_API_KEY / _API_SECRET."""
    from trimtab.adapters.ccxt_venue import CcxtVenue

    exchange_id = venue.split(":", 1)[1].strip().lower() if venue.startswith("ccxt:") else ""
    if not exchange_id:
        raise ConfigError("use paper or ccxt:<exchange id> (e.g. ccxt:binance)", field="--venue")
    import ccxt

    if exchange_id not in ccxt.exchanges:
        raise ConfigError(f"unknown ccxt exchange {exchange_id!r}", field="--venue")
    urls = _api_urls(exchange_id, venue_url) if venue_url else None
    return CcxtVenue(exchange_id, api_urls=urls, client_config={"enableRateLimit": venue_url is None})


class ProgressVenue:
    """Sends a plan's legs one by one (a guard wrapper may already do so) and prints each outcome as it happens."""

    def __init__(self, venue: Venue, total: int) -> None:
        self.venue = venue
        self.name = venue.name
        self.total = total
        self._done = 0

    def balances(self) -> dict[str, Decimal]:
        return self.venue.balances()

    def rules(self, asset: str, quote: str) -> MarketRules:
        return self.venue.rules(asset, quote)

    def execute(self, plan: TradePlan) -> ExecutionReport:
        if len(plan.orders) == 1:
            return self._one(plan)
        reports = [self._one(TradePlan((o,), plan.reason, plan_id=f"{plan.plan_id}/{i}"))
                   for i, o in enumerate(plan.orders)]
        return ExecutionReport(tuple(f for r in reports for f in r.fills), tuple(f for r in reports for f in r.failures),
                               self.name, tuple(n for r in reports for n in r.notes))

    def _one(self, plan: TradePlan) -> ExecutionReport:
        o = plan.orders[0]
        self._done += 1
        out.print(f"[dim]leg {self._done}/{self.total}: {o.side.value} {o.quantity.normalize():f} {o.asset} "
                  f"on {self.name}...[/dim]")
        report = self.venue.execute(plan)
        for f in report.fills:
            out.print(f"  filled {f.quantity.normalize():f} {f.asset} @ {f.price:,.4f} (order {f.order_id})")
        for fail in report.failures:
            out.print(f"  [red]failed: {fail.reason}[/red]")
        return report


def sliced(venue: Any, strat: Strategy) -> Any:
    """`venue` wrapped in the strategy's TWAP execution (`execution: twap:`), or as it is."""
    from trimtab.adapters.sliced import TwapVenue

    twap = strat.meta.get("twap")
    if twap is None:
        return venue
    out.print(f"TWAP: child orders every {twap.interval_s:g} s over {twap.horizon_s:g} s")
    return TwapVenue(venue, twap)


def guard_set(strat: Strategy, prices: dict[str, Decimal], price_time: datetime) -> GuardSet | None:
    """The strategy file's `guards:` block as a GuardSet (None when it has none)."""
    spec = strat.meta.get("spec")
    block = getattr(spec, "guards", None)
    if block is None:
        return None
    guards = block.build()
    if not guards:
        return None
    tol = block.balance_tolerance if block.balance_tolerance is not None else 1e-6
    return GuardSet(guards, prices=dict(prices), price_times=dict.fromkeys(prices, price_time),
                    now=datetime.now(UTC), balance_tolerance=tol)


# -- fill report --------------------------------------------------------------------------------------------
def _realised(o: PlannedOrder, fills: list[Any]) -> tuple[Decimal, Decimal, Decimal]:
    """(quantity, realised cost vs mid, average price) of the fills of one planned order."""
    qty = sum((f.quantity for f in fills), Decimal(0))
    if not qty:
        return qty, Decimal(0), Decimal(0)
    gross = sum((f.quote_amount for f in fills), Decimal(0))
    fees = sum((f.fee * (f.price if f.fee_asset == f.asset else 1) for f in fills), Decimal(0))
    gas = sum((f.gas for f in fills), Decimal(0))
    vs_mid = gross - qty * o.price if o.side is Side.BUY else qty * o.price - gross
    return qty, vs_mid + fees + gas, gross / qty


def fill_report(plan: TradePlan, report: ExecutionReport) -> list[dict[str, Any]]:
    """Per planned leg: expected vs realised cost and slippage against the expected price in bps (+ = worse)."""
    rows = []
    for o in plan.orders:
        fills = [f for f in report.fills if f.asset == o.asset and f.side is o.side]
        qty, realised, avg = _realised(o, fills)
        expected = o.cost.total * (qty / o.quantity) if o.quantity else Decimal(0)
        slip = None
        if qty and o.exec_price:
            move = avg / o.exec_price - 1
            slip = float(move if o.side is Side.BUY else -move) * 1e4
        rows.append({"asset": o.asset, "side": o.side.value, "planned": o.quantity, "filled": qty,
                     "expected_cost": expected, "realised_cost": realised, "slippage_bps": slip})
    return rows


def fill_report_table(plan: TradePlan, report: ExecutionReport) -> Table:
    t = Table(title=f"Fill report on {report.venue}", title_justify="left")
    for col in ("side", "asset", "planned", "filled", "expected cost", "realised cost", "slippage bps"):
        t.add_column(col, justify="left" if col in ("side", "asset") else "right")
    exp_total = real_total = Decimal(0)
    for r in fill_report(plan, report):
        exp_total += r["expected_cost"]
        real_total += r["realised_cost"]
        slip = "—" if r["slippage_bps"] is None else f"{r['slippage_bps']:+.2f}"
        t.add_row(r["side"], r["asset"], f"{r['planned'].normalize():f}", f"{r['filled'].normalize():f}",
                  f"{r['expected_cost']:,.4f}", f"{r['realised_cost']:,.4f}", slip)
    t.caption = f"expected {exp_total:,.4f} vs realised {real_total:,.4f} (quote units)"
    return t


def run_venue_execute(strategy: str, portfolio: str, prices: str | None, rules: Path | None, venue: str,
                      ledger: Path, account: str | None, yes: bool, force: bool, venue_url: str | None) -> None:
    """`execute` on a ccxt exchange: plan from the exchange's balances, guards, progress, fill report, ledger."""
    from trimtab.cli.portfolio import _decide, _load_inputs, _open_ledger
    from trimtab.core.ledger import deposit_entries
    from trimtab.engine import execute_decision
    from trimtab.views import drift_table, plan_table

    live = open_ccxt(venue, venue_url)
    try:
        strat, _holdings, snap = _load_inputs(strategy, portfolio, prices)
        acct = account or f"{venue.split(':', 1)[1]}"
        store = _open_ledger(ledger)
        current = live.balances()
        state = PortfolioState.of(current, snap.prices, strat.quote)
        decision = _decide(strat, current, snap, rules, force)
        out.print(drift_table(state, strat, f"{strat.name} on {live.name}: before"))
        out.print(f"trigger: {'FIRED' if decision.trigger.fired else 'not fired'} - {decision.reason}")
        if decision.plan is None or decision.plan.is_empty:
            out.print("nothing to do")
            return
        out.print(plan_table(decision.plan))
        if not yes and not typer.confirm(f"send these orders to {live.name}?", default=False):
            out.print("aborted: nothing executed")
            raise typer.Exit(code=1)
        opening = store.balances(acct)
        if not any(opening.values()):
            store.append(deposit_entries(current, account=acct, time=datetime.now(UTC), ref=f"open-{acct}"))
        result = execute_decision(decision, ProgressVenue(sliced(live, strat), len(decision.plan.orders)), store,
                                  account=acct, time=snap.time,
                                  guards=guard_set(strat, snap.prices, snap.time))
        assert result.report is not None and result.decision.plan is not None
        out.print(fill_report_table(result.decision.plan, result.report))
        for note in result.report.notes:
            out.print(f"[yellow]note: {note}[/yellow]")
        after = PortfolioState.of(live.balances(), snap.prices, strat.quote)
        out.print(drift_table(after, strat, f"{strat.name} on {live.name}: after"))
        out.print(f"recorded {len(result.entries)} ledger entries in {ledger} (account {acct})")
    finally:
        live.close()
