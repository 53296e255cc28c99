"""Cost-model parts: tiered fees, half-spread, order-book walk, square-root impact, constant-product AMM, gas."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trimtab.chain.quote import get_amount_out
from trimtab.core.base.history import PriceHistory
from trimtab.core.base.types import Side
from trimtab.core.costs.amm import AmmPool, AmmSlippage, amount_in_exact, amount_out, amount_out_exact
from trimtab.core.costs.model import CostModel, Fee, Gas, Slippage
from trimtab.core.costs.orderbook import BookSlippage, OrderBook
from trimtab.core.costs.parts import (
    FeeTier,
    GasCost,
    GasPriceSeries,
    HalfSpread,
    SqrtImpact,
    TieredFee,
    bind_time,
    calibrate_sqrt_impact,
)
from trimtab.core.costs.pricing import FloatPricer
from trimtab.errors import DataError, PlanError

D = Decimal
MID = D("2000")
BOOK = OrderBook.of([("1999", "1"), ("1995", "2"), ("1980", "5")], [("2001", "1"), ("2005", "2"), ("2020", "5")])
POOL = AmmPool(D("1000"), D("2000000"), D("0.003"))
TIERS = (FeeTier(D(0), D(10), D(10)), FeeTier(D(1_000_000), D(8), D(9)), FeeTier(D(5_000_000), D(6), D(7)))
SQRT = SqrtImpact({"ETH": 0.04}, {"ETH": 5e8}, y=0.8)
GAS = GasCost(150_000, D(20), D(2000))

MODELS = {
    "tiered_fee": TieredFee(TIERS) + Slippage(D(0)),
    "half_spread": HalfSpread(D(4)) + Fee(D(10)),
    "book": BookSlippage({"ETH": BOOK}, beyond_penalty_bps=D(100)) + Fee(D(10)),
    "sqrt_impact": Fee(D(10)) + HalfSpread(D(2)) + SQRT,
    "amm": CostModel((AmmSlippage({"ETH": POOL}),)),
    "gas": Fee(D(5)) + GAS,
}


def total_cost(model: CostModel, side: Side, q: Decimal, mid: Decimal = MID) -> Decimal:
    return model.quote("ETH", side, q, mid).cost.total


# -- properties every model has -----------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
def test_every_model_costs_nothing_at_size_zero(name: str, side: Side) -> None:
    q = MODELS[name].quote("ETH", side, D(0), MID)
    assert q.cost.total == 0 and q.gross == 0


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
@settings(max_examples=30, deadline=None)
@given(a=st.integers(1, 7_000), b=st.integers(1, 7_000))
def test_every_model_cost_is_monotone_in_size(name: str, side: Side, a: int, b: int) -> None:
    small, large = sorted((D(a) / 1000, D(b) / 1000))
    model = MODELS[name]
    assert total_cost(model, side, small) <= total_cost(model, side, large)
    # the cost per unit never falls either (no size discount in these models, gas aside)
    if name != "gas":
        assert total_cost(model, side, small) / small <= total_cost(model, side, large) / large + D("1e-15")


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
def test_float_pricer_agrees_with_the_exact_quote(name: str, side: Side) -> None:
    model = MODELS[name]
    mid = POOL.mid if name == "amm" else MID
    pricer = FloatPricer.of(model, "ETH", mid)
    for q in (D("0.01"), D("1.5"), D("6")):
        exact = model.quote("ETH", side, q, mid)
        fee, gas = exact.cost.fee, exact.cost.gas
        expected = exact.gross - fee - gas if side is Side.SELL else exact.gross + fee + gas
        got = pricer.sell(float(q)) if side is Side.SELL else pricer.buy_cost(float(q))
        assert got == pytest.approx(float(expected), rel=1e-9)


# -- fees ----------------------------------------------------------------------------------------------
def test_fee_tier_follows_30_day_volume_and_maker_taker() -> None:
    assert TieredFee(TIERS, D(0)).bps == 10
    assert TieredFee(TIERS, D(999_999)).bps == 10
    assert TieredFee(TIERS, D(1_000_000)).bps == 9
    assert TieredFee(TIERS, D(7_000_000)).bps == 7
    assert TieredFee(TIERS, D(7_000_000), maker=True).bps == 6
    assert TieredFee(TIERS, D(2_000_000)).fee("ETH", Side.BUY, D(10_000)) == D(9)


def test_fee_tiers_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="increasing"):
        TieredFee((TIERS[1], TIERS[0]))


# -- spread and square-root impact ---------------------------------------------------------------------
def test_half_spread_charges_half_the_spread_on_both_sides() -> None:
    m = HalfSpread(D(10), {"BTC": D(2)}) + Fee(D(0))
    buy = m.quote("ETH", Side.BUY, D(1), MID)
    sell = m.quote("ETH", Side.SELL, D(1), MID)
    assert buy.exec_price == MID * D("1.0005") and sell.exec_price == MID * D("0.9995")
    assert m.quote("BTC", Side.BUY, D(1), MID).exec_price == MID * D("1.0001")


def test_sqrt_impact_matches_the_formula() -> None:
    q = D(50)
    move = SQRT.impact("ETH", Side.BUY, q, MID)
    assert float(move) == pytest.approx(0.8 * 0.04 * math.sqrt(50 * 2000 / 5e8), rel=1e-12)
    # four times the size, twice the move: the square-root law
    assert float(SQRT.impact("ETH", Side.BUY, 4 * q, MID)) == pytest.approx(2 * float(move), rel=1e-12)


def test_sqrt_impact_without_data_is_a_data_error() -> None:
    with pytest.raises(DataError, match="daily_volume.BTC|volatility.BTC"):
        SQRT.impact("BTC", Side.BUY, D(1), MID)
    with_defaults = SqrtImpact({}, {}, default_volatility=0.05, default_daily_volume=1e9)
    assert with_defaults.impact("BTC", Side.BUY, D(1), MID) > 0


def test_calibration_reads_sigma_and_volume_from_history() -> None:
    rng = np.random.default_rng(7)
    n = 61
    rets = rng.normal(0, 0.03, n - 1)
    prices = 100 * np.exp(np.concatenate([[0.0], np.cumsum(rets)]))
    volumes = rng.uniform(1e6, 2e6, n)
    times = np.array([np.datetime64("2024-01-01") + np.timedelta64(i, "D") for i in range(n)])
    h = PriceHistory(times, ("ETH",), prices[:, None], volumes=volumes[:, None])
    model = calibrate_sqrt_impact(h, window=30, y=1.0)
    assert model.volatility["ETH"] == pytest.approx(float(np.std(rets[-30:], ddof=1)), rel=1e-9)
    assert model.daily_volume["ETH"] == pytest.approx(float(np.mean(volumes[-30:])), rel=1e-9)
    hours = np.array([np.datetime64("2024-01-01T00") + np.timedelta64(i, "h") for i in range(n)])
    hourly = calibrate_sqrt_impact(PriceHistory(hours, ("ETH",), prices[:, None], volumes=volumes[:, None]), 30)
    assert hourly.volatility["ETH"] == pytest.approx(float(np.std(rets[-30:], ddof=1)) * math.sqrt(24), rel=1e-9)
    assert hourly.daily_volume["ETH"] == pytest.approx(float(np.mean(volumes[-30:])) * 24, rel=1e-9)


# -- order book -----------------------------------------------------------------------------------------
def test_book_walk_average_price_by_hand() -> None:
    # buy 2.5: 1 @ 2001 + 1.5 @ 2005 = 5008.5 -> 2003.4
    assert BOOK.average_price(Side.BUY, D("2.5")) == D("5008.5") / D("2.5")
    assert BOOK.average_price(Side.SELL, D("3")) == (D("1999") + 2 * D("1995")) / 3
    assert BOOK.mid == D(2000)


def test_beyond_depth_is_an_error_or_priced_at_the_penalty() -> None:
    with pytest.raises(PlanError, match="depth"):
        BOOK.average_price(Side.BUY, D(9))
    avg = BOOK.average_price(Side.BUY, D(9), beyond_penalty_bps=D(100))
    assert avg == (D(2001) + 2 * D(2005) + 5 * D(2020) + D(2020) * D("1.01")) / 9


def test_book_must_be_sorted_and_uncrossed() -> None:
    with pytest.raises(ValueError, match="sorted"):
        OrderBook.of([("1", "1"), ("2", "1")], [("3", "1")])
    with pytest.raises(ValueError, match="crossed"):
        OrderBook.of([("3", "1")], [("2", "1")])


# -- constant-product AMM -------------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(a=st.integers(1, 10**24), x=st.integers(10**6, 10**27), y=st.integers(10**6, 10**27))
def test_amm_output_equals_uniswap_v2_integer_math_to_the_wei(a: int, x: int, y: int) -> None:
    exact = amount_out_exact(a, x, y, D("0.003"))
    assert exact == Fraction(y) * a * Fraction(997, 1000) / (x + a * Fraction(997, 1000))
    assert math.floor(exact) == get_amount_out(a, x, y)


@settings(max_examples=100, deadline=None)
@given(b=st.integers(1, 10**20), x=st.integers(10**21, 10**27), y=st.integers(10**21, 10**27))
def test_amm_input_for_output_inverts_the_output_exactly(b: int, x: int, y: int) -> None:
    a = amount_in_exact(b, x, y, D("0.003"))
    assert amount_out_exact(a, x, y, D("0.003")) == b
    k_before = Fraction(x) * y
    assert (x + a) * (y - b) > k_before  # the fee stays in the pool: k grows


def test_amm_slippage_prices_the_pool_exactly() -> None:
    model = CostModel((AmmSlippage({"ETH": POOL}),))
    q = model.quote("ETH", Side.SELL, D(10), POOL.mid)
    assert abs(q.gross - POOL.sell_base(D(10))) <= D("1e-16")  # exec price rounded to the quantum, x10
    buy = model.quote("ETH", Side.BUY, D(10), POOL.mid)
    assert abs(buy.gross - POOL.buy_base(D(10))) <= D("1e-16")
    assert POOL.sell_base(D(10)) == amount_out(D(10), POOL.reserve_base, POOL.reserve_quote, POOL.fee)
    with pytest.raises(PlanError, match="reserve"):
        POOL.buy_base(D(1000))


# -- gas -------------------------------------------------------------------------------------------------
def test_gas_is_units_times_price_times_native_price() -> None:
    assert GAS.gas("ETH", Side.BUY) == D(150_000) * D(20) * D("1e-9") * D(2000)
    q = (Fee(D(0)) + GAS).quote("ETH", Side.BUY, D(1), MID)
    assert q.cost.gas == D("6.000000000000000000")


def test_gas_series_is_read_as_of_without_look_ahead() -> None:
    t0 = datetime(2024, 1, 1)
    times = np.array([np.datetime64(t0 + timedelta(days=i), "ns") for i in range(4)])
    series = GasPriceSeries(times, np.array([10.0, np.nan, 30.0, 40.0]), np.array([2000.0, 2100.0, np.nan, 2300.0]))
    assert series.at(t0 + timedelta(hours=36)) == (10.0, 2100.0)  # gwei gap falls back to the day before
    assert series.at(t0 + timedelta(days=2, hours=1)) == (30.0, 2100.0)
    with pytest.raises(DataError):
        series.at(t0 - timedelta(days=1))
    model = Fee(D(0)) + GasCost.from_series(series, 100_000, t0)
    later = bind_time(model, t0 + timedelta(days=3))
    assert model.quote("ETH", Side.BUY, D(1), MID).cost.gas == D(100_000) * D(10) * D("1e-9") * D(2000)
    assert later.quote("ETH", Side.BUY, D(1), MID).cost.gas == D(100_000) * D(40) * D("1e-9") * D(2300)


def test_parts_compose_with_the_existing_algebra() -> None:
    model = Fee(D(10)) + HalfSpread(D(4)) + SQRT + GAS + Gas(D(1))
    q = model.quote("ETH", Side.BUY, D(2), MID)
    move = D("0.0002") + SQRT.impact("ETH", Side.BUY, D(2), MID)
    assert q.exec_price == (MID * (1 + move)).quantize(D("1e-18"), rounding="ROUND_CEILING")
    assert q.cost.gas == D(7)
    assert q.cost.fee == (q.gross * D("0.001")).quantize(D("1e-18"), rounding="ROUND_CEILING")
