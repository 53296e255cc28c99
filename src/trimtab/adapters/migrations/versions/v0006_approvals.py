"""Tiered autonomy: plans above a strategy's approval thresholds wait in `pending_approvals` for an admin.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)
NAME = sa.String(64)


def upgrade() -> None:
    op.create_table(
        "pending_approvals",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("portfolio", NAME, sa.ForeignKey("portfolios.name"), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("expires_at", TIME, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("plan_json", sa.Text, nullable=False),
        sa.Column("trigger_json", sa.Text, nullable=False),
        sa.Column("notional", sa.String(64), nullable=False),
        sa.Column("cost", sa.String(64), nullable=False),
        sa.Column("targets_version", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decided_by", NAME, nullable=True),
        sa.Column("decided_at", TIME, nullable=True),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("rebalance_id", sa.String(64), nullable=True),
    )
    op.create_index("ix_pending_approvals_open", "pending_approvals", ["portfolio", "status"])


def downgrade() -> None:
    op.drop_index("ix_pending_approvals_open", table_name="pending_approvals")
    op.drop_table("pending_approvals")
