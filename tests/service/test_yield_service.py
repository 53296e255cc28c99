"""Yield portfolios in the service, on the real SQLite database: the same check as `trimtab backtest` (same
migrations on the same days, same final value and yield earned), alerts with their numbers, the status read
model, emergency exit to cash, stale rates, and the settings a yield portfolio cannot use."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from tests.service.harness import open_services, write_config

from trimtab.adapters.rates import load_rates
from trimtab.backtest.yield_backtest import run_yield, usd_per_gas, yield_metrics
from trimtab.config import load_strategy_spec
from trimtab.errors import ConfigError
from trimtab.service import commands, schemas
from trimtab.service.bootstrap import Services
from trimtab.service.replay import SimulatedClock
from trimtab.service.runner import Runner

START = datetime(2023, 3, 1, tzinfo=UTC)
DAYS = 120  # 2023-03-01 .. 2023-06-28: the USDT utilisation spike of 2023-03-12/13 forces two risk exits


def _config(tmp_path: Path, **portfolio: object) -> Path:
    spec = {"name": "vault", "strategy": "stablecoin-yield", "check_every": "1d", **portfolio}
    live = {"market_data": {"source": "venue"}} if spec.get("venue", "paper") != "paper" else {}
    return write_config(tmp_path, [spec], database_url=str(tmp_path / "svc.db"), **live)


@pytest.fixture
def run(tmp_path: Path) -> Iterator[tuple[Services, SimulatedClock, Runner]]:
    clock = SimulatedClock(START)
    s = open_services(_config(tmp_path), clock=clock)
    runner = Runner(s)
    runner.startup()
    yield s, clock, runner
    s.close()


def _days(clock: SimulatedClock, runner: Runner, n: int, start: datetime = START) -> None:
    for k in range(n):
        clock.advance_to(start + timedelta(days=k))
        runner.run_once()


def test_service_makes_the_backtests_migrations(run: tuple[Services, SimulatedClock, Runner]) -> None:
    s, clock, runner = run
    _days(clock, runner, DAYS)
    decisions = s.store.decisions("vault", limit=1000, newest_first=False)
    assert len(decisions) == DAYS and all(d["status"] in ("held", "done") for d in decisions)

    spec = load_strategy_spec("stablecoin-yield")
    table = load_rates(None, start="2023-03-01", end=str((START + timedelta(days=DAYS - 1)).date()))
    result = run_yield(spec.yield_setup(), table, usd_per_gas(table))
    bt = yield_metrics(result)
    moved = [
        (x["time"][:10], x["source"].upper(), x["target"].upper(), round(x["amount_usd"], 6))
        for x in bt["migration_log"]
    ]
    served = [
        (str(d["time"])[:10], m["source"], m["target"], round(m["amount_usd"], 6))
        for d in decisions
        for m in (d["yields"] or {}).get("moves", [])
    ]
    assert served == moved and len(moved) >= 4  # initial, opportunistic, two risk exits, back again
    assert decisions[-1]["value"] == pytest.approx(float(result.equity[-1]), rel=1e-12)
    assert decisions[-1]["yields"]["yield_earned"] == pytest.approx(bt["yield_earned"], rel=1e-9)
    kinds = {d["kind"] for d in decisions if d["traded"]}
    assert kinds == {"initial", "opportunistic", "risk"}
    ledger = {a: q for a, q in s.store.balances("vault").items() if q}
    backtest = {a.upper(): q for a, q in result.extra["ledger"].balances("yield").items() if q}
    assert ledger == backtest  # exact Decimal units, every leg's gas, fee and slippage accounted the same


def test_migration_alerts_carry_both_apys_costs_and_horizon(run: tuple[Services, SimulatedClock, Runner]) -> None:
    s, clock, runner = run
    _days(clock, runner, 15)
    alerts = [a for a in s.store.alerts(limit=100) if a["kind"].startswith("migration_")]
    kinds = {a["kind"] for a in alerts}
    assert {"migration_opportunistic", "migration_risk"} <= kinds
    for a in alerts:
        for m in a["payload"]["moves"]:
            assert m["to_apy"] - m["from_apy"] == pytest.approx(m["differential"])
            assert m["cost_usd"] == pytest.approx(m["gas_usd"] + m["fee_usd"] + m["slippage_usd"], rel=0.05)
            assert m["horizon_days"] == 30
            assert f"{m['from_apy']:.2%}" in a["body"] and f"{m['to_apy']:.2%}" in a["body"]
    opportunistic = [m for a in alerts if a["kind"] == "migration_opportunistic" for m in a["payload"]["moves"]]
    assert all(m["net_differential"] > 0.005 for m in opportunistic)  # never below the rule's threshold
    risk = [a for a in alerts if a["kind"] == "migration_risk"]
    assert any("utilisation" in a["body"] and "above cap 95.0%" in a["body"] for a in risk)


def test_status_shows_positions_apys_and_yield_earned(run: tuple[Services, SimulatedClock, Runner]) -> None:
    s, clock, runner = run
    _days(clock, runner, 30)
    doc = commands.status(s, "vault")
    schemas.Status.model_validate(doc)  # the documented reply shape
    y = doc["yields"]
    names = [p["name"] for p in y["positions"]]
    assert names == ["USDC", "AUSDC", "AUSDT"]
    held = [p for p in y["positions"] if Decimal(p["units"]) > 0]
    assert len(held) == 1 and held[0]["value"] == pytest.approx(doc["value"])
    assert all(p["apy"] is not None and 0 <= p["apy"] < 1 for p in y["positions"][1:])
    last = s.store.decisions("vault", limit=1)[0]
    assert y["yield_earned"] == last["yields"]["yield_earned"] > 0
    assert y["rates_time"] == "2023-03-30"
    assert [a["asset"] for a in doc["assets"]] == [held[0]["name"]]
    with pytest.raises(commands.Conflict, match="yield portfolio"):
        commands.set_targets(s, "vault", {"USDC": 1.0}, actor="t")


def test_emergency_exit_withdraws_everything_into_the_quote(run: tuple[Services, SimulatedClock, Runner]) -> None:
    s, clock, runner = run
    _days(clock, runner, 5)
    before = s.store.decisions("vault", limit=1)[0]["value"]
    commands.emergency_exit(s, "vault", confirm="vault", actor="admin")
    clock.advance_to(START + timedelta(days=5))
    runner.run_once()
    held = {a: q for a, q in s.store.balances("vault").items() if q}
    assert list(held) == ["USDC"]
    d = s.store.decisions("vault", limit=1)[0]
    assert d["kind"] == "exit" and d["status"] == "done" and "emergency exit" in d["reason"]
    cost = sum(m["gas_usd"] + m["fee_usd"] + m["slippage_usd"] for m in d["yields"]["moves"])
    assert 0 < before - d["value"] < cost + 200  # what the exit cost, plus one day's price move of the coins
    row = s.store.portfolio("vault")
    assert row is not None and row.paused and row.exit_request is None


def test_stale_rates_fail_the_cycle_and_trade_nothing(tmp_path: Path) -> None:
    clock = SimulatedClock(datetime(2024, 7, 10, tzinfo=UTC))  # the shipped file ends 2024-06-30
    s = open_services(_config(tmp_path), clock=clock)
    try:
        Runner(s).run_once()
        assert s.store.decisions("vault", limit=1) == []
        failure = [a for a in s.store.alerts(limit=10) if a["kind"] == "failure"]
        assert failure and "rates are stale" in failure[0]["body"]
        assert {a: q for a, q in s.store.balances("vault").items() if q} == {"USDC": Decimal(1_000_000)}
    finally:
        s.close()


@pytest.mark.parametrize(
    ("portfolio", "field"),
    [
        ({"venue": "ccxt:binance"}, "yield"),
        ({"paper_state": "p.db"}, "portfolios.vault.paper_state"),
        ({"holdings": {"USDC": 5}}, "portfolios.vault.holdings"),
        ({"strategy": "bitcoin", "rates": "r.csv"}, "portfolios.vault.rates"),
    ],
)
def test_settings_a_yield_portfolio_cannot_use_are_refused(
    tmp_path: Path, portfolio: dict[str, object], field: str
) -> None:
    with pytest.raises(ConfigError) as err:
        open_services(_config(tmp_path, **portfolio))
    assert err.value.field == field


def test_rates_file_without_a_candidate_reserve_is_refused(tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text(
        "date,symbol,supply_apr,liquidity_index,total_supplied,utilization,price_usd\n"
        "2023-03-01,DAI,0.01,1.0,5e9,0.5,1.0\n"
    )
    with pytest.raises(ConfigError) as err:
        open_services(_config(tmp_path, rates="r.csv"))
    assert err.value.field == "yield.candidates" and "USDC" in str(err.value)


def test_an_exit_held_back_by_a_withdrawal_limit_says_what_is_left(
    run: tuple[Services, SimulatedClock, Runner],
) -> None:
    s, clock, runner = run
    _days(clock, runner, 11)  # in aUSDT since 2023-03-04
    commands.emergency_exit(s, "vault", confirm="vault", actor="admin")
    clock.advance_to(START + timedelta(days=11))  # 2023-03-12: the USDT reserve is 100% utilised
    runner.run_once()
    d = s.store.decisions("vault", limit=1)[0]
    assert d["kind"] == "exit" and [round(m["amount_usd"]) for m in d["yields"]["moves"]] == [3398]
    (alert,) = [a for a in s.store.alerts(limit=20) if a["title"] == "vault: emergency exit incomplete"]
    assert "still in AUSDT (withdrawal limit)" in alert["body"] and alert["payload"]["left"]["AUSDT"] > 1_000_000


def test_yield_earned_carries_over_a_cycle_that_held_without_valuing(
    run: tuple[Services, SimulatedClock, Runner],
) -> None:
    from trimtab.service.holds import waiting_cycle

    s, clock, runner = run
    _days(clock, runner, 10)
    earned = s.store.decisions("vault", limit=1)[0]["yields"]["yield_earned"]
    row = s.store.portfolio("vault")
    assert row is not None
    held = waiting_cycle(s, s.runtimes["vault"], row, ["r-unknown"])  # as after a leg of unknown outcome
    s.store.update_portfolio("vault", **{k: v for k, v in held.items() if k != "decision"})
    s.store.release("vault", "main", decision=held.pop("decision"))
    assert s.store.decisions("vault", limit=1)[0]["yields"] is None
    clock.advance_to(START + timedelta(days=10))
    s.store.update_portfolio("vault", next_check_at=clock.now())
    runner.run_once()
    d = s.store.decisions("vault", limit=1)[0]
    assert earned < d["yields"]["yield_earned"] < earned * 1.2  # went on from where it was, not from zero
    assert commands.status(s, "vault")["yields"]["yield_earned"] == d["yields"]["yield_earned"]
