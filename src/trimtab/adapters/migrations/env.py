"""Alembic environment: trimtab runs migrations programmatically on a connection it already holds."""

from __future__ import annotations

from alembic import context

config = context.config

if context.is_offline_mode():  # `alembic upgrade --sql`: emit the DDL for a DBA to review
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("trimtab migrations need a connection: use trimtab.adapters.storage.migrate.upgrade(engine)")
    context.configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()
