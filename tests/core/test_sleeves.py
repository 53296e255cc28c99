"""Sleeve strategies in the core: each sleeve's trigger on its own weights, partial plans, the split's band."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.strategies import market_rules

from trimtab.core.base.portfolio import PortfolioState
from trimtab.core.base.schedule import parse_every
from trimtab.core.base.snapshot import MarketSnapshot
from trimtab.core.costs.model import linear_costs
from trimtab.core.execution.planner import apply_orders
from trimtab.core.execution.within import plan_within
from trimtab.core.sleeves import UNASSIGNED, Sleeve, SleeveSplit, sleeve_targets
from trimtab.core.strategy import Schedule, Strategy
from trimtab.core.triggers.rules import Calendar, DecisionContext, Never, Not, ThresholdBand, Trigger

T0 = datetime(2024, 1, 1, tzinfo=UTC)
PRICES = {"BTC": Decimal(100), "ETH": Decimal(100), "SOL": Decimal(10), "USDC": Decimal(1)}
# sleeve a: BTC/ETH 50/50, weight 0.5, weekly; sleeve b: SOL/USDC 50/50, weight 0.5, a 10pp band inside it
TARGETS = sleeve_targets({"a": 0.5, "b": 0.5}, {"a": {"BTC": 0.5, "ETH": 0.5}, "b": {"SOL": 0.5, "USDC": 0.5}})


def split(a: Trigger, b: Trigger, band: float = 0.05) -> SleeveSplit:
    return SleeveSplit((Sleeve("a", ("BTC", "ETH"), a), Sleeve("b", ("SOL", "USDC"), b)), ThresholdBand(band))


def strategy(trigger: SleeveSplit, fee_bps: float = 0) -> Strategy:
    return Strategy("s", "USDC", TARGETS, trigger, linear_costs(fee_bps, 0, 0))


def state(btc: str, eth: str, sol: str, usdc: str) -> PortfolioState:
    holdings = {"BTC": Decimal(btc), "ETH": Decimal(eth), "SOL": Decimal(sol), "USDC": Decimal(usdc)}
    return PortfolioState.of(holdings, PRICES, "USDC")


WEEK = Schedule(anchor=T0, previous=T0 + timedelta(days=6))
AT_WEEK = MarketSnapshot(T0 + timedelta(days=7), dict(PRICES))


def test_only_the_due_sleeve_trades_inside_its_own_value() -> None:
    """a: BTC 3000 / ETH 2000 (60/40 inside, weekly and due); b: SOL 2500 / USDC 2500 (on target): a's trades only."""
    s = strategy(split(Calendar(parse_every("1w")), ThresholdBand(0.10)))
    before = state("30", "20", "250", "2500")
    d = s.decide(AT_WEEK, before, schedule=WEEK)
    assert d.reason == "sleeve a: calendar: every 1w is due"
    assert d.trigger.groups == (("BTC", "ETH"),)
    assert d.plan is not None
    assert {(o.asset, o.side.value, o.quantity) for o in d.plan.orders} == {("BTC", "sell", 5), ("ETH", "buy", 5)}
    after = apply_orders(before, d.plan.orders)
    assert after.holdings["SOL"] == 250 and after.holdings["USDC"] == 2500  # sleeve b: not a cent moved


def test_a_sleeve_without_the_quote_pays_its_own_costs() -> None:
    """With a 10bp fee, sleeve a's sells fund its buys and the fee: the quote (sleeve b's cash) stays put."""
    s = strategy(split(Calendar(parse_every("1w")), Never()), fee_bps=10)
    before = state("30", "20", "250", "2500")
    d = s.decide(AT_WEEK, before, schedule=WEEK)
    assert d.plan is not None and {o.asset for o in d.plan.orders} == {"BTC", "ETH"}
    after = apply_orders(before, d.plan.orders)
    assert abs(after.holdings["USDC"] - 2500) < Decimal("1e-6")
    value_a = after.value("BTC") + after.value("ETH")
    assert value_a == pytest.approx(5000 - float(d.plan.total_cost.total), abs=1e-6)
    assert float(after.value("BTC") / value_a) == pytest.approx(0.5, abs=1e-9)


def test_the_split_band_rebalances_everything_to_weight_times_sleeve_target() -> None:
    """Sleeve a at 60% of the whole (band 5pp): every asset goes to weight x its sleeve target."""
    s = strategy(split(Never(), Never()))
    before = state("30", "30", "200", "2000")  # a = 6000 (60%), b = 4000
    d = s.decide(AT_WEEK, before, schedule=WEEK)
    assert d.trigger.fired and d.trigger.groups is None
    assert d.reason.startswith("split: a drift +10.00pp beyond band 5.00pp")
    assert d.plan is not None
    after = apply_orders(before, d.plan.orders).weights()
    assert after == pytest.approx({"BTC": 0.25, "ETH": 0.25, "SOL": 0.25, "USDC": 0.25})


def test_nothing_due_holds_and_every_sleeve_says_why() -> None:
    s = strategy(split(Calendar(parse_every("1w")), ThresholdBand(0.10)))
    d = s.decide(MarketSnapshot(T0 + timedelta(days=3), dict(PRICES)), state("30", "20", "250", "2500"), schedule=WEEK)
    assert not d.trigger.fired and d.plan is None
    assert "split: all within band" in d.reason
    assert "sleeve a: calendar: every 1w, not due" in d.reason and "sleeve b: all within band" in d.reason


def test_two_sleeves_due_each_go_to_their_targets_inside_their_value() -> None:
    always = Not(Never())
    s = strategy(split(always, always))
    before = state("30", "20", "300", "2000")  # a = 5000 (60/40), b = 5000 (SOL 3000 / USDC 2000)
    d = s.decide(AT_WEEK, before, schedule=WEEK)
    assert d.trigger.groups == (("BTC", "ETH"), ("SOL", "USDC"))
    assert d.plan is not None
    after = apply_orders(before, d.plan.orders)
    assert [after.value(a) for a in ("BTC", "ETH", "SOL", "USDC")] == [2500, 2500, 2500, 2500]
    assert [o.side.value for o in d.plan.orders] == ["sell", "sell", "buy"]  # sells first, so they fund the buys


def test_sleeve_triggers_see_weights_inside_the_sleeve_and_the_split_sees_shares() -> None:
    trig = split(ThresholdBand(0.05), ThresholdBand(0.05))
    ctx = DecisionContext(
        time=T0,
        weights={"BTC": 0.3, "ETH": 0.2, "SOL": 0.2, "USDC": 0.2, "DOGE": 0.1},
        targets=TARGETS,
        quote="USDC",
    )
    seen = trig.assess(ctx)
    assert seen.shares == pytest.approx({"a": 0.5, "b": 0.4, UNASSIGNED: 0.1})  # DOGE is in no sleeve
    assert seen.inside["a"] == pytest.approx({"BTC": 0.6, "ETH": 0.4})
    assert seen.targets["b"] == pytest.approx({"SOL": 0.5, "USDC": 0.5})
    assert seen.drift("a") == pytest.approx(0.1) and seen.fired == ("a",)
    assert seen.split.fired  # b is 10pp under its weight and 10% sits outside every sleeve


def test_an_empty_group_plans_nothing() -> None:
    plan = plan_within(state("0", "0", "250", "2500"), TARGETS, [("BTC", "ETH")], linear_costs(10, 5, 0))
    assert plan.is_empty


@st.composite
def cases(draw: st.DrawFn) -> tuple[PortfolioState, tuple[bool, bool, bool], bool]:
    """Three sleeves over random holdings (the quote in the last one), each firing or not, a split band or none."""
    qty = [Decimal(draw(st.integers(0, 10**6))) / 100 for _ in range(6)]
    prices = {a: Decimal(draw(st.integers(1, 10**6))) / 100 for a in ("BTC", "ETH", "SOL", "LINK", "DOGE")}
    holdings = dict(zip(("BTC", "ETH", "SOL", "LINK", "DOGE", "USDC"), qty, strict=True))
    fires = (draw(st.booleans()), draw(st.booleans()), draw(st.booleans()))
    return PortfolioState.of(holdings, prices, "USDC"), fires, draw(st.booleans())


THREE = {"x": {"BTC": 0.7, "ETH": 0.3}, "y": {"SOL": 0.5, "LINK": 0.5}, "z": {"DOGE": 0.4, "USDC": 0.6}}
THREE_TARGETS = sleeve_targets({"x": 0.5, "y": 0.3, "z": 0.2}, THREE)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases(), rules=market_rules(), fee=st.sampled_from([0, 10, 30]))
def test_a_plan_trades_only_the_fired_sleeves_unless_the_split_fired(case, rules, fee) -> None:  # type: ignore[no-untyped-def]
    before, fires, with_band = case
    sleeves = tuple(
        Sleeve(n, tuple(t), Not(Never()) if f else Never()) for (n, t), f in zip(THREE.items(), fires, strict=True)
    )
    trig = SleeveSplit(sleeves, ThresholdBand(0.05) if with_band else Never())
    s = Strategy("p", "USDC", THREE_TARGETS, trig, linear_costs(fee, 5, 0))
    d = s.decide(MarketSnapshot(T0, dict(before.prices)), before, schedule=WEEK, rules={"*": rules})
    if d.plan is None:
        assert not any(fires) and not d.trigger.fired
        return
    after = apply_orders(before, d.plan.orders)
    assert all(q >= 0 for q in after.holdings.values())
    split_fired = d.trigger.groups is None
    assert not split_fired or with_band  # only the band can take the whole portfolio
    if split_fired:
        return
    fired = {a for sl, f in zip(sleeves, fires, strict=True) if f for a in sl.assets}
    assert {o.asset for o in d.plan.orders} <= fired
    for sl, f in zip(sleeves, fires, strict=True):
        if not f:  # a sleeve that did not fire keeps every unit it held, the quote included
            assert all(after.holdings[a] >= before.holdings[a] for a in sl.assets)
            assert all(after.holdings[a] == before.holdings[a] for a in sl.assets if a != "USDC")
