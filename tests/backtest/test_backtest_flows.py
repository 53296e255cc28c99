"""Backtests with external cash flows: hand-computed cases, time- vs money-weighted returns, one-way flow trades,
and every bad flows file refused with one line (exit 2)."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from trimtab.adapters.flowfile import load_flows
from trimtab.backtest.results import result_metrics
from trimtab.backtest.runner import backtest
from trimtab.cli import app
from trimtab.core.base.history import PriceHistory
from trimtab.core.costs.model import linear_costs
from trimtab.core.execution.planner import PlanSettings
from trimtab.core.strategy import Strategy
from trimtab.core.triggers.rules import Never, ThresholdBand
from trimtab.errors import ConfigError, DataError

runner = CliRunner()


def hist(prices: list[list[float]], assets: tuple[str, ...]) -> PriceHistory:
    t = np.arange(len(prices)).astype("timedelta64[D]") + np.datetime64("2024-01-01", "D")
    return PriceHistory(times=t, assets=assets, prices=np.array(prices, dtype=float))


def strat(trigger: object, targets: dict[str, float], fee_bps: float = 0.0, band: float | None = None) -> Strategy:
    return Strategy("t", "USDC", targets, trigger, linear_costs(fee_bps, 0.0, 0.0), settings=PlanSettings(band=band))  # type: ignore[arg-type]


def day(n: int) -> datetime:
    return datetime(2024, 1, 1 + n, tzinfo=UTC)


def test_flows_in_a_flat_market_earn_nothing_time_weighted() -> None:
    """Constant prices, no costs: whatever the flows, the time-weighted return is exactly zero."""
    h = hist([[100.0, 1.0]] * 6, ("A", "USDC"))
    flows = [(day(1), Decimal(500)), (day(3), Decimal(-300)), (day(4), Decimal(200))]
    r = backtest(strat(Never(), {"A": 0.6, "USDC": 0.4}), h, initial_value=1000.0, flows=flows)
    assert r.path == "step"
    assert r.equity.tolist() == pytest.approx([1000, 1500, 1500, 1200, 1400, 1400])
    m = result_metrics(r)
    assert m["total_return"] == pytest.approx(0.0, abs=1e-12) and m["net_flows"] == pytest.approx(400.0)
    assert m["money_weighted_return"] == pytest.approx(0.0, abs=1e-6) and m["flows"] == 3


def test_hand_computed_deposit_after_a_rise_buys_only_the_underweight_asset() -> None:
    """A doubles on day 1 (60/40 -> 75/25); a 500 deposit arrives: cash 900 is 60 above its 40 % of 2,100, A is 60
    short of its 60 %: the deposit buys 60 of A and lands exactly on target. TWR = 1600/1000 - 1 = 60 %."""
    h = hist([[100.0, 1.0], [200.0, 1.0], [200.0, 1.0]], ("A", "USDC"))
    s = strat(Never(), {"A": 0.6, "USDC": 0.4})
    r = backtest(s, h, initial_value=1000.0, flows=[(day(1), Decimal(500))])
    # day 1: A = 6 units * 200 = 1200, cash 400 + 500 = 900 -> 2100; target A 1260: the deposit buys 60 of A
    assert r.equity[1] == pytest.approx(2100.0)
    assert r.weights[1][0] == pytest.approx(0.6) and r.rebalanced[1]
    assert any("deposit of 500.00 USDC" in why for _, why in r.reasons)
    m = result_metrics(r)
    assert m["total_return"] == pytest.approx(0.6)  # (2100 - 500) / 1000 on day 1, flat after
    assert m["final_value"] == pytest.approx(2100.0)


def test_a_withdrawal_sells_only_the_overweight_asset_and_never_overdraws() -> None:
    h = hist([[100.0, 1.0], [200.0, 1.0], [200.0, 1.0]], ("A", "USDC"))
    s = strat(Never(), {"A": 0.6, "USDC": 0.4}, fee_bps=10)
    r = backtest(s, h, initial_value=1000.0, flows=[(day(1), Decimal(-300))])
    # before: A 1197.6 (6 units less the entry fee), cash ~400; raising 300 sells A (overweight) only
    a_units_before = r.weights[0][0] * r.equity[0] / 100.0
    a_units_after = r.weights[1][0] * r.equity[1] / 200.0
    assert a_units_after < a_units_before  # A was sold
    assert r.extra["flows"][1] == pytest.approx(-300.0)
    too_much = backtest(s, h, initial_value=1000.0, flows=[(day(1), Decimal(-10_000))])
    assert too_much.equity[1] >= 0 and too_much.extra["flows"][1] > -10_000  # capped at what the sells raised
    assert any("could be raised" in why for _, why in too_much.reasons)


def test_twr_recomputed_independently_from_the_equity_csv(tmp_path: Path) -> None:
    """`trimtab backtest --flows` on bundled data: total_return equals the chain-linked return recomputed here from
    the written equity and flow columns; flows are deposits and withdrawals, not performance."""
    flows = tmp_path / "flows.csv"
    flows.write_text("date,amount\n2023-03-01,20000\n2023-09-01,-15000\n2023-09-01,1000\n")
    out_json, out_csv = tmp_path / "m.json", tmp_path / "eq.csv"
    args = ["backtest", "-s", "index-fund", "--start", "2023-01-01", "--end", "2023-12-31", "--flows", str(flows)]
    res = runner.invoke(app, [*args, "--json", str(out_json), "--equity-csv", str(out_csv)])
    assert res.exit_code == 0, res.output
    assert "2 external flow(s)" in res.output and "money-weighted return" in res.output
    m = json.loads(out_json.read_text())
    rows = list(csv.DictReader(out_csv.open()))
    growth, prev = 1.0, None
    for row in rows:
        v, f = float(row["equity"]), float(row["flow"])
        if prev is not None:
            growth *= (v - f) / prev
        prev = v
    assert m["total_return"] == pytest.approx(growth - 1.0, rel=1e-12)
    assert m["path"] == "step" and sum(float(r["flow"]) != 0 for r in rows) == 2
    assert m["final_value"] == pytest.approx(float(rows[-1]["equity"]))


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("when,amount\n2024-01-02,5\n", "missing column date"),
        ("date,amount\n2024-13-02,5\n", "line 2: date: not a date"),
        ("date,amount\n2024-01-02,five\n", "line 2: amount: not a number"),
        ("date,amount\n2024-01-02,5\n2024-01-03,nan\n", "line 3: amount: must be a finite number"),
        ("date,amount\n2024-01-02,0\n", "line 2: amount: a flow of 0"),
        ("date,amount\n", "no flows"),
    ],
)
def test_bad_flow_files_get_one_line(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "f.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=needle):
        load_flows(path)
    res = runner.invoke(app, ["backtest", "-s", "index-fund", "--flows", str(path)])
    assert res.exit_code == 2 and needle in res.output and "f.csv" in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_flows_outside_the_window_and_on_the_fast_path_are_refused(tmp_path: Path) -> None:
    h = hist([[100.0, 1.0]] * 3, ("A", "USDC"))
    s = strat(ThresholdBand(band=0.1), {"A": 0.5, "USDC": 0.5}, band=0.1)
    with pytest.raises(ConfigError, match="after the backtest ends"):
        backtest(s, h, flows=[(day(30), Decimal(1))])
    with pytest.raises(ConfigError, match="before the backtest starts"):
        backtest(s, h, flows=[(datetime(2023, 1, 1, tzinfo=UTC), Decimal(1))])
    with pytest.raises(ConfigError, match="flows"):
        backtest(s, h, path="fast", flows=[(day(1), Decimal(1))])
    path = tmp_path / "f.csv"
    path.write_text("date,amount\n2024-01-02,5\n")
    res = runner.invoke(app, ["backtest", "-s", "stablecoin-yield", "--flows", str(path)])
    assert res.exit_code == 2 and "--flows" in res.output


def _drifted() -> PriceHistory:
    return hist([[100.0, 1.0], [160.0, 1.0], [160.0, 1.0], [160.0, 1.0], [160.0, 1.0]], ("A", "USDC"))


def test_cash_flow_first_skips_a_due_rebalance_a_known_deposit_fixes() -> None:
    """50/50 with a 10pp band; A rises 60 % on day 1 (w_A = 61.5 %). A 500 deposit on day 3 alone brings A back to
    50 % (it buys 100 of A), so with cash_flow_first the days 1-2 rebalances are skipped, without it day 1 trades."""
    s = strat(ThresholdBand(band=0.1), {"A": 0.5, "USDC": 0.5}, band=0.1)
    flows = [(day(3), Decimal(500))]
    plain = backtest(s, _drifted(), initial_value=1000.0, flows=flows)
    assert plain.rebalanced.tolist() == [True, True, False, True, False]  # day 3: the deposit's own buys
    first = backtest(replace(s, cash_flow_first_s=7 * 86_400.0), _drifted(), initial_value=1000.0, flows=flows)
    assert first.rebalanced.tolist() == [True, False, False, True, False]
    skipped = [why for k, why in first.reasons if why.startswith("cash_flow_first")]
    assert len(skipped) == 2 and "deposit of 500.00 USDC on 2024-01-04" in skipped[0]
    assert first.weights[3][0] == pytest.approx(0.5)  # the flow landed it on target
    assert first.fee.sum() == plain.fee.sum() == 0.0 and first.equity[-1] == pytest.approx(1800.0)
    out = backtest(
        replace(s, cash_flow_first_s=7 * 86_400.0), _drifted(), initial_value=1000.0, flows=[(day(3), Decimal(-50))]
    )
    assert not out.rebalanced[1] and out.rebalanced[3]  # a withdrawal that sells the excess of A waits the same way


@pytest.mark.parametrize(
    ("flows", "horizon_days"),
    [
        ([(day(3), Decimal(500))], 1),  # the deposit comes after the horizon
        ([(day(3), Decimal(10))], 7),  # too small: A stays at 61.1 %
    ],
)
def test_cash_flow_first_trades_when_the_flow_would_not_fix_it(flows: list, horizon_days: int) -> None:
    s = replace(
        strat(ThresholdBand(band=0.1), {"A": 0.5, "USDC": 0.5}, band=0.1), cash_flow_first_s=horizon_days * 86_400.0
    )
    r = backtest(s, _drifted(), initial_value=1000.0, flows=flows)
    assert r.rebalanced[1] and not any(why.startswith("cash_flow_first") for _, why in r.reasons)


def test_cash_flow_first_is_refused_where_no_flow_is_known(tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(
        "name: cff\nquote: USDC\ntargets: {BTC: 0.5, USDC: 0.5}\ntrigger: {kind: threshold, band: 0.05}\n"
        "cash_flow_first: 14d\n"
    )
    res = runner.invoke(app, ["backtest", "-s", str(spec), "--start", "2023-01-01", "--end", "2023-03-01"])
    assert res.exit_code == 2 and "cash_flow_first" in res.output and "--flows" in res.output
    ledger = tmp_path / "l.db"
    res = runner.invoke(app, ["execute", "-s", str(spec), "--ledger", str(ledger), "--yes"])
    assert res.exit_code == 2 and "cash_flow_first" in res.output and "no future cash flows" in res.output
    assert not ledger.exists()  # refused before anything was written
    flows = tmp_path / "f.csv"
    flows.write_text("date,amount\n2023-02-01,1000\n")
    args = ["backtest", "-s", str(spec), "--start", "2023-01-01", "--end", "2023-03-01", "--flows", str(flows)]
    assert runner.invoke(app, args).exit_code == 0
    spec.write_text(spec.read_text().replace("14d", "soon"))
    res = runner.invoke(app, ["validate", str(spec)])
    assert res.exit_code == 2 and "cash_flow_first" in res.output


def test_the_service_refuses_cash_flow_first_at_validation() -> None:
    from trimtab.pipeline import refuse_unsupported

    s = replace(strat(ThresholdBand(band=0.1), {"A": 0.5, "USDC": 0.5}, band=0.1), cash_flow_first_s=86_400.0)
    for path in ("serve", "execute"):
        with pytest.raises(ConfigError, match="cash_flow_first: .* knows no future cash flows"):
            refuse_unsupported(s, path)  # type: ignore[arg-type]
    refuse_unsupported(s, "backtest")  # a backtest with --flows honours it


def test_cash_flow_first_looks_at_the_nearest_flow_whatever_the_order_given() -> None:
    s = replace(strat(ThresholdBand(band=0.1), {"A": 0.5, "USDC": 0.5}, band=0.1), cash_flow_first_s=7 * 86_400.0)
    flows = [(day(4), Decimal(10)), (day(3), Decimal(500))]  # listed late first: the day-3 deposit is the next one
    r = backtest(s, _drifted(), initial_value=1000.0, flows=flows)
    assert not r.rebalanced[1] and any("deposit of 500.00 USDC on 2024-01-04" in why for _, why in r.reasons)
