"""Test support: write a service.yaml, run the service (scheduler + uvicorn) in threads, a local alert receiver."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import uvicorn
import yaml

from trimtab.service.api import create_app
from trimtab.service.bootstrap import Services, build_services
from trimtab.service.runner import Runner
from trimtab.service.settings import Tokens, load_settings, load_tokens

READ_TOKEN = "read-token-0123456789abcdef"
ADMIN_TOKEN = "admin-token-0123456789abcdef"
TOKEN_ENV = {"TRIMTAB_API_TOKEN": READ_TOKEN, "TRIMTAB_ADMIN_TOKEN": ADMIN_TOKEN}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(directory: Path, portfolios: list[dict[str, Any]], **top: Any) -> Path:
    doc = {
        "market_data": {"source": "replay", "start": "2022-01-01", "speed": 864_000},
        **top,
        "portfolios": portfolios,
    }
    path = directory / "service.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def cex_config(directory: Path, url: str, strategy: str, **portfolio: Any) -> Path:
    """One portfolio `cex` on the local Binance-protocol server (strategy text in s.yaml), venue market data,
    SQLite svc.db: the set-up every service-on-ccxt test shares. API keys come from the caller's environment."""
    (directory / "s.yaml").write_text(strategy)
    spec = {"name": "cex", "strategy": "s.yaml", "venue": "ccxt:binance", "url": url, "check_every": "1h"}
    return write_config(directory, [{**spec, **portfolio}], market_data={"source": "venue"}, database_url="svc.db")


def serve_process(config: Path) -> subprocess.Popen[str]:
    """`trimtab serve --config CONFIG` (API on a free port, the admin token set) in its own process, output piped."""
    return subprocess.Popen(  # noqa: S603 - this interpreter, our own entry point
        [
            sys.executable,
            "-c",
            "from trimtab.cli import main; main()",
            "serve",
            "--config",
            str(config),
            "--port",
            str(free_port()),
        ],
        env={**os.environ, "TRIMTAB_ADMIN_TOKEN": ADMIN_TOKEN},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def open_services(config: Path, **kw: Any) -> Services:
    settings = load_settings(config)
    return build_services(settings, load_tokens(settings, env=dict(TOKEN_ENV)), **kw)


@dataclass
class Receiver:
    """A local HTTP server recording every POSTed JSON body with its path (webhook and apprise json://)."""

    messages: list[tuple[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    def start(self) -> Receiver:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with outer.lock:
                    outer.messages.append((self.path, json.loads(body or b"null")))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def on(self, path: str) -> list[Any]:
        with self.lock:
            return [m for p, m in self.messages if p == path]


class RunningService:
    """Scheduler thread + uvicorn on a free loopback port, over `services`; `stop()` is the SIGTERM path."""

    def __init__(self, services: Services, *, scheduler: bool = True) -> None:
        self.services = services
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.runner = Runner(services)
        self._runner_thread = self.runner.start_thread() if scheduler else None
        self.server = uvicorn.Server(
            uvicorn.Config(create_app(services), host="127.0.0.1", port=self.port, log_level="error", access_log=False)
        )
        self._thread = threading.Thread(target=self.server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)

    def client(self, token: str = ADMIN_TOKEN) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(10)
        self.services.stop.set()
        self.services.wake.set()
        if self._runner_thread is not None:
            self._runner_thread.join(30)


def wait_for(what: str, predicate: Callable[[], Any], timeout: float = 20.0, every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


__all__ = [
    "ADMIN_TOKEN",
    "READ_TOKEN",
    "Receiver",
    "RunningService",
    "Tokens",
    "open_services",
    "wait_for",
    "write_config",
]
