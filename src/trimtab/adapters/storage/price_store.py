"""The service's price store: exact bars per (asset, quote, time), read back as a point-in-time daily history.

Bars are appended idempotently (same key twice = one row) from venue OHLCV, price files, the bundled data
and each cycle's tickers. `history` puts them on a daily 00:00 UTC grid as the backtests see them: the row of
day D is the last bar at or before D and not older than one day, so nothing after `until` is ever read.
`EquityMarks` keeps each portfolio's equity path for the drawdown protection, across restarts.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
from sqlalchemy import Connection, Engine, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from trimtab.adapters.storage.batch import read_on, write_on
from trimtab.adapters.storage.price_schema import equity_marks, model_state, price_bars
from trimtab.core.base.history import PriceHistory
from trimtab.errors import LedgerError

DAY = timedelta(days=1)
MAX_AGE = DAY  # a grid row uses a bar at most this old; older is a gap (NaN)


@dataclass(frozen=True, slots=True)
class Bar:
    """One close of `asset` known at `time` (UTC); `volume` in the quote currency when known."""

    asset: str
    time: datetime
    close: Decimal
    volume: Decimal | None = None
    source: str = "venue"


def utc(t: datetime) -> datetime:
    """`t` as an aware UTC datetime (naive input is taken as UTC)."""
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def day_floor(t: datetime) -> datetime:
    """00:00 UTC of `t`'s day."""
    return utc(t).replace(hour=0, minute=0, second=0, microsecond=0)


def daily_grid(until: datetime, rows: int | None = None, since: datetime | None = None) -> list[datetime]:
    """00:00 UTC days ending at `until`'s day: the last `rows` of them, or every day from `since` on."""
    end = day_floor(until)
    if rows is not None:
        if rows < 1:
            raise ValueError(f"rows must be >= 1, got {rows}")
        return [end - DAY * k for k in range(rows - 1, -1, -1)]
    if since is None:
        raise ValueError("give rows or since")
    start = day_floor(since) if day_floor(since) == utc(since) else day_floor(since) + DAY
    n = (end - start) // DAY + 1
    return [start + DAY * k for k in range(max(n, 0))]


def _stamp(t: datetime) -> np.datetime64:
    return np.datetime64(utc(t).replace(tzinfo=None), "us")


class PriceStore:
    """Bars in `price_bars` on the ledger's (already migrated) engine; each call is one transaction."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._dialect = postgresql if engine.dialect.name == "postgresql" else sqlite

    @contextmanager
    def _conn(self, write: bool = False) -> Iterator[Connection]:
        try:
            with write_on(self._engine) if write else read_on(self._engine) as conn:
                yield conn
        except SQLAlchemyError as err:
            raise LedgerError(f"price store {'write' if write else 'read'} failed: {err}") from err

    def append(self, quote: str, bars: Iterable[Bar]) -> int:
        """Insert bars whose (asset, quote, time) is new; existing keys are left unchanged. Returns rows added."""
        rows = {(b.asset, utc(b.time)): b for b in bars}
        if not rows:
            return 0
        for b in rows.values():
            if not b.close.is_finite() or b.close <= 0:
                raise LedgerError(f"price of {b.asset} at {b.time.isoformat()} is {b.close}: must be > 0")
        values = [
            {"asset": a, "quote": quote, "time": t, "close": b.close, "volume": b.volume, "source": b.source}
            for (a, t), b in rows.items()
        ]
        stmt = (
            self._dialect.insert(price_bars)
            .on_conflict_do_nothing(index_elements=["asset", "quote", "time"])
            .returning(price_bars.c.time)
        )  # rowcount: -1 on psycopg
        added = 0
        with self._conn(write=True) as conn:
            for i in range(0, len(values), 2000):
                added += len(conn.execute(stmt, values[i : i + 2000]).all())
        return added

    def count(self, asset: str | None = None, quote: str | None = None, source: str | None = None) -> int:
        q = select(func.count()).select_from(price_bars)
        for col, v in ((price_bars.c.asset, asset), (price_bars.c.quote, quote), (price_bars.c.source, source)):
            if v is not None:
                q = q.where(col == v)
        with self._conn() as conn:
            return int(conn.scalar(q) or 0)

    def latest(self, asset: str, quote: str, source: str | None = None) -> Bar | None:
        """The newest bar of `asset` (of `source`, if given), or None."""
        q = select(price_bars).where(price_bars.c.asset == asset, price_bars.c.quote == quote)
        if source is not None:
            q = q.where(price_bars.c.source == source)
        with self._conn() as conn:
            r = conn.execute(q.order_by(price_bars.c.time.desc()).limit(1)).first()
        return None if r is None else Bar(r.asset, r.time, r.close, r.volume, r.source)

    def span(self, asset: str, quote: str, *, exclude: str | None = None) -> tuple[datetime, datetime] | None:
        """First and last bar time of `asset` (bars of source `exclude` not counted), or None when there are none."""
        q = select(func.min(price_bars.c.time), func.max(price_bars.c.time)).where(
            price_bars.c.asset == asset, price_bars.c.quote == quote
        )
        if exclude is not None:
            q = q.where(price_bars.c.source != exclude)
        with self._conn() as conn:
            first, last = conn.execute(q).one()
        if first is None or last is None:
            return None
        return utc(first), utc(last)  # min/max keep the column's UtcDateTime type

    def bars(self, asset: str, quote: str, since: datetime, until: datetime) -> list[Bar]:
        """Bars with since <= time <= until, oldest first."""
        q = select(price_bars).where(
            price_bars.c.asset == asset,
            price_bars.c.quote == quote,
            price_bars.c.time >= utc(since),
            price_bars.c.time <= utc(until),
        )
        with self._conn() as conn:
            rows = conn.execute(q.order_by(price_bars.c.time)).all()
        return [Bar(r.asset, r.time, r.close, r.volume, r.source) for r in rows]

    def history(
        self,
        assets: Sequence[str],
        quote: str,
        until: datetime,
        *,
        rows: int | None = None,
        since: datetime | None = None,
    ) -> PriceHistory:
        """Daily closes of `assets` in `quote` on the grid ending at `until`'s day, from bars at or before `until`.

        The quote itself is priced 1.0; a day without a bar in the day before it is NaN (a gap, left to the caller).
        """
        grid = daily_grid(until, rows, since)
        times = np.array([_stamp(t) for t in grid], dtype="datetime64[us]")
        prices = np.full((len(grid), len(assets)), np.nan)
        volumes = np.full((len(grid), len(assets)), np.nan)
        if grid:
            lo = grid[0] - MAX_AGE
            for j, a in enumerate(assets):
                if a == quote:
                    prices[:, j] = 1.0
                    continue
                got = self.bars(a, quote, lo, until)
                if not got:
                    continue
                bt = np.array([_stamp(b.time) for b in got], dtype="datetime64[us]")
                i = np.searchsorted(bt, times, side="right") - 1
                ok = (i >= 0) & (times - bt[np.maximum(i, 0)] <= np.timedelta64(int(MAX_AGE.total_seconds()), "s"))
                close = np.array([float(b.close) for b in got])
                vol = np.array([np.nan if b.volume is None else float(b.volume) for b in got])
                prices[ok, j] = close[i[ok]]
                volumes[ok, j] = vol[i[ok]]
        return PriceHistory(
            times=times, assets=tuple(assets), prices=prices, volumes=volumes, source=f"price store ({quote})"
        )


class EquityMarks:
    """Equity path per key (portfolio or account) in `equity_marks`: what drawdown protection measures from."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        self._paths: dict[str, list[tuple[datetime, Decimal]]] = {}  # marks are append-only: read each once

    def record(self, key: str, time: datetime, value: Decimal) -> bool:
        """Store one mark; a second mark at the same time is ignored (idempotent). True when stored."""
        if not value.is_finite() or value < 0:
            raise LedgerError(f"equity of {key} at {time.isoformat()} is {value}: must be >= 0")
        stmt = (
            self._dialect.insert(equity_marks)
            .on_conflict_do_nothing(index_elements=["key", "time"])
            .returning(equity_marks.c.time)
        )
        try:
            with write_on(self._engine) as conn:
                return conn.execute(stmt.values(key=key, time=utc(time), value=value)).first() is not None
        except SQLAlchemyError as err:
            raise LedgerError(f"equity mark write failed: {err}") from err

    def path(self, key: str) -> list[tuple[datetime, Decimal]]:
        """Every mark of `key`, oldest first; only marks newer than the last one read come from the database."""
        known = self._paths.setdefault(key, [])
        q = select(equity_marks.c.time, equity_marks.c.value).where(equity_marks.c.key == key)
        if known:
            q = q.where(equity_marks.c.time > known[-1][0])
        try:
            with read_on(self._engine) as conn:
                known.extend((utc(r.time), r.value) for r in conn.execute(q.order_by(equity_marks.c.time)))
        except SQLAlchemyError as err:
            raise LedgerError(f"equity mark read failed: {err}") from err
        return list(known)

    def values_before(self, key: str, time: datetime) -> list[float]:
        """The mark values of `key` strictly before `time`, oldest first (what a model's equity path needs)."""
        marks = self.path(key)
        cut = (
            bisect.bisect_left([t for t, _ in marks], utc(time)) if marks and marks[-1][0] >= utc(time) else len(marks)
        )
        return [float(v) for _, v in marks[:cut]]

    def model_weights(self, key: str) -> tuple[str, dict[str, float]] | None:
        """The model's stored (period, weights) of `key`, or None."""
        q = select(model_state.c.period, model_state.c.weights_json).where(model_state.c.key == key)
        try:
            with read_on(self._engine) as conn:
                row = conn.execute(q).first()
        except SQLAlchemyError as err:
            raise LedgerError(f"model state read failed: {err}") from err
        return (str(row.period), {a: float(w) for a, w in json.loads(row.weights_json).items()}) if row else None

    def save_model_weights(self, key: str, period: str, weights: Mapping[str, float]) -> None:
        """Replace `key`'s stored model weights with those of `period`."""
        doc = json.dumps(dict(weights), sort_keys=True)
        try:
            with write_on(self._engine) as conn:
                conn.execute(delete(model_state).where(model_state.c.key == key))
                conn.execute(model_state.insert().values(key=key, period=period, weights_json=doc))
        except SQLAlchemyError as err:
            raise LedgerError(f"model state write failed: {err}") from err

    def peak(self, key: str) -> Decimal | None:
        """The highest mark of `key`, or None before the first. Compared in Python: SQLite stores text."""
        values = [v for _, v in self.path(key)]
        return max(values) if values else None
