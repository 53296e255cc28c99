"""A sleeve portfolio seen sleeve by sleeve in the service: the status's shares vs weights, drift inside each sleeve,
each trigger's verdict now and next due; a decision's fired sleeves (docs/sleeves.md)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from trimtab.adapters.storage.service_rows import PortfolioRow
from trimtab.backtest.sleeves import describe
from trimtab.core.base.portfolio import PortfolioState
from trimtab.core.base.snapshot import MarketSnapshot
from trimtab.core.sleeves import UNASSIGNED, SleeveCheck, SleeveSplit
from trimtab.core.strategy import Strategy, cost_rates
from trimtab.core.triggers.rules import DecisionContext, Trigger, TriggerResult
from trimtab.service import reports


def sleeve_check(strategy: Strategy, state: PortfolioState, snap: MarketSnapshot, row: PortfolioRow) -> SleeveCheck:
    """`SleeveSplit.assess` on the context `Strategy.decide` would build now (anchor and previous check stored)."""
    split = strategy.trigger
    if not isinstance(split, SleeveSplit):
        raise TypeError("sleeve_check needs a strategy whose trigger is a SleeveSplit")
    targets = strategy.target_weights(snap, state)
    rate, gas = cost_rates(strategy.costs)
    ctx = DecisionContext(
        time=snap.time,
        weights=state.weights(extra=targets),
        targets=targets,
        anchor=row.anchor_at,
        previous=row.last_check_at,
        history=snap.history,
        costs_rate=rate,
        value=float(state.total),
        gas_per_order=gas,
        quote=strategy.quote,
    )
    return split.assess(ctx)


def _kind(trigger: Trigger) -> str:
    """The trigger's class in snake case: calendar, threshold_band, any_of, volatility_adaptive..."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(trigger).__name__).lower()


def _due(trigger: Trigger, row: PortfolioRow, now: datetime) -> tuple[str | None, datetime | None]:
    every = reports.calendar_every(trigger)
    if every is None:
        return None, None
    return every.text, reports.next_calendar_due(every, row.anchor_at, now) if row.anchor_at else None


def _verdict(r: TriggerResult) -> dict[str, Any]:
    return {"fired_now": r.fired, "reason": r.reason}


def sleeves_doc(strategy: Strategy, state: PortfolioState, snap: MarketSnapshot, row: PortfolioRow) -> dict[str, Any]:
    """Per sleeve: target weight, current share, drift, its trigger and verdict now, next due, internal weights."""
    split = strategy.trigger
    if not isinstance(split, SleeveSplit):
        raise TypeError("sleeves_doc needs a strategy whose trigger is a SleeveSplit")
    check = sleeve_check(strategy, state, snap, row)
    items = []
    for s in split.sleeves:
        share, weight = check.shares[s.name], check.weights[s.name]
        every, due = _due(s.trigger, row, snap.time)
        inside, targets = check.inside[s.name], check.targets[s.name]
        items.append(
            {
                "name": s.name,
                "weight": weight,
                "share": share,
                "drift": share - weight,
                "split_band": check.split.band,
                "trigger": describe(s.trigger),
                "trigger_kind": _kind(s.trigger),
                "calendar_every": every,
                "next_due": due,
                **_verdict(check.results[s.name]),
                "internal_drift": check.drift(s.name),
                "internal": [
                    {
                        "asset": a,
                        "weight_in_sleeve": inside.get(a, 0.0),
                        "target_in_sleeve": t,
                        "drift": inside.get(a, 0.0) - t,
                    }
                    for a, t in targets.items()
                ],
            }
        )
    dues = [i for i in items if i["next_due"] is not None]
    first = min(dues, key=lambda i: i["next_due"], default=None)
    return {
        "split": {"trigger": describe(split.split), "band": check.split.band, **_verdict(check.split)},
        "unassigned": check.shares.get(UNASSIGNED, 0.0),
        "would_fire": check.result.fired,
        "next_due": {"sleeve": first["name"], "at": first["next_due"]} if first else None,
        "items": items,
    }


def rebalance_outlook(doc: dict[str, Any], row: PortfolioRow) -> dict[str, Any]:
    """The status's next-rebalance fields of a sleeve portfolio: the earliest sleeve calendar and the verdicts now."""
    first = doc["next_due"]
    due = first["at"] if first else None
    every = next((i["calendar_every"] for i in doc["items"] if first and i["name"] == first["sleeve"]), None)
    soon = due is not None and row.next_check_at is not None and due <= row.next_check_at
    fire = bool(doc["would_fire"])
    return {
        "calendar_due": due,
        "calendar_every": every,
        "would_fire": fire,
        "expected": (fire or soon) and not row.paused,
    }


def fired_doc(split: SleeveSplit, result: TriggerResult) -> dict[str, Any]:
    """A plan's structured sleeves: those whose own trigger fired, whether the split's band fired, and whether the
    whole portfolio goes to its targets (the split, the initial allocation, a manual trigger) or only `fired`."""
    fired, split_fired = split.fired_in(result)
    return {"fired": list(fired), "split": split_fired, "whole": result.groups is None}
