"""Adapter tests use the PostgreSQL fixtures (pg_cluster, pg_url) from tests/conftest.py, shared with tests/service."""
