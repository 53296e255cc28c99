"""A sleeve portfolio on the dashboard in a real browser: the Sleeves card's rows (share vs weight, drift, trigger,
whether due, the internal weights) against the service's own status document; hidden for a plain portfolio. The
service runs on a simulated clock stopped after ten days of bitcoin-sleeves, so page and API show one moment."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect
from tests.service.harness import RunningService, open_services, write_config
from tests.web.conftest import Dashboard, _require_chromium, screenshot

from trimtab.service.replay import SimulatedClock
from trimtab.service.runner import Runner

START = datetime(2022, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    """This module's service: a sleeve portfolio and a plain one, ten daily checks in (overrides conftest's)."""
    _require_chromium()
    tmp = tmp_path_factory.mktemp("web-sleeves")
    config = write_config(
        tmp,
        [
            {"name": "btc", "strategy": "bitcoin-sleeves", "check_every": "1d"},
            {"name": "plain", "strategy": "bitcoin", "check_every": "1d"},
        ],
        database_url=str(tmp / "svc.db"),
    )
    clock = SimulatedClock(START)
    services = open_services(config, clock=clock)
    runner = Runner(services)
    runner.startup()
    for k in range(10):
        clock.advance_to(START + timedelta(days=k))
        runner.run_once()
    svc = RunningService(services, scheduler=False)  # the clock stays where it is: a still picture
    try:
        yield Dashboard(svc, services)
    finally:
        svc.stop()
        services.close()


def _pct(v: float, d: int = 2) -> str:
    return f"{v * 100:,.{d}f}%"


def _pp(v: float) -> str:
    return f"{'+' if v >= 0 else '−'}{abs(v) * 100:,.2f} pp"


def test_sleeves_card_shows_each_sleeve_with_the_apis_numbers(open_page: Any, dashboard: Dashboard) -> None:
    page = open_page().page
    page.locator(".tab[data-portfolio=btc]").click()
    expect(page.locator("#pf-name")).to_have_text("btc")
    expect(page.locator("#card-sleeves")).to_be_visible()
    sleeves = dashboard.api("GET", "/api/portfolios/btc").json()["sleeves"]
    rows = page.locator("#sleeves .sleeve")
    expect(rows).to_have_count(len(sleeves["items"]))
    assert page.eval_on_selector_all("#sleeves .sleeve", "r => r.map(x => x.dataset.sleeve)") == [
        s["name"] for s in sleeves["items"]
    ]
    for s in sleeves["items"]:
        row = page.locator(f"#sleeves .sleeve[data-sleeve={s['name']}]")
        expect(row.locator(".w-asset small")).to_have_text(f"weight {_pct(s['weight'], 1)}")
        expect(row.locator(".share")).to_have_text(_pct(s["share"]))
        expect(row.locator(".drift")).to_have_text(f" {_pp(s['drift'])}")
        expect(row.locator(".dist")).to_contain_text(s["trigger"])
        expect(row.locator(".track .band")).to_have_count(1)  # the split's band around the weight
        row.locator("summary").click()
        cells = row.locator("td.w-in")
        expect(cells).to_have_count(len(s["internal"]))
        assert cells.all_text_contents() == [_pct(a["weight_in_sleeve"]) for a in s["internal"]]
    due = next(s for s in sleeves["items"] if s["name"] == "wrapped")["next_due"][:10]
    expect(page.locator("#sleeves .sleeve[data-sleeve=wrapped] .dist")).to_have_text(f"calendar 1w · next {due}")
    expect(page.locator("#sleeves-note")).to_contain_text("split: band 5pp")
    expect(page.locator("#kpi-rebalance .kpi-value")).not_to_have_text("—")  # the earliest sleeve calendar
    expect(page.locator("#kpi-rebalance .kpi-sub")).to_have_text("sleeve derivatives is due")  # daily, tomorrow
    screenshot(page, "dashboard-sleeves.png", full_page=True)


def test_sleeves_card_is_hidden_for_a_plain_portfolio(open_page: Any, dashboard: Dashboard) -> None:
    page = open_page().page
    page.locator(".tab[data-portfolio=plain]").click()
    expect(page.locator("#pf-name")).to_have_text("plain")
    expect(page.locator("#card-sleeves")).to_be_hidden()
    expect(page.locator("#card-weights")).to_be_visible()
