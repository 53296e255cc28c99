"""One check of a yield strategy, the same in a backtest and in the service: value the positions at their index,
ask the trigger (a risk event on a held coin forces the check), and let the migration rule propose the moves.

An emergency exit blocks every reserve, so the rule's risk exits move everything back to idle cash.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from trimtab.core.base.types import ZERO, asset_symbol
from trimtab.core.triggers.opportunity import depegged, risk_events_in, score_changes_in, scores_at
from trimtab.core.triggers.rules import DecisionContext, Trigger, TriggerKind
from trimtab.core.yields.migration import Assessment, Market, MigrationRule, assess
from trimtab.core.yields.positions import CASH_STATE, RatesTable, ReserveState, YieldPosition, cash_position, d
from trimtab.core.yields.trades import position_value


@dataclass(frozen=True)
class YieldSetup:
    """What a yield strategy runs on: candidates (cash first), the rule, the check trigger, the start value."""

    name: str
    quote: str
    positions: tuple[YieldPosition, ...]
    rule: MigrationRule
    trigger: Trigger | None = None  # None: check every row
    initial_value: float = 1_000_000.0
    apy_window: int = 1  # decide on the mean APR of the last N rows (1: the day's rate)

    @property
    def by_name(self) -> dict[str, YieldPosition]:
        return {p.name: p for p in self.positions}

    def canonical(self) -> YieldSetup:
        """Positions named by canonical (upper-case) symbols, as ledgers key assets: aUSDC is AUSDC there."""
        named = tuple(dataclasses.replace(p, name=asset_symbol(p.name)) for p in self.positions)
        return dataclasses.replace(self, positions=named)


def setup_from(
    name: str,
    quote: str,
    candidates: Sequence[YieldPosition],
    rule: MigrationRule,
    trigger: Trigger | None,
    initial_value: float,
    apy_window: int = 1,
) -> YieldSetup:
    """Cash in the quote first, then the candidates."""
    return YieldSetup(name, quote, (cash_position(quote), *candidates), rule, trigger, initial_value, apy_window)


def with_cash(
    positions: Sequence[YieldPosition], reserves: Mapping[str, ReserveState | None]
) -> dict[str, ReserveState | None]:
    """Each position's state; idle cash is priced like the reserve of the same coin (its oracle), else at par."""
    out: dict[str, ReserveState | None] = {p.name: reserves.get(p.name) for p in positions if not p.is_cash}
    for p in positions:
        if p.is_cash:
            same = next(
                (
                    s
                    for q in positions
                    if not q.is_cash and q.underlying == p.underlying and (s := out.get(q.name)) is not None
                ),
                None,
            )
            out[p.name] = CASH_STATE if same is None else ReserveState(0.0, 1.0, CASH_STATE.supplied, 0.0, same.price)
    return out


def states_at(setup: YieldSetup, rates: RatesTable, t: int) -> dict[str, ReserveState | None]:
    """Every position's state at row `t` of a rates table (None: the reserve is not listed there)."""
    return with_cash(setup.positions, {p.name: rates.state(t, p.reserve) for p in setup.positions if not p.is_cash})


def values_of(
    setup: YieldSetup, units: Mapping[str, Decimal], states: Mapping[str, ReserveState | None]
) -> dict[str, float]:
    """USD value of each position: units * index * price."""
    return {p.name: float(position_value(units.get(p.name, ZERO), states.get(p.name))) for p in setup.positions}


@dataclass(frozen=True)
class YieldDecision:
    """A check's outcome: whether the rule ran, why (the kind alerts and the dashboard show), and its moves."""

    checked: bool
    kind: TriggerKind
    assessment: Assessment
    values: dict[str, float]
    trigger_reason: str = ""

    @property
    def reason(self) -> str:
        if not self.checked:
            return self.trigger_reason or "not checked"
        return self.assessment.reason

    @property
    def move_kind(self) -> TriggerKind:
        """Risk when any move exits an exposure, else opportunistic when any moved, else the check's kind."""
        kinds = {m.kind for m in self.assessment.moves}
        if TriggerKind.RISK.value in kinds:
            return TriggerKind.RISK
        if kinds and self.kind not in (TriggerKind.INITIAL, TriggerKind.MANUAL):
            return TriggerKind.OPPORTUNISTIC
        return self.kind


@dataclass(frozen=True)
class CheckTime:
    """When the check runs and the trigger's schedule (anchor: first check, previous: last check)."""

    now: datetime
    anchor: datetime | None = None
    previous: datetime | None = None


def decide_yield(
    setup: YieldSetup,
    units: Mapping[str, Decimal],
    states: Mapping[str, ReserveState | None],
    usd_per_gas: float,
    when: CheckTime,
    *,
    decide_states: Mapping[str, ReserveState | None] | None = None,
    first: bool = False,
    manual: bool = False,
    exit_reason: str | None = None,
) -> YieldDecision:
    """The trigger (first, manual and exit checks always run), risk events on held coins, then the rule.

    `states` value the holdings; `decide_states` (default the same) are what the rule compares (trailing APRs)."""
    seen = decide_states if decide_states is not None else states
    values = values_of(setup, units, states)
    total = sum(values.values())
    market = Market(seen, usd_per_gas)
    events = risk_events_in(setup.trigger)
    coins = (
        depegged(events, {p.underlying: s.price for p in setup.positions if (s := states.get(p.name))})
        if events
        else {}
    )
    blocked = {p.name: coins[p.underlying] for p in setup.positions if p.underlying in coins}
    kind, why = TriggerKind.SCHEDULED, ""
    if exit_reason is not None:
        blocked = {p.name: exit_reason for p in setup.positions if not p.is_cash}
        kind, checked = TriggerKind.RISK, True
    elif first:
        kind, checked = TriggerKind.INITIAL, True
    elif manual:
        kind, checked = TriggerKind.MANUAL, True
    elif setup.trigger is None:
        checked = True
    else:
        ctx = DecisionContext(
            time=when.now,
            weights={n: v / total for n, v in values.items()} if total else {},
            targets={},
            anchor=when.anchor,
            previous=when.previous,
            value=total,
            quote=setup.quote,
            reserves=seen,
        )
        result = setup.trigger.check(ctx)
        checked, why, kind = result.fired, result.reason, result.kind
    if not checked and any(values.get(n, 0.0) > setup.rule.min_move_usd for n in blocked):
        checked, kind, why = True, TriggerKind.RISK, "; ".join(sorted(set(blocked.values())))
    if not checked:
        return YieldDecision(False, kind, Assessment((), why or "no check due"), values, why)
    changes = score_changes_in(setup.trigger)
    scores = scores_at(changes, when.now) if changes else {}
    positions = tuple(
        dataclasses.replace(p, risk_score=scores[p.protocol]) if p.protocol in scores else p for p in setup.positions
    )
    return YieldDecision(True, kind, assess(setup.rule, positions, values, market, blocked=blocked), values, why)


def interest_since(
    units: Mapping[str, Decimal], states: Mapping[str, ReserveState | None], last_index: Mapping[str, Decimal]
) -> tuple[Decimal, dict[str, Decimal]]:
    """USD interest the held units earned since the indices of the last check, and each listed index now:
    units * (index_now - index_then) * price (a position first seen now earns nothing yet)."""
    interest = ZERO
    now: dict[str, Decimal] = {}
    for name, s in states.items():
        if s is None:
            continue
        idx = d(s.index)
        u = units.get(name, ZERO)
        if u and name in last_index:
            interest += u * (idx - last_index[name]) * d(s.price)
        now[name] = idx
    return interest, now
