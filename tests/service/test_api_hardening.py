"""API exposure and secrets: auth before body parsing, body cap, failed-auth rate limit, security headers, a
CDN-free docs page, the remote-bind refusal, secrets kept out of reprs, and error text scrubbed."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from tests.service.conftest import two_portfolios
from tests.service.harness import ADMIN_TOKEN, READ_TOKEN, TOKEN_ENV, Receiver, open_services

from trimtab.errors import LedgerError
from trimtab.scrub import scrub
from trimtab.service.api import create_app
from trimtab.service.api_security import FailedAuthLimiter
from trimtab.service.bootstrap import Services
from trimtab.service.settings import is_loopback, load_settings, load_tokens

MB = b"{" + b" " * (2**20 - 2) + b"}"


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    yield TestClient(create_app(services), raise_server_exceptions=False)


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def test_a_body_is_not_read_before_the_token_is_checked(client: TestClient) -> None:
    bad = client.put("/api/portfolios/alpha/targets", content=b"{not json", headers=_h("x" * 20))
    assert bad.status_code == 401 and bad.json() == {
        "error": "invalid bearer token",
        "field": "Authorization",
    }  # not a 422 parse error
    big = client.put("/api/portfolios/alpha/targets", content=MB, headers={"Content-Type": "application/json"})
    assert big.status_code == 401 and big.json() == {"error": "missing bearer token", "field": "Authorization"}


def test_request_bodies_are_capped_even_for_the_admin(client: TestClient) -> None:
    big = client.put("/api/portfolios/alpha/targets", content=MB, headers=_h(ADMIN_TOKEN))
    assert big.status_code == 413 and "larger than 65536 bytes" in big.json()["error"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while read
        for _ in range(16):
            yield b" " * 8192

    streamed = client.put("/api/portfolios/alpha/targets", content=chunks(), headers=_h(ADMIN_TOKEN))
    assert streamed.status_code == 413
    ok = client.put(
        "/api/portfolios/alpha/targets", json={"targets": {"BTC": 0.5, "USDC": 0.5}}, headers=_h(ADMIN_TOKEN)
    )
    assert ok.status_code == 200


def test_failed_authentications_are_rate_limited_per_client_address(client: TestClient) -> None:
    statuses = [client.get("/api/health", headers=_h(f"wrong-token-{i:08d}")).status_code for i in range(25)]
    assert statuses == [401] * 20 + [429] * 5
    blocked = client.get("/api/health", headers=_h(READ_TOKEN))  # this address is blocked, whatever it sends
    assert blocked.status_code == 429 and 1 <= int(blocked.headers["retry-after"]) <= 60
    other = TestClient(create_app(client.app.state.services), client=("10.0.0.2", 5000))
    assert other.get("/api/health", headers=_h(READ_TOKEN)).status_code == 200  # another address is not


def test_the_limiter_forgets_failures_after_its_window_and_bounds_its_memory() -> None:
    now = [0.0]
    lim = FailedAuthLimiter(limit=3, window=60, max_clients=100, clock=lambda: now[0])
    for _ in range(3):
        lim.failed("1.2.3.4")
    assert lim.retry_after("1.2.3.4") == pytest.approx(60)
    now[0] = 30.0
    assert lim.retry_after("1.2.3.4") == pytest.approx(30)
    now[0] = 60.5
    assert lim.retry_after("1.2.3.4") is None
    for i in range(1000):
        lim.failed(f"10.0.{i // 256}.{i % 256}")
    assert len(lim._failures) <= 100


@pytest.mark.parametrize("path", ["/api/health", "/", "/docs", "/openapi.json", "/api/portfolios"])
def test_every_response_carries_the_security_headers(client: TestClient, path: str) -> None:
    r = client.get(path, headers=_h(READ_TOKEN) if path != "/api/portfolios" else {})
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["referrer-policy"] == "no-referrer"


def test_the_docs_page_loads_nothing_from_another_origin(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and "cdn" not in page.text.lower()
    assert "http://" not in page.text and "https://" not in page.text
    script = client.get("/docs/docs.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert 'fetch("/openapi.json")' in script.text and "http" not in script.text.replace("/openapi.json", "")
    assert client.get("/redoc").status_code == 404


def test_serve_refuses_a_remote_bind_without_allow_remote(tmp_path: Path) -> None:
    config = two_portfolios(tmp_path)
    cmd = [
        sys.executable,
        "-c",
        "from trimtab.cli import main; main()",
        "serve",
        "--config",
        str(config),
        "--host",
        "0.0.0.0",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env={**TOKEN_ENV, "PATH": ""})
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "api.host" in lines[0] and "allow_remote" in lines[0], done.stderr
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("example.org")


def test_secrets_never_appear_in_settings_reprs(tmp_path: Path, receiver: Receiver) -> None:
    config = two_portfolios(tmp_path, receiver)
    doc = yaml.safe_load(config.read_text())
    doc["alerts"]["apprise"].append("tgram://123456:SECRET-bot-token/987")
    config.write_text(yaml.safe_dump(doc))
    settings = load_settings(config)
    shown = repr(settings) + str(settings) + repr(settings.alerts)
    assert "SECRET-bot-token" not in shown and f"{receiver.port}/hook" not in shown
    assert str(tmp_path / "svc.db") not in shown
    pg = settings.model_copy(update={"database_url": type(settings.database_url)("postgresql://u:pw-XYZ@db/x")})
    assert "pw-XYZ" not in repr(pg) and pg.db_url.endswith("@db/x")


def test_error_text_is_scrubbed_of_credential_urls_and_sql() -> None:
    text = (
        "(psycopg.errors.UniqueViolation) duplicate key\n[SQL: INSERT INTO portfolios (name) VALUES (%(name)s)]\n"
        "[parameters: {'name': 'p'}]\n(Background on this error at: https://sqlalche.me/e/20/gkpj) via "
        "postgresql+psycopg://bob:hunter2@db.example:5432/trimtab; binance POST "
        "https://api.binance.com/api/v3/order?symbol=BTCUSDT&signature=abcd 400; tgram://123:tok/9 apiKey=k123 "
        "Authorization: Bearer t0k"
    )
    out = scrub(text)
    for secret in ("hunter2", "bob", "INSERT INTO", "'p'", "signature=abcd", "123:tok", "k123", "t0k"):
        assert secret not in out
    assert "duplicate key" in out and "db.example:5432" in out and "api.binance.com" in out


def test_api_errors_and_alerts_carry_scrubbed_text(services: Services, client: TestClient) -> None:
    def boom() -> None:
        raise LedgerError("service write failed: [SQL: UPDATE portfolios SET x=1] postgresql://u:pw1@h/db")

    app = client.app
    app.add_api_route("/api/boom", boom)  # type: ignore[attr-defined]
    app.router.routes.insert(0, app.router.routes.pop())  # type: ignore[attr-defined]  (before the dashboard mount)
    r = client.get("/api/boom", headers=_h(READ_TOKEN))
    assert r.status_code == 503 and "pw1" not in r.text and "UPDATE" not in r.text and "service write" in r.text
    services.notifier.send(
        "alpha", "failure", "cycle failed", "order failed: https://x.test/a?apiKey=zz9 [SQL: SELECT 1]"
    )
    alert = services.store.alerts(kind="failure")[0]
    assert "zz9" not in alert["body"] and "SELECT" not in alert["body"]


def test_secret_files_readable_by_others_get_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(yaml.safe_dump({"read": READ_TOKEN, "admin": ADMIN_TOKEN}))
    tokens.chmod(0o644)
    config = two_portfolios(tmp_path, api={"token_file": "tokens.yaml"})
    with caplog.at_level(logging.WARNING, logger="trimtab.service.settings"):
        load_tokens(load_settings(config), env={})
    assert any("readable by group or others" in r.getMessage() for r in caplog.records)
    caplog.clear()
    tokens.chmod(0o600)
    with caplog.at_level(logging.WARNING, logger="trimtab.service.settings"):
        load_tokens(load_settings(config), env={})
    assert not caplog.records
    s = open_services(config)
    s.close()
