"""Yield backtest: a hand-computed three-day run, properties over random rates, the shipped Aave v3 file via the CLI."""

from __future__ import annotations

import json
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from trimtab.backtest.yield_backtest import alternatives, run_yield, yield_metrics
from trimtab.cli import app
from trimtab.core.yield_check import setup_from
from trimtab.core.yields.migration import MigrationRule, SwapCosts
from trimtab.core.yields.positions import RatesTable, YieldPosition

A = YieldPosition("aUSDC", "USDC", "aave_v3", "USDC", risk_score=0.9)
B = YieldPosition("aUSDT", "USDT", "aave_v3", "USDT", risk_score=0.9)
V = YieldPosition("vUSDC", "USDC", "vault", "VUSDC", risk_score=0.9)
Q = Decimal("1e-18")


def table(
    apr: list[list[float]],
    index: list[list[float]],
    names: tuple[str, ...] = ("USDC", "USDT"),
    util: float = 0.5,
    supplied: float = 1e9,
) -> RatesTable:
    a = np.array(apr, dtype=float)
    t = (np.datetime64("2024-01-01") + np.arange(len(a))).astype("datetime64[ns]")
    return RatesTable(
        t, names, a, np.array(index, dtype=float), np.full_like(a, supplied), np.full_like(a, util), np.ones_like(a)
    )


def test_three_days_two_reserves_by_hand() -> None:
    # fee 1bp, base slippage 1bp, (practically) infinite depth; gas 20 gwei at $2,000 = $0.00004 per unit
    rule = MigrationRule(swap=SwapCosts(fee_bps=1, slippage_bps=1, depth_usd=1e30))
    setup = setup_from("t", "USDC", (A, B), rule, None, 1_000_000.0)
    rates = table(
        apr=[[0.05, 0.01], [0.01, 0.10], [0.01, 0.10]], index=[[1.0, 1.0], [1.0002, 1.0001], [1.0003, 1.0004]]
    )
    r = run_yield(setup, rates, np.full(3, 4e-5))
    # day 0: cash -> aUSDC (best, 5% APR): deposit gas 200k * 4e-5 = $8 -> 999,992 units at index 1
    # day 1: interest 999,992 * 0.0002; aUSDT now pays 10% vs 1%: withdraw (gas $10), swap at 0.9999 (fee 1bp, gas $6),
    #        deposit (gas $8) at index 1.0001
    units_a = Decimal("999992")
    interest1 = units_a * Decimal("0.0002")
    tokens = units_a * Decimal("1.0002") - 10
    gross = tokens * Decimal("0.9999")
    fee = gross * Decimal("1e-4")
    units_b = ((gross - fee - 6 - 8) / Decimal("1.0001")).quantize(Q, rounding=ROUND_FLOOR)
    interest2 = units_b * Decimal("0.0003")  # day 2: index 1.0001 -> 1.0004, no move (aUSDC still 1%)
    bal = r.extra["ledger"].balances("yield")
    assert bal["aUSDT"] == units_b and bal["aUSDC"] == 0 and bal["USDC"] == 0 and bal["USDT"] == 0
    assert r.extra["yield_earned"] == pytest.approx(float(interest1 + interest2), rel=1e-12)
    assert r.gas.tolist() == pytest.approx([8.0, 24.0, 0.0])
    assert r.fee[1] == pytest.approx(float(fee), rel=1e-12)
    assert r.slippage[1] == pytest.approx(float(tokens - gross), rel=1e-12)
    assert r.equity[-1] == pytest.approx(float(units_b * Decimal("1.0004")), rel=1e-12)
    moves = r.extra["migrations"]
    assert [(m["step"], m["source"], m["target"]) for m in moves] == [(0, "USDC", "aUSDC"), (1, "aUSDC", "aUSDT")]
    assert "over 30d" in moves[1]["reason"] and "APY 1.01% -> 10.52%" in moves[1]["reason"]
    plans = r.extra["plans"]
    assert [len(p.orders) for p in plans] == [1, 3]  # deposit; withdraw + swap + deposit
    assert float(sum(p.total_cost.gas for p in plans)) == pytest.approx(32.0)
    m = yield_metrics(r)
    assert m["migrations"] == 1 and m["yield_earned"] == pytest.approx(float(interest1 + interest2))


@st.composite
def rate_paths(draw: st.DrawFn) -> tuple[RatesTable, np.ndarray, float]:
    t_len = draw(st.integers(3, 25))
    apr = np.array(
        draw(st.lists(st.lists(st.floats(0.0, 0.4), min_size=3, max_size=3), min_size=t_len, max_size=t_len))
    )
    growth = 1 + apr / 365
    index = np.cumprod(growth, axis=0)
    util = draw(st.floats(0.0, 0.99))
    gas = np.array(draw(st.lists(st.floats(1e-7, 2e-4), min_size=t_len, max_size=t_len)))
    return table(apr.tolist(), index.tolist(), ("USDC", "USDT", "VUSDC"), util=util), gas, draw(st.floats(0.0, 0.05))


@settings(max_examples=40, deadline=None)
@given(rate_paths())
def test_yield_is_bounded_by_the_best_reserve_and_moves_clear_the_threshold(
    case: tuple[RatesTable, np.ndarray, float],
) -> None:
    rates, gas, min_diff = case
    rule = MigrationRule(min_differential=min_diff, max_gas_fraction=0.01, min_liquidity_usd=0)
    setup = setup_from("p", "USDC", (A, B, V), rule, None, 1_000_000.0)
    r = run_yield(setup, rates, gas)
    best_growth = np.max(rates.index[1:] / rates.index[:-1], axis=1)
    bound = 1_000_000.0 * (float(np.prod(best_growth)) - 1.0)
    assert r.extra["yield_earned"] <= bound * (1 + 1e-9) + 1e-6
    assert r.equity[-1] <= 1_000_000.0 * float(np.prod(best_growth)) * (1 + 1e-12)
    for m in r.extra["migrations"]:
        if m["kind"] == "opportunistic":
            assert m["net_differential"] > min_diff
    assert all(v >= 0 for v in r.extra["ledger"].balances("yield").values())


def test_alternatives_are_passive_and_pay_their_entry_costs() -> None:
    rule = MigrationRule(swap=SwapCosts(fee_bps=1, slippage_bps=1, depth_usd=1e30))
    setup = setup_from("t", "USDC", (A, B), rule, None, 1_000_000.0)
    rates = table(
        apr=[[0.05, 0.01], [0.01, 0.10], [0.01, 0.10]], index=[[1.0, 1.0], [1.0002, 1.0001], [1.0003, 1.0004]]
    )
    alts = alternatives(setup, rates, np.full(3, 4e-5))
    assert list(alts) == ["best-day-one (aUSDC)", "static-split", "hindsight-best (aUSDC)"]
    assert alts["best-day-one (aUSDC)"].gas.tolist() == pytest.approx([8.0, 0.0, 0.0])
    assert not alts["static-split"].rebalanced[1:].any()
    split = alts["static-split"].weights[0]
    assert split[1] == pytest.approx(0.5, abs=1e-3) and split[2] == pytest.approx(0.5, abs=1e-3)


runner = CliRunner()


def test_backtest_on_the_shipped_aave_file(tmp_path: Path) -> None:
    out = tmp_path / "m.json"
    chart = tmp_path / "where.png"
    res = runner.invoke(app, ["backtest", "-s", "stablecoin-yield", "--json", str(out), "--chart", str(chart)])
    assert res.exit_code == 0, res.output
    m = json.loads(out.read_text())
    assert m["start"][:10] == "2023-02-14" and m["end"][:10] == "2024-06-30"
    assert m["migrations"] > 0 and m["yield_earned"] > 0
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for x in m["migration_log"]:
        assert "APY" in x["reason"] and "over 30d" in x["reason"] and "costs $" in x["reason"]
        if x["kind"] == "opportunistic":
            assert x["net_differential"] > 0.005
    # the USDT reserve at 100% utilisation on 2023-03-12 (SVB weekend) forces a (limited) exit
    assert any(x["kind"] == "risk" and x["time"] == "2023-03-12" for x in m["migration_log"])


def test_compare_a_yield_strategy(tmp_path: Path) -> None:
    out = tmp_path / "c.json"
    res = runner.invoke(app, ["compare", "-s", "stablecoin-yield", "--json", str(out)])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert list(doc)[0] == "stablecoin-yield"
    assert {k.split(" ")[0] for k in doc} == {"stablecoin-yield", "best-day-one", "static-split", "hindsight-best"}
    hind = next(v for k, v in doc.items() if k.startswith("hindsight-best"))
    singles = [v for k, v in doc.items() if k.startswith(("best-day-one", "hindsight"))]
    assert hind["final_value"] >= max(s["final_value"] for s in singles) - 1e-6


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("date,symbol,supply_apr\n2024-01-01,USDC,0.1\n", "missing column liquidity_index"),
        (
            "date,symbol,supply_apr,liquidity_index,total_supplied\n2024-01-01,USDC,abc,1,5\n",
            "line 2: supply_apr: not a number 'abc'",
        ),
        (
            "date,symbol,supply_apr,liquidity_index,total_supplied\n2024-01-01,USDC,0.1,1.1,5\n2024-01-02,USDC,0.1,1.0,5\n",
            "USDC: liquidity_index falls on 2024-01-02",
        ),
        (
            "date,symbol,supply_apr,liquidity_index,total_supplied\n2024-01-01,USDC,0.1,1,5\n2024-01-03,USDC,0.1,1,5\n",
            "USDC: missing 2024-01-02",
        ),
        (
            "date,symbol,supply_apr,liquidity_index,total_supplied\n2024-01-01,DAI,0.1,1,5\n2024-01-02,DAI,0.1,1,5\n",
            "yield.candidates: reserve USDC is not in the rates file (it has DAI)",
        ),
    ],
)
def test_bad_rates_file_is_one_line_and_exit_2(tmp_path: Path, content: str, message: str) -> None:
    f = tmp_path / "rates.csv"
    f.write_text(content)
    res = runner.invoke(app, ["backtest", "-s", "stablecoin-yield", "--rates", str(f)])
    assert res.exit_code == 2
    assert message in res.output and len(res.output.strip().splitlines()) == 1 and "Traceback" not in res.output


def test_rates_on_a_strategy_without_a_yield_block_is_an_error() -> None:
    res = runner.invoke(app, ["backtest", "-s", "stablecoin-vault", "--rates", "x.csv"])
    assert res.exit_code == 2 and "--rates: only for a strategy with a yield: block" in res.output


def test_a_risk_score_drop_exits_the_protocol() -> None:
    from datetime import UTC, datetime

    from trimtab.core.triggers.opportunity import RiskEvent, ScoreChange

    drop = RiskEvent(
        depeg_tolerance=None, score_changes=(ScoreChange(datetime(2024, 1, 2, tzinfo=UTC), "aave_v3", 0.2),)
    )
    rule = MigrationRule(min_score=0.5, max_gas_fraction=0.01)
    setup = setup_from("t", "USDC", (A, B), rule, drop, 1_000_000.0)
    rates = table(apr=[[0.05, 0.01]] * 3, index=[[1.0, 1.0], [1.0001, 1.0001], [1.0002, 1.0002]])
    r = run_yield(setup, rates, np.full(3, 4e-5))
    moves = r.extra["migrations"]
    assert [(m["step"], m["kind"], m["target"]) for m in moves] == [(0, "opportunistic", "aUSDC"), (1, "risk", "USDC")]
    assert "risk score 0.2 below minimum 0.5" in moves[1]["reason"]
    bal = r.extra["ledger"].balances("yield")
    assert bal["aUSDC"] == 0 and bal["USDC"] > 0
    assert r.extra["interest"][2] == 0  # idle cash earns nothing


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["backtest", "-s", "stablecoin-vault", "--chart", "x.png"],
            "--chart: only for a strategy with a yield: block",
        ),
        (["backtest", "-s", "stablecoin-yield", "--report", "r.html"], "--report: not used by a yield strategy"),
        (["compare", "-s", "stablecoin-yield", "--prices", "p.csv"], "--prices: not used by a yield strategy"),
    ],
)
def test_options_that_do_not_apply_are_errors(args: list[str], message: str) -> None:
    res = runner.invoke(app, args)
    assert res.exit_code == 2 and message in res.output


def test_equity_csv_has_weights_and_apys(tmp_path: Path) -> None:
    import csv

    dest = tmp_path / "e.csv"
    res = runner.invoke(app, ["backtest", "-s", "stablecoin-yield", "--end", "2023-03-31", "--equity-csv", str(dest)])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(dest.open()))
    assert rows[0]["time"].startswith("2023-02-14") and rows[-1]["time"].startswith("2023-03-31")
    assert {"equity", "interest", "weight_aUSDC", "apy_aUSDT"} <= set(rows[0])
    assert all(abs(sum(float(r[k]) for k in r if k.startswith("weight_")) - 1) < 1e-9 for r in rows)


def test_a_depeg_risk_event_exits_the_coin() -> None:
    from trimtab.core.triggers.opportunity import RiskEvent

    rule = MigrationRule(max_gas_fraction=0.01, swap=SwapCosts(fee_bps=1, slippage_bps=1, depth_usd=1e30))
    setup = setup_from("t", "USDC", (A, B), rule, RiskEvent(depeg_tolerance=0.01), 1_000_000.0)
    base = table(apr=[[0.05, 0.01]] * 3, index=[[1.0, 1.0], [1.0001, 1.0001], [1.0002, 1.0002]])
    price = np.array([[1.0, 1.0], [0.96, 1.0], [0.99, 1.0]])  # USDC 4% off its peg on day 1
    rates = RatesTable(
        base.times.copy(),
        base.reserves,
        base.apr.copy(),
        base.index.copy(),
        base.supplied.copy(),
        base.utilization.copy(),
        price,
    )
    r = run_yield(setup, rates, np.full(3, 4e-5))
    moves = r.extra["migrations"]
    assert [(m["step"], m["kind"], m["source"], m["target"]) for m in moves] == [
        (0, "opportunistic", "USDC", "aUSDC"),
        (1, "risk", "aUSDC", "aUSDT"),
    ]
    assert "USDC depeg at 0.9600 (beyond 1.00%)" in moves[1]["reason"]
    # the swap sells USDC at its depegged price: about 4% of the value is lost, as it would be on chain
    assert r.equity[1] == pytest.approx(0.96 * 1_000_000, rel=2e-3)
