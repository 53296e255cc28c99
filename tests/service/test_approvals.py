"""Tiered autonomy on the real SQLite database: a plan above the `approval:` thresholds waits (nothing sent), expires
after `expires` of service time, is re-planned on fresh prices once approved (never executed on the prices it was
made with), or is rejected; every decision is audited with who made it. Plans under the thresholds go by themselves."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from tests.service.harness import ADMIN_TOKEN, READ_TOKEN, RunningService, open_services, write_config
from typer.testing import CliRunner

from trimtab.cli import app
from trimtab.service import approvals, commands
from trimtab.service.api import create_app
from trimtab.service.approval_schemas import ApprovalAccepted, Approvals
from trimtab.service.bootstrap import Services
from trimtab.service.replay import SimulatedClock
from trimtab.service.runner import Runner

START = datetime(2022, 3, 1, tzinfo=UTC)
TICK = Decimal("1e-8")  # plan documents show prices on the paper venue's tick
STRATEGY = {
    "name": "gated",
    "quote": "USDC",
    "targets": {"BTC": 0.5, "ETH": 0.3, "USDC": 0.2},
    "trigger": {"kind": "threshold", "band": 0.05},
    "costs": {"fee_bps": 10, "slippage_bps": 5},
}


def _config(tmp_path: Path, approval: dict[str, object] | None, database_url: str | None = None) -> Path:
    strategy = {**STRATEGY, **({"approval": approval} if approval is not None else {})}
    (tmp_path / "gated.yaml").write_text(yaml.safe_dump(strategy))
    spec = {"name": "vault", "strategy": "gated.yaml", "check_every": "1d", "initial_value": 100_000}
    return write_config(tmp_path, [spec], database_url=database_url or str(tmp_path / "svc.db"))


def _open(
    tmp_path: Path, approval: dict[str, object] | None, database_url: str | None = None
) -> tuple[Services, SimulatedClock, Runner]:
    clock = SimulatedClock(START)
    s = open_services(_config(tmp_path, approval, database_url), clock=clock)
    runner = Runner(s)
    runner.startup()
    return s, clock, runner


@pytest.fixture
def gated(tmp_path: Path) -> Iterator[tuple[Services, SimulatedClock, Runner]]:
    """100,000 USDC that must be allocated; anything over 10,000 USDC of notional needs an admin; 4h to decide."""
    s, clock, runner = _open(tmp_path, {"max_auto_notional": 10_000, "expires": "4h"})
    yield s, clock, runner
    s.close()


def _store(s: Services) -> approvals.ApprovalStore:
    return approvals.approval_store(s)


def _alerts(s: Services, kind: str) -> list[dict[str, object]]:
    return s.store.alerts("vault", kind=kind, limit=100)


def _cash_only(s: Services) -> None:
    assert {a: q for a, q in s.store.balances("vault").items() if q} == {"USDC": Decimal(100_000)}


def test_a_plan_above_the_threshold_waits_and_nothing_is_sent(gated: tuple[Services, SimulatedClock, Runner]) -> None:
    s, clock, runner = gated
    assert runner.run_once() == 1
    [a] = _store(s).listed("vault")
    assert a.status == "pending" and a.kind == "initial" and a.expires_at == START + timedelta(hours=4)
    assert a.notional > 10_000 and "notional" in a.reason and "max_auto_notional 10,000.00 USDC" in a.reason
    assert {o["asset"] for o in a.plan["orders"]} == {"BTC", "ETH"}
    _cash_only(s)  # the ledger is unchanged
    assert s.ledger.rebalances("vault") == []  # nothing journaled, nothing sent
    [d] = s.store.decisions("vault")
    assert d["status"] == "pending_approval" and d["fired"] and not d["traded"] and d["plan"]["orders"]
    [alert] = _alerts(s, "approval_needed")
    assert alert["payload"]["approval_id"] == a.id and f"remote approve vault {a.id}" in alert["body"]
    # the next cycles hold with the reason and plan nothing else; the portfolio is checked again at the expiry
    row = s.store.portfolio("vault")
    assert row is not None and row.next_check_at == a.expires_at and row.last_check_at is None
    clock.advance_to(START + timedelta(hours=2))
    s.store.update_portfolio("vault", next_check_at=clock.now())
    runner.run_once()
    held = s.store.decisions("vault", limit=1)[0]
    assert held["status"] == "held" and f"waiting for approval #{a.id}" in held["reason"]
    assert len(_store(s).listed("vault")) == 1 and s.ledger.rebalances("vault") == []
    with pytest.raises(commands.Conflict, match=f"approval #{a.id}"):
        commands.trigger_now(s, "vault", actor="admin")  # a manual trigger would plan over it


def test_a_pending_approval_expires_then_the_portfolio_plans_again(
    gated: tuple[Services, SimulatedClock, Runner],
) -> None:
    s, clock, runner = gated
    runner.run_once()
    [first] = _store(s).listed("vault")
    clock.advance_to(START + timedelta(hours=3, minutes=59))
    assert runner.run_once() == 0  # not due yet: its check waits for the expiry
    clock.advance_to(first.expires_at)
    assert runner.run_once() == 1
    newer, old = _store(s).listed("vault")
    assert old.id == first.id and old.status == "expired" and old.decided_by == "expiry"
    [alert] = _alerts(s, "approval_expired")
    assert alert["payload"]["approval_id"] == first.id and "nothing sent" in alert["body"]
    assert newer.status == "pending" and newer.created_at == first.expires_at  # planned again, on that cycle's prices
    assert newer.expires_at == first.expires_at + timedelta(hours=4)
    _cash_only(s)
    assert any(e["action"] == "approval_expired" for e in s.store.audit_log("vault"))
    with pytest.raises(commands.Conflict, match="expired"):
        approvals.approve(s, "vault", first.id, actor="admin")


def test_an_approved_plan_is_re_planned_on_the_new_prices_and_executed(
    gated: tuple[Services, SimulatedClock, Runner],
) -> None:
    s, clock, runner = gated
    runner.run_once()
    [a] = _store(s).listed("vault")
    made_on = {o["asset"]: Decimal(o["price"]) for o in a.plan["orders"]}
    clock.advance_to(START + timedelta(hours=1))
    doc = approvals.approve(s, "vault", a.id, actor="admin", by="alice", note="checked the plan")
    ApprovalAccepted.model_validate(doc)
    assert doc["approval"]["status"] == "approved" and doc["approval"]["decided_by"] == "admin:alice"
    assert s.wake.is_set()
    clock.advance_to(START + timedelta(days=1, hours=1))  # the next replay row: every price has moved
    s.store.update_portfolio("vault", next_check_at=START + timedelta(days=9))  # not due by schedule
    assert runner.run_once() == 1  # due at once: the approval asked for it
    done = _store(s).get(a.id)
    assert done is not None and done.status == "executed" and done.rebalance_id
    assert done.note.startswith("re-planned on fresh prices: notional")  # still above the threshold: as approved
    assert done.note.endswith("above max_auto_notional 10,000.00 USDC, as approved; rebalance done")
    [rebalance] = s.ledger.rebalances("vault")
    assert rebalance.id == done.rebalance_id and rebalance.status.value == "done"
    last = s.store.decisions("vault", limit=1)[0]
    assert last["traded"] and last["kind"] == "initial" and f"approved by admin:alice (#{a.id})" in last["reason"]
    fresh = {o["asset"]: Decimal(o["price"]) for o in last["plan"]["orders"]}
    now = s.runtimes["vault"].market.snapshot(["BTC", "ETH"], "USDC").prices
    assert set(fresh) == set(made_on) and all(abs(fresh[x] - now[x]) < TICK for x in fresh)  # the new snapshot
    assert all(fresh[x] != made_on[x] for x in fresh)
    fills = last["report"]["fills"]
    assert {f["asset"] for f in fills} == set(fresh)
    for f in fills:  # filled at the new mid plus 5 bps slippage, not at the prices the pending plan was made on
        price = Decimal(f["price"])
        assert abs(price / fresh[f["asset"]] - 1) <= Decimal("0.0006") < abs(price / made_on[f["asset"]] - 1)
    [entry] = [e for e in s.store.audit_log("vault") if e["action"] == "approval_approved"]
    assert entry["actor"] == "admin:alice" and entry["detail"]["approval_id"] == a.id
    assert entry["detail"]["note"] == "checked the plan"
    assert _store(s).open_for("vault") is None  # the portfolio plans normally again


def test_a_rejected_plan_is_never_sent_and_the_rejection_is_audited(
    gated: tuple[Services, SimulatedClock, Runner],
) -> None:
    s, clock, runner = gated
    runner.run_once()
    [a] = _store(s).listed("vault")
    doc = approvals.reject(s, "vault", a.id, actor="admin", by="bob", note="too big today")
    assert doc["approval"]["status"] == "rejected" and doc["approval"]["note"] == "too big today"
    with pytest.raises(commands.Conflict, match="rejected, not pending"):
        approvals.approve(s, "vault", a.id, actor="admin")
    [alert] = _alerts(s, "approval_rejected")
    assert "rejected by admin:bob" in alert["body"]
    [entry] = [e for e in s.store.audit_log("vault") if e["action"] == "approval_rejected"]
    assert entry["actor"] == "admin:bob" and entry["detail"]["note"] == "too big today"
    clock.advance_to(START + timedelta(hours=1))
    assert runner.run_once() == 0  # a rejection does not wake the portfolio: its next check plans again
    _cash_only(s)
    assert s.ledger.rebalances("vault") == [] and _store(s).get(a.id).status == "rejected"  # type: ignore[union-attr]


def test_a_plan_under_the_thresholds_executes_by_itself(tmp_path: Path) -> None:
    s, _, runner = _open(tmp_path, {"max_auto_notional": 1_000_000, "max_auto_cost": 500, "max_auto_turnover": 1.0})
    try:
        runner.run_once()
        assert _store(s).listed("vault") == [] and _alerts(s, "approval_needed") == []
        [d] = s.store.decisions("vault")
        assert d["traded"] and d["status"] == "done"
    finally:
        s.close()


def test_the_cost_and_turnover_thresholds_each_name_both_numbers(tmp_path: Path) -> None:
    s, _, runner = _open(tmp_path, {"max_auto_cost": 10, "max_auto_turnover": 0.5})
    try:
        runner.run_once()
        [a] = _store(s).listed("vault")
        assert a.reason == (  # 80% of the value less the costs the plan keeps back, 15 bps of it
            "estimated cost 119.90 USDC above max_auto_cost 10.00 USDC; "
            "turnover 79.90% of the portfolio above max_auto_turnover 50.00%"
        )
        assert abs(a.cost - Decimal("119.9")) < Decimal("0.01")
    finally:
        s.close()


def test_a_re_plan_that_differs_from_the_approved_plan_waits_again(
    gated: tuple[Services, SimulatedClock, Runner],
) -> None:
    s, clock, runner = gated
    runner.run_once()
    [a] = _store(s).listed("vault")
    approvals.approve(s, "vault", a.id, actor="admin")
    commands.set_targets(s, "vault", {"BTC": 0.2, "ETH": 0.2, "USDC": 0.6}, actor="admin")
    clock.advance_to(START + timedelta(hours=1))
    runner.run_once()
    old = _store(s).get(a.id)
    assert old is not None and old.status == "superseded" and "targets changed since (v1 -> v2)" in old.note
    new = _store(s).open_for("vault")
    assert new is not None and new.status == "pending" and new.targets_version == 2
    assert f"re-plan of approval #{a.id}" in new.reason
    _cash_only(s)


def test_an_emergency_exit_never_waits_and_closes_the_open_approval(
    gated: tuple[Services, SimulatedClock, Runner],
) -> None:
    s, clock, runner = gated
    runner.run_once()
    [a] = _store(s).listed("vault")
    commands.emergency_exit(s, "vault", confirm="vault", actor="admin")
    runner.run_once()
    closed = _store(s).get(a.id)
    assert closed is not None and closed.status == "rejected" and closed.decided_by == "emergency exit"
    row = s.store.portfolio("vault")
    assert row is not None and row.paused
    with pytest.raises(commands.Conflict, match="rejected"):
        approvals.approve(s, "vault", a.id, actor="admin")


def test_the_api_lists_approves_and_rejects_with_the_admin_token(
    gated: tuple[Services, SimulatedClock, Runner],
) -> None:
    s, _, runner = gated
    runner.run_once()
    client = TestClient(create_app(s), raise_server_exceptions=False)
    admin, read = {"Authorization": f"Bearer {ADMIN_TOKEN}"}, {"Authorization": f"Bearer {READ_TOKEN}"}
    listed = client.get("/api/portfolios/vault/approvals", headers=read)
    assert listed.status_code == 200, listed.text
    doc = Approvals.model_validate(listed.json())
    [item] = doc.items
    assert item.status == "pending" and item.plan.orders
    assert client.get("/api/portfolios/vault/approvals?status=expired", headers=read).json()["items"] == []
    url = f"/api/portfolios/vault/approvals/{item.id}"
    assert client.post(f"{url}/approve", headers=read).status_code == 403
    assert client.post("/api/portfolios/vault/approvals/999/approve", headers=admin).status_code == 404
    assert client.post("/api/portfolios/nope/approvals/1/approve", headers=admin).status_code == 404
    ok = client.post(f"{url}/approve", headers=admin, json={"by": "carol"})
    assert ok.status_code == 202, ok.text
    assert ok.json()["approval"]["decided_by"] == "admin:carol"
    again = client.post(f"{url}/reject", headers=admin)
    assert again.status_code == 409 and "approved, not pending" in again.json()["error"]


def test_the_cli_lists_and_approves_over_the_api(
    gated: tuple[Services, SimulatedClock, Runner], monkeypatch: pytest.MonkeyPatch
) -> None:
    s, _, runner = gated
    runner.run_once()
    [a] = _store(s).listed("vault")
    svc = RunningService(s, scheduler=False)
    monkeypatch.setenv("TRIMTAB_ADMIN_TOKEN", ADMIN_TOKEN)
    try:
        cli = CliRunner()
        listed = cli.invoke(app, ["remote", "approvals", "vault", "--server", svc.url])
        assert listed.exit_code == 0, listed.output
        assert "pending" in listed.output and "initial" in listed.output and str(a.id) in listed.output
        ok = cli.invoke(app, ["remote", "approve", "vault", str(a.id), "--server", svc.url, "--by", "erin"])
        assert ok.exit_code == 0, ok.output
        assert f"approval #{a.id} approved by admin:erin" in ok.output
        again = cli.invoke(app, ["remote", "reject", "vault", str(a.id), "--server", svc.url])
        assert again.exit_code == 1 and "HTTP 409" in again.output and "approved, not pending" in again.output
    finally:
        svc.stop()


@pytest.mark.postgres
@pytest.mark.slow
def test_on_postgresql_a_pending_approval_expires_and_an_approved_one_re_plans(tmp_path: Path, pg_url: str) -> None:
    s, clock, runner = _open(tmp_path, {"max_auto_notional": 10_000, "expires": "4h"}, pg_url)
    try:
        runner.run_once()
        [first] = _store(s).listed("vault")
        clock.advance_to(first.expires_at)
        runner.run_once()  # expired, planned again on that cycle's prices
        second, old = _store(s).listed("vault")
        assert (old.status, second.status) == ("expired", "pending") and old.expires_at.tzinfo is not None
        approvals.approve(s, "vault", second.id, actor="admin", by="dora")
        clock.advance_to(START + timedelta(days=1, hours=1))
        assert runner.run_once() == 1
        done = _store(s).get(second.id)
        assert done is not None and done.status == "executed" and done.decided_by == "admin:dora"
        last = s.store.decisions("vault", limit=1)[0]
        made_on = {o["asset"]: Decimal(o["price"]) for o in second.plan["orders"]}
        assert last["traded"] and all(Decimal(f["price"]) != made_on[f["asset"]] for f in last["report"]["fills"])
    finally:
        s.close()
