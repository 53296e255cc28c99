"""Live market data with history: tickers appended to the price store, daily history read back point-in-time.

On start the store is backfilled for every asset a portfolio may hold (`Strategy.universe`, not only its
targets) from the venue's daily OHLCV, a user price file or the bundled data, as many days as the strategy's
warm-up needs; only days the store lacks are fetched. Each snapshot prices the universe from the venue's
tickers (each with its own timestamp), stores them, and hands the strategy the same daily history a backtest
would see at that time. A window shorter than the strategy reads is a DataError naming the asset.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from trimtab.adapters.storage.price_store import DAY, Bar, PriceStore, day_floor, utc
from trimtab.core.base.history import PriceHistory
from trimtab.core.base.snapshot import MarketSnapshot
from trimtab.core.costs.parts import market_bound
from trimtab.core.strategy import Strategy
from trimtab.errors import ConfigError, DataError
from trimtab.service.marketdata import Clock
from trimtab.service.settings import ServiceSettings

log = logging.getLogger(__name__)
WARMUP_DAYS = 400  # models: a year of estimation behind each decision (= cli.backtest.WARMUP_DAYS)
COST_WARMUP_DAYS = 60  # calibrated cost models (= cli.backtest.COST_WARMUP_DAYS)
TIMEFRAME = "1d"
TICKER = "ticker"
MAX_TICKER_AGE = timedelta(hours=1)  # an older ticker is stale (a halted market or a stuck feed): not traded on
_WINDOW_FIELDS = ("lookback", "window")  # also *_lookback, *_window: the trailing rows a model or trigger reads


class VenueMarket(Protocol):
    """What the price store needs from a venue (CcxtVenue.ticker / CcxtVenue.ohlcv)."""

    def ticker(self, asset: str, quote: str) -> tuple[Decimal, datetime]: ...

    def ohlcv(self, asset: str, quote: str, timeframe: str, since: datetime, until: datetime) -> list[Any]: ...


def _windows(obj: Any, depth: int = 0) -> Iterable[int]:
    """Every lookback/window length in a (nested) dataclass or sequence of them."""
    if depth > 5 or obj is None:
        return
    if isinstance(obj, list | tuple):
        for x in obj:
            yield from _windows(x, depth + 1)
        return
    if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
        return
    for f in dataclasses.fields(obj):
        if f.name.startswith("_"):
            continue
        v = getattr(obj, f.name, None)
        named = f.name in _WINDOW_FIELDS or f.name.endswith(tuple(f"_{n}" for n in _WINDOW_FIELDS))
        if named and isinstance(v, int) and not isinstance(v, bool):
            yield v
        else:
            yield from _windows(v, depth + 1)


def window_rows(strategy: Strategy) -> int:
    """Daily rows the strategy's model and trigger read (longest lookback + 1 for its returns); 0 for none."""
    model = getattr(strategy.allocation, "model", strategy.allocation)
    lengths = [*_windows(model), *_windows(strategy.trigger)]
    return max(lengths) + 1 if lengths else 0


def backfill_rows(strategy: Strategy) -> int:
    """Days of history to keep behind each decision: the backtest's warm-up, at least the window read."""
    warm = WARMUP_DAYS if strategy.allocation is not None else COST_WARMUP_DAYS if market_bound(strategy.costs) else 0
    return max(warm, window_rows(strategy), 1)


def _decimal(x: float) -> Decimal:
    return Decimal(repr(float(x)))


def _bars_of(h: PriceHistory, quote: str, source: str) -> dict[str, list[Bar]]:
    """Finite closes of a loaded history per asset, in units of `quote` (divided by its column, if it has one)."""
    unit = h.prices[:, h.index_of(quote)] if quote in h.assets else np.ones(len(h))
    times = [utc(datetime.fromisoformat(str(t.astype("datetime64[us]")))) for t in h.times]
    out: dict[str, list[Bar]] = {}
    for j, a in enumerate(h.assets):
        if a == quote:
            continue
        col = h.prices[:, j] / unit
        vol = h.volumes[:, j] if h.volumes is not None else np.full(len(h), np.nan)
        out[a] = [
            Bar(a, times[i], _decimal(col[i]), _decimal(vol[i]) if np.isfinite(vol[i]) else None, source)
            for i in range(len(h))
            if np.isfinite(col[i]) and col[i] > 0
        ]
    return out


class StoredHistorySource:
    """The service's MarketData on a venue's tickers, with the price store's daily history in every snapshot."""

    def __init__(
        self,
        store: PriceStore,
        venue: VenueMarket,
        clock: Clock,
        strategies: Sequence[Strategy],
        *,
        history: str = "venue",
        history_file: Path | None = None,
    ) -> None:
        if history not in ("venue", "file", "bundled") or (history == "file") != (history_file is not None):
            raise ConfigError("history must be venue, bundled, or file with history_file", field="market_data.history")
        self.store, self.venue, self.clock = store, venue, clock
        self.feed, self.path = history, history_file
        self.universe: dict[str, tuple[str, ...]] = {}
        self.need, self.rows = 0, 1
        for s in strategies:
            if s.universe_from_data:
                raise ConfigError(
                    f"{s.name}: a model picking its assets from the data needs a `universe:` on live prices",
                    field="universe",
                )
            self.universe[s.quote] = tuple(dict.fromkeys([*self.universe.get(s.quote, ()), *s.universe]))
            self.need, self.rows = max(self.need, window_rows(s)), max(self.rows, backfill_rows(s))
        self.backfilled: dict[str, int] = {}  # rows added per asset by the last backfill
        self._loaded: dict[str, dict[str, list[Bar]]] = {}
        self._daily_until: dict[tuple[str, str], datetime] = {}

    # -- backfill -------------------------------------------------------------------------------

    def backfill(self, now: datetime | None = None) -> dict[str, int]:
        """Fill the store for every universe asset up to `now` (default: the clock); returns rows added."""
        now = utc(now or self.clock.now())
        added: dict[str, int] = {}
        for quote, names in self.universe.items():
            for a in names:
                if a != quote:
                    added[a] = self._backfill(a, quote, now)
        self.backfilled = added
        return added

    def _backfill(self, asset: str, quote: str, now: datetime) -> int:
        since = day_floor(now) - DAY * (self.rows - 1)
        span = self.store.span(asset, quote, exclude=TICKER)
        if span is not None and span[0] <= since:
            if span[1] >= day_floor(now):
                self._daily_until[(asset, quote)] = span[1]
                return 0
            since = span[1] + DAY  # only the days the store lacks
        n = self.store.append(quote, self._fetch(asset, quote, since, now))
        after = self.store.span(asset, quote, exclude=TICKER)
        self._daily_until[(asset, quote)] = after[1] if after else since
        if n:
            log.info("price store: %d daily %s/%s bars from %s", n, asset, quote, self.feed)
        return n

    def _fetch(self, asset: str, quote: str, since: datetime, now: datetime) -> list[Bar]:
        """Daily bars with since <= time <= now from the configured feed (time: when the close was known)."""
        if self.feed == "venue":
            got = self.venue.ohlcv(asset, quote, TIMEFRAME, since - DAY, now)
            return [
                Bar(asset, b.close_time, b.close, None if b.volume is None else b.volume * b.close, "venue")
                for b in got
                if since <= b.close_time <= now
            ]
        return [b for b in self._loaded_bars(quote).get(asset, []) if since <= b.time <= now]

    def _loaded_bars(self, quote: str) -> dict[str, list[Bar]]:
        """The file's or bundled data's closes of the universe, read once per quote."""
        if quote not in self._loaded:
            names = [a for a in self.universe[quote] if a != quote]
            if self.feed == "file":
                from trimtab.adapters.pricefile import load_prices_with_report

                if self.path is None:
                    raise RuntimeError("internal invariant broken: expected self.path is not None")
                h, _ = load_prices_with_report(self.path, assets=names, quote=quote, require_complete=False)
                source = "file"
            else:
                from trimtab.adapters.bundled import bundled_daily, coverage

                known = coverage()
                missing = [a for a in names if a not in known]
                if missing:
                    raise ConfigError(f"no bundled prices for {', '.join(missing)}", field="market_data.history")
                h = bundled_daily([*names, *([quote] if quote in known else [])], require_complete=False)
                source = "bundled"
            self._loaded[quote] = _bars_of(h, quote, source)
        return self._loaded[quote]

    # -- snapshots ------------------------------------------------------------------------------

    def snapshot(self, assets: Sequence[str], quote: str) -> MarketSnapshot:
        """Tickers for `assets` and the quote's universe, stored; the snapshot's time is the newest ticker's."""
        names = sorted({*assets, *self.universe.get(quote, ())} - {quote})
        now = utc(self.clock.now())
        if self.feed == "venue":
            for a in names:
                last = self._daily_until.get((a, quote))
                if last is not None and last < day_floor(now):  # a new day closed since the last backfill
                    self._backfill(a, quote, now)
        prices, times, bars = {quote: Decimal(1)}, {}, []
        for a in names:
            price, at = self.venue.ticker(a, quote)
            if not price.is_finite() or price <= 0:
                raise DataError(f"venue price for {a} is {price}", source="venue", field=a)
            age = now - utc(at)
            if age > MAX_TICKER_AGE:
                raise DataError(
                    f"stale ticker: stamped {utc(at):%Y-%m-%d %H:%M} UTC, "
                    f"{timedelta(seconds=int(age.total_seconds()))} before now",
                    source="venue",
                    field=a,
                )
            prices[a], times[a] = price, utc(at)
            bars.append(Bar(a, utc(at), price, None, TICKER))
        self.store.append(quote, bars)
        t = max(times.values()) if times else now
        history = self.store.history([*names, quote], quote, until=t, rows=self.rows)
        self._check(history, quote, t)
        return MarketSnapshot(time=t, prices=prices, history=history, price_times=times)

    def _check(self, h: PriceHistory, quote: str, t: datetime) -> None:
        """Every universe asset has a close on each of the last `need` days, else a DataError naming it."""
        if not self.need:
            return
        tail = h.prices[-self.need :]
        for a in self.universe.get(quote, ()):
            if a == quote:
                continue
            have = int(np.isfinite(tail[:, h.index_of(a)]).sum())
            if have < self.need:
                raise DataError(
                    f"the strategy reads {self.need} daily closes up to {t:%Y-%m-%d}, the price "
                    f"store has {have} ({self.need - have} missing; history from {self.feed})",
                    source="price store",
                    field=a,
                )


def make_history_source(
    settings: ServiceSettings, strategies: Sequence[Strategy], venue: Any, clock: Clock, engine: Any
) -> StoredHistorySource:
    """The price store on the service database, backfilled now for `strategies` (their universes) on `venue`."""
    md = settings.market_data
    market = getattr(venue, "market", venue)
    if market is None or not callable(getattr(market, "ticker", None)):
        raise ConfigError("market_data.source 'venue' needs a ccxt venue", field="market_data.source")
    path = settings.path(md.history_file) if md.history == "file" and md.history_file else None
    source = StoredHistorySource(PriceStore(engine), market, clock, strategies, history=md.history, history_file=path)
    source.backfill()
    return source
