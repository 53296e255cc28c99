"""Schemathesis fuzz of the published OpenAPI document: no request, however odd, gets a 5xx, and every reply
conforms to its documented response schema (bounded examples)."""

from __future__ import annotations

from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance
from tests.service.conftest import two_portfolios
from tests.service.harness import ADMIN_TOKEN, READ_TOKEN, open_services

from trimtab.service.api import create_app
from trimtab.service.runner import Runner

EXAMPLES = 30  # per operation; the whole run takes a few seconds


def test_no_request_gets_a_server_error(tmp_path: Path) -> None:
    services = open_services(two_portfolios(tmp_path))
    Runner(services).run_once()
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(services))
    seen = []
    try:
        for result in schema.get_all_operations():
            operation = result.ok()
            seen.append(operation.label)

            @given(case=operation.as_strategy())
            @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
            def fuzz(case: schemathesis.Case) -> None:
                for token in (ADMIN_TOKEN, READ_TOKEN):
                    response = case.call(headers={"Authorization": f"Bearer {token}"})
                    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
                    if response.status_code >= 400:  # every error is a JSON message
                        assert isinstance(response.json().get("error"), str), response.text

            fuzz()
    finally:
        services.close()
    assert len(seen) == 23 and "PUT /api/portfolios/{name}/targets" in seen
    assert {"POST /api/portfolios/{name}/deposit", "POST /api/portfolios/{name}/withdraw"} <= set(seen)
