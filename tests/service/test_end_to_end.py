"""End to end: two paper portfolios replaying real bundled prices; rebalance, pause, trigger, retarget, exit;
then the API, the database and the alerts received by a local HTTP receiver must all agree."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from tests.service.conftest import two_portfolios
from tests.service.harness import ADMIN_TOKEN, Receiver, RunningService, open_services, wait_for
from typer.testing import CliRunner

from trimtab.cli import app


def _decisions(client, name: str, **params) -> list[dict]:  # type: ignore[no-untyped-def]
    r = client.get(f"/api/portfolios/{name}/decisions", params={"limit": 1000, **params})
    assert r.status_code == 200
    return r.json()["items"]


def test_service_end_to_end(tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    # ten replayed days per second from mid-2020: four years of bundled prices ahead, so a slow run on a loaded
    # machine (the earlier waits can take a minute or more) never reaches their end before the manual trigger
    market = {"source": "replay", "start": "2020-06-01", "speed": 864_000}
    config = two_portfolios(tmp_path, receiver, market_data=market)
    doc = yaml.safe_load(config.read_text())
    # the exit's floor vs its pre-quote: prices replay ten days a second, so between the request and the exit
    # cycle they can move more than the default 1 %; a wide floor keeps this test about the flow, not the guard
    doc["portfolios"][1]["exit_guard_bps"] = 3000
    config.write_text(yaml.safe_dump(doc))
    services = open_services(config)
    svc = RunningService(services)
    try:
        api = svc.client()
        # let it rebalance: initial allocation plus at least one trigger-driven rebalance on each portfolio
        for name in ("alpha", "beta"):
            wait_for(f"{name} to rebalance", lambda n=name: len(_decisions(api, n, traded_only=True)) >= 2)
        listing = api.get("/api/portfolios").json()
        assert [p["name"] for p in listing] == ["alpha", "beta"]

        # pause alpha: its decisions stop while beta's go on
        assert api.post("/api/portfolios/alpha/pause", json={"reason": "holiday"}).status_code == 202
        wait_for("alpha lease released", lambda: services.store.portfolio("alpha").lease_owner is None)
        frozen = len(_decisions(api, "alpha"))
        beta_before = len(_decisions(api, "beta"))
        wait_for("beta to keep checking", lambda: len(_decisions(api, "beta")) >= beta_before + 3)
        assert len(_decisions(api, "alpha")) == frozen
        status = api.get("/api/portfolios/alpha").json()
        assert status["paused"] and status["paused_reason"] == "holiday"
        assert api.post("/api/portfolios/alpha/trigger").status_code == 409  # paused: resume first

        # bad targets get a clear 4xx, good ones a new version; a manual trigger then rebalances to them
        bad = api.put("/api/portfolios/beta/targets", json={"targets": {"ETH": 0.6, "USDC": 0.6}})
        assert bad.status_code == 422 and "sum to 1" in bad.json()["error"]
        ok = api.put("/api/portfolios/beta/targets", json={"targets": {"eth": 0.5, "usdc": 0.5}, "note": "de-risk"})
        assert ok.status_code == 200 and ok.json()["version"] == 2
        assert api.post("/api/portfolios/beta/trigger").status_code == 202
        manual = wait_for(  # late in a full suite run on 2 cores one replayed day can take a while: allow a minute
            "manual rebalance", lambda: [d for d in _decisions(api, "beta") if d["kind"] == "manual"], timeout=60
        )
        assert manual[0]["targets"] == {"ETH": 0.5, "USDC": 0.5}
        assert manual[0]["weights"]["ETH"] == pytest.approx(0.5, abs=0.01)
        # it trades to the new targets, unless a scheduled check between the change and the trigger already did
        # (ten replayed days a second: beta is checked about ten times a second)
        to_new = [d for d in _decisions(api, "beta", traded_only=True) if d["targets"] == {"ETH": 0.5, "USDC": 0.5}]
        assert to_new and to_new[-1]["id"] <= manual[0]["id"], "some rebalance to the new targets, by the manual one"

        # emergency exit needs the typed confirmation, then sells everything into USDC and pauses
        assert api.post("/api/portfolios/beta/exit", json={"confirm": "yes"}).status_code == 400
        accepted = api.post("/api/portfolios/beta/exit", json={"confirm": "beta"})
        assert accepted.status_code == 202 and accepted.json()["legs"] == 1
        assert Decimal(accepted.json()["quotes"][0]["min_received"]) < Decimal(
            accepted.json()["quotes"][0]["expected_received"]
        )
        wait_for("exit", lambda: [d for d in _decisions(api, "beta") if d["kind"] == "exit"])
        assert api.get("/api/portfolios/beta").json()["paused"]

        # the CLI over the API sees the same state
        monkeypatch.setenv("TRIMTAB_ADMIN_TOKEN", ADMIN_TOKEN)
        res = CliRunner().invoke(app, ["remote", "status", "beta", "--server", svc.url, "--json"])
        assert res.exit_code == 0 and '"paused": true' in res.output
        res = CliRunner().invoke(app, ["remote", "resume", "alpha", "--server", svc.url])
        assert res.exit_code == 0 and "resume accepted" in res.output
        wait_for("alpha to run again", lambda: len(_decisions(api, "alpha")) > frozen)
        api_alerts = {a["id"]: a for a in api.get("/api/alerts", params={"limit": 1000}).json()["items"]}
        api_decisions = {n: _decisions(api, n) for n in ("alpha", "beta")}
        api_rebalances = {
            n: api.get(f"/api/portfolios/{n}/rebalances", params={"limit": 1000}).json()["items"]
            for n in ("alpha", "beta")
        }
    finally:
        svc.stop()
    services.notifier.flush()

    # database: ledger, journal, decisions, versions and audit agree with what the API said
    store, ledger = services.store, services.ledger
    beta = {a: q for a, q in ledger.balances("beta").items() if q}
    assert list(beta) == ["USDC"] and beta["USDC"] > 0
    for name in ("alpha", "beta"):
        db_decisions = store.decisions(name, limit=10_000)
        assert len(db_decisions) >= len(api_decisions[name])
        assert {d["id"] for d in api_decisions[name]} <= {d["id"] for d in db_decisions}
        journal = {r.id: r for r in ledger.rebalances(name)}
        assert all(r.status.final for r in journal.values())
        assert {r["id"] for r in api_rebalances[name]} <= set(journal)
        traded = [d for d in db_decisions if d["traded"]]
        assert {d["rebalance_id"] for d in traded} <= set(journal)
        entry_ids = {e.rebalance_id for e in ledger.entries(name) if e.rebalance_id}
        assert entry_ids == {d["rebalance_id"] for d in traded}  # every fill recorded belongs to a decision
    assert [v["version"] for v in store.target_versions("beta")] == [1, 2]
    actions = {a["action"] for a in store.audit_log("beta")} | {a["action"] for a in store.audit_log("alpha")}
    assert {"pause", "resume", "trigger", "set_targets", "emergency_exit"} <= actions

    # alerts: every stored alert reached both channels, and the API listed the same ones
    db_alerts = {a["id"]: a for a in store.alerts(limit=10_000)}
    hooks = {m["id"]: m for m in receiver.on("/hook")}
    assert set(api_alerts) <= set(db_alerts) and set(hooks) == set(db_alerts)
    assert all(hooks[i]["kind"] == a["kind"] and hooks[i]["title"] == a["title"] for i, a in db_alerts.items())
    assert len(receiver.on("/apprise")) == len(db_alerts)
    kinds = {a["kind"] for a in db_alerts.values()}
    assert {
        "rebalance_initial",
        "rebalance_completed",
        "rebalance_manual",
        "emergency_exit",
        "control",
        "rebalance_notice",
    } <= kinds
    assert kinds & {"rebalance_scheduled", "rebalance_opportunistic"}
    assert all(a["delivery"] == "webhook: 200; apprise: ok" for a in db_alerts.values())
    services.close()
