"""Service tables on both databases, and 3 worker processes sharing portfolios on PostgreSQL without overlap."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.service.harness import write_config

from trimtab.adapters.storage import SqlLedgerStore
from trimtab.adapters.storage.service_store import ServiceStore
from trimtab.errors import LedgerError


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.slow])])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    url = str(tmp_path / "s.db") if request.param == "sqlite" else str(request.getfixturevalue("pg_url"))
    ledger = SqlLedgerStore(url)
    yield ServiceStore(ledger.engine)
    ledger.close()


def test_portfolio_rows_targets_and_audit_round_trip(store: ServiceStore) -> None:
    assert store.ensure_portfolio("p1", {"BTC": 0.5, "USDC": 0.5}) is True
    assert store.ensure_portfolio("p1", {"BTC": 1.0}) is False  # existing rows are never overwritten
    assert store.targets("p1") == (1, {"BTC": 0.5, "USDC": 0.5})
    assert store.add_targets("p1", {"ETH": 1.0}, actor="admin", note="n") == 2
    assert store.targets("p1") == (2, {"ETH": 1.0})
    assert [a["action"] for a in store.audit_log("p1")] == ["set_targets"]
    store.update_portfolio("p1", paused=True, paused_reason="why", exit_request={"quotes": []})
    row = store.portfolio("p1")
    assert row is not None and row.paused and row.paused_reason == "why" and row.exit_request == {"quotes": []}
    assert store.meta_setdefault("k", "first") == "first" and store.meta_setdefault("k", "second") == "first"
    first = store.add_alert("p1", "control", "t1", "b", {"a": 1})
    second = store.add_alert(None, "failure", "t2", "b", {"n": [1, 2]})
    store.set_delivery(first, "webhook: 200")
    listed = store.alerts()
    assert [a["id"] for a in listed] == [second, first]  # newest first
    assert listed[1]["delivery"] == "webhook: 200" and listed[0]["payload"] == {"n": [1, 2]}
    assert [a["id"] for a in store.alerts("p1")] == [first]
    with pytest.raises(LedgerError):
        store.ensure_portfolio("x" * 65, {"USDC": 1.0}) if store._pg else store.targets("missing")


def test_leases_hand_each_due_portfolio_to_one_owner(store: ServiceStore) -> None:
    from datetime import UTC, datetime

    names = [f"p{i}" for i in range(6)]
    for n in names:
        store.ensure_portfolio(n, {"USDC": 1.0})
    now = datetime(2022, 1, 1, tzinfo=UTC)
    a = store.claim_due("a", names, now, lease=timedelta(minutes=1), limit=4)
    b = store.claim_due("b", names, now, lease=timedelta(minutes=1), limit=4)
    assert len(a) == 4 and len(b) == 2 and not set(a) & set(b)
    assert store.claim_due("c", names, now, lease=timedelta(minutes=1)) == []
    decision = {
        "time": now,
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
    assert store.release(a[0], "a", decision=decision, next_check_at=now + timedelta(days=1)) is not None
    assert store.claim_due("c", names, now, lease=timedelta(minutes=1)) == []  # a[0] is not due any more
    assert store.claim_due("c", names, now + timedelta(days=2), lease=timedelta(minutes=1)) == [a[0]]
    assert store.decisions(a[0])[0]["worker"] == "a"


def test_a_long_name_list_claims_only_its_own_portfolios(store: ServiceStore) -> None:
    """Past LONG_LIST names the list goes to the database as one parameter: the same rows are claimed."""
    from datetime import UTC, datetime

    from trimtab.adapters.storage.leases import LONG_LIST

    mine = [f"m{i:04d}" for i in range(LONG_LIST + 50)]
    for n in [*mine, "other-1", "other-2"]:  # the others belong to another configuration on the same database
        store.ensure_portfolio(n, {"USDC": 1.0})
    now = datetime(2022, 1, 1, tzinfo=UTC)
    assert store.next_due([*mine, "missing"]) is None  # none scheduled yet
    claimed: list[str] = []
    while batch := store.claim_due("w", [*mine, "missing"], now, lease=timedelta(minutes=1), limit=64):
        assert len(batch) <= 64
        claimed += batch
        for n in batch:
            store.release(n, "w", next_check_at=now + timedelta(minutes=5))
    assert sorted(claimed) == mine, "every one of mine once, none of the others"
    assert store.next_due(mine) == now + timedelta(minutes=5)
    assert store.claim_due("x", ["other-1", "other-2"], now, lease=timedelta(minutes=1)) == ["other-1", "other-2"]


@pytest.mark.postgres
@pytest.mark.slow
def test_three_workers_share_portfolios_without_double_processing(tmp_path: Path, pg_url: str) -> None:
    names = [f"p{i:02d}" for i in range(12)]
    config = write_config(
        tmp_path,
        [{"name": n, "strategy": "ethereum", "check_every": "1d"} for n in names],
        database_url=pg_url,
        claim_batch=2,
        market_data={"source": "replay", "start": "2022-01-01", "speed": 20 * 86_400},
    )
    SqlLedgerStore(pg_url).close()  # migrate once up front (the workers would serialise on the advisory lock)
    cmd = [sys.executable, "-c", "from trimtab.cli import main; main()", "serve", "--config", str(config), "--no-api"]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    workers = [
        subprocess.Popen(
            [*cmd, "--worker-id", f"w{i}"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        for i in range(3)
    ]
    ledger = SqlLedgerStore(pg_url)
    store = ServiceStore(ledger.engine)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done = [store.count_decisions(n) for n in names] if len(ledger.accounts()) == len(names) else [0]
            seen = {r["worker"] for n in names for r in store.decisions(n, limit=10_000)}
            if min(done) >= 8 and len(seen) == 3:  # every worker runs (and handles SIGTERM) before the stop
                break
            time.sleep(0.2)
        for w in workers:
            w.send_signal(signal.SIGTERM)
        errors = [w.communicate(timeout=30)[1] for w in workers]
        assert [w.returncode for w in workers] == [0, 0, 0], errors
        by_worker: Counter[str] = Counter()
        for n in names:
            rows = store.decisions(n, limit=10_000, newest_first=False)
            assert len(rows) >= 8
            by_worker.update(r["worker"] for r in rows)
            times = [r["time"] for r in rows]
            gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
            assert all(g >= timedelta(days=1) for g in gaps), f"{n} was checked twice for one slot"
            assert sum(r["kind"] == "initial" for r in rows) == 1
            traded = {r["rebalance_id"] for r in rows if r["traded"]}
            assert {r.id for r in ledger.rebalances(n) if r.status.value == "done"} == traded
        assert set(by_worker) == {"w0", "w1", "w2"}, by_worker
    finally:
        for w in workers:
            w.kill()
        ledger.close()
