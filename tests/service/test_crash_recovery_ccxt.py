"""SIGKILL the service at random points while it trades on a ccxt exchange (real ccxt against the local
Binance-protocol server) that misbehaves: latency, replies lost after the order was accepted, 5xx before or after
processing, orders listed late. After every restart: no trade lost, none duplicated, and the ledger's balances
equal the exchange's balances exactly."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import pytest
from tests.adapters.test_ccxt_venue import ACCOUNT, KEY, SECRET, make_exchange
from tests.service.harness import cex_config, open_services
from tests.support.binance_server import ApiKey, BinanceServer

from trimtab.service.runner import Runner

KILLS = 52
ASSETS = ("BTC", "ETH", "USDT")
STRATEGY = """
name: jittery-cex
quote: USDT
targets: {BTC: 0.4, ETH: 0.4, USDT: 0.2}
trigger: {kind: threshold, band: 0.01}
costs: {fee_bps: 10, slippage_bps: 5}
constraints: {min_trade_usd: 10}
"""
FAULTS = ("none", "latency", "timeout_after_accept", "5xx_accepted", "5xx_refused", "listed_late")


@dataclass
class Tally:
    kills: int = 0
    mid_execution: int = 0
    faults: Counter[str] | None = None
    orders: int = 0
    reconciled: int = 0


@pytest.fixture
def server() -> Iterator[BinanceServer]:
    with BinanceServer(make_exchange(), {KEY: ApiKey(SECRET, ACCOUNT)}) as srv:
        yield srv


def _reprice(server: BinanceServer, rng: random.Random, mids: dict[str, Decimal]) -> None:
    """A random step of each price and fresh deep books around it (every cycle sees drift past the band)."""
    for symbol in mids:
        mids[symbol] *= Decimal(str(1 + rng.choice((-1, 1)) * rng.uniform(0.02, 0.06)))
        mid = mids[symbol].quantize(Decimal("0.01"), ROUND_HALF_EVEN)
        spread = (mid * Decimal("0.0002")).quantize(Decimal("0.01")) + Decimal("0.01")
        server.exchange.set_book(symbol, [(mid - spread, Decimal(500))], [(mid + spread, Decimal(500))])


def _arm(server: BinanceServer, kind: str, rng: random.Random) -> None:
    """This run's misbehaviour of the exchange (cleared before the check: the exchange settles eventually)."""
    post = {"method": "POST"}
    if kind == "latency":
        server.inject("latency", **post, delay=rng.uniform(0.02, 0.12), count=100)
    elif kind == "timeout_after_accept":  # accepted, then the reply never comes before the kill
        server.inject("timeout_after_accept", **post, delay=30, after=rng.randrange(2))
    elif kind == "5xx_accepted":
        server.inject("http_5xx", **post, accept=True, after=rng.randrange(2))
    elif kind == "5xx_refused":
        server.inject("http_5xx", **post, accept=False, after=rng.randrange(2))
    elif kind == "listed_late":  # processed but answered 5xx, and the exchange does not list it for a while
        server.inject("http_5xx", **post, accept=True)
        server.inject("reject", method="GET", code=-2013, msg="Order does not exist.", count=10_000)


def _open_rebalances(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return int(
                conn.execute("SELECT count(*) FROM rebalances WHERE status IN ('planned', 'executing')").fetchone()[0]
            )
    except sqlite3.OperationalError:  # not created yet
        return 0


def _due_now(config: Path) -> None:
    services = open_services(config)
    try:
        services.store.update_portfolio("cex", next_check_at=services.clock.now() - timedelta(seconds=1))
    finally:
        services.close()


def _check_after_restart(config: Path, server: BinanceServer) -> tuple[int, int]:
    """Restart in-process (start-up reconciliation), then compare the ledger with the exchange, order by order."""
    server.clear_faults()
    services = open_services(config)
    try:
        runner = Runner(services)
        runner.startup()
        if services.store.open_rebalances("cex"):  # a leg sent but never listed: unknown until the 1 s grace
            time.sleep(1.1)
            runner.startup()
        assert services.store.open_rebalances("cex") == [], "a rebalance is still open after reconciliation"
        ledger = services.ledger
        exchange = {a: server.exchange.balance(ACCOUNT, a) for a in ASSETS}
        assert {a: q for a, q in ledger.balances("cex").items() if q} == {a: q for a, q in exchange.items() if q}
        filled = [str(o.order_id) for o in server.orders(ACCOUNT) if o.executed_qty > 0]
        cids = [o.client_order_id for o in server.orders(ACCOUNT)]
        assert len(cids) == len(set(cids)), "an order was sent twice under one client id"
        refs = Counter(e.ref for e in ledger.entries("cex") if e.kind == "trade")
        assert set(refs) == set(filled), "a trade at the exchange is missing from the ledger, or vice versa"
        assert set(refs.values()) <= {2}, "a fill was recorded twice"
        reconciled = sum(1 for r in ledger.rebalances("cex") if r.report_json and '"reconciled": true' in r.report_json)
        services.store.update_portfolio("cex", next_check_at=services.clock.now() - timedelta(seconds=1))
        return len(filled), reconciled
    finally:
        services.close()


@pytest.mark.slow
def test_sigkill_on_a_misbehaving_exchange_never_loses_or_duplicates_a_trade(
    tmp_path: Path, server: BinanceServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIMTAB_BINANCE_API_KEY", KEY)
    monkeypatch.setenv("TRIMTAB_BINANCE_API_SECRET", SECRET)
    config = cex_config(tmp_path, server.url, STRATEGY, lookup_grace="1s", unknown_grace="1s")
    db = tmp_path / "svc.db"
    rng = random.Random(11)
    mids = {"BTCUSDT": Decimal(30_000), "ETHUSDT": Decimal(2_000)}
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    zygote = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("crash_worker.py")), str(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=Path(__file__).parents[2],
    )
    assert zygote.stdin is not None and zygote.stdout is not None
    tally = Tally(faults=Counter())
    try:
        for kill in range(KILLS):
            kind = FAULTS[kill % len(FAULTS)] if kill < 2 * len(FAULTS) else rng.choice(FAULTS)
            tally.faults[kind] += 1  # type: ignore[index]
            _reprice(server, rng, mids)
            _arm(server, kind, rng)
            zygote.stdin.write("run\n")
            zygote.stdin.flush()
            pid = int(zygote.stdout.readline())
            deadline = time.monotonic() + 5
            while not _open_rebalances(db) and time.monotonic() < deadline:
                time.sleep(0.003)
            time.sleep(rng.uniform(0, 0.25))  # inside a leg, between legs, in a lookup, or just after
            tally.mid_execution += _open_rebalances(db) > 0
            os.kill(pid, signal.SIGKILL)
            zygote.stdin.write(f"reap {pid}\n")
            zygote.stdin.flush()
            status = int(zygote.stdout.readline())
            assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, "child died on its own"
            tally.kills += 1
            if kill % 5 != 4:
                _check_after_restart(config, server)
            else:  # the next child reconciles by itself at start-up
                server.clear_faults()
                _due_now(config)
        tally.orders, tally.reconciled = _check_after_restart(config, server)
    finally:
        zygote.stdin.close()
        zygote.wait(10)
    print(f"\nccxt crash test: {tally}")
    assert tally.kills == KILLS and tally.mid_execution >= KILLS // 2, tally
    assert tally.orders >= KILLS // 2 and tally.reconciled >= KILLS // 4, tally
