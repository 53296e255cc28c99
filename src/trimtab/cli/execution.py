"""Execution views and venues for the CLI: `plan --routes` (routes, splits, slices, dry run) and
`execute --venue ccxt:<exchange>` (progress and a fill report of expected vs realised cost per leg)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from rich.table import Table

from trimtab.cli.app import out
from trimtab.core.base.portfolio import PortfolioState
from trimtab.core.base.ports import ExecutionReport, Venue
from trimtab.core.base.types import MarketRules, PlannedOrder, Side, TradePlan
from trimtab.core.execution.execplan import ExecutionPlan, ExecutionSettings, build_execution_plan
from trimtab.core.execution.routing import Market, MarketGraph
from trimtab.core.strategy import Strategy


# -- routes ---------------------------------------------------------------------------------------------
def strategy_graph(
    strat: Strategy, state: PortfolioState, rules: Callable[[str], MarketRules] | None = None
) -> MarketGraph:
    """One market per priced asset against the quote, priced by the strategy's cost model (its venue)."""
    markets = [
        Market("strategy", a, strat.quote, p, strat.costs, rules(a) if rules else MarketRules(0, 0))  # type: ignore[arg-type]
        for a, p in sorted(state.prices.items())
        if a != strat.quote
    ]
    return MarketGraph(tuple(markets))


def execution_plan(
    plan: TradePlan, strat: Strategy, state: PortfolioState, rules: Callable[[str], MarketRules] | None = None
) -> ExecutionPlan:
    return build_execution_plan(plan, strategy_graph(strat, state, rules), state, ExecutionSettings())


def routes_table(ex: ExecutionPlan) -> Table:
    t = Table(title=f"Dry run: {len(ex.legs)} leg(s)", title_justify="left")
    for col in ("#", "side", "asset", "quantity", "route", "expected px", "worst px", "exp. cost", "slices"):
        t.add_column(col, justify="left" if col in ("side", "asset", "route") else "right")
    for i, leg in enumerate(ex.legs, 1):
        o = leg.order
        t.add_row(
            str(i),
            o.side.value,
            o.asset,
            f"{o.quantity.normalize():f}",
            leg.route,
            f"{leg.expected_price:,.4f}",
            f"{leg.worst_price:,.4f}",
            f"{leg.expected_cost:,.4f}",
            str(len(leg.slices) or 1),
        )
    for o, why in ex.unrouted:
        t.add_row(
            "—", o.side.value, o.asset, f"{o.quantity.normalize():f}", f"UNROUTED: {why}", "", "", "", "", style="red"
        )
    weights = ", ".join(f"{a} {w:.2%}" for a, w in ex.projected_weights.items())
    t.caption = (
        f"expected cost {ex.expected_cost:,.2f}; batching saves {ex.batching_saving:,.2f}; projected weights: {weights}"
    )
    return t


def show_routes(
    plan: TradePlan | None, strat: Strategy, state: PortfolioState, rules: Callable[[str], MarketRules] | None = None
) -> ExecutionPlan | None:
    if plan is None or plan.is_empty:
        return None
    ex = execution_plan(plan, strat, state, rules)
    out.print(routes_table(ex))
    return ex


# -- venues -----------------------------------------------------------------------------------------------
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

    def __getattr__(self, name: str) -> Any:  # client_id, find_fill, ... of the stack underneath
        if name == "venue":
            raise AttributeError(name)
        return getattr(self.venue, name)

    def execute(self, plan: TradePlan) -> ExecutionReport:
        if len(plan.orders) == 1:
            return self._one(plan)
        reports = [
            self._one(TradePlan((o,), plan.reason, plan_id=f"{plan.plan_id}/{i}")) for i, o in enumerate(plan.orders)
        ]
        return ExecutionReport(
            tuple(f for r in reports for f in r.fills),
            tuple(f for r in reports for f in r.failures),
            self.name,
            tuple(n for r in reports for n in r.notes),
        )

    def _one(self, plan: TradePlan) -> ExecutionReport:
        o = plan.orders[0]
        self._done += 1
        out.print(
            f"[dim]leg {self._done}/{self.total}: {o.side.value} {o.quantity.normalize():f} {o.asset} "
            f"on {self.name}...[/dim]"
        )
        report = self.venue.execute(plan)
        for f in report.fills:
            out.print(f"  filled {f.quantity.normalize():f} {f.asset} @ {f.price:,.4f} (order {f.order_id})")
        for fail in report.failures:
            out.print(f"  [red]failed: {fail.reason}[/red]")
        return report


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
        rows.append(
            {
                "asset": o.asset,
                "side": o.side.value,
                "planned": o.quantity,
                "filled": qty,
                "expected_cost": expected,
                "realised_cost": realised,
                "slippage_bps": slip,
            }
        )
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
        t.add_row(
            r["side"],
            r["asset"],
            f"{r['planned'].normalize():f}",
            f"{r['filled'].normalize():f}",
            f"{r['expected_cost']:,.4f}",
            f"{r['realised_cost']:,.4f}",
            slip,
        )
    t.caption = f"expected {exp_total:,.4f} vs realised {real_total:,.4f} (quote units)"
    return t
