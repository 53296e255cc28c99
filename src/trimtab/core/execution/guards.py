"""Circuit breakers checked before any order leaves, and between legs while a rebalance runs.

Each guard is a small object with `check(ctx) -> violations`. `GuardedVenue` wraps any Venue: it refuses
to start (SafetyError naming every reason) when a pre-trade guard fails, then sends the legs one by one
and, if the venue's balances stop matching what the fills so far explain, cancels the remaining legs
(reported as failures with the reason; what did fill is kept and recorded by the engine).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol

from trimtab.core.base.ports import ExecutionReport, LegFailure, Venue
from trimtab.core.base.types import ZERO, Fill, MarketRules, TradePlan
from trimtab.errors import SafetyError, VenueError

STABLECOINS = ("USDT", "USDC", "DAI", "BUSD", "FDUSD", "PYUSD", "TUSD", "USDP")


@dataclass(frozen=True, slots=True)
class Violation:
    guard: str
    reason: str


@dataclass(frozen=True)
class GuardContext:
    """What the guards look at: the plan, the prices and holdings it was made from, and the world now."""

    plan: TradePlan
    now: datetime
    prices: Mapping[str, Decimal]  # planning prices, plan quote units
    holdings: Mapping[str, Decimal]  # balances the plan was made from
    balances: Mapping[str, Decimal] | None = None  # the venue's balances now (None: not fetched)
    markets: frozenset[str] | None = None  # assets the venue has a market for (None: not checked)
    price_times: Mapping[str, datetime] = field(default_factory=dict)
    reference_prices: Mapping[str, Decimal] = field(default_factory=dict)  # a second price source
    traded_today: Decimal = ZERO  # notional already traded today, plan quote units

    @property
    def quote(self) -> str:
        return self.plan.orders[0].quote if self.plan.orders else ""

    @property
    def portfolio_value(self) -> Decimal:
        q = self.quote
        return sum(
            (amt * (Decimal(1) if a == q else self.prices.get(a, ZERO)) for a, amt in self.holdings.items()), ZERO
        )

    @property
    def turnover(self) -> Decimal:
        return sum((o.notional for o in self.plan.orders), ZERO)

    def assets(self) -> list[str]:
        return sorted({o.asset for o in self.plan.orders})


class Guard(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def needs(self) -> frozenset[str]:
        """ "balances", "markets": what the wrapper must fetch before checking."""
        ...

    def check(self, ctx: GuardContext) -> tuple[Violation, ...]: ...


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class StalePrice:
    """Every traded asset's price must be younger than `max_age_s` (unknown age counts as stale)."""

    max_age_s: float
    name: str = "stale_price"
    needs: frozenset[str] = frozenset()

    def check(self, ctx: GuardContext) -> tuple[Violation, ...]:
        out = []
        for a in ctx.assets():
            t = ctx.price_times.get(a)
            if t is None:
                out.append(Violation(self.name, f"{a}: price has no timestamp"))
                continue
            age = (_aware(ctx.now) - _aware(t)).total_seconds()
            if age > self.max_age_s:
                out.append(Violation(self.name, f"{a}: price is {age:.0f}s old (max {self.max_age_s:.0f}s)"))
        return tuple(out)


@dataclass(frozen=True, slots=True)
class PriceDisagreement:
    """The planning price and a second source must agree within `tolerance` (fraction); a missing second
    price is a violation when `require_reference` is set."""

    tolerance: float
    require_reference: bool = True
    name: str = "price_disagreement"
    needs: frozenset[str] = frozenset()

    def check(self, ctx: GuardContext) -> tuple[Violation, ...]:
        out = []
        for a in ctx.assets():
            p, ref = ctx.prices.get(a), ctx.reference_prices.get(a)
            if ref is None or p is None or ref <= 0:
                if self.require_reference:
                    out.append(Violation(self.name, f"{a}: no second price to check against"))
                continue
            gap = abs(float(p / ref) - 1.0)
            if gap > self.tolerance:
                out.append(Violation(self.name, f"{a}: sources disagree by {gap:.2%} (max {self.tolerance:.2%})"))
        return tuple(out)


@dataclass(frozen=True, slots=True)
class StablecoinPeg:
    """Stablecoins held or traded must be within `tolerance` of `peg` (second source preferred, else planning price)."""

    tolerance: float
    stablecoins: tuple[str, ...] = STABLECOINS
    peg: Decimal = Decimal(1)
    name: str = "stablecoin_peg"
    needs: frozenset[str] = frozenset()

    def check(self, ctx: GuardContext) -> tuple[Violation, ...]:
        involved = set(ctx.assets()) | {a for a, q in ctx.holdings.items() if q} | {ctx.quote}
        out = []
        for a in sorted(involved & set(self.stablecoins)):
            p = ctx.reference_prices.get(a, ctx.prices.get(a))
            if p is None or (a == ctx.quote and a not in ctx.reference_prices):
                continue  # the quote is 1 by definition unless a second source prices it
            gap = abs(float(p / self.peg) - 1.0)
            if gap > self.tolerance:
                out.append(Violation(self.name, f"{a} at {p} is {gap:.2%} off its peg (max {self.tolerance:.2%})"))
        return tuple(out)


@dataclass(frozen=True, slots=True)
class MissingMarket:
    """Every traded asset needs a market on the venue."""

    name: str = "missing_market"
    needs: frozenset[str] = frozenset({"markets"})

    def check(self, ctx: GuardContext) -> tuple[Violation, ...]:
        if ctx.markets is None:
            return ()
        return tuple(
            Violation(self.name, f"no market for {a}/{ctx.quote} on the venue")
            for a in ctx.assets()
            if a not in ctx.markets
        )


@dataclass(frozen=True, slots=True)
class BalanceChanged:
    """The venue's balances of every traded asset and the quote must still be what the plan was made from."""

    tolerance: float = 1e-6  # relative
    name: str = "balance_changed"
    needs: frozenset[str] = frozenset({"balances"})

    def check(self, ctx: GuardContext) -> tuple[Violation, ...]:
        if ctx.balances is None:
            return ()
        return tuple(
            Violation(self.name, r)
            for r in balance_drift(ctx.holdings, ctx.balances, [*ctx.assets(), ctx.quote], self.tolerance)
        )


def balance_drift(
    expected: Mapping[str, Decimal], actual: Mapping[str, Decimal], assets: Sequence[str], tolerance: float
) -> list[str]:
    """Reasons for each asset whose actual balance differs from the expected one by more than `tolerance`."""
    out = []
    for a in dict.fromkeys(assets):
        e, b = expected.get(a, ZERO), actual.get(a, ZERO)
        if abs(b - e) > Decimal(repr(tolerance)) * max(abs(e), Decimal("1e-12")):
            out.append(f"{a} balance is {b.normalize():f}, the plan assumed {e.normalize():f}")
    return out


@dataclass(frozen=True, slots=True)
class TurnoverLimit:
    """Traded notional as a fraction of portfolio value: at most `per_rebalance` now and `per_day` today."""

    per_rebalance: float | None = None
    per_day: float | None = None
    name: str = "turnover_limit"
    needs: frozenset[str] = frozenset()

    def check(self, ctx: GuardContext) -> tuple[Violation, ...]:
        value = ctx.portfolio_value
        if value <= 0:
            return ()
        out = []
        now = float(ctx.turnover / value)
        if self.per_rebalance is not None and now > self.per_rebalance:
            out.append(Violation(self.name, f"turnover {now:.2%} of the portfolio exceeds {self.per_rebalance:.2%}"))
        day = float((ctx.turnover + ctx.traded_today) / value)
        if self.per_day is not None and day > self.per_day:
            out.append(Violation(self.name, f"turnover today would reach {day:.2%}, over {self.per_day:.2%}"))
        return tuple(out)


@dataclass(frozen=True, slots=True)
class CostTolerance:
    """Estimated total cost of the plan at most `max_fraction` of the portfolio value."""

    max_fraction: float
    name: str = "cost_tolerance"
    needs: frozenset[str] = frozenset()

    def check(self, ctx: GuardContext) -> tuple[Violation, ...]:
        value = ctx.portfolio_value
        cost = ctx.plan.total_cost.total
        if value > 0 and float(cost / value) > self.max_fraction:
            return (
                Violation(
                    self.name,
                    f"estimated cost {cost:.2f} is {float(cost / value):.3%} of the portfolio "
                    f"(max {self.max_fraction:.3%})",
                ),
            )
        return ()


@dataclass(frozen=True)
class GuardSet:
    """Guards plus the outside inputs they need (price times, a second source, today's turnover)."""

    guards: tuple[Guard, ...]
    prices: Mapping[str, Decimal] = field(default_factory=dict)
    price_times: Mapping[str, datetime] = field(default_factory=dict)
    reference_prices: Mapping[str, Decimal] = field(default_factory=dict)
    traded_today: Decimal = ZERO
    now: datetime | None = None  # default: the wall clock at check time
    balance_tolerance: float = 1e-6  # between legs

    @property
    def needs(self) -> frozenset[str]:
        return frozenset().union(*(g.needs for g in self.guards)) if self.guards else frozenset()

    def check(self, ctx: GuardContext) -> tuple[Violation, ...]:
        return tuple(v for g in self.guards for v in g.check(ctx))

    def with_prices(self, prices: Mapping[str, Decimal]) -> GuardSet:
        return self if self.prices else replace(self, prices=dict(prices))

    def wrap(self, venue: Venue, holdings: Mapping[str, Decimal]) -> GuardedVenue:
        return GuardedVenue(venue, self, dict(holdings))


def _markets(venue: Venue, plan: TradePlan) -> frozenset[str]:
    found = set()
    for o in plan.orders:
        try:
            rules = venue.rules(o.asset, o.quote)
        except VenueError:
            continue
        if isinstance(rules, MarketRules):
            found.add(o.asset)
    return frozenset(found)


def _apply(balances: dict[str, Decimal], fill: Fill) -> None:
    balances[fill.asset] = balances.get(fill.asset, ZERO) + fill.base_delta
    balances[fill.quote] = balances.get(fill.quote, ZERO) + fill.quote_delta
    if fill.fee_asset and fill.fee_asset not in (fill.asset, fill.quote):
        balances[fill.fee_asset] = balances.get(fill.fee_asset, ZERO) - fill.fee


class GuardedVenue:
    """A venue behind circuit breakers: pre-trade checks on the whole plan, then legs one at a time with balance
    checks between them. Stateful across calls, so a caller that sends leg by leg (the service journal) gets the
    same checks; `split_legs=False` hands the whole plan on at once (TWAP keeps its shared timeline)."""

    def __init__(
        self, venue: Venue, guards: GuardSet, holdings: dict[str, Decimal], *, split_legs: bool = True
    ) -> None:
        self.venue = venue
        self.name = venue.name
        self.guards = guards
        self.holdings = holdings
        self.split_legs = split_legs
        self._checked = False
        self._expected: dict[str, Decimal] | None = None
        self._sent = 0

    def balances(self) -> dict[str, Decimal]:
        return self.venue.balances()

    def rules(self, asset: str, quote: str) -> MarketRules:
        return self.venue.rules(asset, quote)

    def __getattr__(self, name: str) -> object:  # client_id, find_fill, ... of the venue underneath
        if name == "venue":
            raise AttributeError(name)
        return getattr(self.venue, name)

    def context(self, plan: TradePlan) -> GuardContext:
        g = self.guards
        prices = dict(g.prices) or {o.asset: o.price for o in plan.orders}
        needs = g.needs
        return GuardContext(
            plan=plan,
            now=g.now or datetime.now(UTC),
            prices=prices,
            holdings=self.holdings,
            balances=self.venue.balances() if "balances" in needs else None,
            markets=_markets(self.venue, plan) if "markets" in needs else None,
            price_times=g.price_times,
            reference_prices=g.reference_prices,
            traded_today=g.traded_today,
        )

    def precheck(self, plan: TradePlan) -> None:
        """Every pre-trade guard on the whole plan; SafetyError naming each reason, before anything is sent."""
        ctx = self.context(plan)
        violations = self.guards.check(ctx)
        if violations:
            err = SafetyError("rebalance not started: " + "; ".join(f"{v.guard}: {v.reason}" for v in violations))
            err.violations = violations  # type: ignore[attr-defined]
            raise err
        self._checked = True
        self._expected = dict(ctx.balances) if ctx.balances is not None else None

    def execute(self, plan: TradePlan) -> ExecutionReport:
        if not self._checked:
            self.precheck(plan)
        if not self.split_legs:
            return self._send(plan, plan)
        fills: list[Fill] = []
        failures: list[LegFailure] = []
        notes: list[str] = []
        for i, order in enumerate(plan.orders):
            if self._sent and self._expected is not None:
                drift = balance_drift(
                    self._expected, self.venue.balances(), [order.asset, order.quote], self.guards.balance_tolerance
                )
                if drift:
                    reason = "cancelled: balance changed during the rebalance (" + "; ".join(drift) + ")"
                    failures.extend(LegFailure(o, reason) for o in plan.orders[i:])
                    notes.append(f"balance_changed: {reason}")
                    break
            leg = replace(plan, orders=(order,), plan_id=f"{plan.plan_id}/{i}" if plan.plan_id else "")
            try:
                report = self._send(leg, plan)
            except VenueError as err:
                partial = err.partial_report
                more = partial.fills if isinstance(partial, ExecutionReport) else ()
                err.partial_report = ExecutionReport((*fills, *more), tuple(failures), self.name, tuple(notes))
                raise
            fills.extend(report.fills)
            failures.extend(report.failures)
            notes.extend(report.notes)
        return ExecutionReport(tuple(fills), tuple(failures), venue=self.name, notes=tuple(notes))

    def _send(self, leg: TradePlan, plan: TradePlan) -> ExecutionReport:
        report = self.venue.execute(leg if len(plan.orders) > 1 else plan)
        self._sent += 1
        if self._expected is not None:
            for f in report.fills:
                _apply(self._expected, f)
        return report
