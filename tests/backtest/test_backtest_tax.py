"""Backtests with tax lots: hand-computed gains and after-tax values, lot methods, and the checks on the options."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from trimtab.backtest.results import result_metrics
from trimtab.backtest.runner import backtest
from trimtab.backtest.tax import TaxRates
from trimtab.cli import app
from trimtab.core.base.history import PriceHistory
from trimtab.core.base.lots import LotMethod
from trimtab.core.costs.model import linear_costs
from trimtab.core.execution.planner import PlanSettings
from trimtab.core.strategy import Strategy
from trimtab.core.triggers.rules import ThresholdBand
from trimtab.errors import ConfigError

runner = CliRunner()


def hist(prices: list[list[float]], days: int = 1) -> PriceHistory:
    t = np.arange(len(prices)) * days
    times = t.astype("timedelta64[D]") + np.datetime64("2024-01-01", "D")
    return PriceHistory(times=times, assets=("A", "USDC"), prices=np.array(prices, dtype=float))


def strat() -> Strategy:
    return Strategy(
        "t", "USDC", {"A": 0.5, "USDC": 0.5}, ThresholdBand(band=0.1), linear_costs(0, 0, 0), settings=PlanSettings()
    )


def test_hand_computed_gain_tax_and_after_tax_values() -> None:
    """1000 in, 5 A at 100; A doubles: 1500, w_A 2/3, sell 1.25 A at 200 for 250 (basis 125): a 125 short-term
    gain. At 30 %: tax 37.5, after tax 1462.5; selling the other 3.75 A (750, basis 375) would add 112.5."""
    r = backtest(strat(), hist([[100, 1], [200, 1]]), initial_value=1000.0, tax=TaxRates(0.3, 0.15))
    m = result_metrics(r)
    assert m["path"] == "step" and m["final_value"] == pytest.approx(1500.0)
    assert m["realised_gain_short"] == pytest.approx(125.0) and m["realised_gain_long"] == 0.0
    assert m["tax_paid"] == pytest.approx(37.5) and m["after_tax_final_value"] == pytest.approx(1462.5)
    assert m["unrealised_gain"] == pytest.approx(375.0)
    assert m["after_tax_liquidation_value"] == pytest.approx(1500.0 - 37.5 - 112.5)


def test_long_term_gains_take_the_long_rate_and_losses_do_not_refund() -> None:
    """Steps 400 days apart: the sale is long term, taxed at 15 %; the fall to 50 makes the strategy buy, which
    realises nothing."""
    prices = [[100, 1], [200, 1], [50, 1]]
    r = backtest(strat(), hist(prices, days=400), initial_value=1000.0, tax=TaxRates(0.3, 0.15))
    m = result_metrics(r)
    assert m["realised_gain_long"] == pytest.approx(125.0) and m["realised_gain_short"] <= 0.0
    assert m["tax_paid"] == pytest.approx(125.0 * 0.15)


def test_hifo_never_realises_more_than_fifo_on_the_same_path() -> None:
    prices = [[100, 1], [60, 1], [130, 1], [80, 1], [160, 1], [90, 1], [200, 1]]
    gains = {}
    for method in (LotMethod.FIFO, LotMethod.HIFO):
        m = result_metrics(backtest(strat(), hist(prices), initial_value=1000.0, tax=TaxRates(0.3, 0.3, method)))
        gains[method] = m["realised_gain_short"] + m["realised_gain_long"]
    assert gains[LotMethod.HIFO] <= gains[LotMethod.FIFO] + 1e-9


def test_cli_tax_rates_and_their_errors(tmp_path: Path) -> None:
    out = tmp_path / "m.json"
    args = ["backtest", "-s", "bitcoin", "--start", "2023-01-01", "--end", "2023-12-31", "--json", str(out)]
    res = runner.invoke(app, [*args, "--tax-rates", "0.3,0.15", "--tax-method", "hifo"])
    assert res.exit_code == 0, res.output
    m = json.loads(out.read_text())
    assert m["tax_method"] == "hifo" and m["tax_paid"] >= 0 and "realised gains (hifo)" in res.output
    assert m["after_tax_liquidation_value"] <= m["after_tax_final_value"] <= m["final_value"]
    for bad in ("0.3", "x,0.1", "1.5,0.1"):
        res = runner.invoke(app, [*args, "--tax-rates", bad])
        assert res.exit_code == 2 and "--tax-rates" in res.output and len(res.output.strip().splitlines()) == 1
    with pytest.raises(ConfigError, match="tax"):
        backtest(strat(), hist([[100, 1], [200, 1]]), path="fast", tax=TaxRates(0.3, 0.15))
