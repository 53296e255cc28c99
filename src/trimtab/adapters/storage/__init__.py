"""Ledger persistence: SqlLedgerStore (SQLite file or PostgreSQL, Alembic-migrated) and InMemoryLedgerStore."""

from trimtab.adapters.storage.database import current_revision, head_revision
from trimtab.adapters.storage.memory import InMemoryLedgerStore
from trimtab.adapters.storage.records import RebalanceRecord, RebalanceStatus
from trimtab.adapters.storage.sql import SqlLedgerStore

__all__ = [
    "InMemoryLedgerStore",
    "RebalanceRecord",
    "RebalanceStatus",
    "SqlLedgerStore",
    "current_revision",
    "head_revision",
]
