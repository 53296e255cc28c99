"""Price store benchmarks -> benchmarks/results/price_store.json.

Against the local Binance-protocol server (tests/support) with 10 large caps x 450 real daily closes, on SQLite:
1. service start: backfill 10 assets x 400 days through ccxt fetch_ohlcv (paged) into the store;
2. a restart: the same backfill when the store already has everything (no klines request expected);
3. one live snapshot: 10 tickers, their append, and the 400-row point-in-time history read back (median of N);
4. the store alone: append 11 x 2,000 bars, read an 11 x 400 history.

    python benchmarks/bench_price_store.py [--snapshots 20]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests.support: the local exchange server

UNIVERSE = ["BTC", "ETH", "BNB", "XRP", "SOL", "ADA", "DOGE", "TRX", "LTC", "LINK"]
KEY, SECRET = "B" * 64, "bench-secret"


def run(snapshots: int) -> dict[str, Any]:
    from tests.support.binance_server import ApiKey, BinanceServer
    from tests.support.market_history import exchange_with_history

    from trimtab.adapters.ccxt_venue import CcxtVenue
    from trimtab.adapters.ccxt_venue.credentials import Credentials
    from trimtab.adapters.storage import SqlLedgerStore
    from trimtab.adapters.storage.price_store import Bar, PriceStore
    from trimtab.config import load_strategy
    from trimtab.service.history import StoredHistorySource
    from trimtab.service.marketdata import WallClock

    out: dict[str, Any] = {}
    with (
        tempfile.TemporaryDirectory() as tmp,
        BinanceServer(exchange_with_history(UNIVERSE, "USDC", 450), {KEY: ApiKey(SECRET, "a")}) as server,
    ):
        ledger = SqlLedgerStore(str(Path(tmp) / "bench.db"))
        venue = CcxtVenue("binance", Credentials(KEY, SECRET), api_urls=server.ccxt_urls())
        strategy = load_strategy("risk-parity")
        source = StoredHistorySource(PriceStore(ledger.engine), venue, WallClock(), [strategy])
        t0 = time.perf_counter()
        added = source.backfill()
        out["backfill_s"] = round(time.perf_counter() - t0, 3)
        out["backfill_rows"] = sum(added.values())
        out["backfill_klines_requests"] = len(server.requests_to("GET", "/api/v3/klines"))
        again = StoredHistorySource(PriceStore(ledger.engine), venue, WallClock(), [strategy])
        t1 = time.perf_counter()
        out["restart_rows"] = sum(again.backfill().values())
        out["restart_backfill_s"] = round(time.perf_counter() - t1, 3)
        out["restart_klines_requests"] = (
            len(server.requests_to("GET", "/api/v3/klines")) - out["backfill_klines_requests"]
        )
        times = []
        for _ in range(snapshots):
            t = time.perf_counter()
            snap = again.snapshot([], "USDC")
            times.append(time.perf_counter() - t)
        out["snapshot_ms_median"] = round(statistics.median(times) * 1000, 1)
        out["snapshot_history_shape"] = list(snap.history.prices.shape) if snap.history is not None else None
        store = PriceStore(ledger.engine)
        start = datetime(2010, 1, 1, tzinfo=UTC)
        bars = [
            Bar(f"X{j}", start + timedelta(days=i), Decimal(100 + i), None, "bench")
            for j in range(11)
            for i in range(2000)
        ]
        t2 = time.perf_counter()
        store.append("USD", bars)
        out["append_22000_bars_s"] = round(time.perf_counter() - t2, 3)
        t3 = time.perf_counter()
        store.history([f"X{j}" for j in range(11)], "USD", until=start + timedelta(days=1999), rows=400)
        out["history_11x400_ms"] = round((time.perf_counter() - t3) * 1000, 1)
        venue.close()
        ledger.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--snapshots", type=int, default=20)
    args = ap.parse_args()
    result = {
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "price_store": run(args.snapshots),
    }
    target = HERE / "results" / "price_store.json"
    target.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
