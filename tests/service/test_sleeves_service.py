"""Sleeve portfolios in the service, on the real SQLite database: the status's per-sleeve shares, drift and
verdicts, the next calendar due among the sleeves, and each decision's structured fired sleeves (docs/sleeves.md)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.service.harness import ADMIN_TOKEN, open_services, write_config

from trimtab.service import commands, schemas
from trimtab.service.api import create_app
from trimtab.service.bootstrap import Services
from trimtab.service.replay import SimulatedClock
from trimtab.service.runner import Runner

START = datetime(2022, 1, 1, tzinfo=UTC)
DAYS = 16  # the daily, weekly and bi-weekly sleeves fire; the monthly one does not
NAMES = ("native", "wrapped", "derivatives", "infrastructure")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Services, SimulatedClock]]:
    tmp = tmp_path_factory.mktemp("sleeves")
    spec = {"name": "btc", "strategy": "bitcoin-sleeves", "check_every": "1d"}
    clock = SimulatedClock(START)
    s = open_services(write_config(tmp, [spec], database_url=str(tmp / "svc.db")), clock=clock)
    runner = Runner(s)
    runner.startup()
    for k in range(DAYS):
        clock.advance_to(START + timedelta(days=k))
        runner.run_once()
    yield s, clock
    s.close()


def _status(s: Services) -> dict[str, Any]:
    s.cache.clear()
    doc: dict[str, Any] = commands.status(s, "btc")
    schemas.Status.model_validate(doc)  # strict: no key beyond the documented reply
    return doc


def test_status_shows_each_sleeves_share_drift_and_internal_weights(run: tuple[Services, SimulatedClock]) -> None:
    s, _ = run
    doc = _status(s)
    sleeves = doc["sleeves"]
    items = sleeves["items"]
    assert [i["name"] for i in items] == list(NAMES)
    assert sum(i["share"] for i in items) + sleeves["unassigned"] == pytest.approx(1.0, abs=1e-12)
    assert [i["weight"] for i in items] == pytest.approx([0.20, 0.40, 0.30, 0.10])
    weights = {a["asset"]: a["weight"] for a in doc["assets"]}
    for i in items:
        assert i["drift"] == pytest.approx(i["share"] - i["weight"], abs=1e-15)
        assert i["split_band"] == 0.05
        assert sum(a["weight_in_sleeve"] for a in i["internal"]) == pytest.approx(1.0, abs=1e-12)
        assert sum(a["target_in_sleeve"] for a in i["internal"]) == pytest.approx(1.0, abs=1e-12)
        for a in i["internal"]:
            assert a["drift"] == pytest.approx(a["weight_in_sleeve"] - a["target_in_sleeve"], abs=1e-15)
            assert a["weight_in_sleeve"] * i["share"] == pytest.approx(weights[a["asset"]], abs=1e-12)
        assert i["internal_drift"] == pytest.approx(max(abs(a["drift"]) for a in i["internal"]), abs=1e-15)
    by = {i["name"]: i for i in items}
    assert by["wrapped"]["trigger"] == "calendar 1w" and by["wrapped"]["trigger_kind"] == "calendar"
    assert by["wrapped"]["next_due"] == (START + timedelta(days=21)).isoformat()
    assert by["native"]["next_due"] == datetime(2022, 2, 1, tzinfo=UTC).isoformat()
    assert sleeves["split"]["trigger"] == "band 5pp" and sleeves["split"]["band"] == 0.05


def test_next_rebalance_is_the_earliest_sleeve_calendar(run: tuple[Services, SimulatedClock]) -> None:
    s, _ = run
    doc = _status(s)
    last = START + timedelta(days=DAYS - 1)
    nxt = doc["next_rebalance"]
    assert nxt["calendar_due"] == (last + timedelta(days=1)).isoformat()
    assert nxt["calendar_every"] == "1d" and nxt["expected_at_next_check"] is True
    assert doc["sleeves"]["next_due"] == {"sleeve": "derivatives", "at": nxt["calendar_due"]}
    assert not any(i["fired_now"] for i in doc["sleeves"]["items"])  # just checked


def test_fired_now_is_what_the_next_check_would_see(run: tuple[Services, SimulatedClock]) -> None:
    s, clock = run
    before = clock.now()
    clock.advance_to(START + timedelta(days=DAYS))
    try:
        doc = _status(s)
    finally:
        clock.advance_to(before)
    fired = {i["name"] for i in doc["sleeves"]["items"] if i["fired_now"]}
    assert fired == {"derivatives"} and doc["trigger_would_fire"] is True  # day 16: daily only (1w due on day 21)
    reply = TestClient(create_app(s)).get("/api/portfolios/btc", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert reply.status_code == 200 and reply.json()["sleeves"]["items"][0]["name"] == "native"


def test_each_decision_lists_its_fired_sleeves(run: tuple[Services, SimulatedClock]) -> None:
    s, _ = run
    decisions = s.store.decisions("btc", limit=100, newest_first=False)
    assert len(decisions) == DAYS
    first, rest = decisions[0], decisions[1:]
    assert first["plan"]["sleeves"] == {"fired": [], "split": False, "whole": True}  # the initial allocation
    for k, d in enumerate(rest, start=1):
        doc = d["plan"]["sleeves"]  # every day fires (the daily sleeve), so every decision has a plan
        expected = ["wrapped"] * (k % 7 == 0) + ["derivatives"] + ["infrastructure"] * (k % 14 == 0)
        if doc["split"]:
            assert doc["whole"] and d["reason"].startswith("split: ")
        else:
            assert doc["fired"] == expected and not doc["whole"], (d["time"], d["reason"])
        assert doc["fired"] == [n for n in NAMES if f"sleeve {n}: " in d["reason"]]
    reply = commands.decisions(s, "btc", limit=100)
    schemas.Decisions.model_validate(reply)
    assert any("wrapped" in i["plan"]["sleeves"]["fired"] for i in reply["items"])
