"""Service benchmarks -> benchmarks/results/service.json.

1. One process on SQLite, 1,000 paper portfolios on a 1-minute cycle: time one full round of cycles
   (round 1 = initial allocations, all trading; round 2 = ordinary checks). Target: each round < 20 s.
2. The status endpoint under a paced local load generator (200 req/s, loopback, httpx) while the
   scheduler keeps cycling every portfolio (the service runs in its own process). Target: p99 < 100 ms.

    python benchmarks/bench_service.py [--portfolios 1000] [--seconds 10] [--rate 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
TOKEN = "bench-admin-token-0123456789"
PRESETS = ("ethereum", "bitcoin", "index-fund")


def write_config(directory: Path, n: int, speed: float, check_every: str) -> Path:
    doc = {
        "database_url": str(directory / "svc.db"),
        "claim_batch": 256,
        "market_data": {"source": "replay", "start": "2023-01-01", "speed": speed},
        "portfolios": [
            {"name": f"p{i:04d}", "strategy": PRESETS[i % len(PRESETS)], "check_every": check_every} for i in range(n)
        ],
    }
    path = directory / "service.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def bench_rounds(n: int) -> dict[str, Any]:
    from trimtab.service.bootstrap import build_services
    from trimtab.service.runner import Runner
    from trimtab.service.settings import Tokens, load_settings

    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(Path(tmp), n, speed=1.0, check_every="1m")
        t0 = time.perf_counter()
        services = build_services(load_settings(config), Tokens())
        setup = time.perf_counter() - t0
        runner = Runner(services, batch=n)
        t1 = time.perf_counter()
        first = runner.run_once()
        round1 = time.perf_counter() - t1
        with services.ledger.engine.begin() as conn:  # make every portfolio due again (as one minute later)
            conn.exec_driver_sql("UPDATE portfolios SET next_check_at = NULL")
        t2 = time.perf_counter()
        second = runner.run_once()
        round2 = time.perf_counter() - t2
        traded = sum(1 for name in services.runtimes if services.store.decisions(name, limit=1)[0]["traded"])
        services.close()
    return {
        "portfolios": n,
        "setup_s": setup,
        "round1_initial_allocation_s": round1,
        "round1_cycles": first,
        "round2_checks_s": round2,
        "round2_cycles": second,
        "round2_traded": traded,
        "cycles_per_s_round2": second / round2,
        "target_round_s": 20.0,
        "pass": max(round1, round2) < 20.0,
    }


async def _load(url: str, names: list[str], rate: float, seconds: float, connections: int = 32) -> dict[str, Any]:
    """Open-loop paced GETs (request i is due at start + i / rate) over keep-alive loopback connections.

    A raw asyncio HTTP/1.1 client: httpx's per-request CPU would make the generator, not the server, the limit
    on a 2-core box. Latency counts from the due time, so queueing in the generator is charged to the server."""
    host, port = url.removeprefix("http://").split(":")
    total = int(rate * seconds)
    queue: asyncio.Queue[int | None] = asyncio.Queue()
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter() + 0.2

    async def worker() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, int(port))
        while (i := await queue.get()) is not None:
            due = start + i / rate
            req = (
                f"GET /api/portfolios/{names[i % len(names)]} HTTP/1.1\r\nHost: {host}\r\n"
                f"Authorization: Bearer {TOKEN}\r\n\r\n"
            )
            writer.write(req.encode())
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length"))
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - due)
            errors += not head.startswith(b"HTTP/1.1 200")
        writer.close()

    workers = [asyncio.create_task(worker()) for _ in range(connections)]
    for i in range(total):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait(i)
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    elapsed = time.perf_counter() - start
    ms = np.array(latencies) * 1000
    return {
        "requests": total,
        "errors": errors,
        "achieved_rate": total / elapsed,
        "target_rate": rate,
        "connections": connections,
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
    }


def bench_status(n: int, rate: float, seconds: float, speed: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(Path(tmp), n, speed=speed, check_every="1m")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {**os.environ, "TRIMTAB_ADMIN_TOKEN": TOKEN}
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from trimtab.cli import main; main()",
                "serve",  # noqa: S603
                "--config",
                str(config),
                "--port",
                str(port),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    r = httpx.get(f"{url}/api/health", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=2)
                    if r.status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            while _decisions(Path(tmp) / "svc.db") < n:  # the initial allocations are done
                time.sleep(0.2)
            names = [f"p{i:04d}" for i in range(n)]
            before = _decisions(Path(tmp) / "svc.db")
            result = _load(url, names, rate, seconds)
            out = asyncio.run(result)
            out["cycles_during_load"] = _decisions(Path(tmp) / "svc.db") - before
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
    out.update(
        {
            "portfolios": n,
            "seconds": seconds,
            "clock_speed": speed,
            "target_p99_ms": 100.0,
            "pass": out["p99_ms"] < 100.0 and out["errors"] == 0 and out["achieved_rate"] >= 0.95 * rate,
        }
    )
    return out


def _decisions(db: Path) -> int:
    import sqlite3

    try:
        with sqlite3.connect(db, timeout=30) as conn:
            return int(conn.execute("SELECT count(*) FROM decisions").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--portfolios", type=int, default=1000)
    ap.add_argument("--status-portfolios", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument(
        "--speed",
        type=float,
        default=6.0,
        help="status part: clock speed (6: a 1-minute cycle "
        "comes due every 10 s, so the scheduler runs cycles throughout the load)",
    )
    ap.add_argument("--out", type=Path, default=HERE / "results" / "service.json")
    args = ap.parse_args()
    doc = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "rounds": bench_rounds(args.portfolios) if args.portfolios else None,
        "status_load": bench_status(args.status_portfolios, args.rate, args.seconds, args.speed),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps(doc))  # noqa: T201


if __name__ == "__main__":
    main()
