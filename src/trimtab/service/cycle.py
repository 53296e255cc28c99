"""One leased portfolio cycle, as small steps around the one pipeline: reconcile, snapshot, decide, execute
journaled, record, alert. `run_portfolio_cycle` returns the columns the runner writes on release."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from trimtab.adapters.storage.service_rows import PortfolioRow
from trimtab.core.base.portfolio import PortfolioState
from trimtab.core.base.ports import ExecutionReport, Venue
from trimtab.core.base.snapshot import MarketSnapshot
from trimtab.core.base.types import PlannedOrder
from trimtab.core.execution.guards import TurnoverLimit
from trimtab.core.policy import ExecutionPolicy
from trimtab.core.strategy import Decision, Schedule, Strategy
from trimtab.core.triggers.rules import TriggerKind, TriggerResult
from trimtab.pipeline import Pipeline
from trimtab.pipeline.journal import JournaledVenue, TrackedVenue, final_status
from trimtab.pipeline.reconcile import reconcile
from trimtab.pipeline.tracked import EphemeralPaper
from trimtab.service.aftercycle import failed_cycle as failed_cycle
from trimtab.service.approvals import ApprovalGate
from trimtab.service.bootstrap import PortfolioRuntime, Services
from trimtab.service.cycle_record import Executed, pre_trade_breaker, record
from trimtab.service.exits import exit_guard, exit_plan
from trimtab.service.exits import exit_quotes as exit_quotes
from trimtab.service.flows import FlowLedger, Flows, flow_plan, settle_flows, take_deposits
from trimtab.service.holds import UNKNOWN_RETRY_S, drift_cycle, venue_drift, waiting_cycle
from trimtab.service.leases import active_guard

log = logging.getLogger(__name__)
activity = logging.getLogger("trimtab.activity")  # one line per cycle that traded, shown by `serve` by default


def snapshot_for(rt: PortfolioRuntime, holdings: Mapping[str, Decimal]) -> MarketSnapshot:
    """The market now for everything the portfolio may hold (a model's whole universe) or holds."""
    s = rt.strategy
    return rt.market.snapshot(sorted({*s.universe, *(a for a, q in holdings.items() if q)} - {s.quote}), s.quote)


def cycle_venue(rt: PortfolioRuntime, holdings: dict[str, Decimal], snap: MarketSnapshot) -> TrackedVenue:
    """The portfolio's venue for this cycle: its persistent one, or a paper venue mirroring the ledger."""
    return rt.venue if rt.venue is not None else EphemeralPaper(holdings, rt.strategy.costs, snap.prices)


def pipeline_for(services: Services, rt: PortfolioRuntime, venue: Venue) -> Pipeline:
    """The one pipeline on this cycle's venue, guards clocked by service time, equity marks in the database."""
    clock = services.clock

    def sleep(service_seconds: float) -> None:  # TWAP waits in service time (shorter on a replay clock)
        time.sleep(clock.wall_seconds_until(clock.now() + timedelta(seconds=service_seconds)))

    return Pipeline(
        rt.strategy,
        venue,
        reference=rt.reference,
        equity=services.equity,
        equity_key=rt.name,
        now=clock.now,
        sleep=sleep,
        lots=tax_lots(services, rt),
    )


def tax_lots(services: Services, rt: PortfolioRuntime) -> Any:
    """The portfolio's open tax lots from the service ledger, for a strategy with a tax: block (None otherwise)."""
    tax = rt.strategy.tax
    if tax is None:
        return None
    from trimtab.pipeline.tax import lots_from

    return lots_from(lambda: services.ledger.entries(rt.account), rt.strategy.quote, tax)


def reconcile_leftovers(services: Services, rt: PortfolioRuntime, ids: list[str] | None = None) -> list[Any]:
    """Close rebalances a crashed process left open, from the venue's record of each client id (`ids`: the
    account's open rebalances when the caller just read them under the lease)."""
    ids = services.store.open_rebalances(rt.account) if ids is None else ids
    if not ids:
        return []
    venue = rt.venue if rt.venue is not None else EphemeralPaper({}, rt.strategy.costs, {})
    done = reconcile(services.ledger, venue, rt.account, ids, now=services.clock.now())
    announce_reconciled(services, [rt.name], done)
    return done


def announce_reconciled(services: Services, names: list[str], done: list[Any]) -> None:
    """Alert each of `names` (a portfolio, or a netting group's members) about its reconciled rebalances."""
    for name in names:
        for r in done:
            if r.status == "unknown":
                what = f"{r.missing} leg(s) of rebalance {r.rebalance_id} not listed at the venue yet"
                unknown_alert(services, name, what, r.rebalance_id)
                continue
            services.notifier.send(
                name,
                "failure" if r.missing else "rebalance_completed",
                f"{name}: rebalance reconciled after restart ({r.status})",
                f"{len(r.fills)} leg(s) found at the venue, {r.missing} never sent",
                {"rebalance_id": r.rebalance_id, "status": r.status},
            )


def unknown_alert(services: Services, name: str, what: str, rebalance_id: str | None) -> None:
    """A leg whose outcome is unknown: nothing new is planned until the venue settles it."""
    services.notifier.send(
        name,
        "failure",
        f"{name}: order outcome unknown",
        f"{what}; no new plan until the venue settles it",
        {"rebalance_id": rebalance_id, "status": "unknown"},
    )


def announce(services: Services, name: str, kind: str, decision: Decision, orders: int, **extra: Any) -> None:
    """The alert sent before a rebalance's orders leave (not for an exit)."""
    services.notifier.send(
        name,
        f"rebalance_{kind}",
        f"{name}: {kind} rebalance",
        decision.reason,
        {"trigger": kind, "orders": orders, **extra},
    )


def decide(
    pipeline: Pipeline,
    strategy: Strategy,
    rt: PortfolioRuntime,
    row: PortfolioRow,
    snap: MarketSnapshot,
    holdings: dict[str, Decimal],
    *,
    initial: bool,
    manual: bool,
    shared: bool = False,
) -> tuple[Decision, str]:
    """The strategy's decision (an admin's request forces a full rebalance) and its kind."""
    if row.exit_request is not None:  # sell what the venue holds (its balances, not the ledger's) with IOC limits
        state = PortfolioState.of(holdings, snap.prices, strategy.quote)
        # on a shared account (netting group) only the member's own share is sold
        held = rt.venue.balances() if rt.venue is not None and not shared else holdings
        plan = exit_plan(rt, held, snap, limit=True)
        return Decision(
            snap.time,
            TriggerResult(True, ("emergency exit",), kind=TriggerKind.RISK),
            {strategy.quote: 1.0},
            state.weights(extra=strategy.targets),
            plan,
        ), "exit"
    decision = pipeline.decide(
        snap,
        holdings,
        schedule=Schedule(row.anchor_at, row.last_check_at),
        initial=initial or manual,
        strategy=strategy,
    )
    if manual and not initial:
        why = TriggerResult(True, ("manual trigger by admin",), calendar=True, kind=TriggerKind.MANUAL)
        decision = replace(
            decision, trigger=why, plan=replace(decision.plan, reason=why.reason) if decision.plan else None
        )
    return decision, decision.trigger.kind.value if decision.trigger.fired else "check"


def execute(
    services: Services,
    rt: PortfolioRuntime,
    pipeline: Pipeline,
    strategy: Strategy,
    decision: Decision,
    snap: MarketSnapshot,
    holdings: dict[str, Decimal],
    kind: str,
    row: PortfolioRow,
    flows: Flows | None = None,
) -> Executed:
    """Send the plan through guards, slicing and the venue, journaled before anything leaves (with the cycle's
    withdrawals recorded in the same transaction as the sells that pay for them)."""
    if decision.plan is None or decision.plan.is_empty:
        return Executed()
    if kind != "exit":
        announce(services, rt.name, kind, decision, len(decision.plan.orders))
    guard = exit_guard(rt, row.exit_request, snap) if kind == "exit" and row.exit_request is not None else None
    if kind == "exit":  # an exit sells everything by definition: turnover caps do not apply to it
        strategy = _without_turnover_caps(strategy)
    jv = journal_for(services, rt, snap.time, kind, guard=guard)
    ledger = FlowLedger(services.ledger, jv, rt, flows, holdings.get(strategy.quote, Decimal(0)), snap.time)
    result = pipeline.execute(
        decision,
        snap,
        services.ledger,
        account=rt.account,
        holdings=holdings,
        strategy=strategy,
        wrap=jv.around,
        record=ledger,
    )
    if flows is not None:
        flows.withdrawn = ledger.withdrawn
    report = jv.report or ExecutionReport(())
    if jv.unknown is not None:  # nothing recorded yet: the next cycles look the leg up before planning anything
        unknown_alert(services, rt.name, f"leg {jv.unknown[0] + 1}: {jv.unknown[1]}", jv.rebalance_id)
        return Executed(report, "unknown", jv.rebalance_id, False)
    return Executed(report, final_status(report).value, jv.rebalance_id, result.traded)


def journal_for(
    services: Services,
    rt: PortfolioRuntime,
    time: datetime,
    kind: str,
    venue: TrackedVenue | None = None,
    guard: Callable[[PlannedOrder], str | None] | None = None,
) -> JournaledVenue:
    """The service's journal around a cycle's venue: its lease, service time, a pause between legs (not on exits)."""
    return JournaledVenue(
        venue,
        services.ledger,
        rt.account,
        time,
        services.stop,
        guard,
        {"portfolio": rt.name, "kind": kind, "targets_version": rt.targets_version},
        lease=active_guard(),
        clock=services.clock.now,
        # the per-cycle paper venue fills the plan at once: no leg waits to be halted, and the rebalance is written
        # once, final, fenced by the lease
        halt=None if kind == "exit" or rt.venue is None else paused_check(services, rt.name),
        ephemeral=rt.venue is None,
    )


def paused_check(services: Services, name: str) -> Callable[[], str | None]:
    """Between legs: a pause pressed while the rebalance runs stops the legs not yet sent."""

    def halt() -> str | None:
        row = services.store.portfolio(name)
        return f"not sent: paused ({row.paused_reason or 'by the owner'})" if row is not None and row.paused else None

    return halt


def _without_turnover_caps(strategy: Strategy) -> Strategy:
    g = strategy.execution.guards
    if g is None:
        return strategy
    kept = tuple(x for x in g.guards if not isinstance(x, TurnoverLimit))
    policy = replace(strategy.execution, guards=replace(g, guards=kept) if kept else None)
    return replace(strategy, execution=ExecutionPolicy(policy.guards, policy.twap, policy.dex))


@dataclass
class Prepared:
    """A cycle decided, up to sending: what `execute` sends and `conclude` records."""

    rt: PortfolioRuntime
    row: PortfolioRow
    snap: MarketSnapshot
    holdings: dict[str, Decimal]
    pipeline: Pipeline
    strategy: Strategy
    decision: Decision
    kind: str
    initial: bool
    consumed: dict[str, Any]
    gate: ApprovalGate
    flows: Flows | None
    waits: Executed | None  # held for approval, or None

    def execute(self, services: Services) -> Executed:
        return self.waits or execute(
            services,
            self.rt,
            self.pipeline,
            self.strategy,
            self.decision,
            self.snap,
            self.holdings,
            self.kind,
            self.row,
            self.flows,
        )


def prepare_cycle(
    services: Services,
    rt: PortfolioRuntime,
    row: PortfolioRow,
    open_ids: list[str] | None = None,
    *,
    shared: bool = False,
    taken: Flows | None = None,
) -> Prepared | dict[str, Any]:
    """Reconcile, snapshot and decide; the columns to release when the cycle holds (unknown leg, drift).
    `shared`: a netting group member (the group reconciles, takes its deposits (`taken`) and checks the shared
    venue's balances)."""
    if not shared:
        still_open = [r.rebalance_id for r in reconcile_leftovers(services, rt, open_ids) if r.status == "unknown"]
        if still_open:
            return waiting_cycle(services, rt, row, still_open)
    rt.with_targets(*services.store.targets(rt.name))
    if shared:
        flows = taken
    else:
        flows = take_deposits(services, rt, row) if row.exit_request is None else None  # before the drift check
    holdings = services.store.balances(rt.account)
    if rt.venue is not None and row.exit_request is None and not shared:  # they must agree before any plan
        drift = venue_drift({a: q for a, q in holdings.items() if q}, rt.venue.balances())
        if drift:
            return drift_cycle(services, rt, row, drift)
    snap = snapshot_for(rt, holdings)
    venue = cycle_venue(rt, holdings, snap)
    pipeline = pipeline_for(services, rt, venue)
    strategy = pipeline.bound(snap)  # gas of the day, impact calibrated on past volumes
    pipeline.follow(snap, strategy)  # paper venues fill at these prices with the same bound costs as the plan
    initial = row.last_check_at is None and all(a == strategy.quote for a, q in holdings.items() if q)
    manual = row.trigger_requested and not row.exit_request
    # clear only the requests this cycle consumed: one made while the cycle ran must survive to the next cycle
    consumed: dict[str, Any] = {"trigger_requested": False} if row.trigger_requested else {}
    if row.exit_request is not None:
        consumed.update(exit_request=None, paused=True, paused_reason="emergency exit")
    gate = ApprovalGate.open(services, rt, row, pipeline, strategy, snap, holdings)  # expiry; hold or re-plan
    held = gate.decide()  # None unless an approval is open
    decision, kind = held or decide(
        pipeline, strategy, rt, row, snap, holdings, initial=initial, manual=manual, shared=shared
    )
    if flows is not None:  # the flow's one-way trades instead of this check's decision (the next check follows)
        decision, kind = flow_plan(rt, strategy, snap, holdings, flows), "flow"
    tripped = pre_trade_breaker(services, rt, row, snap, holdings) if kind != "exit" else {}
    if tripped:  # checked before trading: nothing is sent past the drawdown limit
        consumed.update(tripped)
        decision = replace(decision, plan=None)
    waits = gate.hold(decision, kind)  # above the approval thresholds: stored, not sent
    return Prepared(rt, row, snap, holdings, pipeline, strategy, decision, kind, initial, consumed, gate, flows, waits)


def conclude(services: Services, c: Prepared, done: Executed) -> dict[str, Any]:
    """Settle flows, record the decision, log the activity line; the columns to release."""
    rt, snap, strategy, decision = c.rt, c.snap, c.strategy, c.decision
    net = Decimal(0)
    if c.flows is not None:
        net = settle_flows(services, rt, c.flows, c.holdings, done.report, unknown=done.status == "unknown")
    result = record(services, rt, c.row, strategy, decision, c.kind, snap, c.holdings, done, c.initial, net)
    c.gate.finish(result, done, c.initial)  # a waiting portfolio is checked again when its approval expires
    result.updates.update(c.consumed)
    if done.status == "unknown":
        result.updates["next_check_at"] = min(
            snap.time + timedelta(seconds=UNKNOWN_RETRY_S), result.updates["next_check_at"]
        )
    if done.report is not None:
        fills = done.report.fills
        cost = sum((f.fee + f.slippage + f.gas for f in fills), Decimal(0))
        activity.info(
            "%s %s: %s rebalance %s: %d order(s), %d fill(s), cost %s %s",
            f"{snap.time:%Y-%m-%d %H:%M}Z",
            rt.name,
            c.kind,
            done.status,
            len(decision.plan.orders) if decision.plan else 0,
            len(fills),
            f"{cost:,.2f}",
            strategy.quote,
        )
    return result.columns()


def run_portfolio_cycle(
    services: Services, rt: PortfolioRuntime, row: PortfolioRow, open_ids: list[str] | None = None
) -> dict[str, Any]:
    """Everything one cycle does for one leased portfolio; returns the columns to update on release.
    `open_ids`: its unfinished rebalances, if the caller just read them under the lease."""
    c = prepare_cycle(services, rt, row, open_ids)
    if isinstance(c, dict):
        return c
    return conclude(services, c, c.execute(services))
