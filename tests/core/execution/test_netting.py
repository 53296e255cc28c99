"""Netting of several portfolios' orders on one account: hand-computed cases and conservation as a property (the
members' booked changes of the asset and the quote always sum to the venue's own, each member at one price)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from trimtab.core.base.types import CostEstimate, Fill, MarketRules, PlannedOrder, Side
from trimtab.core.execution.netting import allocate, net_legs

D = Decimal
RULES = MarketRules(amount_step=D("0.00001"), min_notional=D("10"))


def order(side: Side, qty: str, price: str = "30000", asset: str = "BTC") -> PlannedOrder:
    q, p = D(qty), D(price)
    fee = q * p * D("0.001")
    exec_price = p * (D("1.0005") if side is Side.BUY else D("0.9995"))
    return PlannedOrder(asset, "USDT", side, q, p, exec_price, CostEstimate(fee, q * p * D("0.0005")))


def test_opposite_orders_net_to_one_order_of_the_difference() -> None:
    legs = net_legs({"a": [order(Side.SELL, "0.5")], "b": [order(Side.BUY, "0.7")]}, lambda a, q: RULES)
    (leg,) = legs
    assert leg.order is not None and leg.order.side is Side.BUY and leg.order.quantity == D("0.2")
    assert leg.crossed == D("0.5")
    # the venue fills 0.2 at 30,015 with a fee of 6.003 USDT
    fill = Fill("BTC", "USDT", Side.BUY, D("0.2"), D("30015"), D("6.003"), D("3"), order_id="x1")
    booked = allocate(leg, fill, "r:BTC")
    a, b = booked["a"].fill, booked["b"].fill
    assert a is not None and b is not None
    assert (a.side, a.quantity, b.side, b.quantity) == (Side.SELL, D("0.5"), Side.BUY, D("0.7"))
    assert a.price == b.price == D("30015")
    assert b.quote_amount - a.quote_amount == fill.quote_amount  # the buyer pays the venue and the seller
    assert a.fee + b.fee == fill.fee and a.fee / b.fee == D("0.5") / D("0.7")
    assert booked["a"].failure is None and booked["b"].failure is None
    assert booked["a"].saved > 0 and booked["b"].saved > 0  # both pay less than alone


def test_a_full_cross_sends_nothing_and_books_at_the_mid_without_costs() -> None:
    (leg,) = net_legs({"a": [order(Side.SELL, "0.3")], "b": [order(Side.BUY, "0.3")]}, lambda a, q: RULES)
    assert leg.order is None and leg.side is None
    booked = allocate(leg, None, "r:BTC")
    a, b = booked["a"].fill, booked["b"].fill
    assert a is not None and b is not None
    assert a.quote_amount == b.quote_amount == D("9000") and a.fee == b.fee == 0


def test_a_net_below_the_venue_minimum_crosses_only_and_leaves_the_rest_as_drift() -> None:
    legs = net_legs({"a": [order(Side.SELL, "0.3")], "b": [order(Side.BUY, "0.3002")]}, lambda a, q: RULES)
    (leg,) = legs
    assert leg.order is None and "below the venue's minimum" in leg.note  # 0.0002 BTC is 6 USDT < 10
    booked = allocate(leg, None, "r:BTC")
    assert booked["a"].fill is not None and booked["a"].fill.quantity == D("0.3")
    b = booked["b"]
    assert b.fill is not None and b.fill.quantity == D("0.3")
    assert b.failure is None and b.residual == D("0.0002"), "like a planner residual: not a failed leg"


def test_sells_come_before_buys() -> None:
    plans = {
        "a": [order(Side.BUY, "1", "2000", "ETH"), order(Side.SELL, "0.1")],
        "b": [order(Side.BUY, "0.5", "2000", "ETH")],
    }
    legs = net_legs(plans, lambda a, q: RULES)
    assert [(g.asset, g.side) for g in legs] == [("BTC", Side.SELL), ("ETH", Side.BUY)]


quantity = st.integers(min_value=1, max_value=200_000).map(lambda k: D(k) * D("0.00001"))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), quantity), min_size=2, max_size=5),
    st.floats(min_value=0, max_value=1),
    st.integers(min_value=20_000, max_value=90_000),
    st.sampled_from(["USDT", "BTC"]),
)
def test_bookings_conserve_the_asset_and_the_quote_exactly(
    members: list[tuple[bool, Decimal]], filled: float, price: int, fee_in: str
) -> None:
    plans = {f"m{i}": [order(Side.BUY if buy else Side.SELL, str(q))] for i, (buy, q) in enumerate(members)}
    (leg,) = net_legs(plans, lambda a, q: MarketRules(amount_step=D("0.00001")))
    fill = None
    if leg.order is not None:
        n = MarketRules(amount_step=D("0.00001")).quantize_amount(leg.order.quantity * D(repr(filled)))
        if n > 0:
            gross = (n * D(price) * D("1.0003")).quantize(D("0.00000001"))
            fee = (n * D("0.001")) if fee_in == "BTC" else (gross * D("0.001")).quantize(D("0.00000001"))
            fill = Fill("BTC", "USDT", leg.order.side, n, gross / n, fee, D(0), fee_asset=fee_in, gross=gross)
    booked = allocate(leg, fill, "r:BTC")
    fills = [b.fill for b in booked.values() if b.fill is not None]
    assert sum((f.base_delta for f in fills), D(0)) == (fill.base_delta if fill else 0)
    assert sum((f.quote_delta for f in fills), D(0)) == (fill.quote_delta if fill else 0)
    assert len({f.price for f in fills}) <= 1  # one price for every member
    for s in leg.shares:
        b = booked[s.member]
        got = b.fill.quantity if b.fill else D(0)
        assert 0 <= got <= s.order.quantity and got % D("0.00001") == 0
        assert got + (b.failure.order.quantity if b.failure else 0) + b.residual == s.order.quantity
