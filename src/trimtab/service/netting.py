"""A netting group's cycle (docs/netting.md): every member decided on its own ledger share, their plans netted on
the shared exchange account (pipeline.netting), and each member's decision recorded with its share and savings.

A member whose cycle is an emergency exit or a cash flow, or waits for approval, trades on its own this cycle;
a member whose guards refuse its plan fails its cycle alone. An unknown net leg holds every member."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from trimtab.adapters.storage.service_rows import PortfolioRow
from trimtab.core.base.ports import ExecutionReport
from trimtab.core.execution.guards import GuardedVenue
from trimtab.core.execution.netting import net_legs
from trimtab.errors import LeaseLost
from trimtab.pipeline.journal import JournaledVenue, TrackedVenue, final_status
from trimtab.pipeline.netting import NetResult, execute_net, reconcile_net
from trimtab.scrub import scrub
from trimtab.service.aftercycle import failed_cycle
from trimtab.service.bootstrap import Services
from trimtab.service.cycle import (
    Prepared,
    announce,
    announce_reconciled,
    conclude,
    paused_check,
    prepare_cycle,
    reconcile_leftovers,
    unknown_alert,
)
from trimtab.service.cycle_record import Executed
from trimtab.service.flows import take_deposits
from trimtab.service.holds import drift_cycle, venue_drift, waiting_cycle
from trimtab.service.leases import LeaseGuard, holding
from trimtab.service.settings import NettingSpec

log = logging.getLogger(__name__)
activity = logging.getLogger("trimtab.activity")
ON_THEIR_OWN = ("exit", "flow")  # cycles a member sends alone (its own share, its own flow ledger)


@dataclass(frozen=True)
class GroupLease:
    """Every member's lease as one: renewed together between legs; the group's rebalance bound to the first."""

    guards: tuple[LeaseGuard, ...]

    def renew(self) -> object:
        return [g.renew() for g in self.guards]

    def renew_in(self, conn: Any) -> object:
        return [g.renew_in(conn) for g in self.guards]

    def bind(self, rebalance_id: str) -> None:
        self.guards[0].bind(rebalance_id)


def group_venue(services: Services, group: NettingSpec) -> TrackedVenue:
    venue = services.runtimes[group.portfolios[0]].venue
    if venue is None:
        raise RuntimeError("internal invariant broken: a netting group trades on a ccxt venue")
    return venue


def run_group_cycle(
    services: Services, group: NettingSpec, rows: Mapping[str, PortfolioRow], guards: Mapping[str, LeaseGuard]
) -> dict[str, dict[str, Any]]:
    """One cycle of the group's leased members (`rows`); the columns to release for each."""
    venue = group_venue(services, group)
    still = _reconcile(services, group, venue, rows)
    if still:
        return {n: waiting_cycle(services, services.runtimes[n], row, still) for n, row in rows.items()}
    deposits = {  # into the ledgers before the shared check: the account's balances already show them
        n: take_deposits(services, services.runtimes[n], row) if row.exit_request is None else None
        for n, row in rows.items()
    }
    drift = shared_drift(services, group, venue)
    if drift:
        return {n: drift_cycle(services, services.runtimes[n], row, drift) for n, row in rows.items()}
    out: dict[str, dict[str, Any]] = {}
    netted: dict[str, Prepared] = {}
    for name, row in rows.items():
        rt = services.runtimes[name]
        try:
            c = prepare_cycle(services, rt, row, shared=True, taken=deposits[name])
            if isinstance(c, dict):
                out[name] = c
            elif c.waits is not None or c.kind in ON_THEIR_OWN or c.decision.plan is None or c.decision.plan.is_empty:
                with holding(guards[name]):
                    out[name] = conclude(services, c, c.execute(services))
            else:
                _precheck(services, c)
                netted[name] = c
        except LeaseLost:
            raise
        except Exception as err:  # noqa: BLE001  (one member's failure must not stop the others)
            log.warning("%s: cycle failed: %s", name, scrub(err))
            out[name] = {
                **failed_cycle(services, rt, row, err),
                "next_check_at": rt.spec.every.after(services.clock.now(), 1),
            }
    if netted:
        lease = GroupLease(tuple(guards[n] for n in rows))
        for name, done in send_netted(services, group, venue, netted, lease).items():
            out[name] = conclude(services, netted[name], done)
    return out


def shared_drift(services: Services, group: NettingSpec, venue: TrackedVenue) -> list[str]:
    """The members' ledgers summed against the shared account's balances (every member, paused ones too)."""
    total: dict[str, Decimal] = {}
    for name in group.portfolios:
        for a, q in services.store.balances(services.runtimes[name].account).items():
            total[a] = total.get(a, Decimal(0)) + q
    return venue_drift({a: q for a, q in total.items() if q}, venue.balances())


def _reconcile(
    services: Services, group: NettingSpec, venue: TrackedVenue, rows: Mapping[str, PortfolioRow]
) -> list[str]:
    """Close the group's open net rebalances and each member's own; ids still unknown at the venue."""
    ids = services.store.open_rebalances(group.account)
    done = reconcile_net(services.ledger, venue, group.account, ids, now=services.clock.now()) if ids else []
    announce_reconciled(services, list(rows), done)
    still = [r.rebalance_id for r in done if r.status == "unknown"]
    for name in rows:
        still += [
            r.rebalance_id for r in reconcile_leftovers(services, services.runtimes[name]) if r.status == "unknown"
        ]
    return still


def _precheck(services: Services, c: Prepared) -> None:
    """The member's guards on its own plan before it is netted (SafetyError: its cycle fails, nothing sent)."""
    guards = c.pipeline.guard_set(c.snap, services.ledger, c.rt.account, c.strategy)
    if guards is not None and c.decision.plan is not None and c.rt.venue is not None:
        GuardedVenue(c.rt.venue, guards, dict(c.holdings)).precheck(c.decision.plan)


def send_netted(
    services: Services, group: NettingSpec, venue: TrackedVenue, netted: Mapping[str, Prepared], lease: GroupLease
) -> dict[str, Executed]:
    """Net the members' plans, journal and send the net legs, book each member's share; an Executed per member."""
    plans = {n: c.decision.plan.orders for n, c in netted.items() if c.decision.plan is not None}
    quote = next(iter(netted.values())).strategy.quote
    legs = net_legs(plans, lambda asset, q: venue.rules(asset, q))
    for name, c in netted.items():
        announce(services, name, c.kind, c.decision, len(plans[name]), netting=group.name)
    time = next(iter(netted.values())).snap.time
    halts = [paused_check(services, n) for n in netted]
    journal = JournaledVenue(
        venue,
        services.ledger,
        group.account,
        time,
        services.stop,
        None,
        {"group": group.name, "kind": "netted", "portfolios": sorted(netted)},
        lease=lease,
        clock=services.clock.now,
        halt=lambda: next((why for h in halts if (why := h()) is not None), None),
    )
    members = {n: c.rt.account for n, c in netted.items()}
    reason = f"netted rebalance of {', '.join(sorted(netted))} on {group.name}"
    result = execute_net(journal, legs, members, reason)
    _log(group, legs, result, quote, len(plans), sum(len(o) for o in plans.values()))
    return {n: _executed(services, n, result, journal) for n in netted}


def _executed(services: Services, name: str, result: NetResult, journal: JournaledVenue) -> Executed:
    if result.status == "unknown":
        why = journal.unknown[1] if journal.unknown is not None else "outcome unknown"
        unknown_alert(services, name, f"a net leg of {result.rebalance_id}: {why}", result.rebalance_id)
        return Executed(None, "unknown", result.rebalance_id, False)
    report = result.reports.get(name, ExecutionReport(()))
    extra = {
        "netting": {
            "rebalance_id": result.rebalance_id,
            "saved": str(result.saved.get(name, Decimal(0))),
            "group_saved": result.summary.get("saved", "0"),
            "legs": result.summary.get("legs", []),
        }
    }
    return Executed(report, final_status(report).value, result.rebalance_id, bool(report.fills), extra)


def _log(group: NettingSpec, legs: Any, result: NetResult, quote: str, members: int, orders: int) -> None:
    sent = sum(1 for g in legs if g.order is not None)
    activity.info(
        "%s: netted %d portfolio(s): %d order(s) sent instead of %d, %s, saved %s %s",
        group.name,
        members,
        sent,
        orders,
        result.status,
        f"{Decimal(result.summary.get('saved', '0')):,.2f}",
        quote,
    )
