"""External cash flows in the service: pending deposit / withdrawal requests on a portfolio, the net flow of each
decision (so returns are time-weighted: flows do not count as performance).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("portfolios") as batch:
        batch.add_column(sa.Column("flow_request", sa.Text, nullable=True))
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("flow", sa.Float, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("flow")
    with op.batch_alter_table("portfolios") as batch:
        batch.drop_column("flow_request")
