"""Initial schema: accounts, append-only ledger_entries, rebalance journal whose final rows never change.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

AMOUNT = sa.String(64).with_variant(sa.Numeric(48, 18), "postgresql")  # exact: canonical text on SQLite
TIME = sa.DateTime(timezone=True)
STATUSES = "('planned', 'executing', 'done', 'failed', 'partial')"
FINAL = "('done', 'failed', 'partial')"

SQLITE_TRIGGERS = [
    "CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries "
    "BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only'); END",
    "CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries "
    "BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only'); END",
    f"CREATE TRIGGER rebalances_final BEFORE UPDATE ON rebalances WHEN OLD.status IN {FINAL} "
    "BEGIN SELECT RAISE(ABORT, 'a finished rebalance is immutable'); END",
    "CREATE TRIGGER rebalances_no_delete BEFORE DELETE ON rebalances "
    "BEGIN SELECT RAISE(ABORT, 'rebalances are never deleted'); END",
]

PG_TRIGGERS = [
    "CREATE FUNCTION trimtab_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$",
    "CREATE FUNCTION trimtab_rebalance_final() RETURNS trigger LANGUAGE plpgsql AS $$ "
    f"BEGIN IF OLD.status IN {FINAL} THEN RAISE EXCEPTION 'a finished rebalance is immutable'; END IF; "
    "RETURN NEW; END $$",
    "CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries "
    "FOR EACH ROW EXECUTE FUNCTION trimtab_append_only()",
    "CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries "
    "FOR EACH STATEMENT EXECUTE FUNCTION trimtab_append_only()",
    "CREATE TRIGGER rebalances_final BEFORE UPDATE ON rebalances "
    "FOR EACH ROW EXECUTE FUNCTION trimtab_rebalance_final()",
    "CREATE TRIGGER rebalances_no_delete BEFORE DELETE ON rebalances "
    "FOR EACH ROW EXECUTE FUNCTION trimtab_append_only()",
]


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("created_at", TIME, nullable=False),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("account", sa.String(64), sa.ForeignKey("accounts.name"), nullable=False),
        sa.Column("asset", sa.String(32), nullable=False),
        sa.Column("amount", AMOUNT, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("ref", sa.String(128), nullable=False),
        sa.Column("time", TIME, nullable=False),
        sa.Column("rebalance_id", sa.String(64), nullable=False),
        sa.Column("price", AMOUNT, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
    )
    op.create_index("ix_ledger_entries_account_id", "ledger_entries", ["account", "id"])
    op.create_index("ix_ledger_entries_rebalance_id", "ledger_entries", ["rebalance_id"])
    op.create_table(
        "rebalances",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("account", sa.String(64), sa.ForeignKey("accounts.name"), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("plan_json", sa.Text, nullable=False),
        sa.Column("report_json", sa.Text, nullable=True),
        sa.Column("finished_at", TIME, nullable=True),
        sa.CheckConstraint(f"status IN {STATUSES}", name="ck_rebalances_status"),
    )
    op.create_index("ix_rebalances_account_created", "rebalances", ["account", "created_at"])
    triggers = PG_TRIGGERS if op.get_bind().dialect.name == "postgresql" else SQLITE_TRIGGERS
    for ddl in triggers:
        op.execute(ddl)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TABLE rebalances, ledger_entries, accounts")
        op.execute("DROP FUNCTION trimtab_append_only(), trimtab_rebalance_final()")
        return
    op.drop_table("rebalances")
    op.drop_table("ledger_entries")
    op.drop_table("accounts")
