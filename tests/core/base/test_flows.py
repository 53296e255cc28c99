"""Cash flows that rebalance (only buys for a deposit, only sells for a withdrawal) and returns that flows do not
distort (time-weighted) beside the money-weighted return."""

from __future__ import annotations

import math
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from trimtab.core.base.flows import flow_weights, money_weighted_return, time_weighted_return, water_fill
from trimtab.core.base.portfolio import PortfolioState
from trimtab.core.base.types import Side
from trimtab.core.costs.model import linear_costs
from trimtab.core.execution.planner import PlanSettings, plan_rebalance
from trimtab.core.triggers.rules import DecisionContext, ThresholdBand

D = Decimal
TARGETS = {"BTC": 0.5, "ETH": 0.3, "USDC": 0.2}
PRICES = {"BTC": D("50000"), "ETH": D("2000"), "USDC": D(1)}


def test_water_fill_closes_the_largest_gaps_first() -> None:
    assert water_fill({"a": D(100), "b": D(40), "c": D(-5)}, D(80)) == {"a": D(70), "b": D(10)}
    assert water_fill({"a": D(100), "b": D(40)}, D(500)) == {"a": D(100), "b": D(40)}
    assert water_fill({"a": D(10)}, D(0)) == {}


def test_a_deposit_into_a_drifted_portfolio_brings_it_inside_its_band_with_only_buys() -> None:
    # BTC 60%, ETH 20%, USDC 20% of 100,000: ETH is 10pp under; then 20,000 USDC arrive
    holdings = {"BTC": D("1.2"), "ETH": D("10"), "USDC": D("20000") + D("20000")}
    state = PortfolioState.of(holdings, PRICES, "USDC")
    band = ThresholdBand(band=0.05)
    assert band.check(DecisionContext(time=None, weights=state.weights(), targets=TARGETS)).fired  # type: ignore[arg-type]
    plan = plan_rebalance(
        state, flow_weights(state, TARGETS, D("20000")), linear_costs(10, 5), None, PlanSettings(min_trade=D(10))
    )
    assert plan.orders and all(o.side is Side.BUY for o in plan.orders)
    after = plan.post_weights
    assert not band.check(DecisionContext(time=None, weights=after, targets=TARGETS)).fired  # type: ignore[arg-type]


def test_a_withdrawal_sells_the_overweight_asset_only() -> None:
    holdings = {"BTC": D("1.2"), "ETH": D("10"), "USDC": D("10000")}  # BTC 60k (over), ETH 20k (under), USDC 10k
    state = PortfolioState.of(holdings, PRICES, "USDC")
    plan = plan_rebalance(
        state, flow_weights(state, TARGETS, D("-9000")), linear_costs(10, 5), None, PlanSettings(min_trade=D(10))
    )
    assert [(o.asset, o.side) for o in plan.orders] == [("BTC", Side.SELL)]
    raised = sum((o.quote_delta for o in plan.orders), D(0))
    assert raised + D("10000") >= D("9000") + D("0.2") * D("81000") - D(50)  # payout + the quote's target, less costs


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(-5000, 5000, allow_nan=False), min_size=2, max_size=30))
def test_a_flat_market_has_zero_time_weighted_return_whatever_the_flows(raw: list[float]) -> None:
    flows, values = [0.0], [10_000.0]
    for f in raw[1:]:
        f = max(f, -values[-1] * 0.9)  # never withdraw more than is there
        flows.append(f)
        values.append(values[-1] + f)  # a flat market: only flows change the value
    assert math.isclose(time_weighted_return(values, flows), 0.0, abs_tol=1e-9)  # float rounding over 30 links


def test_money_weighted_return_of_a_steady_10_percent_year() -> None:
    days, values, flows = [0.0, 365.0], [100.0, 110.0], [0.0, 0.0]
    assert math.isclose(money_weighted_return(days, values, flows), 0.10, rel_tol=1e-9)
    # a deposit just before a gain weights that gain more in money terms than in time
    days, values, flows = [0.0, 182.0, 365.0], [100.0, 200.0, 220.0], [0.0, 100.0, 0.0]
    assert math.isclose(time_weighted_return(values, flows), 0.10, rel_tol=1e-12)
    assert money_weighted_return(days, values, flows) > 0.10
