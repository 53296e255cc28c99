"""A throwaway PostgreSQL cluster for tests: initdb into a temp dir, pg_ctl on a free loopback port, removed after.

Runs the server as the `postgres` system user when we are root (initdb refuses root).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

SERVER_OPTS = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=50"


def pg_bindir() -> Path | None:
    """Directory holding initdb and pg_ctl: newest /usr/lib/postgresql/*/bin (Debian), else PATH."""
    versions = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if p.parent.name.isdigit()]
    for d in sorted(versions, key=lambda p: int(p.parent.name), reverse=True):
        if (d / "initdb").exists() and (d / "pg_ctl").exists():
            return d
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl:
        return Path(initdb).resolve().parent
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgCluster:
    """One running cluster; `create_database()` gives each test its own empty database URL."""

    bindir: Path
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="trimtab-pg-")))
    port: int = 0
    user: str = "postgres"
    setup_seconds: float = 0.0
    _shared_db: str = ""

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = list(args)
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120)

    def start(self) -> PgCluster:
        t0 = time.perf_counter()
        if os.geteuid() == 0:
            shutil.chown(self.root, user="postgres", group="postgres")
        data = self.root / "data"
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            self.user,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        last_error = ""
        for _ in range(3):  # the free port may be taken between probe and bind: retry on another
            self.port = free_port()
            opts = f"{SERVER_OPTS} -c listen_addresses=127.0.0.1 -p {self.port} -k {self.root}"
            try:
                self._run(
                    str(self.bindir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(self.root / "server.log"),
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    opts,
                    "start",
                )
                break
            except subprocess.CalledProcessError as err:
                last_error = f"{err.stderr}\n{self.log()}"
        else:
            raise RuntimeError(f"PostgreSQL did not start:\n{last_error}")
        self.setup_seconds = time.perf_counter() - t0
        return self

    def stop(self) -> None:
        try:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{dbname}"

    def _admin(self, dbname: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(host="127.0.0.1", port=self.port, user=self.user, dbname=dbname, autocommit=True)

    def create_database(self, prefix: str = "t") -> str:
        """A fresh empty database (CREATE DATABASE copies template1: 0.1-0.7 s on a busy 2-core box)."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with self._admin() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def create_schema(self, prefix: str = "s") -> str:
        """A fresh empty schema in the shared test database, as the connection's search_path (about 1 ms)."""
        if not self._shared_db:
            self._shared_db = self.create_database("shared").rsplit("/", 1)[1]
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with self._admin(self._shared_db) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
        return f"{self.url(self._shared_db)}?options=-csearch_path%3D{name}"
