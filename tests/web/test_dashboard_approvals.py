"""Pending approvals on the dashboard in a real browser: a first allocation above the strategy's approval: threshold
waits in its card; the read-only token sees it without buttons; Approve re-plans and sends it, and the card goes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from playwright.sync_api import expect
from tests.service.harness import READ_TOKEN, RunningService, open_services, wait_for, write_config
from tests.web.conftest import Dashboard, _require_chromium, screenshot

STRATEGY = {
    "name": "gated",
    "quote": "USDC",
    "targets": {"BTC": 0.5, "ETH": 0.3, "USDC": 0.2},
    "trigger": {"kind": "threshold", "band": 0.05},
    "approval": {"max_auto_notional": 10_000, "expires": "2d"},
}


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    """This module's service: one gated portfolio on a slow clock (an hour a second: the approval waits 48 s)."""
    _require_chromium()
    tmp = tmp_path_factory.mktemp("web-approvals")
    (tmp / "gated.yaml").write_text(yaml.safe_dump(STRATEGY))
    config = write_config(
        tmp,
        [{"name": "vault", "strategy": "gated.yaml", "check_every": "1d", "initial_value": 100_000}],
        database_url=str(tmp / "svc.db"),
        market_data={"source": "replay", "start": "2022-03-01", "speed": 3600},
    )
    services = open_services(config)
    svc = RunningService(services)
    try:
        with svc.client() as c:
            wait_for("the pending approval", lambda: c.get("/api/portfolios/vault/approvals").json()["items"])
        yield Dashboard(svc, services)
    finally:
        svc.stop()
        services.close()


def test_the_read_only_token_sees_the_pending_plan_without_buttons(open_page: Any, dashboard: Dashboard) -> None:
    page = open_page(token=READ_TOKEN).page
    card = page.locator("#card-approvals")
    expect(card).to_be_visible()
    expect(card.locator("li.approval")).to_have_count(1)
    expect(card).to_contain_text("above max_auto_notional 10,000.00 USDC")
    expect(card.locator("button")).to_have_count(0)


def test_approve_sends_the_re_planned_rebalance_and_the_card_goes(open_page: Any, dashboard: Dashboard) -> None:
    [a] = dashboard.api("GET", "/api/portfolios/vault/approvals").json()["items"]
    assert a["status"] == "pending"
    page = open_page().page
    item = page.locator(f"#card-approvals li[data-approval='{a['id']}']")
    expect(item).to_contain_text(f"#{a['id']} · initial rebalance")
    expect(item).to_contain_text("2 order(s)")
    screenshot(page, "dashboard-approvals.png", full_page=True)
    item.get_by_role("button", name="Approve").click()
    expect(page.locator("#toasts")).to_contain_text("approved: re-planned on fresh prices now")
    expect(page.locator("#card-approvals")).to_be_hidden()

    def executed() -> Any:
        doc = dashboard.api("GET", "/api/portfolios/vault/approvals?status=executed").json()
        return doc["items"]

    [done] = wait_for("the approved plan to execute", executed)
    assert done["id"] == a["id"] and done["decided_by"] == "admin:dashboard" and done["rebalance_id"]
    expect(page.locator("#history-body")).to_contain_text("approved by admin:dashboard")
