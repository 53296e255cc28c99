"""Open a ledger database: URL/path normalisation, engine set-up per backend, Alembic `upgrade head` on open.

New revisions (developers): `alembic_config(url)` then `alembic.command.revision(cfg, "message")`.
"""

from __future__ import annotations

import os
import sqlite3
import time
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError, SQLAlchemyError

from trimtab.errors import ConfigError, LedgerError
from trimtab.scrub import scrub

FIELD = "database_url"
MIGRATION_LOCK = 7_311_042  # pg_advisory_xact_lock key: concurrent openers migrate one at a time
SQLITE_BUSY_TIMEOUT_S = 30.0


def normalize_url(url: str | os.PathLike[str]) -> URL:
    """`sqlite:///file`, `postgresql[+psycopg]://...` or a plain file path (-> SQLite); ConfigError otherwise."""
    raw = os.fspath(url).strip()
    if not raw:
        raise ConfigError("empty database URL", field=FIELD)
    if "://" not in raw:
        return URL.create("sqlite", database=str(Path(raw).expanduser().resolve()))
    try:
        parsed = make_url(raw)
    except (ArgumentError, ValueError) as err:
        raise ConfigError(f"cannot parse database URL: {err}", field=FIELD) from None
    backend = parsed.get_backend_name()
    if backend == "postgres":
        backend = "postgresql"
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg")  # psycopg 3 is the installed driver
    if backend != "sqlite":
        raise ConfigError(f"unsupported database {backend!r} (use sqlite:///path or postgresql://...)", field=FIELD)
    if parsed.database in (None, "", ":memory:") or parsed.query.get("mode") == "memory":
        raise ConfigError("in-memory SQLite is not supported: use a file path or InMemoryLedgerStore", field=FIELD)
    return parsed.set(drivername="sqlite", database=str(Path(parsed.database).expanduser().resolve()))


def make_engine(url: URL) -> Engine:
    """Engine for `url`; SQLite gets WAL, foreign keys, a busy timeout and BEGIN IMMEDIATE so writers queue."""
    if url.get_backend_name() != "sqlite":
        return _ping_when_idle(create_engine(url))
    if url.database is None:
        raise RuntimeError("internal invariant broken: expected url.database is not None")
    try:
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"cannot create the ledger directory: {err}", field=FIELD) from None
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None  # let SQLAlchemy's "begin" event below emit BEGIN itself
        dbapi_conn.execute("PRAGMA foreign_keys=ON")
        _use_wal(dbapi_conn)

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # take the write lock up front: no lock-upgrade deadlocks

    return engine


IDLE_PING_S = 10.0  # a pooled server connection unused this long is pinged before use


def _ping_when_idle(engine: Engine) -> Engine:
    """Pessimistic disconnect handling for the connections that need it: one idle for IDLE_PING_S is pinged at
    checkout (a dead one is replaced before use, as pool_pre_ping does); one returned moments ago is not, which
    saves a round trip per statement batch on a busy service. A server restart while busy fails one operation,
    which the caller's error path handles (the pool then replaces every connection)."""

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_conn, record):  # type: ignore[no-untyped-def]
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _check(dbapi_conn, record, _proxy):  # type: ignore[no-untyped-def]
        last = record.info.get("returned_at")
        if last is None or time.monotonic() - last < IDLE_PING_S:
            return  # new (just connected) or busy
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error:
            alive = False
        if not alive:
            raise DisconnectionError("idle connection found dead; the pool opens a new one")

    return engine


def _use_wal(dbapi_conn: sqlite3.Connection) -> None:
    """Switch the file to WAL (readers never block the writer); the switch skips the busy handler, so retry."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    while dbapi_conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        try:
            dbapi_conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def alembic_config(url: URL | None = None) -> Config:
    """Alembic Config pointing at the packaged migrations; no alembic.ini needed."""
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("trimtab.adapters") / "migrations"))
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


def head_revision() -> str:
    """Newest migration revision shipped with this version of trimtab."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("internal invariant broken: expected head is not None")
    return head


def current_revision(engine: Engine) -> str | None:
    """Revision the database is at (None for an empty database)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> None:
    """`alembic upgrade head` in one transaction; a no-op when already at head (so opening twice is safe)."""
    cfg = alembic_config()
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except SQLAlchemyError as err:
        raise LedgerError(f"cannot open ledger database {engine.url!r}: {scrub(err)}") from err
