"""Klines and tickers from the local Binance server through ccxt: paged backfill, closed candles, ticker times."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import ccxt
import pytest
from tests.support.binance_server import ApiKey, BinanceServer
from tests.support.market_history import exchange_with_history

from trimtab.adapters.ccxt_venue import CcxtVenue
from trimtab.adapters.ccxt_venue.credentials import Credentials
from trimtab.adapters.ccxt_venue.ohlcv import backfill_ohlcv, ticker_price
from trimtab.errors import DataError

KEY, SECRET = "K" * 64, "ohlcv-secret"
DAYS = 1200


@pytest.fixture(scope="module")
def server() -> Iterator[BinanceServer]:
    with BinanceServer(exchange_with_history(["BTC", "ETH"], "USDT", DAYS), {KEY: ApiKey(SECRET, "acct")}) as srv:
        yield srv


def client(server: BinanceServer, *, rate_limit: bool = True) -> ccxt.binance:
    ex = ccxt.binance({"enableRateLimit": rate_limit, "rateLimit": 7, "options": {"fetchMarkets": ["spot"]}})
    ex.urls["api"] = {**ex.urls["api"], **server.ccxt_urls()}
    return ex


def today() -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def test_ccxt_fetch_ohlcv_pages_through_the_klines_endpoint(server: BinanceServer) -> None:
    ex = client(server)
    first = ex.fetch_ohlcv("BTC/USDT", "1d", None, 10)  # no since: the latest candles, today's still open
    assert len(first) == 10 and first[-1][0] == int(today().timestamp() * 1000)
    paged = ex.fetch_ohlcv("BTC/USDT", "1d", None, None, {"paginate": True, "paginationCalls": 3})
    assert len({row[0] for row in paged}) > 1000  # ccxt's own paginator walks back through several pages
    before = len(server.requests_to("GET", "/api/v3/klines"))
    since = today() - timedelta(days=DAYS + 5)
    bars = backfill_ohlcv(ex, "BTC/USDT", "1d", since, datetime.now(UTC), limit=500)
    assert len(server.requests_to("GET", "/api/v3/klines")) - before == 3  # 1200 days in pages of 500
    assert len(bars) == DAYS and bars[-1].close_time == today()  # closed candles only: today's is left out
    assert all(b.close_time - b.open_time == timedelta(days=1) for b in bars)
    assert [b.open_time for b in bars] == sorted({b.open_time for b in bars})
    served = server.exchange.daily["BTCUSDT"]
    assert bars[0].close == served[0][1] and bars[-1].close == served[-1][1]  # exact Decimals, as served
    assert isinstance(bars[-1].close, Decimal) and bars[-1].volume == served[-1][2]


def test_backfill_waits_the_rate_limit_when_ccxt_does_not(server: BinanceServer) -> None:
    ex = client(server, rate_limit=False)
    waits: list[float] = []
    bars = backfill_ohlcv(ex, "ETH/USDT", "1d", today() - timedelta(days=30), today(), limit=10, sleep=waits.append)
    assert len(bars) == 30 and waits == [0.007, 0.007]  # three pages, rateLimit ms between them
    assert backfill_ohlcv(ex, "ETH/USDT", "1d", today(), today()) == []


def test_ticker_price_carries_the_tickers_own_time(server: BinanceServer) -> None:
    stamp = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    server.exchange.ticker_time_ms = int(stamp.timestamp() * 1000)
    try:
        price, at = ticker_price(client(server), "BTC/USDT")
        venue = CcxtVenue("binance", Credentials(KEY, SECRET), api_urls=server.ccxt_urls())
        assert venue.ticker("BTC", "USDT") == (price, at)
        assert venue.ohlcv("BTC", "USDT", "1d", today() - timedelta(days=3), today())[-1].close_time == today()
        venue.close()
    finally:
        server.exchange.ticker_time_ms = None
    assert at == stamp and price == server.exchange.books["BTCUSDT"].mid()
    with pytest.raises(DataError, match="timestamp"):
        ticker_price(_NoTimestamp(), "BTC/USDT")


class _NoTimestamp:
    id = "fake"

    def fetch_ticker(self, symbol: str) -> dict[str, object]:
        return {"symbol": symbol, "last": "1.5", "timestamp": None}
