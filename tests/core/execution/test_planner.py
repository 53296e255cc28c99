from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.strategies import QUOTE, cost_models, market_rules, portfolios, target_weights

from trimtab.core.base.portfolio import PortfolioState
from trimtab.core.base.types import MarketRules, Side
from trimtab.core.costs.model import linear_costs
from trimtab.core.execution.planner import PlanSettings, apply_orders, band_edge_targets, plan_rebalance
from trimtab.core.measures.drift import asset_drifts

BAND = 0.05


@st.composite
def cases(draw: st.DrawFn):
    state = draw(portfolios())
    assets = tuple(sorted({a for a in state.holdings if a != QUOTE})) + (QUOTE,)
    return state, draw(target_weights(assets)), draw(market_rules()), draw(cost_models())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_plan_invariants_hold_for_random_portfolios(case) -> None:
    state, targets, rules, costs = case
    plan = plan_rebalance(state, targets, costs, {"*": rules}, PlanSettings(band=BAND), targets=targets)
    post = apply_orders(state, plan.orders)
    # (a) nothing goes negative: the plan never spends more than the portfolio holds
    assert all(q >= 0 for q in post.holdings.values()), post.holdings
    # (b) value at mid falls by exactly the estimated costs
    assert post.total == state.total - plan.total_cost.total
    # (d) no order below min notional, (e) quantities on the lot step
    for o in plan.orders:
        assert o.notional >= rules.min_notional
        assert o.quantity > 0 and o.quantity % rules.amount_step == 0
    # (c) every asset ends within its band unless the residual says why not
    weights = post.weights(extra=targets)
    for d in asset_drifts(weights, targets, BAND):
        if d.breached:
            reason = next(r.reason for r in plan.residual if r.asset == d.asset)
            assert reason, f"{d.asset} outside band without a reported reason"


@settings(max_examples=200, deadline=None)
@given(cases())
def test_sells_come_before_buys_and_only_differences_trade(case) -> None:
    state, targets, rules, costs = case
    plan = plan_rebalance(state, targets, costs, {"*": rules}, PlanSettings(band=BAND), targets=targets)
    sides = [o.side for o in plan.orders]
    assert sides == sorted(sides, key=lambda s: s is Side.BUY)
    assert len({o.asset for o in plan.orders}) == len(plan.orders)  # one order per asset: never sell-all-then-rebuy
    for o in plan.orders:
        assert o.quote == QUOTE and o.asset != QUOTE


def _state(**kw: str) -> PortfolioState:
    prices = {"BTC": Decimal(60000), "ETH": Decimal(3000)}
    return PortfolioState.of({k: Decimal(v) for k, v in kw.items()}, prices, QUOTE)


def test_post_trade_weights_equal_targets_after_fees() -> None:
    state = _state(BTC="1", USDC="0")  # 60k, all BTC
    costs = linear_costs(fee_bps=10)
    plan = plan_rebalance(state, {"BTC": 0.5, "ETH": 0.5}, costs)
    post = apply_orders(state, plan.orders)
    w = post.weights()
    assert abs(w["BTC"] - 0.5) < 1e-12 and abs(w["ETH"] - 0.5) < 1e-12
    # V' = V - f * sum |w V' - v|: sell 0.5V' of BTC, buy 0.5V' of ETH
    v_new = post.total
    traded = abs(Decimal("0.5") * v_new - Decimal(60000)) + Decimal("0.5") * v_new
    assert abs(v_new - (Decimal(60000) - Decimal("0.001") * traded)) < Decimal("1e-9")


def test_min_notional_drops_order_and_reports_residual() -> None:
    state = _state(BTC="1", ETH="19.8", USDC="0")  # ETH 59.4k vs BTC 60k: tiny drift
    rules = {"*": MarketRules(amount_step=Decimal("0.0001"), min_notional=Decimal(1000))}
    plan = plan_rebalance(state, {"BTC": 0.5, "ETH": 0.5}, linear_costs(), rules, PlanSettings(band=0.001))
    assert plan.orders == ()
    assert {r.asset for r in plan.residual if r.reason} == {"BTC", "ETH"}
    assert "min notional" in next(r.reason for r in plan.residual if r.asset == "BTC")


def test_lot_step_rounds_down() -> None:
    state = _state(BTC="0", USDC="10000")
    plan = plan_rebalance(state, {"BTC": 1.0}, linear_costs(), {"*": MarketRules(amount_step=Decimal("0.01"))})
    (order,) = plan.orders
    assert order.quantity == Decimal("0.16")  # 10000 / 60000 = 0.1666 -> 0.16
    assert order.side is Side.BUY


def test_held_asset_without_target_is_sold() -> None:
    state = _state(BTC="1", ETH="1", USDC="0")
    plan = plan_rebalance(state, {"BTC": 1.0}, linear_costs())
    assert [(o.asset, o.side) for o in plan.orders][0] == ("ETH", Side.SELL)
    assert plan.orders[0].quantity == Decimal(1)


def test_band_edge_moves_breaching_asset_to_edge_only() -> None:
    w = {"BTC": 0.58, "ETH": 0.22, "USDC": 0.20}
    t = {"BTC": 0.5, "ETH": 0.25, "USDC": 0.25}
    out = band_edge_targets(w, t, 0.05, None)
    assert abs(out["BTC"] - 0.55) < 1e-12
    assert abs(sum(out.values()) - 1) < 1e-12
    # non-breaching assets keep their proportions
    assert abs(out["ETH"] / out["USDC"] - 0.22 / 0.20) < 1e-12


def test_band_edges_summing_past_100_percent_are_normalised_and_the_free_assets_sold() -> None:
    from trimtab.core.execution.planner import band_edge_targets

    weights = {"A": 0.25, "B": 0.35, "C": 0.39, "Q": 0.01}  # A, B over and C under their bands: edges sum to 1.02
    out = band_edge_targets(weights, {"A": 0.2, "B": 0.3, "C": 0.5, "Q": 0.0}, 0.02, None)
    assert abs(sum(out.values()) - 1.0) < 1e-12 and min(out.values()) >= 0.0
    assert out["Q"] == 0.0 and out["A"] == 0.22 / 1.02 and out["C"] == 0.48 / 1.02
