"""Browser tests: Debian's Chromium driven by Playwright against a real service (uvicorn on a free loopback port,
a temporary SQLite file, paper portfolios replaying the bundled real prices on an accelerated clock).

No browser is downloaded: Chromium is /usr/bin/chromium (scripts/ensure_chromium.sh installs it; `make test` runs
it). Without it these tests skip locally and fail in CI (CI=true). Every page records the requests it makes; a test
fails if one leaves the service's own origin. Screenshots go to artifacts/ (git-ignored).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from tests.ci import require
from tests.service.harness import ADMIN_TOKEN, RunningService, open_services, wait_for, write_config

from trimtab.service.bootstrap import Services

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
SPEED = 20 * 86_400  # twenty simulated days per second: a monthly rebalance every ~1.5 s


def _require_chromium() -> None:
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return
    require(False, f"{CHROMIUM} not found: run `bash scripts/ensure_chromium.sh` (installs Debian's chromium)")


@dataclass
class Dashboard:
    """The running service under test and what a browser needs to reach it."""

    svc: RunningService
    services: Services

    @property
    def url(self) -> str:
        return self.svc.url

    def api(self, method: str, path: str, **kw: Any) -> Any:
        with self.svc.client() as c:
            r = c.request(method, path, **kw)
        return r


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    """Two paper portfolios (index-fund, bitcoin) replaying real daily prices from 2021 at 20 days per second."""
    _require_chromium()
    tmp = tmp_path_factory.mktemp("web")
    config = write_config(
        tmp,
        [
            {"name": "alpha", "strategy": "index-fund", "check_every": "1d", "initial_value": 100_000},
            # the exit guard compares the fill with the pre-quote taken when the exit was asked for; at 20 simulated
            # days per second the cycle runs days of prices later, so the default 1% guard tripped on a price drop
            # whenever the scheduler was busy with alpha (the flaky exit test): the browser tests drive the UI flow,
            # the guard refusing a leg is a service concern, not a dashboard one
            {
                "name": "beta",
                "strategy": "bitcoin",
                "check_every": "1d",
                "initial_value": 10_000,
                "exit_guard_bps": 5000,
            },
        ],
        database_url=str(tmp / "svc.db"),
        market_data={"source": "replay", "start": "2021-01-01", "speed": SPEED},
    )
    services = open_services(config)
    svc = RunningService(services)
    try:
        with svc.client() as c:  # the first rebalance is in before any page opens
            wait_for(
                "initial allocations",
                lambda: all(
                    c.get(f"/api/portfolios/{n}/decisions", params={"traded_only": True}).json()["items"]
                    for n in ("alpha", "beta")
                ),
            )
        yield Dashboard(svc, services)
    finally:
        svc.stop()
        services.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@dataclass
class Opened:
    """A page plus every request it made and every uncaught script error."""

    page: Any
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture
def open_page(browser: Any, dashboard: Dashboard) -> Iterator[Callable[..., Opened]]:
    """open_page(token=..., width=..., height=...) -> a fresh context and page on the dashboard; on teardown, assert
    that no request left the service's origin and no script error happened."""
    opened: list[tuple[Any, Opened]] = []

    def _open(token: str | None = ADMIN_TOKEN, width: int = 1440, height: int = 900) -> Opened:
        ctx = browser.new_context(viewport={"width": width, "height": height}, service_workers="block")
        page = ctx.new_page()
        page.set_default_timeout(15_000)
        rec = Opened(page)
        page.on("request", lambda req: rec.requests.append(req.url))
        page.on("pageerror", lambda err: rec.errors.append(str(err)))
        opened.append((ctx, rec))
        page.goto(dashboard.url + "/" + (f"#token={token}" if token else ""))
        return rec

    yield _open
    origin = dashboard.url + "/"
    for ctx, rec in opened:
        ctx.close()
        assert rec.requests, "the page made no request at all"
        outside = [u for u in rec.requests if not u.startswith(origin)]
        assert not outside, f"requests left the service's origin {origin}: {outside[:5]}"
        assert not rec.errors, f"script errors on the page: {rec.errors}"


def screenshot(page: Any, name: str, **kw: Any) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), **kw)
    return path
