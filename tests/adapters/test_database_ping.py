"""Server connections on a real PostgreSQL: an idle pooled connection the server dropped is pinged and replaced
before use; a busy one is not pinged (no round trip per checkout), so a drop there fails one operation."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import create_engine, text

from trimtab.adapters.storage import SqlLedgerStore, database
from trimtab.errors import LedgerError


def _kill_pooled_connection(store: SqlLedgerStore, url: str) -> None:
    with store.engine.connect() as conn:
        pid = conn.scalar(text("SELECT pg_backend_pid()"))
    other = create_engine(url)
    with other.connect() as conn:
        assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    other.dispose()
    time.sleep(0.2)  # the backend exits


@pytest.mark.postgres
def test_a_dropped_idle_connection_is_replaced_before_use(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = SqlLedgerStore(pg_url)
    store.open_account("a", {"USDC": Decimal(5)}, time=datetime(2024, 1, 1, tzinfo=UTC))
    _kill_pooled_connection(store, pg_url)
    monkeypatch.setattr(database, "IDLE_PING_S", 0.0)  # every pooled connection counts as idle
    assert store.balances("a") == {"USDC": Decimal(5)}  # pinged, found dead, replaced: the read just works
    store.close()


@pytest.mark.postgres
def test_a_busy_connection_is_not_pinged(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = SqlLedgerStore(pg_url)
    store.open_account("a", {"USDC": Decimal(5)}, time=datetime(2024, 1, 1, tzinfo=UTC))
    _kill_pooled_connection(store, pg_url)
    monkeypatch.setattr(database, "IDLE_PING_S", 3600.0)  # just used: no ping, so the drop surfaces once
    with pytest.raises(LedgerError, match="ledger read failed"):
        store.balances("a")
    assert store.balances("a") == {"USDC": Decimal(5)}  # the pool replaced it: the next operation works
    store.close()
