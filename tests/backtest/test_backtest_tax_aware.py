"""The `tax:` block in backtests: a hand-computed tax-aware rebalance (band edge instead of target, the tax it
avoided in the reason), the gain budget, the strategy's rates in the report, and a real-data run where tax-aware
planning realises less gain than the same strategy without it."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import numpy as np
import pytest

from trimtab.adapters.bundled import bundled_daily
from trimtab.backtest.results import result_metrics
from trimtab.backtest.runner import backtest
from trimtab.config import parse_strategy
from trimtab.core.base.history import PriceHistory
from trimtab.core.costs.model import linear_costs
from trimtab.core.execution.planner import PlanSettings
from trimtab.core.execution.tax_aware import TaxPolicy
from trimtab.core.strategy import Strategy
from trimtab.core.triggers.rules import ThresholdBand
from trimtab.errors import ConfigError


def hist(prices: list[list[float]]) -> PriceHistory:
    times = np.arange(len(prices)).astype("timedelta64[D]") + np.datetime64("2024-01-01", "D")
    return PriceHistory(times=times, assets=("A", "USDC"), prices=np.array(prices, dtype=float))


def strat(tax: TaxPolicy | None) -> Strategy:
    return Strategy(
        "t",
        "USDC",
        {"A": 0.5, "USDC": 0.5},
        ThresholdBand(band=0.1),
        linear_costs(0, 0, 0),
        settings=PlanSettings(band=0.1),
        tax=tax,
    )


def test_tax_aware_sells_to_the_band_edge_by_hand() -> None:
    """1000 in, 5 A at 100; A doubles: 1500 with w_A 2/3. To target: sell 1.25 A (gain 125, tax 37.50 at 30%).
    To the band edge (w_A 0.6, A worth 900): sell 0.5 A (gain 50, tax 15): 22.50 of tax avoided."""
    policy = TaxPolicy(short_rate=0.3, long_rate=0.15, tax_aware=True)
    r = backtest(strat(policy), hist([[100, 1], [200, 1]]), initial_value=1000.0)
    m = result_metrics(r)
    assert m["path"] == "step" and m["final_value"] == pytest.approx(1500.0)
    assert m["realised_gain_short"] == pytest.approx(50.0) and m["tax_paid"] == pytest.approx(15.0)
    assert r.weights[-1][0] == pytest.approx(0.6)
    (reason,) = [why for k, why in r.reasons if k == 1]
    assert "band-edge plan realises gains 50.00" in reason and "avoided 22.50 tax" in reason


def test_without_tax_awareness_the_rebalance_goes_to_target_and_states_its_tax() -> None:
    r = backtest(strat(TaxPolicy(short_rate=0.3, long_rate=0.15)), hist([[100, 1], [200, 1]]), initial_value=1000.0)
    m = result_metrics(r)
    assert m["realised_gain_short"] == pytest.approx(125.0) and m["tax_paid"] == pytest.approx(37.5)
    assert r.weights[-1][0] == pytest.approx(0.5)
    assert any("tax: gains 125.00" in why for _, why in r.reasons)


def test_the_gain_budget_holds_the_year_to_the_band_edge() -> None:
    policy = TaxPolicy(short_rate=0.3, gain_budget=Decimal(100))
    r = backtest(strat(policy), hist([[100, 1], [200, 1]]), initial_value=1000.0)
    assert result_metrics(r)["realised_gain_short"] == pytest.approx(50.0)
    assert any("budget of 100.00" in why for _, why in r.reasons)


def test_a_tax_block_refuses_the_fast_kernels() -> None:
    with pytest.raises(ConfigError) as err:
        backtest(strat(TaxPolicy(short_rate=0.3)), hist([[100, 1], [200, 1]]), path="fast")
    assert err.value.field == "tax"


@pytest.mark.slow
def test_on_real_prices_tax_aware_realises_less_gain() -> None:
    doc = {
        "name": "btc-eth",
        "quote": "USDC",
        "targets": {"BTC": 0.4, "ETH": 0.4, "USDC": 0.2},
        "trigger": {"kind": "threshold", "band": 0.05},
        "costs": {"fee_bps": 10, "slippage_bps": 5},
        "tax": {"method": "hifo", "rates": {"short": 0.35, "long": 0.15}, "tax_aware": True},
    }
    aware = parse_strategy(doc, "t").build()
    plain = replace(aware, tax=replace(aware.tax, tax_aware=False))  # type: ignore[type-var]
    history = bundled_daily(["BTC", "ETH", "USDC"], start="2020-06-01", end="2023-12-31")
    a, p = (result_metrics(backtest(s, history, initial_value=100_000)) for s in (aware, plain))
    gains = {k: m["realised_gain_short"] + m["realised_gain_long"] for k, m in (("aware", a), ("plain", p))}
    assert gains["aware"] < gains["plain"] and a["tax_paid"] < p["tax_paid"]
    assert a["tax_method"] == "hifo"
