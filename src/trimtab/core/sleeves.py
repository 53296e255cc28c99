"""Sleeves: a strategy made of components, each with its own assets, targets and trigger, and a band on the split.

A sleeve is valued from the pooled holdings by its assets (disjoint across sleeves; the quote belongs to the one
sleeve whose targets list it), so nothing is stored and restarts change nothing. The split's trigger sees each
sleeve's share of the whole against its weight; each sleeve's trigger sees its assets' weights inside the sleeve
against its own targets. Targets come from the strategy (weight x sleeve target per asset, `DecisionContext.targets`).
When only sleeves fire, each is rebalanced inside its own value (`TriggerResult.groups`, core.execution.within); when
the split fires, the whole portfolio goes to its targets. docs/sleeves.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from trimtab.core.triggers.rules import DecisionContext, Trigger, TriggerResult

UNASSIGNED = "(unassigned)"  # value held outside every sleeve (an asset no sleeve lists, the quote nobody holds)


@dataclass(frozen=True)
class Sleeve:
    """One component: its assets (with the quote when it holds the cash) and the trigger checked inside it."""

    name: str
    assets: tuple[str, ...]
    trigger: Trigger


@dataclass(frozen=True)
class SleeveCheck:
    """One decision seen sleeve by sleeve: shares of the whole, weights inside each sleeve, each trigger's result."""

    shares: Mapping[str, float]  # sleeve -> share of the portfolio's value (UNASSIGNED when something is held outside)
    weights: Mapping[str, float]  # sleeve -> its target share (the sum of its assets' targets)
    inside: Mapping[str, Mapping[str, float]]  # sleeve -> its assets' weights inside it
    targets: Mapping[str, Mapping[str, float]]  # sleeve -> its targets inside it (sum 1)
    split: TriggerResult
    results: Mapping[str, TriggerResult]  # sleeve -> its own trigger's result
    result: TriggerResult  # what the strategy acts on

    @property
    def fired(self) -> tuple[str, ...]:
        """The sleeves whose own trigger fired (the split's firing is `split.fired`)."""
        return tuple(name for name, r in self.results.items() if r.fired)

    def drift(self, name: str) -> float:
        """The sleeve's largest |weight - target| inside it, as a fraction of the sleeve."""
        inside, targets = self.inside[name], self.targets[name]
        return max((abs(inside.get(a, 0.0) - t) for a, t in targets.items()), default=0.0)


def _prefixed(prefix: str, r: TriggerResult) -> tuple[str, ...]:
    return tuple(f"{prefix}: {why}" for why in r.reasons)


@dataclass(frozen=True)
class SleeveSplit:
    """The trigger of a sleeve strategy: the split's band on sleeve shares, then each sleeve's own trigger inside it."""

    sleeves: tuple[Sleeve, ...]
    split: Trigger

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.sleeves)

    def sleeve_of(self, asset: str) -> str | None:
        return next((s.name for s in self.sleeves if asset in s.assets), None)

    def fired_in(self, result: TriggerResult) -> tuple[tuple[str, ...], bool]:
        """The sleeves whose own trigger fired in `result` (their reasons' `sleeve NAME:` prefix), and the split."""
        if not result.fired:
            return (), False
        named = tuple(n for n in self.names if any(r.startswith(f"sleeve {n}: ") for r in result.reasons))
        return named, any(r.startswith("split: ") for r in result.reasons)

    def check(self, ctx: DecisionContext) -> TriggerResult:
        return self.assess(ctx).result

    def assess(self, ctx: DecisionContext) -> SleeveCheck:
        """Every sleeve's trigger is checked (so each keeps its own schedule); the split's firing rebalances all."""
        owned = {a for s in self.sleeves for a in s.assets}
        shares = {s.name: sum(ctx.weights.get(a, 0.0) for a in s.assets) for s in self.sleeves}
        weights = {s.name: sum(ctx.targets.get(a, 0.0) for a in s.assets) for s in self.sleeves}
        outside = sum(w for a, w in ctx.weights.items() if a not in owned)
        split_w = {**shares, UNASSIGNED: outside} if outside > 1e-12 else shares
        split = self.split.check(replace(ctx, weights=split_w, targets=weights, quote=""))
        inside: dict[str, dict[str, float]] = {}
        targets: dict[str, dict[str, float]] = {}
        results: dict[str, TriggerResult] = {}
        for s in self.sleeves:
            share, weight = shares[s.name], weights[s.name]
            inside[s.name] = {a: ctx.weights.get(a, 0.0) / share if share > 0 else 0.0 for a in s.assets}
            targets[s.name] = {a: ctx.targets.get(a, 0.0) / weight if weight > 0 else 0.0 for a in s.assets}
            sub = replace(
                ctx,
                weights=inside[s.name],
                targets=targets[s.name],
                value=ctx.value * share,
                quote=ctx.quote if ctx.quote in s.assets else "",
            )
            results[s.name] = s.trigger.check(sub)
        return SleeveCheck(split_w, weights, inside, targets, split, results, self._combine(split, results))

    def _combine(self, split: TriggerResult, results: Mapping[str, TriggerResult]) -> TriggerResult:
        fired = [s for s in self.sleeves if results[s.name].fired]
        sleeve_reasons = tuple(why for s in fired for why in _prefixed(f"sleeve {s.name}", results[s.name]))
        if split.fired:  # the whole portfolio to weight x sleeve target
            return replace(split, reasons=(*_prefixed("split", split), *sleeve_reasons), groups=None)
        if fired:
            first = results[fired[0].name]
            return TriggerResult(
                True,
                sleeve_reasons,
                calendar=any(results[s.name].calendar for s in fired),
                band=split.band,
                relative_band=split.relative_band,
                kind=first.kind,
                groups=tuple(s.assets for s in fired),
            )
        held = tuple(why for s in self.sleeves for why in _prefixed(f"sleeve {s.name}", results[s.name]))
        return replace(split, reasons=(*_prefixed("split", split), *held), groups=None)


def sleeve_targets(weights: Mapping[str, float], targets: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """The strategy's targets: each sleeve's weight times its target for each of its assets."""
    return {a: weights[name] * t for name, inside in targets.items() for a, t in inside.items()}
