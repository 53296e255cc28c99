"""Routing: size-aware cheapest paths over markets and bridges, and the execution plan built on them."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trimtab.core.base.portfolio import PortfolioState
from trimtab.core.base.types import CostEstimate, PlannedOrder, Side, TradePlan
from trimtab.core.costs.amm import AmmPool, AmmSlippage
from trimtab.core.costs.model import linear_costs
from trimtab.core.costs.parts import SqrtImpact
from trimtab.core.execution.execplan import ExecutionSettings, build_execution_plan, net_orders
from trimtab.core.execution.planner import plan_rebalance
from trimtab.core.execution.routing import Bridge, Market, MarketGraph, simulate
from trimtab.core.execution.slicing import Twap

D = Decimal
PX = {"LINK": 15.0, "ETH": 3000.0, "BTC": 60000.0, "USDC": 1.0}
CHEAP = linear_costs(5, 2, 0)


def mk(base: str, quote: str, costs: object, venue: str = "cex", chain: str = "", **kw: object) -> Market:
    return Market(venue, base, quote, D(repr(PX[base] / PX[quote])), costs, chain=chain, **kw)


def price(a: str) -> float:
    return PX[a]


def graph(link_btc_bps: float) -> MarketGraph:
    """LINK/BTC direct at `link_btc_bps` fee, or LINK -> ETH -> BTC at 7 bps per hop."""
    return MarketGraph(
        (
            mk("LINK", "BTC", linear_costs(link_btc_bps, 0, 0)),
            mk("LINK", "ETH", CHEAP),
            mk("ETH", "BTC", CHEAP),
            mk("BTC", "USDC", CHEAP),
            mk("ETH", "USDC", CHEAP),
        )
    )


def all_paths_best(g: MarketGraph, src: str, dst: str, amount: float, k: int = 3) -> float:
    """Brute force: every simple path of up to k hops simulated at the size; best output."""
    best = 0.0
    nodes = [n for n in g.nodes if n not in ((src, ""), (dst, ""))]
    for hops in range(1, k + 1):
        for mids in itertools.permutations(nodes, hops - 1):
            path = [(src, ""), *mids, (dst, "")]
            for choice in itertools.product(
                *[[e for e in g.out_edges(a) if e.dst == b] for a, b in itertools.pairwise(path)]
            ):
                best = max(best, simulate(choice, amount).amount_out)
    return best


def test_multi_hop_is_chosen_when_cheaper() -> None:
    r = graph(60).best_route(("LINK", ""), ("BTC", ""), 1000.0)
    assert r is not None
    assert [n[0] for n in r.path] == ["LINK", "ETH", "BTC"]
    assert r.cost(price) < 1000 * 15 * 0.006  # cheaper than the direct market's 60 bps


def test_direct_is_chosen_otherwise() -> None:
    r = graph(10).best_route(("LINK", ""), ("BTC", ""), 1000.0)
    assert r is not None and [n[0] for n in r.path] == ["LINK", "BTC"]
    assert r.cost(price) == pytest.approx(1000 * 15 * 0.001, rel=1e-9)


def test_choice_depends_on_size_with_impact() -> None:
    """A deep direct market with a high fee loses small orders to a cheap thin AMM path, wins large ones."""
    thin = AmmSlippage({"LINK": AmmPool(D(20_000), D(100), D("0.0005"))})  # LINK/ETH pool, 0.005 ETH per LINK
    g = MarketGraph(
        (
            mk("LINK", "BTC", linear_costs(30, 0, 0)),
            Market("uni", "LINK", "ETH", D("0.005"), thin),
            mk("ETH", "BTC", CHEAP),
        )
    )
    small = g.best_route(("LINK", ""), ("BTC", ""), 10.0)
    large = g.best_route(("LINK", ""), ("BTC", ""), 5000.0)
    assert small is not None and large is not None
    assert len(small.hops) == 2 and len(large.hops) == 1


@settings(max_examples=40, deadline=None)
@given(fee=st.integers(0, 200), size=st.floats(1, 20_000), y=st.floats(0.1, 2))
def test_search_matches_brute_force_over_all_paths(fee: int, size: float, y: float) -> None:
    impact = SqrtImpact({}, {}, y=y, default_volatility=0.05, default_daily_volume=2e6)
    g = MarketGraph(
        (
            mk("LINK", "BTC", linear_costs(fee, 0, 0)),
            mk("LINK", "ETH", CHEAP + impact),
            mk("ETH", "BTC", CHEAP),
            mk("LINK", "USDC", CHEAP + impact),
            mk("BTC", "USDC", CHEAP),
            mk("ETH", "USDC", linear_costs(fee / 2, 0, 0)),
        )
    )
    r = g.best_route(("LINK", ""), ("BTC", ""), size)
    assert r is not None
    assert r.amount_out == pytest.approx(all_paths_best(g, "LINK", "BTC", size), rel=1e-12)


def test_exact_output_search_needs_the_least_input() -> None:
    g = graph(60)
    r = g.best_route(("LINK", ""), ("BTC", ""), 0.25, exact_out=True)
    assert r is not None and [n[0] for n in r.path] == ["LINK", "ETH", "BTC"]
    again = simulate([h.edge for h in r.hops], r.amount_in)
    assert again.amount_out == pytest.approx(0.25, rel=1e-9)


def test_hop_limit_and_unreachable() -> None:
    g = MarketGraph((mk("LINK", "ETH", CHEAP), mk("ETH", "BTC", CHEAP)))
    assert g.best_route(("LINK", ""), ("BTC", ""), 10.0, max_hops=1) is None
    assert g.best_route(("LINK", ""), ("USDC", ""), 10.0) is None


def test_bridge_routes_across_chains_and_respects_delay() -> None:
    arb = AmmSlippage({"ETH": AmmPool(D(5_000), D(15_000_000), D("0.0005"))})
    main = AmmSlippage({"ETH": AmmPool(D(100), D(300_000), D("0.003"))})
    bridge = Bridge("USDC", "ethereum", "arbitrum", fee_bps=D(5), fixed_fee=D(2), delay_s=600)
    g = MarketGraph(
        (
            Market("uni", "ETH", "USDC", D(3000), main, chain="ethereum"),
            Market("uni", "ETH", "USDC", D(3000), arb, chain="arbitrum"),
        ),
        (bridge, Bridge("ETH", "ethereum", "arbitrum", fee_bps=D(5), delay_s=600)),
    )
    r = g.best_route(("USDC", "ethereum"), ("ETH", "ethereum"), 30_000.0)
    assert r is not None
    assert [(n[0], n[1]) for n in r.path] == [
        ("USDC", "ethereum"),
        ("USDC", "arbitrum"),
        ("ETH", "arbitrum"),
        ("ETH", "ethereum"),
    ]
    assert r.delay_s == 1200
    assert r.hops[0].amount_out == pytest.approx(30_000 * 0.9995 - 2)
    slow_not_allowed = g.best_route(("USDC", "ethereum"), ("ETH", "ethereum"), 30_000.0, max_delay_s=60)
    assert slow_not_allowed is not None and len(slow_not_allowed.hops) == 1


def test_min_notional_makes_a_market_unusable_below_it() -> None:
    from trimtab.core.base.types import MarketRules

    g = MarketGraph(
        (
            mk("LINK", "BTC", CHEAP, rules=MarketRules(min_notional=D("0.01"))),
            mk("LINK", "ETH", CHEAP),
            mk("ETH", "BTC", CHEAP),
        )
    )
    r = g.best_route(("LINK", ""), ("BTC", ""), 10.0)  # 10 LINK = 0.0025 BTC < 0.01
    assert r is not None and len(r.hops) == 2


# -- netting and the execution plan ---------------------------------------------------------------------
def order(asset: str, side: Side, qty: str) -> PlannedOrder:
    p = D(repr(PX[asset]))
    return PlannedOrder(asset, "USDC", side, D(qty), p, p, CostEstimate(fee=D(qty) * p * D("0.001")))


def test_netting_cancels_opposite_orders_and_puts_sells_first() -> None:
    out = net_orders(
        [
            order("ETH", Side.BUY, "2"),
            order("BTC", Side.BUY, "0.1"),
            order("ETH", Side.SELL, "0.5"),
            order("LINK", Side.SELL, "10"),
            order("LINK", Side.BUY, "10"),
        ],
        costs=linear_costs(10, 0, 0),
    )
    assert [(o.asset, o.side, o.quantity) for o in out] == [("BTC", Side.BUY, D("0.1")), ("ETH", Side.BUY, D("1.5"))]
    out = net_orders([order("ETH", Side.BUY, "1"), order("ETH", Side.SELL, "3"), order("BTC", Side.BUY, "1")])
    assert [(o.asset, o.side, o.quantity) for o in out] == [("ETH", Side.SELL, D(2)), ("BTC", Side.BUY, D(1))]
    assert out[0].cost.fee == D(3) * D(3000) * D("0.001") * 2 / 3


def test_execution_plan_dry_run_projects_weights_and_limits() -> None:
    state = PortfolioState.of(
        {"LINK": D(2000), "BTC": D("0.1"), "USDC": D(1000)}, {a: D(repr(p)) for a, p in PX.items()}, "USDC"
    )
    costs = linear_costs(10, 5, 0)
    plan = plan_rebalance(state, {"LINK": 0.2, "BTC": 0.5, "USDC": 0.3}, costs)
    venues = [mk(a, "USDC", costs, venue=v) for a in ("LINK", "BTC") for v in ("x", "y")]
    g = MarketGraph(tuple(venues))
    ex = build_execution_plan(
        plan, g, state, ExecutionSettings(slippage_limit_bps=D(30), twap=Twap(3600, 600, max_child=D(300)))
    )
    assert len(ex.legs) == len(plan.orders) and not ex.unrouted
    rows = ex.dry_run()
    for row, leg in zip(rows, ex.legs, strict=True):
        assert row["route"] == leg.route
        assert leg.expected_cost >= 0
        if leg.order.side is Side.SELL:
            assert leg.worst_price == pytest.approx(leg.expected_price * 0.997)
        else:
            assert leg.worst_price == pytest.approx(leg.expected_price * 1.003)
        assert sum(c.quantity for c in leg.slices) == leg.order.quantity
    for a, w in ex.projected_weights.items():
        assert w == pytest.approx(plan.post_weights.get(a, 0.0), abs=1e-3)
    # a plan over one linear venue costs what the planner estimated
    assert ex.expected_cost == pytest.approx(float(plan.total_cost.total), rel=1e-6)


def test_unroutable_orders_are_reported() -> None:
    plan = TradePlan((order("LINK", Side.SELL, "10"),), "test")
    state = PortfolioState.of({"LINK": D(10)}, {"LINK": D(15)}, "USDC")
    ex = build_execution_plan(plan, MarketGraph((mk("ETH", "USDC", CHEAP),)), state)
    assert not ex.legs and ex.unrouted and "no route" in ex.unrouted[0][1]


def test_batching_reports_the_saving() -> None:
    gas_base = D(4)
    markets = tuple(
        Market(
            "uni",
            a,
            "USDC",
            D(repr(PX[a])),
            linear_costs(30, 0, 6),
            chain="ethereum",
            batchable=True,
            tx_base_cost=gas_base,
        )
        for a in ("LINK", "ETH", "BTC")
    )
    state = PortfolioState.of({"USDC": D(30_000)}, {a: D(repr(p)) for a, p in PX.items()}, "USDC")
    plan = TradePlan((order("LINK", Side.BUY, "100"), order("ETH", Side.BUY, "1"), order("BTC", Side.BUY, "0.1")), "t")
    ex = build_execution_plan(plan, MarketGraph(markets), state, ExecutionSettings(chain="ethereum"))
    assert len(ex.batches) == 1 and ex.batches[0].legs == (0, 1, 2)
    assert ex.batching_saving == pytest.approx(2 * float(gas_base))
    assert ex.batches[0].separate_cost == pytest.approx(3 * float(gas_base))
