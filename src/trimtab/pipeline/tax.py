"""The `tax:` block in the one pipeline: a fired plan's gains priced from the account's open lots, and the band-edge
plan sent instead when it realises less (tax_aware) or the year's gain budget requires (core.execution.tax_aware),
and `harvest_losses`: loss lots sold, the wait served by a substitute or the quote (core.execution.harvest).
The same in a backtest's step path, `trimtab execute` and `trimtab serve`: each gives the pipeline its ledger."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from decimal import Decimal

from trimtab.core.base.ledger import LedgerEntry
from trimtab.core.base.lots import LotBook, replay_trades, trade_legs
from trimtab.core.base.portfolio import PortfolioState
from trimtab.core.base.snapshot import MarketSnapshot
from trimtab.core.base.types import Side, TradePlan
from trimtab.core.execution.harvest import (
    HarvestLot,
    harvest_plan,
    harvestable,
    returns_due,
    served_targets,
    waiting,
)
from trimtab.core.execution.planner import RulesFor, apply_orders, band_edge_targets, plan_rebalance
from trimtab.core.execution.tax_aware import TaxPolicy, choose_plan
from trimtab.core.strategy import Decision, Strategy, apply_cash_buffer, edge_targets
from trimtab.core.triggers.rules import TriggerKind
from trimtab.errors import DataError

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


def serving(strategy: Strategy, snapshot: MarketSnapshot, holdings: dict[str, Decimal], lots: Lots) -> Strategy:
    """The strategy whose targets are served during harvest waits (core.execution.harvest.served_targets): no
    buys of a waiting asset, its shortfall in the substitute or the quote. Unchanged outside any wait."""
    policy = strategy.tax.harvest if strategy.tax is not None else None
    if policy is None:
        return strategy
    waits = waiting(lots(), policy, snapshot.time)
    if not waits:
        return strategy
    _priced(strategy, snapshot, waits)
    state = PortfolioState.of(holdings, snapshot.prices, strategy.quote)
    targets = apply_cash_buffer(dict(strategy.targets), strategy.quote, strategy.cash_buffer)
    served = served_targets(targets, state.weights(extra=targets), waits, policy, strategy.quote)
    return replace(strategy, targets=served, cash_buffer=0.0)


def harvested(
    decision: Decision,
    strategy: Strategy,
    snapshot: MarketSnapshot,
    holdings: dict[str, Decimal],
    lots: Lots,
    rules: RulesFor | None = None,
) -> Decision:
    """The decision with harvest orders first (each lot, its loss and the tax it saves in the reason) and the
    strategy's own plan, if it fired, re-planned after them to the served targets; or, once a wait has ended, the
    rebalance that buys the asset back."""
    tax = strategy.tax
    policy = tax.harvest if tax is not None else None
    if tax is None or policy is None or decision.trigger.kind is TriggerKind.INITIAL:
        return decision
    book = lots()
    state = PortfolioState.of(holdings, snapshot.prices, strategy.quote)
    picks = harvestable(book, snapshot.prices, snapshot.time, tax.method, policy, strategy.quote)
    if picks:
        _priced(strategy, snapshot, picks)
        note = "harvest: " + "; ".join(_lot_text(h, tax) for lots_ in picks.values() for h in lots_)
        earlier = waiting(book, policy, snapshot.time)
        first = harvest_plan(state, picks, policy, strategy.costs, rules, waits=earlier)
        waits = {**earlier, **dict.fromkeys(picks, snapshot.time + policy.wait)}
        post = apply_orders(state, first.orders)
        orders = first.orders
        if decision.plan is not None and not decision.plan.is_empty:  # the strategy's rebalance, after the harvest
            base = apply_cash_buffer(dict(strategy.targets), strategy.quote, strategy.cash_buffer)
            served = served_targets(base, post.weights(extra=base), waits, policy, strategy.quote)
            then = plan_rebalance(post, served, strategy.costs, rules, strategy.settings, reason=decision.plan.reason)
            orders = (*orders, *then.orders)
            note += "; then the strategy's rebalance to the served targets"
        plan = TradePlan(orders=orders, reason=note, post_weights=apply_orders(state, orders).weights())
        return _with(decision, plan, note)
    due = returns_due(book, policy, snapshot.time)
    buys = decision.plan is not None and any(o.side is Side.BUY and o.asset in due for o in decision.plan.orders)
    if due and not buys:
        back = plan_rebalance(state, decision.targets, strategy.costs, rules, strategy.settings)
        if any(o.side is Side.BUY and o.asset in due for o in back.orders):
            note = "harvest: " + "; ".join(
                f"the wait after harvesting {a} on {t:%Y-%m-%d} ended: back to target" for a, t in sorted(due.items())
            )
            return _with(decision, replace(back, reason=note), note)
    return decision


def _with(decision: Decision, plan: TradePlan, note: str) -> Decision:
    trig = decision.trigger
    fired = replace(trig, fired=True, reasons=(*trig.reasons, note))
    return replace(decision, plan=plan, trigger=fired)


def _lot_text(h: HarvestLot, tax: TaxPolicy) -> str:
    rate = tax.short_rate if h.term == "short" else tax.long_rate
    saves = h.loss * Decimal(repr(rate))
    return (
        f"{h.asset} lot {h.lot_id} {h.quantity.normalize():f} at a loss of {h.loss:,.2f} "
        f"({h.loss / h.basis:.1%} of its basis), saves {saves:,.2f} tax at the {h.term} rate {rate:.0%}"
    )


def _priced(strategy: Strategy, snapshot: MarketSnapshot, assets: Iterable[str]) -> None:
    """A substitute must have a price now (one-line error naming the field)."""
    policy = strategy.tax.harvest if strategy.tax is not None else None
    subs = sorted({policy.substitute[a] for a in assets if a in policy.substitute}) if policy is not None else []
    missing = [s for s in subs if s not in snapshot.prices and s != strategy.quote]
    if missing:
        raise DataError(
            f"substitute {', '.join(missing)} has no price: add it to the market data", field="tax.harvest_losses"
        )
