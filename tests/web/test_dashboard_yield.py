"""A yield portfolio on the dashboard in a real browser: positions with their APYs, the yield earned and the last
migrations, against the service's own status document (a stablecoin-yield paper portfolio replaying the shipped
Aave v3 rates from 2023-03-01 at ten simulated days per second)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect
from tests.service.harness import RunningService, open_services, wait_for, write_config
from tests.web.conftest import ROOT, Dashboard, _require_chromium, screenshot

SPEED = 10 * 86_400


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    """This module's service: one yield portfolio (overrides the two-portfolio dashboard of conftest)."""
    _require_chromium()
    tmp = tmp_path_factory.mktemp("web-yield")
    config = write_config(
        tmp,
        [{"name": "vault", "strategy": "stablecoin-yield", "check_every": "1d"}],
        database_url=str(tmp / "svc.db"),
        market_data={"source": "replay", "start": "2023-03-01", "speed": SPEED},
    )
    services = open_services(config)
    svc = RunningService(services)
    try:
        with svc.client() as c:  # the first migrations (initial, then the 2023-03 risk exits) are in
            wait_for(
                "risk migrations",
                lambda: any(
                    d["kind"] == "risk"
                    for d in c.get("/api/portfolios/vault/decisions", params={"limit": 500}).json()["items"]
                ),
                timeout=30,
            )
        yield Dashboard(svc, services)
    finally:
        svc.stop()
        services.close()


def _pct(v: float, d: int = 2) -> str:
    return f"{v * 100:,.{d}f}%"


def test_yield_card_shows_positions_apys_and_yield_earned(open_page: Any, dashboard: Dashboard) -> None:
    page = open_page().page
    expect(page.locator("#pf-name")).to_have_text("vault")
    expect(page.locator("#card-yield")).to_be_visible()
    expect(page.locator("#card-weights")).to_be_hidden()  # no target weights to draw
    expect(page.locator("#btn-targets")).to_be_hidden()
    page.wait_for_selector("#yield-positions tr[data-position=AUSDT]")
    assert page.eval_on_selector_all("#yield-positions tbody tr", "r => r.map(x => x.dataset.position)") == [
        "USDC",
        "AUSDC",
        "AUSDT",
    ]
    # the page refreshes every second while the replay runs: pause so page and API show the same moment
    assert dashboard.api("POST", "/api/portfolios/vault/pause", json={"reason": "browser test"}).status_code == 202
    page.wait_for_timeout(1500)
    status = dashboard.api("GET", "/api/portfolios/vault").json()
    y = status["yields"]
    for p in y["positions"][1:]:
        cell = page.locator(f"#yield-positions tr[data-position={p['name']}] td.apy")
        expect(cell).to_have_text(_pct(p["apy"]))
    held = [p["name"] for p in y["positions"] if float(p["units"]) > 0]
    assert page.eval_on_selector_all("#yield-positions tr.held", "r => r.map(x => x.dataset.position)") == held
    assert y["yield_earned"] > 0
    expect(page.locator("#kpi-yield .kpi-value")).to_have_text(f"{y['yield_earned']:,.2f} USD")
    expect(page.locator("#yield-note")).to_contain_text(y["rates_time"])
    shot = screenshot(page, "dashboard-yield.png", full_page=True)
    docs_png = ROOT / "docs" / "img" / "dashboard-yield.png"  # committed: refreshed on request, not by every run
    if os.environ.get("TRIMTAB_DOCS_SCREENSHOT") or not docs_png.exists():
        docs_png.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, docs_png)

    # the history lists the risk migrations of 2023-03 with both APYs in their reasons
    page.select_option("#filter-kind", "risk")
    page.wait_for_selector("#history-body tr[data-kind=risk]")
    expect(page.locator("#history-body tr[data-kind=risk]").first).to_contain_text("APY")
    assert dashboard.api("POST", "/api/portfolios/vault/resume").status_code == 202
