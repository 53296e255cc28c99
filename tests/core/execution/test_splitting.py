"""Splitting one order across venues: equal marginal costs, balances never exceeded, AMM closed form."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trimtab.core.costs.amm import AmmPool, AmmSlippage, amount_in_f, amount_out_f
from trimtab.core.costs.model import linear_costs
from trimtab.core.costs.parts import SqrtImpact
from trimtab.core.execution.execplan import _split_hop
from trimtab.core.execution.routing import Market, MarketGraph
from trimtab.core.execution.splitting import split_amm, split_exact_in, split_exact_out

D = Decimal
pools_st = st.lists(
    st.tuples(st.floats(100, 1e6), st.floats(1.5, 3.0), st.sampled_from([0.0005, 0.003, 0.01])), min_size=1, max_size=4
)


def as_pools(raw: list[tuple[float, float, float]]) -> list[tuple[float, float, float]]:
    return [(x, x * 2000 * r / 2, f) for x, r, f in raw]  # reserve_in, reserve_out at ~2000 per unit


def marginal_out(p: tuple[float, float, float], a: float) -> float:
    x, y, f = p
    g = 1 - f
    return x * y * g / (x + g * a) ** 2


@settings(max_examples=150, deadline=None)
@given(raw=pools_st, frac=st.floats(0.001, 2.0))
def test_amm_closed_form_equalises_marginals_and_beats_any_single_pool(
    raw: list[tuple[float, float, float]], frac: float
) -> None:
    pools = as_pools(raw)
    amount = frac * sum(p[0] for p in pools)
    alloc = split_amm(pools, amount)
    assert sum(alloc) == pytest.approx(amount, rel=1e-9)
    assert all(a >= 0 for a in alloc)
    used = [marginal_out(p, a) for p, a in zip(pools, alloc, strict=True) if a > 0]
    assert max(used) == pytest.approx(min(used), rel=1e-9)
    for p, a in zip(pools, alloc, strict=True):  # unused pools are worse at the margin than the common lambda
        if a == 0:
            assert marginal_out(p, 0) <= used[0] * (1 + 1e-9)
    total = sum(amount_out_f(a, *p) for p, a in zip(pools, alloc, strict=True))
    assert total >= max(amount_out_f(amount, *p) for p in pools) * (1 - 1e-12)


@settings(max_examples=60, deadline=None)
@given(raw=pools_st, frac=st.floats(0.001, 1.0))
def test_generic_solver_agrees_with_the_closed_form(raw: list[tuple[float, float, float]], frac: float) -> None:
    pools = as_pools(raw)
    amount = frac * sum(p[0] for p in pools)
    closed = split_amm(pools, amount)
    generic = split_exact_in([lambda a, p=p: amount_out_f(a, *p) for p in pools], amount)
    best = sum(amount_out_f(a, *p) for p, a in zip(pools, closed, strict=True))
    assert generic.cost == pytest.approx(best, rel=1e-8)
    used = [m for m in generic.marginals if not math.isnan(m)]
    assert max(used) == pytest.approx(min(used), rel=1e-4)


@settings(max_examples=60, deadline=None)
@given(raw=pools_st, frac=st.floats(0.01, 1.0), cap_frac=st.lists(st.floats(0.0, 1.0), min_size=4, max_size=4))
def test_split_never_exceeds_balances(
    raw: list[tuple[float, float, float]], frac: float, cap_frac: list[float]
) -> None:
    pools = as_pools(raw)
    caps = [c * frac * sum(p[0] for p in pools) + 1e-9 for c, _ in zip(cap_frac, pools, strict=False)]
    amount = min(frac * sum(p[0] for p in pools), sum(caps) * 0.999)
    s = split_exact_in([lambda a, p=p: amount_out_f(a, *p) for p in pools], amount, caps)
    assert sum(s.allocations) == pytest.approx(amount, rel=1e-9)
    for a, cap in zip(s.allocations, caps, strict=True):
        assert -1e-12 <= a <= cap * (1 + 1e-12)
    # venues strictly inside their bounds share one marginal
    inside = [s.marginals[i] for i, a in enumerate(s.allocations) if 1e-9 * amount < a < caps[i] * (1 - 1e-9)]
    if len(inside) > 1:
        assert max(inside) == pytest.approx(min(inside), rel=1e-4)


def test_more_than_the_venues_hold_is_refused() -> None:
    with pytest.raises(ValueError, match="less than"):
        split_exact_in([lambda a: a, lambda a: a], 10.0, caps=[3.0, 4.0])


def test_exact_output_split_minimises_input() -> None:
    pools = [(2e6, 1000.0, 0.003), (1e6, 480.0, 0.003)]  # quote in, base out
    s = split_exact_out([lambda b, p=p: amount_in_f(b, *p) for p in pools], 50.0)
    assert sum(s.allocations) == pytest.approx(50.0)
    assert s.marginals[0] == pytest.approx(s.marginals[1], rel=1e-5)
    for shift in (-1.0, 1.0):  # moving any amount between venues costs more input
        b0, b1 = s.allocations[0] + shift, s.allocations[1] - shift
        assert amount_in_f(b0, *pools[0]) + amount_in_f(b1, *pools[1]) > s.cost


def test_fixed_gas_drops_a_venue_that_is_not_worth_it() -> None:
    cheap = lambda a: a * 0.999 - 0.0001 * a * a / 1000  # noqa: E731  nearly linear, deep
    gassy = lambda a: a * 0.999 - 5.0  # noqa: E731  same price, a fixed cost of 5
    s = split_exact_in([cheap, gassy], 100.0)
    assert s.used == (0,)
    small_min = split_exact_in([lambda a: amount_out_f(a, 1000, 1000, 0.003)] * 2, 10.0, mins=[0.0, 6.0])
    assert small_min.allocations == (pytest.approx(10.0), 0.0)  # an even 5/5 split would break venue 1's minimum


def test_split_hop_over_parallel_markets_in_the_graph() -> None:
    def pool(x: str, y: str) -> AmmSlippage:
        return AmmSlippage({"ETH": AmmPool(D(x), D(y), D("0.003"))})

    impact = SqrtImpact({}, {}, default_volatility=0.04, default_daily_volume=5e7)
    markets = (
        Market("uniA", "ETH", "USDC", D(3000), pool("1000", "3000000")),
        Market("uniB", "ETH", "USDC", D(3000), pool("400", "1200000")),
        Market("cex", "ETH", "USDC", D(3000), linear_costs(10, 0, 0) + impact),
    )
    g = MarketGraph(markets)
    edge = next(e for e in g.out_edges(("ETH", "")) if e.market is markets[0])
    hop = _split_hop(g, edge, 100.0, False, None)
    assert len(hop.shares) == 3 and hop.amount_in == pytest.approx(100.0)
    assert hop.amount_out > max(e.forward(100.0) for e in g.parallel(edge))
    held = {"uniA": 10.0, "uniB": 10.0, "cex": 1000.0}
    capped = _split_hop(g, edge, 100.0, False, lambda venue, asset: held[venue])
    for share in capped.shares:
        assert share.amount_in <= held[share.venue] * (1 + 1e-12)
