"""The `tax:` block in the one pipeline: a fired plan's gains priced from the account's open lots, and the band-edge
plan sent instead when it realises less (tax_aware) or the year's gain budget requires (core.execution.tax_aware).
The same in a backtest's step path, `trimtab execute` and `trimtab serve`: each gives the pipeline its ledger."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from decimal import Decimal

from trimtab.core.base.ledger import LedgerEntry
from trimtab.core.base.lots import LotBook, replay_trades, trade_legs
from trimtab.core.base.portfolio import PortfolioState
from trimtab.core.base.snapshot import MarketSnapshot
from trimtab.core.execution.planner import RulesFor, band_edge_targets, plan_rebalance
from trimtab.core.execution.tax_aware import TaxPolicy, choose_plan
from trimtab.core.strategy import Decision, Strategy, edge_targets
from trimtab.core.triggers.rules import TriggerKind

Lots = Callable[[], LotBook]


def lots_from(entries: Callable[[], Sequence[LedgerEntry]], quote: str, policy: TaxPolicy) -> Lots:
    """The account's open lots, replayed from its ledger's fills when asked (units deposited in kind have no
    known basis: they open no lot, and selling them realises nothing)."""

    def book() -> LotBook:
        legs, _ = trade_legs(list(entries()), quote)
        return replay_trades(legs, LotBook(policy.holding_period), policy.method)

    return book


def taxed(
    decision: Decision,
    strategy: Strategy,
    snapshot: MarketSnapshot,
    holdings: dict[str, Decimal],
    lots: Lots,
    rules: RulesFor | None = None,
) -> Decision:
    """The decision with its plan chosen by the tax block and the reason naming the tax paid or avoided."""
    policy, plan, trig = strategy.tax, decision.plan, decision.trigger
    if policy is None or plan is None or plan.is_empty:
        return decision
    book = lots()
    edge = None
    forced = trig.kind in (TriggerKind.INITIAL, TriggerKind.MANUAL)  # a full rebalance was asked for
    banded = trig.bands is not None or strategy.settings.band is not None or strategy.settings.relative_band is not None
    sleeved = getattr(trig, "groups", None) is not None
    if not forced and banded and not sleeved and strategy.rebalance_to != "band_edge":
        desired = (
            edge_targets(decision.weights, decision.targets, trig.bands)
            if trig.bands is not None
            else band_edge_targets(
                decision.weights, decision.targets, strategy.settings.band, strategy.settings.relative_band
            )
        )
        state = PortfolioState.of(holdings, snapshot.prices, strategy.quote)
        edge = plan_rebalance(
            state, desired, strategy.costs, rules, strategy.settings, targets=decision.targets, reason=plan.reason
        )
    chosen, note = choose_plan(plan, edge, book, snapshot.time, policy, book.realised(snapshot.time.year))
    reason = f"{plan.reason}; {note}"
    return replace(
        decision,
        plan=replace(chosen, reason=reason),
        trigger=replace(trig, reasons=(*trig.reasons, note)),
    )
