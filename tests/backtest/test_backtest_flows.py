"""Backtests with external cash flows: hand-computed cases, time- vs money-weighted returns, one-way flow trades,
and every bad flows file refused with one line (exit 2)."""

from __future__ import annotations

import csv
import json
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
