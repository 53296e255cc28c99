"""SQLAlchemy tables the stores query; the DDL itself lives in the Alembic migrations (adapters/migrations/)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, DateTime, ForeignKey, Integer, MetaData, Numeric, String, Table, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from trimtab.adapters.storage.records import SCALE


class ExactDecimal(TypeDecorator[Decimal]):
    """Decimal stored exactly: NUMERIC(48, 18) on PostgreSQL, canonical TEXT elsewhere (SQLite has no exact numeric)."""

    impl = String(64)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(48, SCALE, asdecimal=True))
        return dialect.type_descriptor(String(64))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None or dialect.name == "postgresql":
            return value
        return format(value, "f")  # fixed-point text, readable in any SQLite browser

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(value)


class UtcDateTime(TypeDecorator[datetime]):
    """Timestamps in UTC: TIMESTAMPTZ on PostgreSQL, naive-UTC text on SQLite; always read back tz-aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        utc = value.astimezone(UTC) if value.tzinfo else value
        return utc if dialect.name == "postgresql" else utc.replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise RuntimeError("internal invariant broken: expected isinstance(value, datetime)")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

accounts = Table(
    "accounts",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("created_at", UtcDateTime(), nullable=False),
)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account", String(64), ForeignKey("accounts.name"), nullable=False),
    Column("asset", String(32), nullable=False),
    Column("amount", ExactDecimal(), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("ref", String(128), nullable=False),
    Column("time", UtcDateTime(), nullable=False),
    Column("rebalance_id", String(64), nullable=False),
    Column("price", ExactDecimal(), nullable=False),
    Column("note", Text, nullable=False),
)

rebalances = Table(
    "rebalances",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("account", String(64), ForeignKey("accounts.name"), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("plan_json", Text, nullable=False),
    Column("report_json", Text, nullable=True),
    Column("finished_at", UtcDateTime(), nullable=True),
)
