"""The API's response models: every route documents a named schema, and replies are checked against it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema_rs
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from tests.service.harness import ADMIN_TOKEN

from trimtab.service import commands, schemas
from trimtab.service.api import create_app
from trimtab.service.bootstrap import Services
from trimtab.service.runner import Runner

H = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    Runner(services).run_once()
    yield TestClient(create_app(services), raise_server_exceptions=False)


def _success_schema(op: dict[str, Any]) -> dict[str, Any]:
    code = next(c for c in op["responses"] if c.startswith("2"))
    return op["responses"][code]["content"]["application/json"]["schema"]  # type: ignore[no-any-return]


def test_every_api_route_documents_a_named_response_model(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    ops = [(m, p, op) for p, item in spec["paths"].items() if p.startswith("/api/") for m, op in item.items()]
    assert len(ops) == 23
    for method, path, op in ops:
        schema = _success_schema(op)
        ref = schema.get("$ref") or schema.get("items", {}).get("$ref")
        assert ref, f"{method.upper()} {path} has no named response schema: {schema}"
        component = spec["components"]["schemas"][ref.rsplit("/", 1)[-1]]
        assert component["additionalProperties"] is False and component["properties"], ref
    status = spec["components"]["schemas"]["Status"]
    assert {"assets", "next_rebalance", "pending", "targets_version"} <= set(status["properties"])
    assert "return" in spec["components"]["schemas"]["Summary"]["properties"]  # by its JSON name, not return_


@pytest.mark.parametrize(
    "path",
    [
        "/api/portfolios/alpha",
        "/api/portfolios/alpha/decisions",
        "/api/portfolios/alpha/costs",
        "/api/portfolios/alpha/analytics",
        "/api/portfolios/alpha/summary",
        "/api/portfolios/alpha/approvals",
    ],
)
def test_replies_validate_against_the_published_schema(client: TestClient, path: str) -> None:
    """An independent validator (jsonschema) against /openapi.json, not the models that produced the reply."""
    spec = client.get("/openapi.json").json()
    reply = client.get(path, headers=H)
    assert reply.status_code == 200, reply.text
    schema = {**_success_schema(spec["paths"][path.replace("alpha", "{name}")]["get"]), **spec}
    jsonschema_rs.validate(schema, reply.json())


def test_a_changed_shape_is_refused_not_passed_through(services: Services) -> None:
    Runner(services).run_once()
    doc = commands.status(services, "alpha")
    schemas.Status.model_validate(doc)
    with pytest.raises(ValidationError, match="surprise"):
        schemas.Status.model_validate({**doc, "surprise": 1})
    with pytest.raises(ValidationError, match="quantity"):  # a Decimal must travel as an exact string
        schemas.Status.model_validate({**doc, "assets": [{**doc["assets"][0], "quantity": 1.5}]})


def test_summary_keeps_its_json_names(client: TestClient) -> None:
    doc = client.get("/api/portfolios/alpha/summary", headers=H).json()
    assert "return" in doc and "return_" not in doc and set(doc["attribution"]) == {"holding", "rebalancing"}
