"""Pipeline: a strategy and a venue, assembled once into decide -> guards -> TWAP -> venue -> ledger."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable

from trimtab import engine
from trimtab.core.base.ledger import EntryKind, LedgerEntry
from trimtab.core.base.lots import LotBook
from trimtab.core.base.portfolio import PortfolioState
from trimtab.core.base.ports import AtomicVenue, LedgerStore, Venue
from trimtab.core.base.snapshot import MarketSnapshot
from trimtab.core.base.types import ZERO
from trimtab.core.costs.parts import bind_market, market_bound
from trimtab.core.execution.guards import GuardedVenue, GuardSet
from trimtab.core.execution.planner import RulesFor
from trimtab.core.strategy import Decision, Schedule, Strategy
from trimtab.pipeline.references import ReferencePrices


class EquityLog(Protocol):
    """Stored pre-trade equity marks of a portfolio (drawdown protection survives restarts and one-shot runs):
    adapters.storage.price_store.EquityMarks in the service database or the ledger file."""

    def values_before(self, key: str, time: datetime) -> list[float]: ...

    def record(self, key: str, time: datetime, value: Decimal) -> object: ...

    def model_weights(self, key: str) -> tuple[str, dict[str, float]] | None: ...

    def save_model_weights(self, key: str, period: str, weights: Mapping[str, float]) -> None: ...


@runtime_checkable
class MarketFollowing(Protocol):
    """A simulated venue that fills at the snapshot's prices with the cycle's cost model (paper venues)."""

    def set_prices(self, prices: dict[str, Decimal]) -> None: ...

    def set_costs(self, costs: object) -> None: ...


def traded_on(entries: Iterable[LedgerEntry], quote: str, day: datetime) -> Decimal:
    """Notional traded on `day`'s UTC date, in the quote: the quote legs of that day's trades."""
    d = day.astimezone(UTC).date() if day.tzinfo else day.date()
    total = ZERO
    for e in entries:
        t = e.time.astimezone(UTC) if e.time.tzinfo else e.time
        if e.kind == EntryKind.TRADE and e.asset == quote and t.date() == d:
            total += abs(e.amount)
    return total


def once(make: Callable[[], LotBook]) -> Callable[[], LotBook]:
    """`make` run at most once (one ledger replay per decision, however many tax steps read the lots)."""
    made: list[LotBook] = []

    def get() -> LotBook:
        if not made:
            made.append(make())
        return made[0]

    return get


@dataclass
class Pipeline:
    """Everything between a snapshot and the ledger for one strategy on one venue."""

    strategy: Strategy
    venue: Venue
    rules: RulesFor | None = None
    reference: ReferencePrices | None = None
    equity: EquityLog | None = None
    equity_key: str = ""
    now: Callable[[], datetime] | None = None  # the guards' clock (None: the snapshot's time)
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    lots: Callable[[], LotBook] | None = None  # the account's open tax lots (pipeline.tax.lots_from its ledger)

    def bound(self, snapshot: MarketSnapshot) -> Strategy:
        """The strategy with market-dependent costs priced for this snapshot (gas of the day, calibrated impact)."""
        if not market_bound(self.strategy.costs):
            return self.strategy
        return replace(self.strategy, costs=bind_market(self.strategy.costs, snapshot.time, snapshot.history))

    def decide(
        self,
        snapshot: MarketSnapshot,
        holdings: dict[str, Decimal],
        *,
        schedule: Schedule = Schedule(),
        initial: bool = False,
        strategy: Strategy | None = None,
        record_equity: bool = True,
    ) -> Decision:
        """Validate prices and decide; a model strategy sees its stored equity path when an EquityLog is set
        (this decision's pre-trade value is marked unless `record_equity` is off: a dry run or unconfirmed plan)."""
        strat = strategy or self.bound(snapshot)
        equity: Sequence[float] | None = None
        stored: tuple[str, dict[str, float]] | None = None
        if self.equity is not None and strat.allocation is not None:
            value = self.value(snapshot, holdings, strat)
            equity = [*self.equity.values_before(self.equity_key, snapshot.time), float(value)]
            stored = self.equity.model_weights(self.equity_key)
            if stored is not None:  # a restarted process takes up the period's weights where it left them
                strat.allocation.restore(*stored)
            if record_equity:
                self.mark(snapshot, value)
        lots = once(self.lots) if strat.tax is not None and self.lots is not None else None
        if lots is not None:  # harvest waits: their assets' targets served by a substitute or quote
            from trimtab.pipeline.tax import serving

            served = serving(strat, snapshot, holdings, lots)
        else:
            served = strat
        decision = engine.decide(
            served, snapshot, holdings, schedule=schedule, rules=self.rules, initial=initial, equity=equity
        )
        if lots is not None:
            from trimtab.pipeline.tax import harvested, taxed

            decision = taxed(decision, served, snapshot, holdings, lots, self.rules)
            decision = harvested(decision, strat, snapshot, holdings, lots, self.rules)
        if record_equity:
            self.remember(strat, stored)
        return decision

    def remember(self, strategy: Strategy, stored: tuple[str, dict[str, float]] | None = None) -> None:
        """Store the model's weights for its current period (once they change)."""
        if self.equity is None or strategy.allocation is None:
            return
        current = strategy.allocation.period_weights()
        if current is not None and current != stored:
            self.equity.save_model_weights(self.equity_key, *current)

    @staticmethod
    def value(snapshot: MarketSnapshot, holdings: dict[str, Decimal], strategy: Strategy) -> Decimal:
        return PortfolioState.of(holdings, {**snapshot.prices, strategy.quote: Decimal(1)}, strategy.quote).total

    def mark(self, snapshot: MarketSnapshot, value: Decimal) -> None:
        """Store this decision's pre-trade equity (once per time: a rerun at the same time keeps the first)."""
        if self.equity is not None:
            self.equity.record(self.equity_key, snapshot.time, value)

    def guard_set(
        self, snapshot: MarketSnapshot, ledger: LedgerStore, account: str, strategy: Strategy | None = None
    ) -> GuardSet | None:
        """The strategy's guards with their inputs: each price's own time, the second source, today's turnover."""
        strat = strategy or self.strategy
        policy = strat.execution.guards
        if policy is None:
            return None
        assets = sorted(a for a in snapshot.prices if a != strat.quote)
        reference = self.reference.prices(assets, strat.quote, snapshot.time) if self.reference is not None else {}
        today = traded_on(ledger.entries(account), strat.quote, snapshot.time) if policy.needs_daily_turnover else ZERO
        now = self.now() if self.now is not None else snapshot.time
        return GuardSet(
            policy.guards,
            prices=dict(snapshot.prices),
            price_times={a: snapshot.price_time(a) for a in snapshot.prices},
            reference_prices=reference,
            traded_today=today,
            now=now,
            balance_tolerance=policy.balance_tolerance,
        )

    def stack(self, guards: GuardSet | None, holdings: dict[str, Decimal], strategy: Strategy | None = None) -> Venue:
        """venue <- TWAP slicing <- guards: what a plan goes through (the service journal wraps this)."""
        strat = strategy or self.strategy
        venue: Venue = self.venue
        twap = strat.execution.twap
        if twap is not None:
            from trimtab.adapters.twap import TwapVenue

            venue = TwapVenue(venue, twap, sleep=self.sleep, clock=self.monotonic)
        if guards is not None:  # legs one by one with balance checks, unless TWAP or an atomic batch sends them
            whole = twap is not None or isinstance(self.venue, AtomicVenue)
            venue = GuardedVenue(venue, guards, dict(holdings), split_legs=not whole)
        return venue

    def follow(self, snapshot: MarketSnapshot, strategy: Strategy) -> None:
        """Move a simulated venue to this snapshot's prices and the cycle's costs."""
        if isinstance(self.venue, MarketFollowing):
            self.venue.set_prices(snapshot.prices)
            self.venue.set_costs(strategy.costs)

    def execute(
        self,
        decision: Decision,
        snapshot: MarketSnapshot,
        ledger: LedgerStore,
        *,
        account: str,
        holdings: dict[str, Decimal],
        strategy: Strategy | None = None,
        wrap: Callable[[Venue], Venue] | None = None,
        record: LedgerStore | None = None,
    ) -> engine.CycleResult:
        """Guards, slicing and the venue for a decided plan; every fill recorded in one ledger append.

        `wrap` puts a caller's layer outermost (the service journal, CLI progress); `record` is the ledger the
        engine appends to (the journal's), default `ledger`."""
        strat = strategy or self.strategy
        guards = self.guard_set(snapshot, ledger, account, strat)
        venue = self.stack(guards, holdings, strat)
        if wrap is not None:
            venue = wrap(venue)
        return engine.execute_decision(decision, venue, record or ledger, account=account, time=snapshot.time)

    def run_cycle(
        self,
        snapshot: MarketSnapshot,
        ledger: LedgerStore,
        *,
        account: str,
        schedule: Schedule = Schedule(),
        initial: bool = False,
    ) -> engine.CycleResult:
        """Decide on the ledger's balances at the snapshot's prices; execute and record whole, or hold."""
        strat = self.bound(snapshot)
        self.follow(snapshot, strat)
        holdings = ledger.balances(account)
        decision = self.decide(snapshot, holdings, schedule=schedule, initial=initial, strategy=strat)
        return self.execute(decision, snapshot, ledger, account=account, holdings=holdings, strategy=strat)
