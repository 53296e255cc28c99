"""REST API on a real SQLite service: bearer auth, read shapes the dashboard uses, 4xx for bad requests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from tests.service.harness import ADMIN_TOKEN, READ_TOKEN

from trimtab.service.api import create_app
from trimtab.service.bootstrap import Services
from trimtab.service.runner import Runner

CONTROLS = [
    ("post", "/api/portfolios/alpha/pause", None),
    ("post", "/api/portfolios/alpha/resume", None),
    ("post", "/api/portfolios/alpha/trigger", None),
    ("put", "/api/portfolios/alpha/targets", {"targets": {"BTC": 1.0}}),
    ("post", "/api/portfolios/alpha/exit", {"confirm": "alpha"}),
    ("post", "/api/portfolios/alpha/summary", {}),
]
READS = [
    "/api/health",
    "/api/portfolios",
    "/api/portfolios/alpha",
    "/api/portfolios/alpha/decisions",
    "/api/portfolios/alpha/rebalances",
    "/api/portfolios/alpha/performance",
    "/api/portfolios/alpha/costs",
    "/api/portfolios/alpha/summary",
    "/api/portfolios/alpha/targets",
    "/api/alerts",
    "/api/audit",
]


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    Runner(services).run_once()  # the initial allocation of both portfolios
    yield TestClient(create_app(services), raise_server_exceptions=False)


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("path", READS)
def test_every_read_needs_a_valid_token(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 401
    wrong = client.get(path, headers=_h("x" * 27))
    assert wrong.status_code == 401 and wrong.json() == {"error": "invalid bearer token", "field": "Authorization"}
    assert client.get(path, headers={"Authorization": f"Basic {READ_TOKEN}"}).status_code == 401
    assert client.get(path, headers=_h(READ_TOKEN)).status_code == 200
    assert client.get(path, headers=_h(ADMIN_TOKEN)).status_code == 200


@pytest.mark.parametrize(("method", "path", "body"), CONTROLS)
def test_controls_need_the_admin_token(client: TestClient, method: str, path: str, body: object) -> None:
    assert client.request(method, path, json=body).status_code == 401
    assert client.request(method, path, json=body, headers=_h(ADMIN_TOKEN[:-1] + "X")).status_code == 401
    denied = client.request(method, path, json=body, headers=_h(READ_TOKEN))
    assert denied.status_code == 403 and "admin" in denied.json()["error"]


def test_status_document_has_what_the_dashboard_draws(client: TestClient) -> None:
    doc = client.get("/api/portfolios/alpha", headers=_h(READ_TOKEN)).json()
    assets = {a["asset"]: a for a in doc["assets"]}
    assert set(assets) == {"BTC", "ETH", "SOL", "BNB", "XRP", "USDC"}
    assert sum(a["weight"] for a in assets.values()) == pytest.approx(1.0)
    assert all(a["distance"] == pytest.approx(a["band"] - abs(a["drift"])) for a in assets.values())
    assert doc["paused"] is False and doc["next_check_at"] > doc["last_check_at"]
    assert doc["next_rebalance"]["calendar_every"] == "1M" and doc["next_rebalance"]["calendar_due"] > doc["time"]
    assert doc["last_decision"]["kind"] == "initial" and doc["last_decision"]["traded"]


def test_costs_totals_match_rebalances_and_project_a_dry_run(client: TestClient) -> None:
    doc = client.get("/api/portfolios/alpha/costs", headers=_h(READ_TOKEN)).json()
    assert doc["rebalances"] == 1 == len(doc["per_rebalance"])
    assert doc["totals"]["total"] == pytest.approx(doc["per_rebalance"][0]["realised"]["total"])
    assert doc["totals"]["total"] > 0 and "orders" in doc["projection"]
    perf = client.get("/api/portfolios/alpha/performance", headers=_h(READ_TOKEN)).json()
    assert perf["points"] == 1 and perf["equity"][0]["value"] == pytest.approx(perf["equity"][0]["buy_and_hold"])


@pytest.mark.parametrize(
    ("method", "path", "body", "code", "needle"),
    [
        ("get", "/api/portfolios/nope", None, 404, "no portfolio named 'nope'"),
        ("get", "/api/portfolios/a%20b", None, 422, "name"),
        ("get", "/api/portfolios/alpha/decisions?limit=0", None, 422, "limit"),
        ("get", "/api/portfolios/alpha/summary?month=2022-13", None, 422, "month"),
        ("put", "/api/portfolios/alpha/targets", {"targets": {"BTC": 0.5}}, 422, "sum to 1"),
        ("put", "/api/portfolios/alpha/targets", {"targets": {"BTC": 2}}, 422, "less than or equal to 1"),
        ("put", "/api/portfolios/alpha/targets", {"targets": {}}, 422, "targets"),
        ("put", "/api/portfolios/alpha/targets", {"targets": {"BTC": 1}, "x": 1}, 422, "x"),
        ("put", "/api/portfolios/alpha/targets", "[", 422, "JSON"),
        ("put", "/api/portfolios/alpha/targets", {"targets": {"FOO": 0.5, "USDC": 0.5}}, 400, "FOO"),
        ("post", "/api/portfolios/alpha/exit", {}, 422, "confirm"),
        ("post", "/api/portfolios/alpha/exit", {"confirm": "ALPHA"}, 400, "confirm must be the portfolio name"),
    ],
)
def test_bad_requests_get_a_clear_4xx(
    client: TestClient, method: str, path: str, body: object, code: int, needle: str
) -> None:
    kwargs = {"content": body} if isinstance(body, str) else {"json": body}
    r = client.request(method, path, headers={**_h(ADMIN_TOKEN), "Content-Type": "application/json"}, **kwargs)
    assert r.status_code == code, r.text
    assert needle.lower() in r.json()["error"].lower()


def test_target_changes_are_versioned_and_audited(client: TestClient, services: Services) -> None:
    r = client.put(
        "/api/portfolios/alpha/targets",
        headers=_h(ADMIN_TOKEN),
        json={"targets": {"BTC": 0.6, "USDC": 0.4}, "note": "simpler"},
    )
    assert r.status_code == 200 and r.json()["version"] == 2
    versions = client.get("/api/portfolios/alpha/targets", headers=_h(READ_TOKEN)).json()
    assert [v["version"] for v in versions["versions"]] == [1, 2] and versions["current_version"] == 2
    assert versions["versions"][1] | {"created_at": None} == {
        "version": 2,
        "targets": {"BTC": 0.6, "USDC": 0.4},
        "actor": "admin",
        "note": "simpler",
        "created_at": None,
    }
    audit = client.get("/api/audit", params={"portfolio": "alpha"}, headers=_h(READ_TOKEN)).json()["items"]
    assert audit[0]["action"] == "set_targets" and audit[0]["detail"]["version"] == 2
    assert services.runtimes["alpha"].strategy.targets == {"BTC": 0.6, "USDC": 0.4}


def test_openapi_is_published(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/api/portfolios/{name}/exit" in spec["paths"] and spec["info"]["title"] == "trimtab service"
