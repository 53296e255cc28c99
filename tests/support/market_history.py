"""A local exchange with a real daily price history: bundled closes re-dated to end today, books at the last close."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np

from tests.support.binance_exchange import Exchange, SymbolSpec

DAY_MS = 86_400_000
REAL_END = "2023-11-30"  # the last day every large cap of the presets has bundled prices (ADA, TRX, LTC, LINK end here)


def bundled_days(
    assets: list[str], days: int, real_end: str = REAL_END
) -> dict[str, list[tuple[int, Decimal, Decimal]]]:
    """Per asset `days` closed daily candles (open ms, close, base volume) from the bundled data up to `real_end`,
    shifted so the last candle closes at today's 00:00 UTC (bundled row D is the 00:00 snapshot = close of D-1)."""
    from trimtab.adapters.bundled import bundled_daily

    start = str(np.datetime64(real_end, "D") - np.timedelta64(days + 10, "D"))
    h = bundled_daily(assets, start=start, end=real_end, require_complete=True)
    h = h.between(h.times[-days], None)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    out: dict[str, list[tuple[int, Decimal, Decimal]]] = {}
    for j, a in enumerate(assets):
        rows = []
        for k in range(days):
            close_at = today - timedelta(days=days - 1 - k)
            price = float(h.prices[k, j])
            usd = float(h.volumes[k, j]) if h.volumes is not None and np.isfinite(h.volumes[k, j]) else 0.0
            rows.append(
                (int(close_at.timestamp() * 1000) - DAY_MS, Decimal(repr(price)), Decimal(repr(round(usd / price, 5))))
            )
        out[a] = rows
    return out


def exchange_with_history(
    assets: list[str], quote: str, days: int, *, fee_bps: Decimal = Decimal(10), spread_bps: Decimal = Decimal(5)
) -> Exchange:
    """Spot markets asset/quote with `days` of real daily candles and deep books around the last close."""
    tick = Decimal("0.00001")
    ex = Exchange(
        [SymbolSpec(a, quote, tick_size=tick, min_price=tick, max_qty=Decimal(100_000_000)) for a in assets],
        fee_bps=fee_bps,
    )
    half = spread_bps / 20_000
    for a, rows in bundled_days(assets, days).items():
        ex.set_daily(a + quote, rows)
        last = rows[-1][1]
        depth = (Decimal(5_000_000) / last).quantize(Decimal("0.00001"))
        bid, ask = (last * (1 - half)).quantize(tick), (last * (1 + half)).quantize(tick)
        ex.set_book(a + quote, [(bid, depth)], [(ask, depth)])
    return ex
