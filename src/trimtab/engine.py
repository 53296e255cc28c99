"""The only orchestrator: snapshot -> strategy.decide -> venue.execute -> ledger.append, for backtest and live."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from trimtab.core.base.ledger import LedgerEntry, entries_for_fill
from trimtab.core.base.portfolio import PortfolioState
from trimtab.core.base.ports import ExecutionReport, LedgerStore, Venue
from trimtab.core.base.snapshot import MarketSnapshot
from trimtab.core.execution.guards import GuardSet
from trimtab.core.execution.planner import RulesFor
from trimtab.core.strategy import Decision, Schedule, Strategy
from trimtab.errors import VenueError


@dataclass(frozen=True)
class CycleResult:
    """One decision and, when it traded, what the venue did and what was recorded."""

    decision: Decision
    report: ExecutionReport | None
    entries: tuple[LedgerEntry, ...] = ()

    @property
    def traded(self) -> bool:
        return bool(self.report and self.report.fills)


def ledger_entries(
    report: ExecutionReport, *, account: str, time: datetime, rebalance_id: str
) -> tuple[LedgerEntry, ...]:
    """Every fill's legs (trade, fee, gas) for one rebalance, in fill order."""
    out: list[LedgerEntry] = []
    for i, fill in enumerate(report.fills):
        ref = fill.order_id or f"{rebalance_id}-{i}"
        out.extend(entries_for_fill(fill, account=account, time=time, ref=ref, rebalance_id=rebalance_id))
    return tuple(out)


def execute_decision(
    decision: Decision,
    venue: Venue,
    ledger: LedgerStore,
    *,
    account: str,
    time: datetime,
    guards: GuardSet | None = None,
) -> CycleResult:
    """Send a decided plan to the venue and record every fill of it in one atomic ledger append.

    With `guards`, circuit breakers run first (SafetyError, nothing sent) and between legs (rest cancelled).
    """
    if decision.plan is None or decision.plan.is_empty:
        return CycleResult(decision, None)
    rebalance_id = f"{account}@{time.isoformat()}"
    plan = replace(decision.plan, plan_id=rebalance_id)
    if guards is not None:
        venue = guards.wrap(venue, ledger.balances(account))
    try:
        report = venue.execute(plan)
    except VenueError as err:  # record what did fill before the failure, then let the caller act on it
        partial = err.partial_report
        if isinstance(partial, ExecutionReport) and partial.fills:
            ledger.append(ledger_entries(partial, account=account, time=time, rebalance_id=rebalance_id))
        raise
    entries = ledger_entries(report, account=account, time=time, rebalance_id=rebalance_id)
    if entries:
        ledger.append(entries)  # atomic: every fill of the rebalance, or nothing
    return CycleResult(replace(decision, plan=plan), report, entries)


def decide(
    strategy: Strategy,
    snapshot: MarketSnapshot,
    holdings: dict[str, Decimal],
    *,
    schedule: Schedule = Schedule(),
    rules: RulesFor | None = None,
    initial: bool = False,
    equity: Sequence[float] | None = None,
) -> Decision:
    """Validate prices for everything targeted or held, then let the strategy decide."""
    snapshot.require(sorted({*strategy.targets, *(a for a, q in holdings.items() if q)} - {strategy.quote}))
    state = PortfolioState.of(holdings, snapshot.prices, strategy.quote)
    return strategy.decide(snapshot, state, schedule=schedule, rules=rules, initial=initial, equity=equity)


def run_cycle(
    strategy: Strategy,
    snapshot: MarketSnapshot,
    venue: Venue,
    ledger: LedgerStore,
    *,
    account: str,
    schedule: Schedule = Schedule(),
    rules: RulesFor | None = None,
    initial: bool = False,
    guards: GuardSet | None = None,
) -> CycleResult:
    """Decide on the ledger's balances at the snapshot's prices; execute and record whole, or hold.

    The primitive under trimtab.pipeline.Pipeline, which adds the strategy's own guards, slicing and costs."""
    decision = decide(strategy, snapshot, ledger.balances(account), schedule=schedule, rules=rules, initial=initial)
    return execute_decision(
        decision,
        venue,
        ledger,
        account=account,
        time=snapshot.time,
        guards=guards.with_prices(snapshot.prices) if guards is not None else None,
    )
