"""Tiered autonomy in the service: a plan above the strategy's `approval:` thresholds waits for an admin.

`ApprovalGate` runs inside a cycle: it expires overdue approvals, holds while one is pending, and once approved
re-plans that rebalance on the cycle's fresh prices (never the stored ones). The re-plan executes without asking
again when it is comparable (core.approval.replan_difference) on the same targets version; otherwise it becomes a
new pending approval. The use cases (list, approve, reject) are shared by the API, the CLI and the dashboard.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from trimtab.adapters.storage.approval_store import OPEN, ApprovalRow, ApprovalStore
from trimtab.adapters.storage.service_rows import PortfolioRow
from trimtab.core.approval import (
    ApprovedTrigger,
    needs_approval,
    plan_notional,
    replan_difference,
    trigger_doc,
    trigger_from,
)
from trimtab.core.base.portfolio import PortfolioState
from trimtab.core.base.snapshot import MarketSnapshot
from trimtab.core.strategy import Decision, Schedule, Strategy
from trimtab.core.triggers.rules import TriggerResult
from trimtab.documents import plan_document
from trimtab.pipeline import Pipeline
from trimtab.service import reports
from trimtab.service.bootstrap import PortfolioRuntime, Services

if TYPE_CHECKING:
    from trimtab.service.cycle_record import CycleResult, Executed

activity = logging.getLogger("trimtab.activity")
NEVER_WAIT = ("exit", "flow")  # an emergency exit and a cash flow's own trades are sent at once


def approval_store(s: Services) -> ApprovalStore:
    """The approvals table on the service database, stamped with service time."""
    return ApprovalStore(s.ledger.engine, s.clock.now)


def _z(t: datetime) -> str:
    return f"{t.astimezone(UTC):%Y-%m-%d %H:%M}Z"


def _expired_alert(s: Services, a: ApprovalRow) -> None:
    s.store.audit(a.portfolio, "approval_expired", "expiry", {"approval_id": a.id, "expires_at": a.expires_at})
    s.notifier.send(
        a.portfolio,
        "approval_expired",
        f"{a.portfolio}: approval #{a.id} expired",
        f"nobody approved it by {_z(a.expires_at)}: nothing sent; the portfolio plans again on fresh prices",
        {"approval_id": a.id, "kind": a.kind, "notional": str(a.notional), "expires_at": a.expires_at.isoformat()},
    )


@dataclass
class ApprovalGate:
    """One cycle's view of the portfolio's approvals (inert when the strategy has no `approval:` block)."""

    services: Services
    rt: PortfolioRuntime
    row: PortfolioRow
    pipeline: Pipeline
    strategy: Strategy  # the cycle's (costs bound to this snapshot)
    snap: MarketSnapshot
    holdings: dict[str, Decimal]
    current: ApprovalRow | None = None  # the pending or approved approval found at the start of the cycle
    executing: ApprovalRow | None = None  # the approved one this cycle re-plans
    expires_at: datetime | None = None  # of the approval this cycle waits for or created

    @classmethod
    def open(
        cls,
        services: Services,
        rt: PortfolioRuntime,
        row: PortfolioRow,
        pipeline: Pipeline,
        strategy: Strategy,
        snap: MarketSnapshot,
        holdings: dict[str, Decimal],
    ) -> ApprovalGate:
        """Expire what ran out of time; an emergency exit closes the open approval (an exit never waits)."""
        gate = cls(services, rt, row, pipeline, strategy, snap, holdings)
        if rt.strategy.approval is None:
            return gate
        store = approval_store(services)
        for a in store.expire_due(rt.name, services.clock.now()):
            _expired_alert(services, a)
        gate.current = store.open_for(rt.name)
        if gate.current is not None and row.exit_request is not None:
            a, gate.current = gate.current, None
            if store.move(a.id, OPEN, "rejected", actor="emergency exit", note="closed by the emergency exit"):
                services.store.audit(rt.name, "approval_rejected", "emergency exit", {"approval_id": a.id})
        return gate

    @property
    def store(self) -> ApprovalStore:
        return approval_store(self.services)

    def decide(self) -> tuple[Decision, str] | None:
        """A pending approval holds the cycle (no plan); an approved one is re-planned here on the fresh prices."""
        a, strategy, snap, holdings = self.current, self.strategy, self.snap, self.holdings
        if a is None or self.row.exit_request is not None:
            return None
        targets = {str(k): float(v) for k, v in (a.trigger.get("targets") or strategy.targets).items()}
        if a.status == "pending":
            self.expires_at = a.expires_at
            state = PortfolioState.of(holdings, snap.prices, strategy.quote)
            why = f"waiting for approval #{a.id} (expires {_z(a.expires_at)}): {a.reason}"
            return Decision(snap.time, TriggerResult(False, (why,)), targets, state.weights(extra=targets)), "check"
        fired = trigger_from(a.trigger["result"])
        fired = replace(fired, reasons=(*fired.reasons, f"approved by {a.decided_by} (#{a.id})"))
        self.executing = a
        decision = self.pipeline.decide(
            snap,
            holdings,
            schedule=Schedule(self.row.anchor_at, self.row.last_check_at),
            strategy=replace(strategy, trigger=ApprovedTrigger(fired)),
        )
        return decision, a.kind

    def hold(self, decision: Decision, kind: str) -> Executed | None:
        """Before anything is sent: the cycle's outcome when the plan waits for an admin (stored, not sent), None
        when it may go. An approved plan is marked executed first, so a crash never sends it twice."""
        from trimtab.service.cycle_record import Executed

        status = self._hold(decision, kind)
        return Executed(status=status) if status else None

    def _hold(self, decision: Decision, kind: str) -> str | None:
        strategy, policy = self.strategy, self.strategy.approval
        if kind in NEVER_WAIT:  # the approved plan (if any) is re-planned by the next cycle
            self.executing = None
            return None
        if policy is None or (self.current is not None and self.executing is None):
            return None
        plan, a = decision.plan, self.executing
        if plan is None:  # a breaker stopped the re-plan: it stays approved for the next cycle
            return None
        if plan.is_empty:
            if a is not None:
                self.store.move(a.id, ("approved",), "executed", note="re-planned on fresh prices: nothing to trade")
            return None
        state = PortfolioState.of(self.holdings, self.snap.prices, strategy.quote)
        why = needs_approval(plan, state, policy)
        if a is not None:
            differs = self._difference(a, plan, strategy.quote)
            if why is None or differs is None:
                note = "re-planned on fresh prices" + (f": {why}, as approved" if why else ": under the thresholds")
                return None if self.store.move(a.id, ("approved",), "executed", note=note) else "held"
            self.store.move(a.id, ("approved",), "superseded", note=f"re-planned on fresh prices: {differs}")
            why = f"{why} (re-plan of approval #{a.id}: {differs})"
        if why is None:
            return None
        self._create(decision, kind, strategy, state, why)
        return "pending_approval"

    def _difference(self, a: ApprovalRow, plan: Any, quote: str) -> str | None:
        if a.targets_version != self.rt.targets_version:
            return f"targets changed since (v{a.targets_version} -> v{self.rt.targets_version})"
        sides = {str(o["asset"]): str(o["side"]) for o in a.plan.get("orders", [])}
        return replan_difference(plan, a.notional, a.cost, sides, quote)

    def _create(self, decision: Decision, kind: str, strategy: Strategy, state: PortfolioState, why: str) -> None:
        plan = decision.plan
        if plan is None or strategy.approval is None:
            raise RuntimeError("internal invariant broken: expected a plan and an approval policy")
        s, name = self.services, self.rt.name
        self.expires_at = s.clock.now() + timedelta(seconds=strategy.approval.expires_s)
        notional, cost = plan_notional(plan), plan.total_cost.total
        trigger = {"result": trigger_doc(decision.trigger), "targets": dict(decision.targets)}
        doc = reports.json_doc(plan_document(plan, strategy, state, decision.reason))
        approval_id = self.store.add(
            name,
            expires_at=self.expires_at,
            kind=kind,
            reason=why,
            plan=doc,
            trigger=trigger,
            notional=notional,
            cost=cost,
            targets_version=self.rt.targets_version,
        )
        s.notifier.send(
            name,
            "approval_needed",
            f"{name}: approval needed for a {kind} rebalance (#{approval_id})",
            f"{decision.reason}; {why}; {len(plan.orders)} order(s), nothing sent. Expires {_z(self.expires_at)}: "
            f"trimtab remote approve {name} {approval_id} (re-planned on fresh prices) or reject",
            {
                "approval_id": approval_id,
                "kind": kind,
                "reason": why,
                "notional": str(notional),
                "cost": str(cost),
                "orders": len(plan.orders),
                "expires_at": self.expires_at.isoformat(),
            },
        )
        activity.info("%s %s: %s rebalance waits for approval #%d: %s", _z(s.clock.now()), name, kind, approval_id, why)

    def finish(self, result: CycleResult, done: Executed, initial: bool) -> None:
        """After the cycle: the executed approval's rebalance; a waiting portfolio is checked again at the expiry,
        and a first allocation still waiting keeps the portfolio fresh (its buy-and-hold twin starts after it)."""
        a = self.executing
        if a is not None and done.rebalance_id is not None:
            stored = self.store.get(a.id)
            note = f"{stored.note if stored else ''}; rebalance {done.status}".lstrip("; ")
            self.store.set(a.id, rebalance_id=done.rebalance_id, note=note)
        if self.expires_at is None or done.traded:
            return
        updates = result.updates
        if "next_check_at" in updates:
            updates["next_check_at"] = min(updates["next_check_at"], self.expires_at)
        if initial:
            updates.pop("last_check_at", None)
            updates.pop("anchor_at", None)


# -- use cases (API, CLI, dashboard) ----------------------------------------------------------------------------


def _runtime(s: Services, name: str) -> PortfolioRuntime:
    from trimtab.service.commands import NotFound

    rt = s.runtime(name)
    if rt is None:
        raise NotFound(f"no portfolio named {name!r}")
    return rt


def approval_doc(a: ApprovalRow) -> dict[str, Any]:
    """One approval as the API shows it."""
    return reports.json_doc(
        {
            "id": a.id,
            "portfolio": a.portfolio,
            "status": a.status,
            "kind": a.kind,
            "reason": a.reason,
            "created_at": a.created_at,
            "expires_at": a.expires_at,
            "notional": a.notional,
            "cost": a.cost,
            "targets_version": a.targets_version,
            "decided_by": a.decided_by,
            "decided_at": a.decided_at,
            "note": a.note,
            "rebalance_id": a.rebalance_id,
            "plan": a.plan,
        }
    )


def list_approvals(s: Services, name: str, *, status: str | None = None, limit: int = 100) -> dict[str, Any]:
    """The portfolio's approvals, newest first."""
    _runtime(s, name)
    items = [approval_doc(a) for a in approval_store(s).listed(name, limit=limit, status=status)]
    return {"portfolio": name, "items": items}


def refuse_while_pending(s: Services, name: str) -> None:
    """A manual trigger while an approval is open would plan over it: 409 naming the approval."""
    from trimtab.service.commands import Conflict

    rt = s.runtime(name)
    if rt is None or rt.strategy.approval is None:
        return
    a = approval_store(s).open_for(name)
    if a is not None:
        raise Conflict(f"approval #{a.id} of {name!r} is {a.status}: approve or reject it first")


def _decidable(s: Services, name: str, approval_id: int) -> ApprovalRow:
    from trimtab.service.commands import Conflict, NotFound

    rt = _runtime(s, name)
    store = approval_store(s)
    a = store.get(approval_id)
    if a is None or a.portfolio != name:
        raise NotFound(f"no approval #{approval_id} for portfolio {name!r}")
    if rt.strategy.approval is None:
        raise Conflict(f"the strategy of {name!r} has no approval: block any more")
    if a.status == "pending" and a.expires_at <= s.clock.now():
        if store.move(a.id, ("pending",), "expired", actor="expiry"):
            _expired_alert(s, a)
        raise Conflict(f"approval #{approval_id} expired at {_z(a.expires_at)}")
    if a.status != "pending":
        raise Conflict(f"approval #{approval_id} is {a.status}, not pending")
    return a


def _decided(s: Services, name: str, action: str, a: ApprovalRow, actor: str, note: str) -> dict[str, Any]:
    from trimtab.service.commands import Conflict

    status = "approved" if action == "approve" else "rejected"
    if not approval_store(s).move(a.id, ("pending",), status, actor=actor, note=note, unexpired_at=s.clock.now()):
        raise Conflict(f"approval #{a.id} is no longer pending")  # expired or decided by someone else just now
    detail = {"approval_id": a.id, "reason": a.reason, "notional": str(a.notional), "note": note}
    s.store.audit(name, f"approval_{status}", actor, detail)
    after = "re-planned on fresh prices at once" if status == "approved" else "nothing is sent"
    s.notifier.send(
        name,
        f"approval_{status}",
        f"{name}: approval #{a.id} {status}",
        f"{status} by {actor}: {after}" + (f" ({note})" if note else ""),
        {**detail, "actor": actor},
    )
    if status == "approved":
        s.store.update_portfolio(name, trigger_requested=True)  # due at once: the scheduler re-plans it
        s.wake.set()
    s.invalidate(name)
    fresh = approval_store(s).get(a.id)
    return reports.json_doc(
        {
            "accepted": True,
            "action": action,
            "portfolio": name,
            "requested_at": datetime.now(UTC),
            "approval": approval_doc(fresh or a),
        }
    )


def _actor(role: str, by: str) -> str:
    return f"{role}:{by}" if by else role


def approve(s: Services, name: str, approval_id: int, *, actor: str, by: str = "", note: str = "") -> dict[str, Any]:
    """Approve a pending plan: the next cycle (at once) re-plans it on fresh prices; audited with who approved."""
    from trimtab.service.commands import Conflict

    a = _decidable(s, name, approval_id)
    row = s.store.portfolio(name)
    if row is not None and row.paused:
        raise Conflict(f"portfolio {name!r} is paused: resume it first")
    return _decided(s, name, "approve", a, _actor(actor, by), note)


def reject(s: Services, name: str, approval_id: int, *, actor: str, by: str = "", note: str = "") -> dict[str, Any]:
    """Reject a pending plan: nothing is sent; the portfolio plans again at its next check."""
    return _decided(s, name, "reject", _decidable(s, name, approval_id), _actor(actor, by), note)
