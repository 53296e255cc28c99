"""When to rebalance: small one-method triggers combined with AnyOf / AllOf / Not (bt's Algo idea)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from trimtab.core.base.history import PriceHistory
from trimtab.core.base.schedule import Every
from trimtab.core.measures.drift import AssetDrift, asset_drifts
from trimtab.core.yields.positions import ReserveState


@dataclass(frozen=True)
class DecisionContext:
    """What a trigger may look at: pre-trade weights at `time`, targets, the schedule so far, past prices only."""

    time: datetime
    weights: Mapping[str, float]
    targets: Mapping[str, float]
    anchor: datetime | None = None  # first decision time: calendar schedules count from it
    previous: datetime | None = None  # time of the previous check
    history: PriceHistory | None = None  # rows up to `time` only
    initial: bool = False  # the first decision of a fresh (all-cash) portfolio
    costs_rate: float = 0.0  # all-in proportional cost estimate, for cost-aware rules
    reserves: Mapping[str, ReserveState | None] = field(default_factory=dict)  # yield positions' states (APY, ...)
    value: float = 0.0  # pre-trade portfolio value in quote units (0 when unknown)
    gas_per_order: float = 0.0  # flat cost per order in quote units
    quote: str = ""  # the cash asset: no band of its own (its weight follows the others)


class TriggerKind(StrEnum):
    """Why a rebalance happens, as alerts and the dashboard show it (no guessing from the reason text)."""

    SCHEDULED = "scheduled"  # a calendar date came due
    THRESHOLD = "threshold"  # a drift band was breached
    OPPORTUNISTIC = "opportunistic"  # trading now pays (cost-aware benefit test, yield or price opportunities)
    RISK = "risk"  # volatility or regime rules, risk events
    MANUAL = "manual"  # an admin asked for it
    INITIAL = "initial"  # the first allocation of a fresh portfolio


@dataclass(frozen=True, slots=True)
class TriggerResult:
    """Whether to rebalance and why; `calendar` marks a schedule-driven firing (those go to target)."""

    fired: bool
    reasons: tuple[str, ...] = ()
    calendar: bool = False
    band: float | None = None
    relative_band: float | None = None
    bands: Mapping[str, float] | None = None  # per-asset absolute half-widths, when the trigger sized them
    kind: TriggerKind = TriggerKind.THRESHOLD
    groups: tuple[tuple[str, ...], ...] | None = None  # only these asset groups, each inside its value (core.sleeves)

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


class Trigger(Protocol):
    def check(self, ctx: DecisionContext) -> TriggerResult: ...


def _pp(x: float) -> str:
    return f"{x * 100:.2f}pp"


@dataclass(frozen=True, slots=True)
class ThresholdBand:
    """Fire when some asset's |w - w*| exceeds `band` or its |w - w*| / w* exceeds `relative_band`."""

    band: float | None = None
    relative_band: float | None = None

    def drifts(self, ctx: DecisionContext) -> list[AssetDrift]:
        return asset_drifts(ctx.weights, ctx.targets, self.band, self.relative_band)

    def check(self, ctx: DecisionContext) -> TriggerResult:
        drifts = self.drifts(ctx)
        breached = [d for d in drifts if d.breached]
        if breached:
            reasons = tuple(f"{d.asset} drift {d.abs_drift * 100:+.2f}pp beyond band {_pp(d.band)}" for d in breached)
            return TriggerResult(True, reasons, band=self.band, relative_band=self.relative_band)
        worst = min(drifts, key=lambda d: d.distance, default=None)
        why = (
            f"all within band (closest: {worst.asset} {_pp(abs(worst.abs_drift))} of {_pp(worst.band)})"
            if worst
            else "no assets"
        )
        return TriggerResult(False, (why,), band=self.band, relative_band=self.relative_band)


@dataclass(frozen=True, slots=True)
class Calendar:
    """Fire at anchor + k * every (k >= 1): the first check at or after each due time."""

    every: Every

    def check(self, ctx: DecisionContext) -> TriggerResult:
        if ctx.anchor is None or ctx.previous is None:
            return TriggerResult(False, ("calendar: schedule not started",))
        if self.every.due_between(ctx.anchor, ctx.previous, ctx.time):
            return TriggerResult(
                True, (f"calendar: every {self.every.text} is due",), calendar=True, kind=TriggerKind.SCHEDULED
            )
        return TriggerResult(False, (f"calendar: every {self.every.text}, not due",), kind=TriggerKind.SCHEDULED)


@dataclass(frozen=True, slots=True)
class Never:
    """Never rebalance after the initial allocation (buy and hold)."""

    def check(self, ctx: DecisionContext) -> TriggerResult:
        return TriggerResult(False, ("never: buy and hold",))


@dataclass(frozen=True, slots=True)
class AnyOf:
    """Fire when any member fires; reasons from all firing members are kept for the audit log."""

    triggers: tuple[Trigger, ...]

    def check(self, ctx: DecisionContext) -> TriggerResult:
        results = [t.check(ctx) for t in self.triggers]
        fired = [r for r in results if r.fired]
        chosen = fired or results
        return TriggerResult(
            bool(fired),
            tuple(why for r in chosen for why in r.reasons),
            calendar=any(r.calendar for r in fired),
            band=next((r.band for r in results if r.band is not None), None),
            relative_band=next((r.relative_band for r in results if r.relative_band is not None), None),
            bands=next((r.bands for r in chosen if r.bands is not None), None),
            kind=chosen[0].kind if chosen else TriggerKind.THRESHOLD,
        )


@dataclass(frozen=True, slots=True)
class AllOf:
    """Fire only when every member fires."""

    triggers: tuple[Trigger, ...]

    def check(self, ctx: DecisionContext) -> TriggerResult:
        results = [t.check(ctx) for t in self.triggers]
        fired = all(r.fired for r in results) and bool(results)
        return TriggerResult(
            fired,
            tuple(why for r in results for why in r.reasons),
            calendar=fired and any(r.calendar for r in results),
            band=next((r.band for r in results if r.band is not None), None),
            relative_band=next((r.relative_band for r in results if r.relative_band is not None), None),
            bands=next((r.bands for r in results if r.bands is not None), None),
            kind=_combined_kind(results),
        )


def _combined_kind(results: list[TriggerResult]) -> TriggerKind:
    """All members agree: a calendar among them makes it scheduled, else the first member's kind."""
    if any(r.calendar for r in results):
        return TriggerKind.SCHEDULED
    return results[0].kind if results else TriggerKind.THRESHOLD


@dataclass(frozen=True, slots=True)
class Not:
    """Fire when the member does not."""

    trigger: Trigger

    def check(self, ctx: DecisionContext) -> TriggerResult:
        r = self.trigger.check(ctx)
        return TriggerResult(not r.fired, tuple(f"not({why})" for why in r.reasons), kind=r.kind)
