"""`trimtab demo --duration 5` (what `make run` runs) as a subprocess: it serves the dashboard and its API on
loopback with the printed admin token, then stops by itself and exits 0."""

from __future__ import annotations

import queue
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

TRIMTAB = Path(sys.executable).with_name("trimtab")


def _lines(proc: subprocess.Popen[str], into: queue.Queue[str]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        into.put(line)


@pytest.mark.slow
def test_demo_serves_the_dashboard_then_stops_by_itself(tmp_path: Path) -> None:
    cmd = [str(TRIMTAB), "demo", "--duration", "5", "--out", str(tmp_path), "--port", "0"]
    proc = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_lines, args=(proc, lines), daemon=True).start()
    seen: list[str] = []
    url = token = None
    deadline = time.monotonic() + 60
    try:
        while url is None and time.monotonic() < deadline:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                assert proc.poll() is None, "".join(seen)
                continue
            seen.append(line)
            if m := re.match(r"dashboard: (http://127\.0\.0\.1:\d+/)#token=(\S+)", line.strip()):
                url, token = m.group(1), m.group(2)
        assert url and token, "no dashboard URL printed:\n" + "".join(seen)
        page = httpx.get(url, timeout=10)
        assert page.status_code == 200 and '<script type="module" src="js/app.js">' in page.text
        assert httpx.get(url + "js/app.js", timeout=10).status_code == 200
        auth = {"Authorization": f"Bearer {token}"}
        assert httpx.get(url + "api/health", headers=auth, timeout=10).json()["role"] == "admin"
        assert httpx.get(url + "api/health", timeout=10).status_code == 401
        listing = httpx.get(url + "api/portfolios", headers=auth, timeout=10).json()
        assert [p["name"] for p in listing] == ["bitcoin", "index-fund"]
        rc = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    time.sleep(0.1)
    while not lines.empty():
        seen.append(lines.get())
    output = "".join(seen)
    assert rc == 0, output
    assert "1. Rebalance the bundled example portfolio" in output  # the intro ran before the service
    assert "demo service stopped" in output
    assert re.search(r"index-fund: \d+ checks, [1-9]\d* rebalances", output), output
    assert (tmp_path / "demo-service.db").is_file() and (tmp_path / "compare.json").is_file()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, timeout=2)  # the port is closed once it stopped
