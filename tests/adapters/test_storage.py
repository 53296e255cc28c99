"""Ledger stores: the shared contract on InMemory, SQLite (real file) and PostgreSQL (throwaway cluster), plus SQL
specifics."""

from __future__ import annotations

import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import DBAPIError
from tests.contracts.ledger_store_contract import LedgerStoreContract, entry

from trimtab.adapters.storage import InMemoryLedgerStore, SqlLedgerStore, current_revision, head_revision
from trimtab.adapters.storage.database import alembic_config
from trimtab.errors import ConfigError, LedgerError


class TestInMemoryStore(LedgerStoreContract):
    @pytest.fixture
    def store(self) -> InMemoryLedgerStore:
        return InMemoryLedgerStore()


class TestSqliteStore(LedgerStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Any:
        with SqlLedgerStore(tmp_path / "ledger.db") as s:
            yield s


@pytest.mark.postgres
class TestPostgresStore(LedgerStoreContract):
    @pytest.fixture
    def store(self, pg_url: str) -> Any:
        with SqlLedgerStore(pg_url) as s:
            yield s


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL on each SQL backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    return str(request.getfixturevalue("pg_url"))


def test_initial_entries_of_in_memory_store() -> None:
    store = InMemoryLedgerStore([entry("BTC", "2"), entry("BTC", "-0.5")])
    assert store.balances("main") == {"BTC": Decimal("1.5")}
    with pytest.raises(LedgerError):
        InMemoryLedgerStore([entry("btc", "1")])


# -- opening ----------------------------------------------------------------------------------------


def test_plain_path_and_sqlite_url_open_the_same_file_creating_parent_dirs(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "ledger.db"
    SqlLedgerStore(str(path)).append([entry("BTC", "1.1")])
    assert path.is_file()
    assert SqlLedgerStore(f"sqlite:///{path}").balances("main") == {"BTC": Decimal("1.1")}


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "empty"),
        ("mysql://u@h/db", "unsupported database"),
        ("sqlite://", "in-memory"),
        ("sqlite:///:memory:", "in-memory"),
        ("post gres://x", "cannot parse"),
        ("postgresql://u@h:notaport/db", "cannot parse"),
    ],
)
def test_bad_urls_are_config_errors_naming_the_field(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        SqlLedgerStore(url)
    assert err.value.field == "database_url"


def test_uncreatable_sqlite_directory_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(ConfigError, match="cannot create the ledger directory"):
        SqlLedgerStore(tmp_path / "file" / "sub" / "ledger.db")


def test_postgres_urls_get_the_psycopg_driver() -> None:
    from trimtab.adapters.storage.database import normalize_url

    assert normalize_url("postgres://u:p@h:5/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgresql://u@h/db").drivername == "postgresql+psycopg"


def test_unreachable_postgres_is_a_ledger_error() -> None:
    with pytest.raises(LedgerError, match="cannot open ledger database"):
        SqlLedgerStore("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")


# -- migrations ---------------------------------------------------------------------------------------


def test_migrations_run_on_open_and_are_idempotent(db_url: str) -> None:
    first = SqlLedgerStore(db_url)
    first.append([entry("ETH", "2")])
    second = SqlLedgerStore(db_url)  # opening again runs `upgrade head` again: a no-op
    assert current_revision(second.engine) == head_revision()
    assert second.balances("main") == {"ETH": Decimal(2)}
    names = set(inspect(second.engine).get_table_names())
    assert {"accounts", "ledger_entries", "rebalances", "alembic_version"} <= names
    with second.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1


def test_downgrade_then_reopen_rebuilds_the_schema(db_url: str) -> None:
    store = SqlLedgerStore(db_url)
    cfg = alembic_config()
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert current_revision(store.engine) is None
    assert "ledger_entries" not in inspect(store.engine).get_table_names()
    reopened = SqlLedgerStore(db_url)
    reopened.append([entry()])
    assert current_revision(reopened.engine) == head_revision()


def test_concurrent_first_opens_migrate_once(db_url: str) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def open_and_write(i: int) -> None:
        barrier.wait()
        try:
            SqlLedgerStore(db_url).append([entry("BTC", str(i + 1))])
        except BaseException as err:  # noqa: BLE001 - collected and asserted below
            errors.append(err)

    threads = [threading.Thread(target=open_and_write, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert SqlLedgerStore(db_url).balances("main") == {"BTC": Decimal(6)}


# -- storage details ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE ledger_entries SET amount = '5'",
        "DELETE FROM ledger_entries",
    ],
)
def test_database_refuses_to_rewrite_ledger_history(db_url: str, sql: str) -> None:
    store = SqlLedgerStore(db_url)
    store.append([entry("BTC", "1")])
    with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
        conn.execute(text(sql))
    assert store.entries() == [entry("BTC", "1")]


def test_database_refuses_to_change_a_finished_rebalance(db_url: str) -> None:
    store = SqlLedgerStore(db_url)
    open_id = store.start_rebalance("main", "{}", "drift")
    done_id = store.start_rebalance("main", "{}", "drift")
    store.finish_rebalance(done_id, "done", "{}")
    with store.engine.begin() as conn:  # an open rebalance may still change
        conn.execute(text("UPDATE rebalances SET status = 'executing' WHERE id = :i"), {"i": open_id})
    with pytest.raises(DBAPIError, match="immutable"), store.engine.begin() as conn:
        conn.execute(text("UPDATE rebalances SET status = 'failed' WHERE id = :i"), {"i": done_id})
    with pytest.raises(DBAPIError), store.engine.begin() as conn:
        conn.execute(text("UPDATE rebalances SET status = 'bogus' WHERE id = :i"), {"i": open_id})
    assert store.rebalance(done_id).status.value == "done"


def test_sqlite_keeps_amounts_as_exact_text(tmp_path: Path) -> None:
    store = SqlLedgerStore(tmp_path / "l.db")
    store.append([entry("ETH", "0.000000000000000001"), entry("ETH", "123456789012345678901234567890")])
    with create_engine(f"sqlite:///{tmp_path / 'l.db'}").connect() as conn:
        raw = conn.execute(text("SELECT amount, typeof(amount) FROM ledger_entries ORDER BY id")).all()
    assert raw == [("0.000000000000000001", "text"), ("123456789012345678901234567890", "text")]


@pytest.mark.postgres
def test_postgres_amounts_are_numeric_48_18(pg_url: str) -> None:
    store = SqlLedgerStore(pg_url)
    with store.engine.connect() as conn:
        cols = conn.execute(
            text(
                "SELECT column_name, data_type, numeric_precision, numeric_scale FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = 'ledger_entries' AND column_name IN "
                "('amount', 'price') ORDER BY column_name"
            )
        ).all()
    assert cols == [("amount", "numeric", 48, 18), ("price", "numeric", 48, 18)]


def test_concurrent_appends_from_two_stores_on_one_sqlite_file_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    stores = [SqlLedgerStore(path), SqlLedgerStore(path)]
    batches, per_batch = 40, 5
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def writer(k: int) -> None:
        barrier.wait()
        try:
            for b in range(batches):
                stores[k].append([entry("BTC", "0.001", ref=f"w{k}-{b}-{i}") for i in range(per_batch)])
                stores[k].balances("main")  # interleave reads with the other thread's writes
        except BaseException as err:  # noqa: BLE001 - collected and asserted below
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    refs = [e.ref for e in SqlLedgerStore(path).entries()]
    assert len(refs) == len(set(refs)) == 2 * batches * per_batch
    assert SqlLedgerStore(path).balances("main") == {"BTC": Decimal("0.001") * 2 * batches * per_batch}
