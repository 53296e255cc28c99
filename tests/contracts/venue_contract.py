"""Behaviour every Venue must show; each adapter's test module subclasses VenueContract and overrides the fixtures.

`venue`: a fresh venue whose account holds quote and some of each market's asset, with at least as much
value in `markets[0].asset` as in quote (so a sell can fund a buy). `markets`: two markets on one quote,
each with a mid price and an order quantity that fills completely, is on the lot step and clears
the minimum notional.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trimtab.core.base.ports import ExecutionReport, Venue
from trimtab.core.base.types import ZERO, CostEstimate, Fill, PlannedOrder, Side, TradePlan

# Average price = quote amount / quantity need not terminate in Decimal, so quantity * price may differ
# from the fill's quote amount (what the account moved) in the last digits of a 28-digit context.
REL_TOL = Decimal("1e-20")


@dataclass(frozen=True)
class ContractMarket:
    asset: str
    quote: str
    mid: Decimal
    quantity: Decimal


def close(a: Decimal, b: Decimal) -> bool:
    return abs(a - b) <= REL_TOL * max(Decimal(1), abs(a), abs(b))


def delta(before: dict[str, Decimal], after: dict[str, Decimal], asset: str) -> Decimal:
    return after.get(asset, ZERO) - before.get(asset, ZERO)


def assert_balances_moved_by(before: dict[str, Decimal], after: dict[str, Decimal], fills: tuple[Fill, ...]) -> None:
    """Each asset moved by exactly what the fills say: base +-quantity, quote -+quote amount, fees in their asset."""
    expected: dict[str, Decimal] = {}
    for f in fills:
        expected[f.asset] = expected.get(f.asset, ZERO) + f.base_delta
        expected[f.quote] = expected.get(f.quote, ZERO) + f.quote_delta
        fee_asset = f.fee_asset or f.quote
        if fee_asset not in (f.asset, f.quote):
            expected[fee_asset] = expected.get(fee_asset, ZERO) - f.fee
    for asset in set(expected) | set(before) | set(after):
        got, want = delta(before, after, asset), expected.get(asset, ZERO)
        assert got == want, f"{asset} moved by {got}, fills say {want}"
    for f in fills:
        assert close(f.quote_amount, f.quantity * f.price), f"{f}: quote amount is not quantity * average price"


class VenueContract:
    """Subclass, override `venue` and `markets`; every test here must pass for every Venue."""

    @pytest.fixture
    def venue(self) -> Venue:
        raise NotImplementedError("override the `venue` fixture")

    @pytest.fixture
    def markets(self) -> tuple[ContractMarket, ContractMarket]:
        raise NotImplementedError("override the `markets` fixture")

    @staticmethod
    def make_plan(*legs: tuple[Side, ContractMarket, Decimal], reason: str = "contract") -> TradePlan:
        """A plan of market orders priced at each market's mid, with no cost estimate."""
        orders = tuple(PlannedOrder(m.asset, m.quote, side, qty, m.mid, m.mid, CostEstimate()) for side, m, qty in legs)
        return TradePlan(orders, reason)

    @staticmethod
    def run(venue: Venue, plan: TradePlan) -> tuple[ExecutionReport, dict[str, Decimal], dict[str, Decimal]]:
        before = venue.balances()
        report = venue.execute(plan)
        return report, before, venue.balances()

    def test_market_buy_moves_balances_by_fill_plus_fee(
        self, venue: Venue, markets: tuple[ContractMarket, ...]
    ) -> None:
        m = markets[0]
        report, before, after = self.run(venue, self.make_plan((Side.BUY, m, m.quantity), reason="buy"))
        assert report.complete and len(report.fills) == 1
        fill = report.fills[0]
        assert (fill.asset, fill.quote, fill.side, fill.quantity) == (m.asset, m.quote, Side.BUY, m.quantity)
        assert fill.price > 0 and fill.fee >= 0 and fill.slippage >= 0
        spent = before[m.quote] - after.get(m.quote, ZERO)
        fee_in_quote = fill.fee if (fill.fee_asset or fill.quote) == fill.quote else ZERO
        assert spent == fill.quote_amount + fee_in_quote + fill.gas
        assert_balances_moved_by(before, after, report.fills)

    def test_market_sell_moves_balances_by_fill_minus_fee(
        self, venue: Venue, markets: tuple[ContractMarket, ...]
    ) -> None:
        m = markets[0]
        report, before, after = self.run(venue, self.make_plan((Side.SELL, m, m.quantity), reason="sell"))
        assert report.complete and len(report.fills) == 1
        fill = report.fills[0]
        assert (fill.side, fill.quantity) == (Side.SELL, m.quantity)
        assert before[m.asset] - after.get(m.asset, ZERO) == m.quantity + (
            fill.fee if fill.fee_asset == m.asset else ZERO
        )
        received = after[m.quote] - before.get(m.quote, ZERO)
        fee_in_quote = fill.fee if (fill.fee_asset or fill.quote) == fill.quote else ZERO
        assert received == fill.quote_amount - fee_in_quote - fill.gas
        assert_balances_moved_by(before, after, report.fills)

    def test_legs_run_in_plan_order_so_sells_fund_buys(self, venue: Venue, markets: tuple[ContractMarket, ...]) -> None:
        seller, buyer = markets
        bal = venue.balances()
        cash = bal[seller.quote]
        sell_qty = venue.rules(seller.asset, seller.quote).quantize_amount(bal[seller.asset] / 2)
        proceeds = sell_qty * seller.mid
        assert proceeds > cash / 5, "fixture must hold at least as much value in markets[0].asset as in quote"
        # the buy costs more than the cash held, less than cash plus the sell's proceeds
        buy_qty = venue.rules(buyer.asset, buyer.quote).quantize_amount((cash + proceeds / 4) / buyer.mid)
        assert buy_qty * buyer.mid > cash
        plan = self.make_plan((Side.SELL, seller, sell_qty), (Side.BUY, buyer, buy_qty), reason="fund")
        report, before, after = self.run(venue, plan)
        assert report.complete, report.failures
        assert [(f.side, f.asset) for f in report.fills] == [(Side.SELL, seller.asset), (Side.BUY, buyer.asset)]
        assert_balances_moved_by(before, after, report.fills)

    def test_order_below_min_notional_is_not_sent_and_is_reported(
        self, venue: Venue, markets: tuple[ContractMarket, ...]
    ) -> None:
        m = markets[0]
        rules = venue.rules(m.asset, m.quote)
        assert rules.min_notional > 0, "contract venues must declare a min notional (the fixture sets one)"
        qty = max(rules.quantize_amount(rules.min_notional / m.mid / 2), rules.amount_step, rules.min_amount)
        assert qty * m.mid < rules.min_notional
        report, before, after = self.run(venue, self.make_plan((Side.BUY, m, qty), reason="dust"))
        assert report.fills == ()
        assert len(report.failures) == 1 and report.failures[0].order.quantity == qty
        assert "notional" in report.failures[0].reason
        assert report.failures[0].filled_quantity == 0
        assert after == before

    def test_a_failing_leg_leaves_the_other_legs_fills_reported(
        self, venue: Venue, markets: tuple[ContractMarket, ...]
    ) -> None:
        a, b = markets
        too_much = venue.rules(b.asset, b.quote).quantize_amount(venue.balances()[b.asset] * 3)
        plan = self.make_plan(
            (Side.BUY, a, a.quantity), (Side.SELL, b, too_much), (Side.BUY, b, b.quantity), reason="one bad leg"
        )
        report, before, after = self.run(venue, plan)
        assert [(f.side, f.asset, f.quantity) for f in report.fills] == [
            (Side.BUY, a.asset, a.quantity),
            (Side.BUY, b.asset, b.quantity),
        ]
        assert [fl.order for fl in report.failures] == [plan.orders[1]]
        assert report.failures[0].filled_quantity == 0 and report.failures[0].reason
        assert_balances_moved_by(before, after, report.fills)

    @settings(
        max_examples=8,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.differing_executors],
    )
    @given(
        legs=st.lists(
            st.tuples(
                st.sampled_from([Side.BUY, Side.SELL]),
                st.integers(0, 1),
                st.sampled_from(["0.5", "1", "3", "40", "400"]),
            ),
            min_size=1,
            max_size=4,
        )
    )
    def test_balances_never_go_negative_and_fills_never_exceed_the_plan(
        self, venue: Venue, markets: tuple[ContractMarket, ...], legs: list[tuple[Side, int, str]]
    ) -> None:
        plan = self.make_plan(
            *((side, markets[i], markets[i].quantity * Decimal(k)) for side, i, k in legs), reason=f"random {legs}"
        )
        report, before, after = self.run(venue, plan)
        assert all(v >= 0 for v in after.values()), after
        assert len(report.fills) + len([f for f in report.failures if f.filled_quantity == 0]) <= len(plan.orders)
        for fill in report.fills:
            assert 0 < fill.quantity
            assert any(
                o.asset == fill.asset and o.side == fill.side and fill.quantity <= o.quantity for o in plan.orders
            )
        assert_balances_moved_by(before, after, report.fills)
