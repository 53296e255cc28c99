"""Service tables: portfolios (schedule, controls, leases), decisions, target versions, audit log, alerts, meta.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)
NAME = sa.String(64)


def upgrade() -> None:
    op.create_table(
        "service_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "portfolios",
        sa.Column("name", NAME, primary_key=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("paused_reason", sa.Text, nullable=False, server_default=""),
        sa.Column("next_check_at", TIME, nullable=True),
        sa.Column("last_check_at", TIME, nullable=True),
        sa.Column("anchor_at", TIME, nullable=True),
        sa.Column("lease_owner", NAME, nullable=True),
        sa.Column("lease_until", TIME, nullable=True),
        sa.Column("trigger_requested", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("exit_request", sa.Text, nullable=True),
        sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("bh_json", sa.Text, nullable=True),
        sa.Column("notice_for", TIME, nullable=True),
        sa.Column("summary_month", sa.String(7), nullable=True),
    )
    op.create_index("ix_portfolios_due", "portfolios", ["next_check_at"])
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("portfolio", NAME, sa.ForeignKey("portfolios.name"), nullable=False),
        sa.Column("time", TIME, nullable=False),
        sa.Column("recorded_at", TIME, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("fired", sa.Boolean, nullable=False),
        sa.Column("traded", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("rebalance_id", sa.String(64), nullable=True),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("bh_value", sa.Float, nullable=False),
        sa.Column("weights_json", sa.Text, nullable=False),
        sa.Column("targets_json", sa.Text, nullable=False),
        sa.Column("metrics_json", sa.Text, nullable=False),
        sa.Column("plan_json", sa.Text, nullable=True),
        sa.Column("report_json", sa.Text, nullable=True),
        sa.Column("worker", NAME, nullable=False, server_default=""),
    )
    op.create_index("ix_decisions_portfolio_id", "decisions", ["portfolio", "id"])
    op.create_table(
        "target_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("portfolio", NAME, sa.ForeignKey("portfolios.name"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("targets_json", sa.Text, nullable=False),
        sa.Column("actor", sa.String(32), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.UniqueConstraint("portfolio", "version", name="uq_target_versions_portfolio_version"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("portfolio", NAME, nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(32), nullable=False),
        sa.Column("detail_json", sa.Text, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("portfolio", NAME, nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("payload_json", sa.Text, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("delivery", sa.Text, nullable=False, server_default="pending"),
    )
    op.create_index("ix_alerts_portfolio_id", "alerts", ["portfolio", "id"])


def downgrade() -> None:
    for table in ("alerts", "audit_log", "target_versions", "decisions", "portfolios", "service_meta"):
        op.drop_table(table)
