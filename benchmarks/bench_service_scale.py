"""Service scale -> benchmarks/results/service_scale.json (issue 16, item 6).

10,000 paper portfolios on a 1-minute cycle (the three classic presets in turn, replayed bundled prices):
- SQLite, one process: start-up, round 1 (every portfolio's initial allocation: all trade) and round 2 (ordinary
  checks of all of them, as one minute later).
- PostgreSQL (a local cluster with its default durability: fsync and synchronous_commit on), 1, 2 and 4 worker
  processes sharing the database: the same two rounds, wall time from a common start until every portfolio ran.
Target: each round under 60 s; on PostgreSQL 2 workers at least 1.7x faster than one.

    python benchmarks/bench_service_scale.py [--portfolios 10000] [--workers 1 2 4] [--skip-sqlite]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PRESETS = ("ethereum", "bitcoin", "index-fund")
TARGET_S = 60.0

WORKER = r"""
import json, sys, time
from trimtab.service.bootstrap import build_services
from trimtab.service.runner import Runner
from trimtab.service.settings import Tokens, load_settings

config, worker = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
services = build_services(load_settings(config), Tokens(), worker_id=worker)
runner = Runner(services)
print(json.dumps({"ready": time.perf_counter() - t0}), flush=True)
for line in sys.stdin:  # one line per round: run until nothing is due, then report
    if line.strip() == "quit":
        break
    t1, cycles = time.perf_counter(), 0
    while n := runner.run_once():
        cycles += n
    print(json.dumps({"cycles": cycles, "seconds": time.perf_counter() - t1}), flush=True)
services.close()
"""


def write_config(directory: Path, n: int, database_url: str) -> Path:
    doc = {
        "database_url": database_url,
        "claim_batch": 64,  # small batches: workers sharing a database split a round evenly
        "lease_seconds": 600,
        # the replay clock crawls (0.01x) so a round that outlasts a minute does not run portfolios twice
        "market_data": {"source": "replay", "start": "2023-01-01", "speed": 0.01},
        "portfolios": [
            {"name": f"p{i:05d}", "strategy": PRESETS[i % len(PRESETS)], "check_every": "1m"} for i in range(n)
        ],
    }
    path = directory / "service.yaml"
    path.write_text(yaml.safe_dump(doc))
    path.chmod(0o600)  # the service warns about a config others can read (it may hold a database password)
    return path


def _due_again(database_url: str) -> None:
    """Every portfolio due now (as one minute later), so round 2 checks all of them."""
    from sqlalchemy import create_engine, text

    url = database_url if "://" in database_url else f"sqlite:///{database_url}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE portfolios SET next_check_at = NULL"))
    engine.dispose()


def run_workers(config: Path, database_url: str, workers: int) -> dict[str, Any]:
    """Start `workers` processes (start-up not timed together), then time two rounds from a common start."""

    def spawn(w: int) -> subprocess.Popen[str]:
        return subprocess.Popen(  # noqa: S603 - this interpreter, our own script
            [sys.executable, "-c", WORKER, str(config), f"bench-{w}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )

    procs = [spawn(0)]  # the first creates the portfolios and opens the accounts; the others find them
    try:
        ready = [json.loads(procs[0].stdout.readline())["ready"]] if procs[0].stdout else []
        procs += [spawn(w) for w in range(1, workers)]
        ready += [json.loads(p.stdout.readline())["ready"] for p in procs[1:] if p.stdout]
        out: dict[str, Any] = {
            "workers": workers,
            "startup_first_s": ready[0],
            "startup_others_s": max(ready[1:], default=None),
        }
        for label in ("round1_initial_allocation", "round2_checks"):
            if label == "round2_checks":
                _due_again(database_url)
            t0 = time.perf_counter()
            for p in procs:
                if p.stdin:
                    p.stdin.write("go\n")
                    p.stdin.flush()
            results = [json.loads(p.stdout.readline()) for p in procs if p.stdout]
            out[f"{label}_s"] = time.perf_counter() - t0
            out[f"{label}_cycles"] = sum(r["cycles"] for r in results)
            out[f"{label}_per_worker"] = [r["cycles"] for r in results]
        for p in procs:
            if p.stdin:
                p.stdin.write("quit\n")
                p.stdin.flush()
        for p in procs:
            p.wait(120)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    out["pass"] = max(out["round1_initial_allocation_s"], out["round2_checks_s"]) < TARGET_S
    return out


def bench_sqlite(n: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "svc.db")
        return {"portfolios": n, **run_workers(write_config(Path(tmp), n, db), db, 1)}


def bench_postgres(n: int, workers: list[int]) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from tests import pg

    bindir = pg.pg_bindir()
    if bindir is None:
        return {"skipped": "no PostgreSQL server binaries (run scripts/ensure_test_services.sh)"}
    pg.SERVER_OPTS = "-c max_connections=100"  # production durability: fsync and synchronous_commit stay on
    cluster = pg.PgCluster(bindir).start()
    runs = []
    try:
        for w in workers:
            url = cluster.create_database("scale")
            with tempfile.TemporaryDirectory() as tmp:
                runs.append({"portfolios": n, **run_workers(write_config(Path(tmp), n, url), url, w)})
    finally:
        cluster.stop()
    one = next((r for r in runs if r["workers"] == 1), None)
    for r in runs:
        if one:
            r["round2_speedup_vs_1"] = one["round2_checks_s"] / r["round2_checks_s"]
            r["round1_speedup_vs_1"] = one["round1_initial_allocation_s"] / r["round1_initial_allocation_s"]
    two = next((r for r in runs if r["workers"] == 2), None)
    return {
        "runs": runs,
        "target_speedup_2_workers": 1.7,
        "speedup_pass": bool(two and two.get("round2_speedup_vs_1", 0) >= 1.7),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--portfolios", type=int, default=10_000)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--skip-sqlite", action="store_true")
    ap.add_argument("--skip-postgres", action="store_true")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "service_scale.json")
    args = ap.parse_args()
    doc: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "load_average_start": os.getloadavg()[0],
        "target_round_s": TARGET_S,
    }
    if not args.skip_sqlite:
        doc["sqlite"] = bench_sqlite(args.portfolios)
        print(json.dumps(doc["sqlite"]), flush=True)  # noqa: T201
    if not args.skip_postgres:
        doc["postgres"] = bench_postgres(args.portfolios, args.workers)
    doc["load_average_end"] = os.getloadavg()[0]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps(doc))  # noqa: T201


if __name__ == "__main__":
    main()
