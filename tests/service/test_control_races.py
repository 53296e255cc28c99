"""A control request made while a portfolio's cycle runs must survive that cycle (lost-update regression)."""

from __future__ import annotations

from trimtab.service import commands
from trimtab.service.bootstrap import Services
from trimtab.service.cycle import run_portfolio_cycle
from trimtab.service.runner import Runner


def test_rebalance_now_requested_during_a_cycle_is_kept_for_the_next(services: Services) -> None:
    Runner(services).run_once()  # initial allocations
    rt = services.runtimes["alpha"]
    services.store.update_portfolio("alpha", lease_owner=services.worker_id)  # this worker holds the lease
    stale = services.store.portfolio("alpha")  # the row as the running cycle read it: no request yet
    assert stale is not None and not stale.trigger_requested
    commands.trigger_now(services, "alpha", actor="admin")  # the owner presses "rebalance now" meanwhile
    updates = run_portfolio_cycle(services, rt, stale)
    services.store.release("alpha", services.worker_id, decision=updates.pop("decision"), **updates)
    row = services.store.portfolio("alpha")
    assert row is not None and row.trigger_requested, "the request made during the cycle was dropped"
    # the next cycle consumes it and rebalances as a manual trigger
    services.store.update_portfolio("alpha", lease_owner=services.worker_id)
    updates = run_portfolio_cycle(services, rt, row)
    assert updates["decision"]["kind"] == "manual"
    services.store.release("alpha", services.worker_id, decision=updates.pop("decision"), **updates)
    after = services.store.portfolio("alpha")
    assert after is not None and not after.trigger_requested
