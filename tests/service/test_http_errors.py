"""Every 4xx body of the API names the field at fault: known bad requests, then a schemathesis fuzz of all
operations."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from tests.service.conftest import two_portfolios
from tests.service.harness import ADMIN_TOKEN, READ_TOKEN, open_services

from trimtab.service.api import create_app
from trimtab.service.bootstrap import Services
from trimtab.service.runner import Runner


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    Runner(services).run_once()
    yield TestClient(create_app(services), raise_server_exceptions=False)


@pytest.mark.parametrize(
    ("method", "path", "body", "token", "code", "field"),
    [
        ("get", "/api/portfolios/nope", None, READ_TOKEN, 404, "name"),
        ("get", "/api/portfolios/a%20b", None, READ_TOKEN, 422, "name"),
        ("get", "/api/portfolios/alpha/decisions?limit=0", None, READ_TOKEN, 422, "limit"),
        ("get", "/api/portfolios/alpha/summary?month=2022-13", None, READ_TOKEN, 422, "month"),
        ("get", "/api/portfolios/alpha", None, "x" * 27, 401, "Authorization"),
        ("post", "/api/portfolios/alpha/pause", {}, READ_TOKEN, 403, "Authorization"),
        ("get", "/api/no-such-route", None, READ_TOKEN, 404, "path"),
        ("put", "/api/portfolios/alpha/targets", {"targets": {"BTC": 2}}, ADMIN_TOKEN, 422, "targets.BTC"),
        ("put", "/api/portfolios/alpha/targets", {"targets": {"BTC": 1}, "x": 1}, ADMIN_TOKEN, 422, "x"),
        ("put", "/api/portfolios/alpha/targets", {"targets": {"FOO": 0.5, "USDC": 0.5}}, ADMIN_TOKEN, 400, "targets"),
        ("post", "/api/portfolios/alpha/exit", {}, ADMIN_TOKEN, 422, "confirm"),
        ("post", "/api/portfolios/alpha/exit", {"confirm": "ALPHA"}, ADMIN_TOKEN, 400, "confirm"),
    ],
)
def test_a_4xx_body_names_its_field(
    client: TestClient, method: str, path: str, body: object, token: str, code: int, field: str
) -> None:
    r = client.request(method, path, headers={"Authorization": f"Bearer {token}"}, json=body)
    assert r.status_code == code, r.text
    doc = r.json()
    assert doc["field"] == field and isinstance(doc["error"], str), doc


def test_every_fuzzed_4xx_names_a_field(tmp_path: Path) -> None:
    services = open_services(two_portfolios(tmp_path))
    Runner(services).run_once()
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(services))
    seen = 0
    try:
        for result in schema.get_all_operations():
            operation = result.ok()

            @given(case=operation.as_strategy())
            @settings(max_examples=10, deadline=None, database=None, suppress_health_check=list(HealthCheck))
            def fuzz(case: schemathesis.Case) -> None:
                nonlocal seen
                for token in (ADMIN_TOKEN, READ_TOKEN, "x" * 20):
                    response = case.call(headers={"Authorization": f"Bearer {token}"})
                    if 400 <= response.status_code < 500:
                        seen += 1
                        doc = response.json()
                        assert isinstance(doc.get("field"), str) and doc["field"], response.text

            fuzz()
    finally:
        services.close()
    assert seen > 100  # the fuzz did reach the error paths
