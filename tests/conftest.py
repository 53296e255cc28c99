"""Shared fixtures: a throwaway PostgreSQL cluster (session) and a fresh schema per test (adapters, service)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.ci import require
from tests.pg import PgCluster, pg_bindir

_SETUP_SECONDS: list[float] = []


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """Start one PostgreSQL cluster for the session; skip locally (fail in CI) when PostgreSQL is not installed."""
    bindir = pg_bindir()
    if bindir is None:
        require(False, "PostgreSQL binaries (initdb, pg_ctl) not found: run `bash scripts/ensure_postgres.sh`")
    cluster = PgCluster(bindir).start()
    _SETUP_SECONDS.append(cluster.setup_seconds)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def pg_url(pg_cluster: PgCluster) -> str:
    """URL of a new empty schema (search_path) in the session cluster: isolated like a database, 300x faster."""
    url: str = pg_cluster.create_schema()
    return url


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for seconds in _SETUP_SECONDS:
        terminalreporter.write_line(f"postgres test cluster: initdb + start in {seconds:.2f}s")
