"""Alembic revisions, applied in order by `upgrade head` when a store opens."""
