"""Backtests of sleeve strategies: the step path, with every decision seen sleeve by sleeve (docs/sleeves.md).

A tap around the strategy's SleeveSplit records each check's SleeveCheck on the way through (the trigger is pure,
so recording changes no decision). `extra["sleeves"]` then lists per sleeve when its own trigger fired, when its
assets traded on those days, and its drift inside the sleeve and in the split; and when the split's band fired.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np

from trimtab.backtest.simulator import BacktestResult, last_known, step_backtest, to_datetime
from trimtab.backtest.tax import TaxRates
from trimtab.core.base.history import PriceHistory
from trimtab.core.sleeves import SleeveCheck, SleeveSplit
from trimtab.core.strategy import Strategy
from trimtab.core.triggers.rules import AnyOf, Calendar, DecisionContext, Never, ThresholdBand, Trigger, TriggerResult

_MOVED = 1e-9  # a relative change in an asset's quantity this large is a trade


@dataclass(eq=False)
class SleeveTap:
    """The strategy's SleeveSplit, recording each check (time, SleeveCheck) as it passes."""

    inner: SleeveSplit
    checks: dict[datetime, SleeveCheck] = field(default_factory=dict)

    def check(self, ctx: DecisionContext) -> TriggerResult:
        seen = self.inner.assess(ctx)
        self.checks[ctx.time] = seen
        return seen.result


def sleeve_backtest(
    strategy: Strategy,
    history: PriceHistory,
    initial_value: float,
    *,
    progress: Any = None,
    start: int = 0,
    flows: Sequence[tuple[datetime, Decimal]] = (),
    tax: TaxRates | None = None,
) -> BacktestResult:
    """`step_backtest` of a sleeve strategy, with the per-sleeve report in `extra["sleeves"]`."""
    if not isinstance(strategy.trigger, SleeveSplit):
        raise TypeError("sleeve_backtest needs a strategy whose trigger is a SleeveSplit")
    tap = SleeveTap(strategy.trigger)
    result = step_backtest(
        replace(strategy, trigger=tap), history, initial_value, progress, start=start, flows=flows, tax=tax
    )
    report = sleeve_report(tap.inner, tap.checks, result, history, start, strategy.quote)
    return replace(result, strategy=strategy.name, extra={**result.extra, "sleeves": report})


def describe(trigger: Trigger) -> str:
    """A trigger in a few words for the table: `calendar 1w`, `band 5pp`, `calendar 1M or band 5pp`."""
    if isinstance(trigger, Calendar):
        return f"calendar {trigger.every.text}"
    if isinstance(trigger, ThresholdBand):
        parts = [f"band {trigger.band * 100:g}pp"] if trigger.band is not None else []
        parts += [f"relative band {trigger.relative_band:g}"] if trigger.relative_band is not None else []
        return ", ".join(parts)
    if isinstance(trigger, Never):
        return "never"
    if isinstance(trigger, AnyOf):
        return " or ".join(describe(t) for t in trigger.triggers)
    return type(trigger).__name__


def _day(t: datetime) -> str:
    return t.date().isoformat()


def traded_steps(result: BacktestResult, history: PriceHistory, start: int, assets: Sequence[str]) -> np.ndarray:
    """Per step: whether the quantity held of any of `assets` changed (post-trade weights x equity / price)."""
    cols = [result.assets.index(a) for a in assets if a in result.assets]
    marks = last_known(np.asarray(history.prices))[start:, cols]
    with np.errstate(invalid="ignore", divide="ignore"):
        qty = np.nan_to_num(result.weights[:, cols] * result.equity[:, None] / marks)
    moved = np.zeros(len(result.equity), dtype=bool)
    if cols and len(qty) > 1:
        scale = np.maximum(np.abs(qty[1:]), np.abs(qty[:-1]))
        moved[1:] = (np.abs(np.diff(qty, axis=0)) > _MOVED * np.maximum(scale, 1e-300)).any(axis=1)
    return moved


def sleeve_report(
    split: SleeveSplit,
    checks: dict[datetime, SleeveCheck],
    result: BacktestResult,
    history: PriceHistory,
    start: int,
    quote: str,
) -> dict[str, Any]:
    """Per sleeve: its own firings and trades (dates), drift inside it and in the split; the split's firings.

    A sleeve traded when one of its assets other than the quote changed quantity (the quote moves with every trade)."""
    step_of = {to_datetime(t): k for k, t in enumerate(result.times)}
    seen = sorted((step_of[t], t, c) for t, c in checks.items() if t in step_of)
    split_times = [_day(t) for k, t, c in seen if c.split.fired and result.rebalanced[k]]
    sleeves = []
    for s in split.sleeves:
        moved = traded_steps(result, history, start, [a for a in s.assets if a != quote])
        fired = [(k, t) for k, t, c in seen if c.results[s.name].fired]
        inside = np.array([c.drift(s.name) for _, _, c in seen]) if seen else np.zeros(1)
        share = np.array([c.shares[s.name] - c.weights[s.name] for _, _, c in seen]) if seen else np.zeros(1)
        weight = round(float(seen[0][2].weights[s.name]), 12) if seen else float("nan")
        cols = [result.assets.index(a) for a in s.assets if a in result.assets]
        sleeves.append(
            {
                "name": s.name,
                "weight": weight,
                "assets": list(s.assets),
                "trigger": describe(s.trigger),
                "n_fired": len(fired),
                "n_rebalances": sum(1 for k, _ in fired if moved[k]),
                "fired_times": [_day(t) for _, t in fired],
                "rebalance_times": [_day(t) for k, t in fired if moved[k]],
                "drift_inside_mean": float(np.mean(inside)),
                "drift_inside_max": float(np.max(inside)),
                "share_drift_mean": float(np.mean(np.abs(share))),
                "share_drift_max": float(np.max(np.abs(share))),
                "final_share": float(result.weights[-1, cols].sum()),
            }
        )
    return {
        "split": {"trigger": describe(split.split), "n_rebalances": len(split_times), "rebalance_times": split_times},
        "sleeves": sleeves,
    }
