"""External cash flows in the service: a deposit or withdrawal asked for over the API is taken up by the
portfolio's next cycle (under its lease), recorded in the ledger, and traded for as `trimtab deposit|withdraw`
does (pipeline.flows: a deposit buys the most underweight assets first, a withdrawal sells the most overweight).

Crash safety: each flow's ledger entry carries the flow's id as its ref, so a flow the ledger already has is never
recorded twice. A deposit is recorded before anything else, since a live venue's balance already shows it. A
withdrawal is recorded in the same transaction as the sells that pay for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from trimtab.adapters.storage.service_rows import PortfolioRow
from trimtab.core.base.ledger import EntryKind, LedgerEntry
from trimtab.core.base.ports import ExecutionReport
from trimtab.core.base.snapshot import MarketSnapshot
from trimtab.core.base.types import ZERO
from trimtab.core.strategy import Decision, Strategy
from trimtab.pipeline.flows import flow_decision, flow_text
from trimtab.pipeline.journal import JournalLedger
from trimtab.service.bootstrap import PortfolioRuntime, Services


def flow_ref(flow: dict[str, Any]) -> str:
    return f"flow-{flow['id']}"


@dataclass
class Flows:
    """This cycle's flows: deposits already recorded, withdrawals to record with their sells."""

    deposits: Decimal = ZERO
    withdrawals: list[dict[str, Any]] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    withdrawn: Decimal = ZERO  # what the recorded withdrawals took out

    @property
    def requested(self) -> Decimal:
        return self.deposits - sum((Decimal(str(f["amount"])) for f in self.withdrawals), ZERO)


def take_deposits(services: Services, rt: PortfolioRuntime, row: PortfolioRow) -> Flows | None:
    """Queued flows not in the ledger yet; deposits recorded now (one transaction). None when nothing is queued."""
    if not row.flow_request:
        return None
    recorded = {e.ref for e in services.ledger.entries(rt.account) if e.kind in (EntryKind.DEPOSIT, EntryKind.WITHDRAW)}
    todo = [f for f in row.flow_request if flow_ref(f) not in recorded]
    flows = Flows(ids=[str(f["id"]) for f in row.flow_request])
    quote = rt.strategy.quote
    now = services.clock.now()
    deposits = [f for f in todo if Decimal(str(f["amount"])) > 0]
    entries = [
        LedgerEntry(
            rt.account,
            quote,
            Decimal(str(f["amount"])),
            EntryKind.DEPOSIT,
            flow_ref(f),
            now,
            note=f"{flow_text(Decimal(str(f['amount'])), quote)} by {f.get('actor', 'api')}",
        )
        for f in deposits
    ]
    if entries:
        services.ledger.append(entries)
    flows.deposits = sum((e.amount for e in entries), ZERO)
    flows.withdrawals = [{**f, "amount": -Decimal(str(f["amount"]))} for f in todo if Decimal(str(f["amount"])) < 0]
    return flows


def flow_plan(
    rt: PortfolioRuntime, strategy: Strategy, snap: MarketSnapshot, holdings: dict[str, Decimal], flows: Flows
) -> Decision:
    """The one-way trades of the cycle's net flow (holdings already hold the deposits)."""
    rules = None if rt.venue is None else (lambda asset: rt.venue.rules(asset, strategy.quote))  # type: ignore[union-attr]
    return flow_decision(strategy, snap, holdings, flows.requested, rules)


def withdraw_entries(
    rt: PortfolioRuntime, flows: Flows, cash: Decimal, time: datetime
) -> tuple[list[LedgerEntry], Decimal]:
    """WITHDRAW entries for the queued withdrawals the cash covers (oldest first), and what they take out."""
    out: list[LedgerEntry] = []
    taken = ZERO
    for f in flows.withdrawals:
        amount = Decimal(str(f["amount"]))
        if taken + amount > cash:
            break
        quote = rt.strategy.quote
        out.append(
            LedgerEntry(
                rt.account,
                quote,
                -amount,
                EntryKind.WITHDRAW,
                flow_ref(f),
                time,
                note=f"{flow_text(-amount, quote)} by {f.get('actor', 'api')}",
            )
        )
        taken += amount
    return out, taken


@dataclass
class FlowLedger(JournalLedger):
    """The journal's ledger, appending the withdrawals the sells paid for in the same transaction as the fills."""

    runtime: PortfolioRuntime | None = None
    flows: Flows | None = None
    cash: Decimal = ZERO  # the quote held before the sells
    time: datetime | None = None
    withdrawn: Decimal = ZERO

    def append(self, entries: Sequence[LedgerEntry]) -> None:
        extra: list[LedgerEntry] = []
        rt, flows = self.runtime, self.flows
        known = self.journal.unknown is None  # an unknown leg records nothing yet: the withdrawal waits with it
        if known and rt is not None and flows is not None and flows.withdrawals and self.time is not None:
            raised = sum((e.amount for e in entries if e.asset == rt.strategy.quote), ZERO)
            extra, self.withdrawn = withdraw_entries(rt, flows, self.cash + raised, self.time)
        super().append([*entries, *extra])


def settle_without_trades(
    services: Services, rt: PortfolioRuntime, flows: Flows, holdings: dict[str, Decimal]
) -> Decimal:
    """Withdrawals the cash already covers, recorded on their own (nothing to sell); what they took out."""
    entries, taken = withdraw_entries(rt, flows, holdings.get(rt.strategy.quote, ZERO), services.clock.now())
    if entries:
        services.ledger.append(entries)
    return taken


def scaled_twin(bh: dict[str, str] | None, prices: dict[str, Decimal], net: Decimal) -> dict[str, str] | None:
    """The buy-and-hold twin gets the same flow, in its own mix (its units scaled by (V + flow) / V), so flows move
    both values alike and the comparison stays about rebalancing."""
    if not bh or not net:
        return bh
    value = sum((Decimal(q) * prices.get(a, ZERO) for a, q in bh.items()), ZERO)
    if value <= 0:
        return bh
    k = max(value + net, ZERO) / value
    return {a: str((Decimal(q) * k).quantize(Decimal("1e-18"))) for a, q in bh.items()}


def settle_flows(
    services: Services,
    rt: PortfolioRuntime,
    flows: Flows,
    holdings: dict[str, Decimal],
    report: ExecutionReport | None,
    unknown: bool = False,
) -> Decimal:
    """After the trades: withdrawals the cash covers when nothing was sold, an alert for each the account could not
    pay, the cycle's flows dropped from the queue (withdrawals stay queued behind an unknown leg); the net flow."""
    if unknown:
        services.store.consume_flows(
            rt.name, [i for i in flows.ids if i not in {str(f["id"]) for f in flows.withdrawals}]
        )
        return flows.deposits
    if report is None:
        flows.withdrawn = settle_without_trades(services, rt, flows, holdings)
    paid = ZERO
    for f in flows.withdrawals:
        amount = Decimal(str(f["amount"]))
        if paid + amount <= flows.withdrawn:
            paid += amount
            continue
        services.notifier.send(
            rt.name,
            "failure",
            f"{rt.name}: withdrawal not paid",
            f"{flow_text(-amount, rt.strategy.quote)} asked by {f.get('actor', 'api')}: the sells did not raise it; "
            "nothing was withdrawn",
            {"flow_id": f["id"], "amount": str(amount)},
        )
    services.store.consume_flows(rt.name, flows.ids)
    return flows.deposits - flows.withdrawn


# -- the use case (API, `trimtab remote deposit|withdraw`, dashboard) --------------------------------------------


def request_flow(services: Services, name: str, amount: Decimal, *, actor: str, withdraw: bool) -> dict[str, Any]:
    """Queue a deposit (or withdrawal) of `amount` quote units for the portfolio's next cycle, audited."""
    import uuid

    from trimtab.service import commands, reports

    rt = services.runtime(name)
    if rt is None:
        raise commands.NotFound(f"no portfolio named {name!r}")
    what = "withdrawal" if withdraw else "deposit"
    if not amount.is_finite() or amount <= 0:
        raise commands.Invalid("amount: must be a positive number")
    if rt.yields is not None:
        raise commands.Conflict(f"{name} is a yield portfolio: {what}s are not supported there yet")
    if withdraw and rt.spec.venue != "paper":
        raise commands.Conflict(
            f"{name} trades on {rt.spec.venue}: withdraw on the venue itself (the ledger follows its balance)"
        )
    row = services.store.portfolio(name)
    if row is not None and row.exit_request is not None:
        raise commands.Conflict(f"{name} has an emergency exit pending")
    if withdraw:
        status = commands.status(services, name)
        value = Decimal(str(status["value"]))
        queued = -sum((Decimal(str(f["amount"])) for f in (row.flow_request or [])), ZERO) if row else ZERO
        if amount + queued > value:
            raise commands.Invalid(f"amount: {amount} is more than {name} is worth ({value:,.2f} {rt.strategy.quote})")
    flow = {
        "id": uuid.uuid4().hex[:16],
        "amount": str(-amount if withdraw else amount),
        "actor": actor,
        "requested_at": services.clock.now().isoformat(),
    }
    waiting = services.store.request_flow(name, flow)
    services.store.audit(name, what, actor, flow)
    services.wake.set()
    services.invalidate(name)
    return reports.json_doc(
        {
            "accepted": True,
            "action": what,
            "portfolio": name,
            "requested_at": services.clock.now(),
            "flow_id": flow["id"],
            "amount": str(amount),
            "queued": waiting,
            "paused": bool(row and row.paused),
        }
    )
