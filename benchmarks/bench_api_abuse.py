"""API under abuse -> benchmarks/results/api_abuse.json (against 127.0.0.1 only, bounded loops).

1. One unauthenticated 1 MB POST body: status, time to the answer, and whether the server answered before
   the client finished sending (the token is checked before any body is read).
2. 1,000 requests with a wrong bearer token from one address: status counts and time; then a valid token from
   the same address (blocked while the failures are in the window) and the server's RSS before/after.

    python benchmarks/bench_api_abuse.py [--bad 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import yaml

HERE = Path(__file__).resolve().parent
TOKEN = "bench-admin-token-0123456789"
HOST = "127.0.0.1"


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _raw_post(port: int, body: bytes) -> dict[str, Any]:
    """Send headers, then stream the body; note when the answer arrives relative to the body sent."""
    t0 = time.perf_counter()
    sock = socket.create_connection((HOST, port), timeout=10)
    head = (
        f"POST /api/portfolios/p0/targets HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    sock.sendall(head)
    sent = 0
    sock.setblocking(False)
    answer = b""
    try:
        while sent < len(body) and b"\r\n\r\n" not in answer:
            try:
                sent += sock.send(body[sent : sent + 65536])
            except BlockingIOError:
                time.sleep(0.001)
            except (BrokenPipeError, ConnectionResetError):
                break
            try:
                answer += sock.recv(65536)
            except BlockingIOError:
                pass
        sock.setblocking(True)
        sock.settimeout(10)
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    finally:
        sock.close()
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0
    return {
        "status": status,
        "seconds": round(time.perf_counter() - t0, 4),
        "body_bytes": len(body),
        "body_bytes_sent_before_answer": sent,
        "answer": answer.split(b"\r\n\r\n", 1)[-1][:120].decode(),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bad", type=int, default=1000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "service.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "database_url": str(Path(tmp) / "svc.db"),
                    "market_data": {"source": "replay", "start": "2023-01-01", "speed": 1.0},
                    "portfolios": [{"name": "p0", "strategy": "ethereum"}],
                }
            )
        )
        with socket.socket() as s:
            s.bind((HOST, 0))
            port = s.getsockname()[1]
        env = {**os.environ, "TRIMTAB_ADMIN_TOKEN": TOKEN}
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from trimtab.cli import main; main()",
                "serve",
                "--config",
                str(config),
                "--host",
                HOST,
                "--port",
                str(port),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            url = f"http://{HOST}:{port}"
            deadline = time.monotonic() + 60
            with httpx.Client(timeout=10) as c:
                while time.monotonic() < deadline:
                    try:
                        if c.get(f"{url}/api/health", headers={"Authorization": f"Bearer {TOKEN}"}).is_success:
                            break
                    except httpx.HTTPError:
                        time.sleep(0.1)
                rss0 = _rss_kib(proc.pid)
                big = _raw_post(port, b"{" + b" " * (2**20 - 2) + b"}")
                counts: Counter[int] = Counter()
                t0 = time.perf_counter()
                for i in range(args.bad):  # bounded: exactly --bad requests, loopback only
                    counts[
                        c.get(f"{url}/api/health", headers={"Authorization": f"Bearer wrong-{i:012d}"}).status_code
                    ] += 1
                bad_s = time.perf_counter() - t0
                valid = c.get(f"{url}/api/health", headers={"Authorization": f"Bearer {TOKEN}"})
                rss1 = _rss_kib(proc.pid)
            doc = {
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "unauthenticated_1mb_post": big,
                "bad_token_requests": {
                    "n": args.bad,
                    "status_counts": dict(counts),
                    "seconds": round(bad_s, 3),
                    "per_request_ms": round(1000 * bad_s / args.bad, 3),
                },
                "valid_token_after_from_same_address": {
                    "status": valid.status_code,
                    "retry_after": valid.headers.get("retry-after"),
                },
                "server_rss_kib": {"before": rss0, "after": rss1},
            }
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    out = HERE / "results" / "api_abuse.json"
    out.write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
