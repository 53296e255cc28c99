"""The paper venue passes the venue contract, and fills exactly as the cost model estimated."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tests.contracts.venue_contract import ContractMarket, VenueContract

from trimtab.adapters.paper import PaperVenue
from trimtab.core.base.portfolio import PortfolioState
from trimtab.core.base.types import MarketRules, Side
from trimtab.core.costs.model import linear_costs
from trimtab.core.execution.planner import plan_rebalance

MARKETS = (
    ContractMarket("BTC", "USDC", Decimal("60000"), Decimal("0.01")),
    ContractMarket("ETH", "USDC", Decimal("3000"), Decimal("0.2")),
)
RULES = MarketRules(amount_step=Decimal("0.0001"), price_tick=Decimal("0.01"), min_notional=Decimal("10"))


class TestPaperVenueContract(VenueContract):
    @pytest.fixture
    def venue(self) -> PaperVenue:
        balances = {"USDC": Decimal("10000"), "BTC": Decimal("1"), "ETH": Decimal("5")}
        return PaperVenue(
            balances, linear_costs(10, 5, 0.5), prices={m.asset: m.mid for m in MARKETS}, rules=lambda _a: RULES
        )

    @pytest.fixture
    def markets(self) -> tuple[ContractMarket, ContractMarket]:
        return MARKETS


def test_realised_costs_equal_the_plan_estimates() -> None:
    costs = linear_costs(10, 5, 1)
    prices = {"BTC": Decimal("60000"), "ETH": Decimal("3000")}
    state = PortfolioState.of({"BTC": Decimal("1"), "USDC": Decimal("1000")}, prices, "USDC")
    plan = plan_rebalance(state, {"BTC": 0.5, "ETH": 0.5}, costs)
    venue = PaperVenue(state.holdings, costs, prices=prices)
    report = venue.execute(plan)
    assert report.complete
    for order, fill in zip(plan.orders, report.fills, strict=True):
        assert (fill.fee, fill.slippage, fill.gas, fill.price) == (
            order.cost.fee,
            order.cost.slippage,
            order.cost.gas,
            order.exec_price,
        )
    assert venue.balances() == {k: v for k, v in state.apply(report.fills).holdings.items() if v}


def test_unpriced_asset_fails_alone() -> None:
    venue = PaperVenue({"USDC": Decimal(100)}, linear_costs(), prices={})
    plan = VenueContract.make_plan((Side.BUY, MARKETS[0], Decimal("0.001")))
    report = venue.execute(plan)
    assert report.fills == () and "no market price" in report.failures[0].reason
