"""Exchange market data for the price store: paged OHLCV backfill and tickers with their own timestamps.

Both take a ccxt exchange object; `request` wraps each call (CcxtVenue passes its retrying `_call`). Pages
follow ccxt's `since`/`limit` contract; between pages ccxt's own throttle paces requests when
`enableRateLimit` is on, otherwise we wait `exchange.rateLimit` ms ourselves. Only closed candles are returned.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from trimtab.adapters.ccxt_venue.orders import dec
from trimtab.errors import DataError

T = TypeVar("T")
Request = Callable[[str, Callable[[], Any]], Any]
DEFAULT_LIMIT = 1000  # Binance's maximum klines per request; other exchanges cap lower and return fewer


@dataclass(frozen=True, slots=True)
class OhlcvBar:
    """One closed candle: it opened at `open_time` and its `close` was known at `close_time`; exact values."""

    open_time: datetime
    close_time: datetime
    open: Decimal | None
    high: Decimal | None
    low: Decimal | None
    close: Decimal
    volume: Decimal | None  # base units, None when the exchange does not say


def _direct(op: str, fn: Callable[[], T]) -> T:
    return fn()


def _ms(t: datetime) -> int:
    return int((t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp() * 1000)


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def backfill_ohlcv(
    exchange: Any,
    symbol: str,
    timeframe: str,
    since: datetime,
    until: datetime,
    *,
    limit: int = DEFAULT_LIMIT,
    request: Request = _direct,
    sleep: Callable[[float], None] = time.sleep,
) -> list[OhlcvBar]:
    """Closed `timeframe` candles of `symbol` opening at or after `since` and closed by `until`, oldest first."""
    step_ms = int(exchange.parse_timeframe(timeframe) * 1000)
    start, stop = _ms(since), _ms(until)
    bars: dict[int, OhlcvBar] = {}
    pages = 0
    while start + step_ms <= stop:
        if pages and not getattr(exchange, "enableRateLimit", False):
            sleep(float(getattr(exchange, "rateLimit", 0) or 0) / 1000)
        page = request("fetch_ohlcv", functools.partial(exchange.fetch_ohlcv, symbol, timeframe, start, limit))
        pages += 1
        if not page:
            break
        last = start
        for row in page:
            opened = int(row[0])
            last = max(last, opened)
            if opened < start or opened + step_ms > stop:
                continue  # before the window, or still open at `until`
            close = dec(row[4])
            if close is None or close <= 0:
                raise DataError(
                    f"{symbol} {timeframe} candle at {_time(opened):%Y-%m-%d %H:%M} has close {row[4]!r}",
                    source=getattr(exchange, "id", "ccxt"),
                    field=symbol,
                )
            bars[opened] = OhlcvBar(
                _time(opened),
                _time(opened + step_ms),
                dec(row[1]),
                dec(row[2]),
                dec(row[3]),
                close,
                dec(row[5]) if len(row) > 5 else None,
            )
        if last + step_ms <= start:  # no progress: the exchange ignores `since`
            break
        start = last + step_ms
    return [bars[k] for k in sorted(bars)]


def ticker_price(exchange: Any, symbol: str, *, request: Request = _direct) -> tuple[Decimal, datetime]:
    """Last price of `symbol` (exact Decimal) and the time the exchange stamped on the ticker (UTC)."""
    t = request("fetch_ticker", lambda: exchange.fetch_ticker(symbol))
    price = dec(t.get("last")) or dec(t.get("close"))
    src = getattr(exchange, "id", "ccxt")
    if price is None or price <= 0:
        raise DataError(f"ticker of {symbol} has no positive last price ({t.get('last')!r})", source=src, field=symbol)
    stamp = t.get("timestamp")
    if stamp is None:
        raise DataError(f"ticker of {symbol} carries no timestamp", source=src, field=symbol)
    return price, _time(int(stamp))


def timeframe_delta(exchange: Any, timeframe: str) -> timedelta:
    return timedelta(seconds=int(exchange.parse_timeframe(timeframe)))
