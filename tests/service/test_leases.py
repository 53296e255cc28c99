"""Fenced leases on PostgreSQL: a worker that lost its lease writes nothing, its successor does not touch its
unfinished rebalance while it lives, and two processes with the same worker id never both hold a portfolio."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from tests.service.harness import open_services, write_config

from trimtab.adapters.storage import SqlLedgerStore, leases
from trimtab.adapters.storage import service_store as service_store_module
from trimtab.adapters.storage.service_store import ServiceStore
from trimtab.errors import LeaseLost
from trimtab.service.leases import Heartbeat, LeaseGuard
from trimtab.service.runner import Runner

NOW = datetime(2022, 1, 1, tzinfo=UTC)
SHORT, LONG = timedelta(seconds=0.4), timedelta(seconds=60)
DECISION = {
    "time": NOW,
    "kind": "check",
    "fired": False,
    "traded": False,
    "status": "held",
    "reason": "r",
    "value": 1.0,
    "bh_value": 1.0,
    "weights_json": {},
    "targets_json": {},
    "metrics_json": {},
}
LEG = {
    "index": 0,
    "client_id": "tt-leg-0",
    "asset": "BTC",
    "quote": "USDC",
    "side": "buy",
    "quantity": "0.1",
    "price": "40000",
    "exec_price": "40010",
    "est_fee": "4",
    "est_slippage": "1",
    "est_gas": "0",
}


def _open(url: str) -> tuple[SqlLedgerStore, ServiceStore]:
    ledger = SqlLedgerStore(url)
    return ledger, ServiceStore(ledger.engine)


@pytest.fixture
def two(pg_url: str) -> Iterator[tuple[tuple[SqlLedgerStore, ServiceStore], tuple[SqlLedgerStore, ServiceStore]]]:
    """Two 'processes' (separate engines and tokens) on one PostgreSQL schema, with one portfolio `p`."""
    a, b = _open(pg_url), _open(pg_url)
    a[1].ensure_portfolio("p", {"USDC": 1.0})
    a[0].open_account("p", {"USDC": Decimal(100_000)}, time=NOW)
    yield a, b
    for ledger, store in (a, b):
        store.close()
        ledger.close()


def _wait_claim(store: ServiceStore, token: str, lease: timedelta = LONG) -> list[str]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        got = store.claim_due("main", ["p"], NOW, lease=lease, token=token)
        if got:
            return got
        time.sleep(0.05)
    return []


def _start_rebalance(ledger: SqlLedgerStore) -> str:
    rid = ledger.start_rebalance("p", json.dumps({"plan_id": "x", "time": NOW.isoformat(), "legs": [LEG]}), "r")
    ledger.mark_executing(rid)
    return rid


@pytest.mark.postgres
def test_a_worker_whose_lease_expired_mid_rebalance_cannot_write_after_a_takeover(two: tuple) -> None:
    (ledger_a, a), (_, b) = two
    tok_a, tok_b = a.register_worker("main"), b.register_worker("main")  # same worker id, distinct tokens
    assert a.claim_due("main", ["p"], NOW, lease=SHORT, token=tok_a) == ["p"]
    row = a.portfolio("p")
    assert row is not None and row.lease_token == tok_a
    guard_a = LeaseGuard(a, "p", tok_a, row.lease_epoch, SHORT)
    rid = _start_rebalance(ledger_a)
    guard_a.bind(rid)
    guard_a.renew()  # between legs: still ours
    assert _wait_claim(b, tok_b) == ["p"]  # A's lease expired mid-leg (A is alive, only slow)
    taken = b.portfolio("p")
    assert taken is not None and taken.lease_token == tok_b and taken.lease_epoch == row.lease_epoch + 1
    # the successor must neither reconcile nor plan while A's leg is unknown and A lives
    assert b.open_rebalances("p") == [rid]
    left = b.leftovers("p", tok_b, stale_after=LONG)
    assert left.busy == [rid] and left.reconcilable == []
    # A wakes up: every fenced write is refused in the database, nothing of it lands
    with pytest.raises(LeaseLost):
        guard_a.renew()
    sent = json.dumps({"plan_id": "x", "time": NOW.isoformat(), "legs": [{**LEG, "sent_at": NOW.isoformat()}]})
    with pytest.raises(LeaseLost):  # the next leg's mark and the renewal are one transaction: neither lands
        ledger_a.journal_progress(rid, sent, within=guard_a.renew_in)
    assert "sent_at" not in ledger_a.rebalance(rid).plan_json
    with pytest.raises(LeaseLost):
        guard_a.bind("another-rebalance")
    with pytest.raises(LeaseLost):
        a.release("p", "main", token=tok_a, epoch=row.lease_epoch, decision=DECISION, failures=7)
    assert b.count_decisions("p") == 0
    after = b.portfolio("p")
    assert after is not None and after.lease_token == tok_b and after.failures == 0
    LeaseGuard(b, "p", tok_b, taken.lease_epoch, LONG).renew()  # B's lease is intact
    # once A is gone (its heartbeat stale), its rebalance becomes B's to reconcile
    assert b.leftovers("p", tok_b, stale_after=timedelta(0)).reconcilable == [rid]
    # or at once, when A, alive, gives it up after its LeaseLost
    assert b.leftovers("p", tok_b, stale_after=LONG).busy == [rid]
    guard_a.abandon()
    left = b.leftovers("p", tok_b, stale_after=LONG)
    assert left.reconcilable == [rid] and left.busy == []


@pytest.mark.postgres
def test_two_workers_with_the_same_id_never_both_hold_the_portfolio(two: tuple) -> None:
    (_, a), (_, b) = two
    tok_a, tok_b = a.register_worker("main"), b.register_worker("main")
    assert a.claim_due("main", ["p"], NOW, lease=LONG, token=tok_a) == ["p"]
    assert b.claim_due("main", ["p"], NOW, lease=LONG, token=tok_b) == []  # the old code: owner == caller is free
    assert b.claim("p", "main", lease=LONG, token=tok_b) is False
    a.heartbeat(tok_a, lease=LONG)
    assert b.claim_due("main", ["p"], NOW, lease=LONG, token=tok_b) == []
    row = a.portfolio("p")
    assert row is not None
    a.release("p", "main", token=tok_a, epoch=row.lease_epoch)
    assert b.claim_due("main", ["p"], NOW, lease=LONG, token=tok_b) == ["p"]


@pytest.mark.postgres
def test_a_heartbeat_keeps_the_lease_of_a_long_leg_and_the_fence_check_sees_a_takeover(two: tuple) -> None:
    (ledger_a, a), (_, b) = two
    tok_a, tok_b = a.register_worker("main"), b.register_worker("main")
    assert a.claim_due("main", ["p"], NOW, lease=SHORT, token=tok_a) == ["p"]
    epoch = a.portfolio("p").lease_epoch  # type: ignore[union-attr]
    beat = Heartbeat(a, tok_a, SHORT).start()  # beats every 0.1 s while a leg takes longer than the lease
    try:
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            assert b.claim_due("main", ["p"], NOW, lease=LONG, token=tok_b) == []
            time.sleep(0.05)
    finally:
        beat.stop()
    with ledger_a.engine.begin() as conn:
        assert leases.check_fence(conn, "p", tok_a, epoch)
    assert _wait_claim(b, tok_b) == ["p"]  # heartbeat stopped: the lease runs out and B takes over
    with ledger_a.engine.begin() as conn:
        assert not leases.check_fence(conn, "p", tok_a, epoch)


@pytest.mark.postgres
def test_lease_times_come_from_the_database_clock(two: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    (_, a), _ = two
    monkeypatch.setattr(service_store_module, "_now", lambda: datetime(2000, 1, 1, tzinfo=UTC))  # a skewed host
    tok = a.register_worker("main")
    assert a.claim_due("main", ["p"], NOW, lease=LONG, token=tok) == ["p"]
    row = a.portfolio("p")
    assert row is not None and row.lease_until is not None
    assert abs((row.lease_until - a.db_now()) - LONG) < timedelta(seconds=5)


@pytest.mark.postgres
def test_the_runner_leaves_a_live_peers_unfinished_rebalance_alone(tmp_path: Path, pg_url: str) -> None:
    config = write_config(
        tmp_path, [{"name": "p", "strategy": "ethereum", "check_every": "1d"}], database_url=pg_url, lease_seconds=30
    )
    services = open_services(config)
    peer_ledger, peer = _open(pg_url)
    try:
        tok_peer = peer.register_worker("main")
        assert peer.claim_due("main", ["p"], NOW, lease=SHORT, token=tok_peer) == ["p"]
        row = peer.portfolio("p")
        assert row is not None
        rid = _start_rebalance(peer_ledger)
        LeaseGuard(peer, "p", tok_peer, row.lease_epoch, SHORT).bind(rid)
        runner = Runner(services)
        assert runner.startup() == 0  # the peer lives: not reconciled at start-up
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not runner.run_once():
            time.sleep(0.05)  # until the peer's short lease has expired and this runner claims `p`
        assert services.store.count_decisions("p") == 0  # claimed, but no plan over the peer's open leg
        assert peer_ledger.rebalance(rid).status.value == "executing"
        assert services.store.portfolio("p").lease_token is None  # type: ignore[union-attr]  (handed back)
        assert runner.run_once() == 0  # deferred: not claimed again at once
    finally:
        services.close()
        peer.close()
        peer_ledger.close()


@pytest.mark.postgres
@pytest.mark.slow
def test_two_processes_configured_with_one_worker_id_never_process_a_slot_twice(tmp_path: Path, pg_url: str) -> None:
    names = [f"p{i}" for i in range(6)]
    config = write_config(
        tmp_path,
        [{"name": n, "strategy": "ethereum", "check_every": "1d"} for n in names],
        database_url=pg_url,
        claim_batch=1,
        worker_id="main",
        market_data={"source": "replay", "start": "2022-01-01", "speed": 20 * 86_400},
    )
    SqlLedgerStore(pg_url).close()
    cmd = [sys.executable, "-c", "from trimtab.cli import main; main()", "serve", "--config", str(config), "--no-api"]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    workers = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(2)
    ]
    ledger, store = _open(pg_url)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if len(ledger.accounts()) == len(names) and min(store.count_decisions(n) for n in names) >= 6:
                break
            time.sleep(0.2)
        for w in workers:
            w.send_signal(signal.SIGTERM)
        errors = [w.communicate(timeout=30)[1] for w in workers]
        assert [w.returncode for w in workers] == [0, 0], errors
        for n in names:
            rows = store.decisions(n, limit=10_000, newest_first=False)
            assert len(rows) >= 6
            times = [r["time"] for r in rows]
            assert all(b - a >= timedelta(days=1) for a, b in zip(times, times[1:], strict=False)), (
                f"{n} was checked twice for one slot"
            )
            assert sum(r["kind"] == "initial" for r in rows) == 1
    finally:
        for w in workers:
            w.kill()
        store.close()
        ledger.close()


def test_a_lease_of_a_process_that_died_on_this_host_is_free_at_once(tmp_path: Path) -> None:
    url = str(tmp_path / "s.db")
    ledger, store = _open(url)
    try:
        store.ensure_portfolio("p", {"USDC": 1.0})
        code = (
            "import sys; from datetime import timedelta as T, datetime, UTC; "
            "from trimtab.adapters.storage import SqlLedgerStore as L; "
            "from trimtab.adapters.storage.service_store import ServiceStore as S; "
            "s = S(L(sys.argv[1]).engine); t = s.register_worker('main'); "
            "assert s.claim_due('main', ['p'], datetime(2022, 1, 1, tzinfo=UTC), lease=T(hours=1), token=t)"
        )
        subprocess.run([sys.executable, "-c", code, url], check=True, timeout=60)  # claims, then dies holding it
        held = store.portfolio("p")
        assert held is not None and held.lease_token is not None and held.lease_until is not None
        assert held.lease_until > store.db_now()  # an hour left on a dead process's lease
        live = store.register_worker("main")
        assert ServiceStore(ledger.engine).claim_due("main", ["p"], NOW, lease=LONG, token=live) == ["p"]
        assert store.claim_due("main", ["p"], NOW, lease=LONG, token=store.register_worker("main")) == []  # alive
    finally:
        store.close()
        ledger.close()
