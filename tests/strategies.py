"""Hypothesis strategies shared by the tests: portfolios, target weights, market rules, cost models."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import strategies as st

from trimtab.core.base.portfolio import PortfolioState
from trimtab.core.base.types import MarketRules
from trimtab.core.costs.model import CostModel, linear_costs

ASSETS = ("BTC", "ETH", "SOL", "LINK", "DOGE")
QUOTE = "USDC"


@st.composite
def portfolios(draw: st.DrawFn) -> PortfolioState:
    names = draw(st.lists(st.sampled_from(ASSETS), min_size=1, max_size=5, unique=True))
    prices = {
        a: Decimal(str(draw(st.floats(0.001, 100_000, allow_nan=False)))).quantize(Decimal("0.00000001"))
        or Decimal("0.01")
        for a in names
    }
    holdings = {a: Decimal(draw(st.integers(0, 10**8))) / Decimal(10**4) for a in names}
    holdings[QUOTE] = Decimal(draw(st.integers(0, 10**9))) / Decimal(100)
    return PortfolioState.of(holdings, prices, QUOTE)


@st.composite
def target_weights(draw: st.DrawFn, assets: tuple[str, ...]) -> dict[str, float]:
    raw = [draw(st.integers(0, 100)) for _ in assets]
    if sum(raw) == 0:
        raw[0] = 1
    total = sum(raw)
    weights = {a: r / total for a, r in zip(assets, raw, strict=True)}
    return weights


@st.composite
def market_rules(draw: st.DrawFn) -> MarketRules:
    step = draw(st.sampled_from(["0.00000001", "0.00001", "0.001", "0.1", "1"]))
    notional = draw(st.sampled_from(["0", "1", "10", "100"]))
    return MarketRules(amount_step=Decimal(step), price_tick=Decimal("0.00000001"), min_notional=Decimal(notional))


@st.composite
def cost_models(draw: st.DrawFn) -> CostModel:
    return linear_costs(draw(st.integers(0, 50)), draw(st.integers(0, 50)), draw(st.sampled_from([0, 0.5, 5])))
