"""ModelTargets: an allocation model as a Strategy's source of targets, on point-in-time data.

At each decision it builds an AllocationInput from `snapshot.history` (rows up to now only), the universe
assets priced now, the portfolio's current weights and its own pre-trade equity path, and re-estimates once
per `every` period (calendar grid from 1970-01-05, a Monday) so a weekly model costs one solve a week.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from trimtab.core.allocation.models import AllocationInput, AllocationModel
from trimtab.core.base.portfolio import PortfolioState
from trimtab.core.base.schedule import Every
from trimtab.core.base.snapshot import MarketSnapshot
from trimtab.core.base.types import asset_symbol
from trimtab.errors import DataError

_GRID_ANCHOR = datetime(1970, 1, 5, tzinfo=UTC)


def period_key(t: datetime, every: Every | None) -> Any:
    """Which re-estimation period `t` falls in: calendar months, or fixed spans from a Monday epoch."""
    if every is None:
        return t
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    if every.months:
        return (t.year * 12 + t.month - 1) // every.months
    return math.floor((t - _GRID_ANCHOR).total_seconds() / every.seconds)


@dataclass(eq=False)
class ModelTargets:
    """Targets from `model` over `universe` (empty: every asset in the history, e.g. a market-cap index).

    Keeps a one-entry cache (period -> weights) and the equity path of the current run; a history whose
    first time or buffer differs, or a clock that goes back, starts a new run. `log` records every
    re-estimation that took a documented fallback: (time, notes).
    """

    model: AllocationModel
    universe: tuple[str, ...] = ()
    every: Every | None = None
    log: list[tuple[datetime, tuple[str, ...]]] = field(default_factory=list)
    _run: tuple[Any, ...] | None = field(default=None, repr=False)
    _cache: tuple[Any, dict[str, float]] | None = field(default=None, repr=False)
    _equity: list[float] = field(default_factory=list, repr=False)
    _last_time: datetime | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.universe = tuple(dict.fromkeys(asset_symbol(a) for a in self.universe))

    def reset(self) -> None:
        self._run, self._cache, self._equity, self._last_time = None, None, [], None
        self.log.clear()

    def _track(self, snapshot: MarketSnapshot, state: PortfolioState) -> None:
        h = snapshot.history
        if h is None:
            raise RuntimeError("internal invariant broken: expected h is not None")
        base = h.prices.base if h.prices.base is not None else h.prices
        run = (id(base), h.times[0] if len(h) else None, h.assets)
        if run != self._run or (self._last_time is not None and snapshot.time < self._last_time):
            self.reset()
            self._run = run
        if self._last_time is None or snapshot.time > self._last_time:
            self._equity.append(float(state.total))
            self._last_time = snapshot.time

    def candidates(self, snapshot: MarketSnapshot, quote: str) -> tuple[str, ...]:
        """Universe assets with a price at the decision time (a series that ended is a data gap: not tradable)."""
        h = snapshot.history
        if h is None:
            raise RuntimeError("internal invariant broken: expected h is not None")
        names = self.universe or tuple(a for a in h.assets if a != quote)
        last = h.prices[-1] if len(h) else np.empty(0)
        return tuple(a for a in names if a in h.assets and np.isfinite(last[h.index_of(a)]) and last[h.index_of(a)] > 0)

    def targets(
        self, snapshot: MarketSnapshot, state: PortfolioState, strategy: Any, equity: Sequence[float] | None = None
    ) -> dict[str, float]:
        """The model's weights for this period (re-estimated when the period changes or a target lost its price).

        `equity`: the stored pre-trade equity path up to now (a live portfolio); None: the path of this run."""
        h = snapshot.history
        if h is None or len(h) == 0:
            raise DataError("an allocation model needs the price history up to the decision time", field="history")
        quote = str(strategy.quote)
        if equity is None:  # a backtest run: track its own equity path (and start over on a new history)
            self._track(snapshot, state)
        key = str(period_key(snapshot.time, self.every))
        if self._cache is not None and self._cache[0] == key:
            last = h.prices[-1]
            if all(
                a == quote or (a in h.assets and last[h.index_of(a)] > 0) for a, w in self._cache[1].items() if w > 0
            ):
                return dict(self._cache[1])
        current = {a: w for a, w in state.weights().items() if w > 0}
        priced = self.candidates(snapshot, quote)
        path = np.array(self._equity if equity is None else list(equity), dtype=np.float64)
        inp = AllocationInput(history=h, universe=priced, quote=quote, equity=path, current=current)
        res = self.model.weights(inp)
        gone = tuple(
            f"{a}: no price at the decision time (not listed yet, or its series ended: a data gap): left out"
            for a in self.universe
            if a not in priced
        )
        if res.notes or gone:
            self.log.append((snapshot.time, (*gone, *res.notes)))
        weights = dict(res.weights)
        self._cache = (key, weights)
        return dict(weights)

    def period_weights(self) -> tuple[str, dict[str, float]] | None:
        """The weights of the current re-estimation period, with the period's key: what a restart must restore."""
        return (self._cache[0], dict(self._cache[1])) if self._cache is not None else None

    def restore(self, period: str, weights: Mapping[str, float]) -> None:
        """Take up a stored period's weights (a restarted process mid-period decides as if it had not stopped)."""
        if self._cache is None:
            self._cache = (period, dict(weights))

    def notes(self) -> Mapping[str, tuple[str, ...]]:
        """Fallback notes per re-estimation time (ISO), for the backtest result."""
        return {t.isoformat(): n for t, n in self.log}
