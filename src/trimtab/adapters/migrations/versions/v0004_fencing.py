"""Lease fencing: a per-process token and an epoch on each portfolio lease, worker heartbeats, rebalance holders.

Revision ID: 0004
Revises: 0002 (the lead re-chains it after v0003_prices when merging)
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)
TOKEN = sa.String(64)


def upgrade() -> None:
    with op.batch_alter_table("portfolios") as batch:
        batch.add_column(sa.Column("lease_token", TOKEN, nullable=True))
        batch.add_column(sa.Column("lease_epoch", sa.Integer, nullable=False, server_default="0"))
    op.create_table(
        "service_workers",
        sa.Column("token", TOKEN, primary_key=True),
        sa.Column("worker_id", sa.String(64), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", TIME, nullable=False),
        sa.Column("heartbeat_at", TIME, nullable=False),
    )
    op.create_table(
        "rebalance_holders",
        sa.Column("rebalance_id", sa.String(64), primary_key=True),
        sa.Column("portfolio", sa.String(64), nullable=False),
        sa.Column("token", TOKEN, nullable=False),
        sa.Column("epoch", sa.Integer, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rebalance_holders")
    op.drop_table("service_workers")
    with op.batch_alter_table("portfolios") as batch:
        batch.drop_column("lease_epoch")
        batch.drop_column("lease_token")
