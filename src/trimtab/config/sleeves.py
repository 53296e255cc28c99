"""The `sleeves:` block: a strategy made of components, each with its own weight, targets and trigger.

The top-level `trigger:` is the split's band on sleeve shares; each asset's target is its sleeve's weight times its
target in the sleeve, so `targets:` is refused beside `sleeves:`. Sleeves' assets are disjoint and at most one sleeve
holds the quote (the cash). docs/sleeves.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any

from pydantic import Field, field_validator

from trimtab.config.base import Model, target_keys
from trimtab.config.opportunity import YieldChangeSpec
from trimtab.config.triggers import AllOfSpec, AnyOfSpec, AnySpec, BandSpec, NotSpec, TriggerSpec, sources, walk
from trimtab.core.sleeves import Sleeve, SleeveSplit, sleeve_targets

Fraction = Annotated[float, Field(ge=0, le=1)]
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
SPLIT_KINDS = (BandSpec, AnyOfSpec, AllOfSpec, NotSpec)


class SleeveSpec(Model):
    """One sleeve: its share of the whole (`weight`), its targets inside it (sum 1) and its own trigger."""

    weight: Annotated[float, Field(gt=0, le=1)]
    targets: dict[str, Fraction]
    trigger: TriggerSpec
    description: str = ""

    @field_validator("targets", mode="before")
    @classmethod
    def _targets_keys(cls, v: Any) -> Any:
        return target_keys(v)

    @field_validator("targets")
    @classmethod
    def _sum_to_one(cls, v: dict[str, float]) -> dict[str, float]:
        total = sum((Decimal(repr(w)) for w in v.values()), Decimal(0))
        if abs(total - 1) > Decimal("1e-9"):
            raise ValueError(f"weights inside the sleeve must sum to 1, got {total.normalize()}")
        return v


Sleeves = Annotated[dict[str, SleeveSpec], Field(min_length=1)]


def check_sleeves(spec: Any) -> None:
    """The cross-field rules of a sleeve strategy (a StrategySpec); ValueError `field: message` naming the key."""
    sleeves: Mapping[str, SleeveSpec] = spec.sleeves
    _refuse_beside(spec)
    for name in sleeves:
        if not NAME.match(name):
            raise ValueError(f"sleeves.{name}: a sleeve name is up to 40 letters, digits, _ or -")
    total = sum((Decimal(repr(s.weight)) for s in sleeves.values()), Decimal(0))
    if abs(total - 1) > Decimal("1e-9"):
        raise ValueError(f"sleeves: weights must sum to 1, got {total.normalize()}")
    owner: dict[str, str] = {}
    for name, s in sleeves.items():
        for a in s.targets:
            if a in owner:
                why = "one sleeve holds the quote, the cash" if a == spec.quote else "a sleeve's assets are its own"
                raise ValueError(f"sleeves.{name}.targets: {a} is already in sleeve {owner[a]} ({why})")
            owner[a] = name
    if any(not isinstance(node, SPLIT_KINDS) for node in walk(spec.trigger)):
        raise ValueError(
            "trigger.kind: the split between sleeves takes threshold, calendar, hybrid or never (or any_of, all_of, "
            "not of them); a sleeve's own trigger takes any kind"
        )
    for name, s in sleeves.items():
        _check_sleeve_trigger(name, s.trigger, owner)


def _refuse_beside(spec: Any) -> None:
    """Top-level keys a sleeve strategy cannot take, each with what to write instead."""
    if spec.targets is not None:
        raise ValueError("targets: leave targets out beside sleeves (each asset's target is weight x sleeve target)")
    if spec.allocation is not None or spec.universe is not None:
        key = "allocation" if spec.allocation is not None else "universe"
        raise ValueError(f"{key}: not with sleeves: give each sleeve its targets (models inside sleeves: not yet)")
    if spec.rebalance_to != "target":
        raise ValueError("rebalance_to: sleeves rebalance to target (band_edge is not supported with sleeves)")
    c = spec.constraints
    if c.cash_buffer > 0:
        raise ValueError("constraints.cash_buffer: not with sleeves: give the cash a target in one sleeve")
    if c.min_weight or c.max_weight:
        key = "min_weight" if c.min_weight else "max_weight"
        raise ValueError(f"constraints.{key}: not with sleeves (each sleeve's targets are its weights)")
    if getattr(spec, "yield_", None) is not None:
        raise ValueError("yield: not with sleeves (a yield strategy moves cash between reserves, not sleeves)")
    if getattr(spec, "approval", None) is not None:
        raise ValueError(
            "approval: not with sleeves yet (an approved plan is re-planned from its stored trigger, which does "
            "not keep which sleeves fired)"
        )


def _check_sleeve_trigger(name: str, trigger: AnySpec, owner: Mapping[str, str]) -> None:
    if any(isinstance(node, YieldChangeSpec) for node in walk(trigger)):
        raise ValueError(f"sleeves.{name}.trigger.kind: yield_change needs a yield: block, which sleeves do not take")
    for src in sources(trigger):
        if src not in owner:
            raise ValueError(f"sleeves.{name}.trigger.source: {src} is not in any sleeve's targets")


def derived_targets(sleeves: Mapping[str, SleeveSpec]) -> dict[str, float]:
    """Each asset's target in the strategy: its sleeve's weight times its target inside the sleeve."""
    return sleeve_targets({n: s.weight for n, s in sleeves.items()}, {n: s.targets for n, s in sleeves.items()})


def sleeve_split(sleeves: Mapping[str, SleeveSpec], split: AnySpec) -> SleeveSplit:
    """The strategy's trigger: the split's band on sleeve shares and each sleeve's own trigger inside it."""
    built = tuple(Sleeve(n, tuple(s.targets), s.trigger.build("target")) for n, s in sleeves.items())
    return SleeveSplit(built, split.build("target"))


def sleeves_summary(sleeves: Mapping[str, SleeveSpec]) -> str:
    """One line for `trimtab validate`: each sleeve's weight, targets inside it and trigger kind."""
    return "; ".join(
        f"sleeve {n} {s.weight:.2%} ({', '.join(f'{a} {w:.2%}' for a, w in s.targets.items())}; {s.trigger.kind})"
        for n, s in sleeves.items()
    )
