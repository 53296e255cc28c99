"""Alembic migrations of the ledger database; run by trimtab.adapters.storage.migrate, no alembic.ini needed."""
