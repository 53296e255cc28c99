"""Clocks and market data for the service: bundled prices replayed on an accelerated clock, or a venue's tickers."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Protocol

import numpy as np

from trimtab.core.base.history import PriceHistory
from trimtab.core.base.snapshot import MarketSnapshot
from trimtab.errors import DataError


class Clock(Protocol):
    """Service time (simulated when replaying) and how long to wait in real seconds for a service time."""

    def now(self) -> datetime: ...

    def wall_seconds_until(self, t: datetime) -> float: ...


@dataclass(frozen=True, slots=True)
class WallClock:
    """Real UTC time."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def wall_seconds_until(self, t: datetime) -> float:
        return max(0.0, (t - self.now()).total_seconds())


@dataclass(frozen=True, slots=True)
class AcceleratedClock:
    """sim = sim_origin + (wall - wall_origin) * speed: e.g. speed 86400 plays one day per second.

    The origin is stored in the database on first start, so restarts and other workers share one timeline."""

    sim_origin: datetime
    wall_origin: float  # unix seconds
    speed: float

    def now(self) -> datetime:
        return self.sim_origin + timedelta(seconds=(time.time() - self.wall_origin) * self.speed)

    def wall_seconds_until(self, t: datetime) -> float:
        return max(0.0, (t - self.now()).total_seconds() / self.speed)


class MarketData(Protocol):
    clock: Clock

    def snapshot(self, assets: Sequence[str], quote: str) -> MarketSnapshot: ...


class ReplaySource:
    """The last close at or before the clock's time (held at the last row once data ends).

    Like `trimtab backtest`, a series that ends or has a gap is marked at its last known price (so a position in it
    can still be valued and sold), while `snapshot.history` keeps the gap for models."""

    def __init__(self, history: PriceHistory, clock: Clock) -> None:
        from trimtab.backtest.simulator import last_known

        self.history = history
        self.clock = clock
        self._times = history.times.astype("datetime64[us]")
        self._marks = last_known(np.asarray(history.prices))

    def row_at(self, t: datetime) -> int:
        stamp = np.datetime64(t.astimezone(UTC).replace(tzinfo=None), "us")
        i = int(np.searchsorted(self._times, stamp, side="right")) - 1
        return min(max(i, 0), len(self._times) - 1)

    def snapshot(self, assets: Sequence[str], quote: str) -> MarketSnapshot:
        t = self.clock.now()
        i = self.row_at(t)
        snap = MarketSnapshot.from_history(self.history, i, t, quote=quote, row=self._marks[i])
        missing = [a for a in assets if a != quote and a not in snap.prices]
        if missing:
            raise DataError(f"no replay price for {', '.join(missing)} at {t:%Y-%m-%d}", source="replay")
        closed = datetime.fromtimestamp(int(self._times[i].astype("datetime64[s]").astype(np.int64)), tz=UTC)
        return replace(snap, price_times=dict.fromkeys(snap.prices, closed))  # each price is the row's close


class VenueSource:
    """Live prices, one ticker per asset, from a venue's market data (e.g. ccxt fetch_ticker)."""

    def __init__(self, price: Callable[[str, str], Decimal], clock: Clock | None = None) -> None:
        self._price = price
        self.clock: Clock = clock or WallClock()

    def snapshot(self, assets: Sequence[str], quote: str) -> MarketSnapshot:
        prices = {quote: Decimal(1)}
        for a in assets:
            if a != quote:
                p = self._price(a, quote)
                if not p.is_finite() or p <= 0:
                    raise DataError(f"venue price for {a} is {p}", source="venue")
                prices[a] = p
        return MarketSnapshot(time=self.clock.now(), prices=prices)
