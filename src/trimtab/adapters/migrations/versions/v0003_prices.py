"""Live market data: price_bars (the service's point-in-time price store), equity_marks and model_state
(drawdown protection and a model's weights for its period, across restarts).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

AMOUNT = sa.String(64).with_variant(sa.Numeric(48, 18), "postgresql")  # exact: canonical text on SQLite
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "price_bars",
        sa.Column("asset", sa.String(32), primary_key=True),
        sa.Column("quote", sa.String(32), primary_key=True),
        sa.Column("time", TIME, primary_key=True),
        sa.Column("close", AMOUNT, nullable=False),
        sa.Column("volume", AMOUNT, nullable=True),
        sa.Column("source", sa.String(32), nullable=False),
    )
    op.create_table(
        "equity_marks",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("time", TIME, primary_key=True),
        sa.Column("value", AMOUNT, nullable=False),
    )
    op.create_table(  # an allocation model's weights for its current re-estimation period (survive restarts)
        "model_state",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("period", sa.String(64), nullable=False),
        sa.Column("weights_json", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("model_state")
    op.drop_table("equity_marks")
    op.drop_table("price_bars")
