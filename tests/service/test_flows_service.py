"""Deposits and withdrawals in the service, on the real SQLite database: a deposit into a drifted portfolio brings
it back inside its band with buys only; a withdrawal sells the most overweight first and is booked with those
sells; returns are time-weighted (a flat portfolio with flows returns 0); a flow is never recorded twice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from tests.service.harness import RunningService, open_services, write_config

from trimtab.core.base.ledger import EntryKind
from trimtab.core.base.portfolio import PortfolioState
from trimtab.service import commands, schemas
from trimtab.service.bootstrap import Services
from trimtab.service.cycle import snapshot_for
from trimtab.service.flows import request_flow, take_deposits
from trimtab.service.replay import SimulatedClock
from trimtab.service.runner import Runner

START = datetime(2022, 1, 3, tzinfo=UTC)
BAND = """\
name: band
quote: USDC
targets: {BTC: 0.5, ETH: 0.3, USDC: 0.2}
trigger: {kind: threshold, band: 0.05}
costs: {fee_bps: 10, slippage_bps: 5}
"""
CASH = """\
name: cash
quote: USDC
targets: {USDC: 1.0}
trigger: {kind: calendar, every: 7d}
"""


def _open(tmp_path: Path, strategy: str, **portfolio: object) -> tuple[Services, SimulatedClock, Runner]:
    (tmp_path / "s.yaml").write_text(strategy)
    spec = {"name": "p", "strategy": "s.yaml", "check_every": "1d", "initial_value": 100_000, **portfolio}
    config = write_config(tmp_path, [spec], database_url=str(tmp_path / "svc.db"))
    clock = SimulatedClock(START)
    services = open_services(config, clock=clock)
    return services, clock, Runner(services)


@pytest.fixture
def band(tmp_path: Path) -> Iterator[tuple[Services, SimulatedClock, Runner]]:
    s, clock, runner = _open(tmp_path, BAND, max_drawdown=0.3)
    yield s, clock, runner
    s.close()


def _state(s: Services) -> PortfolioState:
    rt = s.runtimes["p"]
    holdings = s.store.balances("p")
    return PortfolioState.of(holdings, snapshot_for(rt, holdings).prices, "USDC")


def _flow_entries(s: Services) -> list[tuple[str, Decimal, str]]:
    return [(e.kind, e.amount, e.ref) for e in s.ledger.entries("p") if e.ref.startswith("flow-")]


def test_a_deposit_into_a_drifted_portfolio_buys_only_and_lands_inside_the_band(
    band: tuple[Services, SimulatedClock, Runner],
) -> None:
    s, clock, runner = band
    runner.run_once()  # the first allocation
    for day in (1, 2, 3):  # a few days of real prices: BTC and ETH move off their targets
        clock.advance_to(START + timedelta(days=day))
        runner.run_once()
    before = _state(s)
    doc = request_flow(s, "p", Decimal(60_000), actor="admin", withdraw=False)
    schemas.FlowAccepted.model_validate(doc)
    runner.run_once()  # due at once: a queued flow makes the portfolio due
    d = s.store.decisions("p", limit=1)[0]
    assert d["kind"] == "flow" and d["status"] == "done" and d["flow"] == 60_000
    sides = {f["side"] for f in d["report"]["fills"]}
    assert sides == {"buy"}, d["report"]["fills"]
    after = _state(s)
    w = after.weights()
    assert all(abs(w.get(a, 0.0) - t) <= 0.05 for a, t in {"BTC": 0.5, "ETH": 0.3, "USDC": 0.2}.items())
    assert float(after.total) == pytest.approx(float(before.total) + 60_000, rel=2e-3)  # less the buys' costs
    assert _flow_entries(s) == [(EntryKind.DEPOSIT, Decimal(60_000), f"flow-{doc['flow_id']}")]
    row = s.store.portfolio("p")
    assert row is not None and row.flow_request is None
    assert any(a["action"] == "deposit" and a["actor"] == "admin" for a in s.store.audit_log("p"))


def test_a_withdrawal_sells_the_most_overweight_first_and_is_booked_with_the_sells(
    band: tuple[Services, SimulatedClock, Runner],
) -> None:
    s, clock, runner = band
    runner.run_once()
    clock.advance_to(START + timedelta(days=3))
    runner.run_once()
    before = _state(s)
    w0 = before.weights()
    over = max(("BTC", "ETH"), key=lambda a: w0[a] - {"BTC": 0.5, "ETH": 0.3}[a])
    doc = request_flow(s, "p", Decimal(30_000), actor="admin", withdraw=True)
    runner.run_once()
    d = s.store.decisions("p", limit=1)[0]
    assert d["kind"] == "flow" and d["flow"] == -30_000 and d["status"] == "done"
    sells = [f for f in d["report"]["fills"] if f["side"] == "sell"]
    assert sells and not [f for f in d["report"]["fills"] if f["side"] == "buy"]
    assert over in {f["asset"] for f in sells}  # the most overweight is sold first
    (entry,) = [e for e in s.ledger.entries("p") if e.kind == EntryKind.WITHDRAW]
    assert entry.amount == Decimal(-30_000) and entry.ref == f"flow-{doc['flow_id']}"
    assert entry.rebalance_id == d["rebalance_id"]  # one transaction with the sells that paid for it
    after = _state(s)
    assert float(after.total) == pytest.approx(float(before.total) - 30_000, rel=1e-3)
    row = s.store.portfolio("p")
    assert row is not None and not row.paused  # a withdrawal is not a drawdown: the 30% breaker stays quiet


def test_returns_are_time_weighted_a_flat_portfolio_with_flows_returns_zero(tmp_path: Path) -> None:
    s, clock, runner = _open(tmp_path, CASH)
    try:
        runner.run_once()
        for day, (amount, out) in enumerate([(50_000, False), (20_000, True), (5_000, False)], start=1):
            clock.advance_to(START + timedelta(days=day))
            request_flow(s, "p", Decimal(amount), actor="admin", withdraw=out)
            runner.run_once()
        perf = commands.performance(s, "p")
        schemas.Performance.model_validate(perf)
        assert [p["value"] for p in perf["equity"]] == [100_000, 150_000, 130_000, 135_000]
        assert perf["return"] == 0.0 and perf["net_flows"] == 35_000
        assert perf["money_weighted_return"] == pytest.approx(0.0, abs=1e-9)
        assert perf["metrics"]["max_drawdown"] == 0.0
        analytics = commands.analytics(s, "p")
        assert analytics["variants"]["strategy"]["return"] == 0.0
        assert [p["value"] for p in analytics["equity"]] == [100_000, 150_000, 130_000, 135_000]
        assert s.store.balances("p") == {"USDC": Decimal(135_000)}
    finally:
        s.close()


def test_a_flow_already_in_the_ledger_is_not_recorded_twice(band: tuple[Services, SimulatedClock, Runner]) -> None:
    s, _, runner = band
    runner.run_once()
    request_flow(s, "p", Decimal(10_000), actor="admin", withdraw=False)
    row = s.store.portfolio("p")
    assert row is not None
    take_deposits(s, s.runtimes["p"], row)  # a cycle recorded the deposit, then the process died
    runner.run_once()  # the restarted cycle finds it in the ledger: taken up, not booked again
    assert [k for k, _, _ in _flow_entries(s)] == [EntryKind.DEPOSIT]
    row = s.store.portfolio("p")
    assert row is not None and row.flow_request is None


def test_flows_the_portfolio_cannot_take_are_refused(band: tuple[Services, SimulatedClock, Runner]) -> None:
    s, _, runner = band
    runner.run_once()
    with pytest.raises(commands.Invalid, match="more than p is worth"):
        request_flow(s, "p", Decimal(1_000_000), actor="admin", withdraw=True)
    with pytest.raises(commands.Invalid, match="positive"):
        request_flow(s, "p", Decimal(0), actor="admin", withdraw=False)
    with pytest.raises(commands.NotFound):
        request_flow(s, "nope", Decimal(1), actor="admin", withdraw=False)
    assert s.store.portfolio("p").flow_request is None  # type: ignore[union-attr]


def test_the_api_queues_a_deposit_and_the_reply_has_its_documented_shape(tmp_path: Path) -> None:
    s, _, runner = _open(tmp_path, CASH)
    svc = RunningService(s, scheduler=False)
    try:
        with svc.client() as c:
            r = c.post("/api/portfolios/p/deposit", json={"amount": "2500.5"})
            assert r.status_code == 202, r.text
            assert r.json()["queued"] == 1 and r.json()["amount"] == "2500.5"
            assert c.post("/api/portfolios/p/withdraw", json={"amount": "-1"}).status_code == 422
            assert c.post("/api/portfolios/p/deposit", json={"amount": "1", "x": 1}).status_code == 422
        runner.run_once()
        assert s.store.balances("p") == {"USDC": Decimal("102500.5")}
    finally:
        svc.stop()
        s.close()
