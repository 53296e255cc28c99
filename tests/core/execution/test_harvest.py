"""Tax-loss harvesting (core.execution.harvest): hand-computed picks from two BTC lots, the plan into a substitute
or the quote, the wait and the return from the disposal history, served targets, and properties: a harvest never
realises a gain and never spends more than it holds or raises."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from trimtab.core.base.lots import LotBook, LotMethod
from trimtab.core.base.portfolio import PortfolioState
from trimtab.core.base.types import Side
from trimtab.core.costs.model import linear_costs
from trimtab.core.execution.harvest import (
    HarvestPolicy,
    harvest_plan,
    harvestable,
    returns_due,
    served_targets,
    waiting,
)
from trimtab.core.execution.tax_aware import TaxPolicy, plan_tax

T1, T2, NOW = datetime(2023, 1, 1, tzinfo=UTC), datetime(2023, 2, 1, tzinfo=UTC), datetime(2023, 3, 1, tzinfo=UTC)
POLICY = HarvestPolicy(threshold=0.10, wait=timedelta(days=30))
SUB = HarvestPolicy(threshold=0.10, wait=timedelta(days=30), substitute={"BTC": "WBTC"})


def book() -> LotBook:
    b = LotBook()
    b.buy("l1", "BTC", Decimal(1), Decimal(20_000), T1)  # +60% at 32k
    b.buy("l2", "BTC", Decimal(1), Decimal(40_000), T2)  # -20% at 32k
    return b


def state() -> PortfolioState:
    prices = {"BTC": Decimal(32_000), "WBTC": Decimal(32_000), "USDC": Decimal(1)}
    return PortfolioState.of({"BTC": Decimal(2), "USDC": Decimal(36_000)}, prices, "USDC")


def test_hifo_harvests_exactly_the_lot_at_a_loss() -> None:
    """At 32k, l2 (basis 40k) is worth 32k: a loss of 8,000 = 20% of its basis; l1 is at a gain and stays."""
    picks = harvestable(book(), {"BTC": Decimal(32_000)}, NOW, LotMethod.HIFO, POLICY, "USDC")
    ((lot,),) = picks.values()
    assert (lot.lot_id, lot.quantity, lot.loss, lot.term) == ("l2", 1, Decimal(8_000), "short")


def test_fifo_stops_at_the_first_lot_at_a_gain_and_thresholds_hold() -> None:
    assert harvestable(book(), {"BTC": Decimal(32_000)}, NOW, LotMethod.FIFO, POLICY, "USDC") == {}
    deep = HarvestPolicy(threshold=0.25)
    assert harvestable(book(), {"BTC": Decimal(32_000)}, NOW, LotMethod.HIFO, deep, "USDC") == {}
    big = HarvestPolicy(threshold=0.10, min_loss=Decimal(8_001))
    assert harvestable(book(), {"BTC": Decimal(32_000)}, NOW, LotMethod.HIFO, big, "USDC") == {}


def test_the_plan_sells_the_lot_into_the_quote_or_the_substitute() -> None:
    picks = harvestable(book(), {"BTC": Decimal(32_000)}, NOW, LotMethod.HIFO, POLICY, "USDC")
    costs = linear_costs(0, 0, 0)
    (sell,) = harvest_plan(state(), picks, POLICY, costs).orders
    assert (sell.asset, sell.side, sell.quantity, sell.quote_delta) == ("BTC", Side.SELL, 1, Decimal(32_000))
    sell, buy = harvest_plan(state(), picks, SUB, costs).orders
    assert (buy.asset, buy.side, buy.quantity, buy.quote_delta) == ("WBTC", Side.BUY, 1, Decimal(-32_000))
    impact = plan_tax(harvest_plan(state(), picks, SUB, costs), book(), NOW, TaxPolicy(LotMethod.HIFO))
    assert impact.short == Decimal(-8_000)


def test_the_wait_and_the_return_come_from_the_disposals() -> None:
    b = book()
    b.sell("BTC", Decimal(1), Decimal(32_000), NOW, LotMethod.HIFO)  # the harvest
    end = NOW + timedelta(days=30)
    assert waiting(b, POLICY, NOW + timedelta(days=29)) == {"BTC": end}
    assert waiting(b, POLICY, end) == {} and returns_due(b, POLICY, NOW + timedelta(days=29)) == {}
    assert returns_due(b, POLICY, end) == {"BTC": NOW}
    b.buy("back", "BTC", Decimal(1), Decimal(32_000), end)
    assert returns_due(b, POLICY, end) == {}
    small = LotBook()  # a sale at a 5% loss is no harvest: no wait follows it
    small.buy("s", "BTC", Decimal(1), Decimal(100), T1)
    small.sell("BTC", Decimal(1), Decimal(95), NOW)
    assert waiting(small, POLICY, NOW) == {}


def test_served_targets_keep_the_held_weight_and_move_the_rest() -> None:
    targets = {"BTC": 0.5, "USDC": 0.5}
    weights = {"BTC": 0.3, "USDC": 0.7}
    assert served_targets(targets, weights, {"BTC": NOW}, POLICY, "USDC") == {"BTC": 0.3, "USDC": 0.7}
    got = served_targets(targets, weights, {"BTC": NOW}, SUB, "USDC")
    assert got["BTC"] == 0.3 and abs(got["WBTC"] - 0.2) < 1e-12 and got["USDC"] == 0.5
    assert served_targets(targets, {"BTC": 0.6}, {"BTC": NOW}, SUB, "USDC") == targets  # overweight: may sell


@settings(max_examples=80, deadline=None)
@given(
    costs=st.lists(st.integers(min_value=1, max_value=100_000), min_size=1, max_size=5),
    price=st.integers(min_value=1, max_value=100_000),
    method=st.sampled_from([LotMethod.FIFO, LotMethod.LIFO, LotMethod.HIFO]),
    fee=st.integers(min_value=0, max_value=100),
    substitute=st.booleans(),
)
def test_a_harvest_realises_no_gain_and_spends_no_more_than_held(
    costs: list[int], price: int, method: LotMethod, fee: int, substitute: bool
) -> None:
    b = LotBook()
    for i, c in enumerate(costs):
        b.buy(f"l{i}", "BTC", Decimal(1), Decimal(c), T1 + timedelta(days=i))
    p = Decimal(price)
    s = PortfolioState.of({"BTC": Decimal(len(costs))}, {"BTC": p, "WBTC": p, "USDC": Decimal(1)}, "USDC")
    policy = SUB if substitute else POLICY
    picks = harvestable(b, {"BTC": p}, NOW, method, policy, "USDC")
    plan = harvest_plan(s, picks, policy, linear_costs(fee, 0, 0))
    assert plan_tax(plan, b, NOW, TaxPolicy(method)).gain <= 0
    sold = sum((o.quantity for o in plan.orders if o.side is Side.SELL), Decimal(0))
    raised = sum((o.quote_delta for o in plan.orders), Decimal(0))
    assert sold <= s.quantity("BTC") and raised >= 0  # buys never spend more than the sales raise


def test_a_waiting_substitute_is_not_bought_the_value_waits_in_the_quote() -> None:
    picks = harvestable(book(), {"BTC": Decimal(32_000)}, NOW, LotMethod.HIFO, SUB, "USDC")
    (sell,) = harvest_plan(state(), picks, SUB, linear_costs(0, 0, 0), waits={"WBTC"}).orders
    assert sell.asset == "BTC"
