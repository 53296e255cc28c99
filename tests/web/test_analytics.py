"""The dashboard's read model (/api/portfolios/{name}/analytics) against independent computations on the bundled
prices, after a real service has replayed a few weeks of them; and the static bundle makes no outside request."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.service.harness import ADMIN_TOKEN, READ_TOKEN, RunningService, open_services, wait_for, write_config

from trimtab.adapters.bundled import bundled_daily
from trimtab.service.api import create_app
from trimtab.service.bootstrap import Services
from trimtab.service.dashboard import STATIC_DIR, sample

START, FIRST_MONTH_END = "2021-03-01", "2021-04-01"


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Services, TestClient]]:
    """alpha (index-fund) replayed from 2021-03-01 for 45 daily checks (a monthly rebalance among them), then stopped.

    The replay clock starts inside build_services, so the first check lands a load-dependent 0-6 simulated days
    after the start. From 2021-01-01 the January rally crossed the 5pp band within days of it, and a late first
    check left a single point before the first trade (the flaky failure on 2 cores). From 2021-03-01 no band is
    crossed for 3+ weeks whatever the lag, and the first calendar rebalance is on 2021-04-01."""
    tmp = tmp_path_factory.mktemp("analytics")
    config = write_config(
        tmp,
        [{"name": "alpha", "strategy": "index-fund", "check_every": "1d", "initial_value": 100_000}],
        database_url=str(tmp / "svc.db"),
        market_data={"source": "replay", "start": START, "speed": 20 * 86_400},
    )
    services = open_services(config)
    svc = RunningService(services)
    try:
        wait_for("a month of checks", lambda: services.store.count_decisions("alpha") >= 45)
    finally:
        svc.stop()
    client = TestClient(create_app(services), headers={"Authorization": f"Bearer {READ_TOKEN}"})
    yield services, client
    services.close()


def _doc(client: TestClient) -> dict[str, Any]:
    r = client.get("/api/portfolios/alpha/analytics")
    assert r.status_code == 200
    return r.json()  # type: ignore[no-any-return]


def _quote_prices(services: Services, assets: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Bundled daily closes of `assets` in USDC, loaded again (not through the service's replay source)."""
    h = bundled_daily(sorted({*assets, "USDC"}), start="2021-01-01", require_complete=False)
    usdc = h.prices[:, h.index_of("USDC")]
    return h.times, np.column_stack([h.prices[:, h.index_of(a)] / usdc for a in assets])


def _row(times: np.ndarray, iso: str) -> int:
    stamp = np.datetime64(iso.replace("+00:00", ""), "ns")
    return int(np.searchsorted(times, stamp, side="right")) - 1


def test_calendar_variant_equals_the_service_until_its_paths_part(replayed: tuple[Services, TestClient]) -> None:
    services, client = replayed
    doc = _doc(client)
    eq = doc["equity"]
    assert doc["points"] == len(eq) == services.store.count_decisions("alpha")  # few points: none thinned
    traded = services.store.decisions("alpha", limit=1000, traded_only=True, newest_first=False)
    first_trade = next((d["time"].isoformat() for d in traded if d["kind"] != "initial"), "9999")
    # both hold the initial allocation until the service's first trigger or the calendar's first month-end
    same = [p for p in eq if p["time"] < min(first_trade, FIRST_MONTH_END)]
    assert len(same) >= 2
    for p in same:
        assert p["calendar"] == pytest.approx(p["value"], rel=1e-9)
        assert p["buy_and_hold"] == pytest.approx(p["value"], rel=1e-9)
    assert doc["variants"]["calendar"]["label"] == "calendar-monthly"
    assert eq[-1]["calendar"] != pytest.approx(eq[-1]["buy_and_hold"], rel=1e-6)  # it rebalanced since
    cal = doc["variants"]["calendar"]
    assert cal["end_value"] == pytest.approx(eq[-1]["calendar"])
    assert cal["return"] == pytest.approx(eq[-1]["calendar"] / eq[0]["calendar"] - 1)


def test_drawdown_metrics_and_cost_share(replayed: tuple[Services, TestClient]) -> None:
    services, client = replayed
    doc = _doc(client)
    values = np.array([p["value"] for p in doc["equity"]])
    dd = np.array([p["drawdown"] for p in doc["equity"]])
    np.testing.assert_allclose(dd, values / np.maximum.accumulate(values) - 1, atol=1e-12)
    assert -dd.min() == pytest.approx(doc["variants"]["strategy"]["metrics"]["max_drawdown"], rel=1e-9)
    traded = services.store.decisions("alpha", limit=1000, traded_only=True)
    costs = sum(d["report"]["costs"]["realised"]["total"] for d in traded if d["kind"] != "initial")
    b = doc["benefit"]
    assert b["costs"] == pytest.approx(costs) and costs > 0
    gross = values[-1] - doc["equity"][-1]["buy_and_hold"] + costs
    assert b["gross_benefit"] == pytest.approx(gross)
    assert b["cost_share"] == (pytest.approx(costs / gross) if gross > 0 else None)


def test_correlations_match_numpy_on_the_bundled_prices(replayed: tuple[Services, TestClient]) -> None:
    services, client = replayed
    c = _doc(client)["correlations"]
    assert c["assets"] == ["BTC", "ETH", "SOL", "BNB", "XRP"] and c["base"] == "BTC" and c["window"] == 30
    times, prices = _quote_prices(services, c["assets"])
    last = services.store.decisions("alpha", limit=1)[0]["time"].isoformat()
    row = _row(times, last)
    rets = np.diff(np.log(prices[row - 30 : row + 1]), axis=0)
    np.testing.assert_allclose(np.array(c["matrix"], dtype=float), np.corrcoef(rets.T), atol=1e-9)
    assert set(c["against_base"]) == {"ETH", "SOL", "BNB", "XRP"}
    assert c["against_base"]["ETH"][-1] == pytest.approx(np.corrcoef(rets.T)[0, 1], abs=1e-9)
    assert c["times"][-1].startswith(str(times[row])[:10])
    assert all(v is None or -1 <= v <= 1 for v in c["average"])


def test_volatility_regime_matches_its_definition(replayed: tuple[Services, TestClient]) -> None:
    services, client = replayed
    rg = _doc(client)["regime"]
    targets = {"BTC": 0.40, "ETH": 0.25, "SOL": 0.10, "BNB": 0.10, "XRP": 0.05}  # + USDC 10 %: flat in USDC
    times, prices = _quote_prices(services, list(targets))
    row = _row(times, services.store.decisions("alpha", limit=1)[0]["time"].isoformat())
    window = prices[row - 30 : row + 1]
    mix = (window[1:] / window[:-1] - 1) @ np.array(list(targets.values()))
    vol = float(np.std(np.log1p(mix), ddof=1) * math.sqrt(365))
    assert rg["volatility"] == pytest.approx(vol, rel=1e-9)
    assert rg["thresholds"] == [0.40, 0.55, 0.75]
    expected = "low" if vol < 0.40 else "medium" if vol < 0.55 else "high" if vol < 0.75 else "extreme"
    assert rg["label"] == expected
    assert rg["series"][-1] == pytest.approx(vol, rel=1e-9)


def test_analytics_route_needs_a_token_and_a_known_portfolio(replayed: tuple[Services, TestClient]) -> None:
    _, client = replayed
    assert client.get("/api/portfolios/alpha/analytics", headers={"Authorization": ""}).status_code == 401
    admin = client.get("/api/portfolios/alpha/analytics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert admin.status_code == 200
    missing = client.get("/api/portfolios/nope/analytics")
    assert missing.status_code == 404 and "nope" in missing.json()["error"]
    page = client.get("/")
    assert page.status_code == 200 and "Content-Security-Policy" in page.text


def test_the_static_bundle_references_no_other_host() -> None:
    files = [p for p in STATIC_DIR.rglob("*") if p.is_file()]
    assert {p.suffix for p in files} >= {".html", ".css", ".js", ".svg"}
    for p in files:
        text = Path(p).read_text()
        urls = [
            u
            for u in re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"'`)]*", text)
            if not u.endswith("www.w3.org/2000/svg")
        ]
        assert not urls, (p.name, urls)
        assert "@import" not in text and "<iframe" not in text


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 5000), points=st.integers(4, 700), seed=st.integers(0, 2**32 - 1))
def test_sample_keeps_ends_and_troughs(n: int, points: int, seed: int) -> None:
    series = np.random.default_rng(seed).standard_normal(n).cumsum()
    idx = sample(n, series, points)
    assert idx[0] == 0 and idx[-1] == n - 1
    assert np.all(np.diff(idx) > 0) and len(idx) <= max(n if n <= points else 0, points + 1)
    assert int(np.argmin(series)) in set(idx.tolist())
