"""Yield positions, APR/APY, migration costs and the migration rule, on hand-computed numbers."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pytest

from trimtab.core.base.ledger import balances_from, entries_for_fill
from trimtab.core.yields.migration import Market, MigrationRule, SwapCosts, assess, move_costs
from trimtab.core.yields.positions import (
    SECONDS_PER_YEAR,
    RatesTable,
    ReserveState,
    YieldPosition,
    accrued,
    apr_to_apy,
    apy_to_apr,
    cash_position,
    units_for,
)
from trimtab.core.yields.trades import apply_fills, execute_move

CASH = cash_position("USDC")
A = YieldPosition("aUSDC", "USDC", "aave_v3", "USDC", risk_score=0.9)
B = YieldPosition("aUSDT", "USDT", "aave_v3", "USDT", risk_score=0.8)
C = YieldPosition("vUSDC", "USDC", "vault", "VUSDC", risk_score=0.7)
GAS = 20e-9 * 2000.0  # 20 gwei at ETH $2,000: $0.00004 per gas unit


def state(apr: float, index: float = 1.0, supplied: float = 1e9, util: float = 0.5) -> ReserveState:
    return ReserveState(apr=apr, index=index, supplied=supplied, utilization=util)


def test_apy_is_per_second_compounding_of_the_apr() -> None:
    # (1 + 0.05/31536000)^31536000 - 1 is e^0.05 - 1 to within 1e-9 (per-second compounding ~ continuous)
    assert apr_to_apy(0.05) == pytest.approx(math.exp(0.05) - 1, abs=1e-9)
    assert apr_to_apy(0.05, periods=1) == pytest.approx(0.05)
    assert apr_to_apy(0.12, periods=12) == pytest.approx(1.01**12 - 1)
    assert apy_to_apr(apr_to_apy(0.0321)) == pytest.approx(0.0321, rel=1e-12)
    assert SECONDS_PER_YEAR == 365 * 86400


def test_accrual_by_index_like_an_atoken() -> None:
    # deposit 1,000 USDC at index 1.25 -> 800 scaled units; index 1.25 -> 1.2625 pays 800 * 0.0125 = 10 USDC
    units = units_for(Decimal("1000"), Decimal("1.25"))
    assert units == Decimal("800")
    assert accrued(units, Decimal("1.25"), Decimal("1.2625")) == Decimal("10.0000")


def test_move_costs_by_hand() -> None:
    rule = MigrationRule(swap=SwapCosts(fee_bps=1, slippage_bps=1, depth_usd=5e9))
    # same coin, reserve -> reserve: withdraw 250k + deposit 200k gas = 450,000 * $0.00004 = $18, no swap
    same = move_costs(rule, A, C, 1_000_000, GAS)
    assert (same.gas, same.fee, same.slippage) == pytest.approx((18.0, 0.0, 0.0))
    # USDC reserve -> USDT reserve: + swap 150k gas ($6), fee 1bp = $100, slippage (1bp + 1e6/5e9) = 3bp = $300
    cross = move_costs(rule, A, B, 1_000_000, GAS)
    assert (cross.gas, cross.fee, cross.slippage) == pytest.approx((24.0, 100.0, 300.0))
    # from cash: deposit gas only
    assert move_costs(rule, CASH, A, 1_000_000, GAS).total == pytest.approx(8.0)


def test_migration_needs_the_net_differential_above_the_threshold() -> None:
    rule = MigrationRule(min_differential=0.005, horizon_days=30)
    values = {"USDC": 0.0, "aUSDC": 1_000_000.0, "aUSDT": 0.0}
    # costs $424 on $1M over 30 days = 424/1e6*365/30 = 0.516pp: a 1.0pp gain nets 0.48pp < 0.5pp -> hold
    low = Market({"USDC": None, "aUSDC": state(apy_to_apr(0.03)), "aUSDT": state(apy_to_apr(0.04))}, GAS)
    held = assess(rule, (CASH, A, B), values, low)
    assert held.moves == ()
    assert "APY 3.00% -> 4.00% (+1.00pp)" in held.note and "over 30d" in held.note and "net +0.48pp" in held.note
    # a 1.1pp gain nets 0.58pp -> move everything, and the reason states both APYs, the costs and the horizon
    high = Market({"USDC": None, "aUSDC": state(apy_to_apr(0.03)), "aUSDT": state(apy_to_apr(0.041))}, GAS)
    (m,) = assess(rule, (CASH, A, B), values, high).moves
    assert (m.source, m.target, m.kind) == ("aUSDC", "aUSDT", "opportunistic")
    assert m.amount_usd == pytest.approx(1_000_000)
    assert m.costs.total == pytest.approx(424.0)
    assert m.net_differential == pytest.approx(0.011 - 424 / 1e6 * 365 / 30)
    assert "APY 3.00% -> 4.10% (+1.10pp)" in m.reason and "$424.00" in m.reason and "over 30d" in m.reason


def test_liquidity_floor_and_utilisation_cap_block_entry() -> None:
    rule = MigrationRule()
    values = {"USDC": 0.0, "aUSDC": 1_000_000.0, "aUSDT": 0.0}
    thin = Market({"USDC": None, "aUSDC": state(0.03), "aUSDT": state(0.20, supplied=900_000)}, GAS)
    assert assess(rule, (CASH, A, B), values, thin).moves == ()
    busy = Market({"USDC": None, "aUSDC": state(0.03), "aUSDT": state(0.20, util=0.97)}, GAS)
    assert assess(rule, (CASH, A, B), values, busy).moves == ()
    unlisted = Market({"USDC": None, "aUSDC": state(0.03), "aUSDT": None}, GAS)
    assert assess(rule, (CASH, A, B), values, unlisted).moves == ()


def test_risk_exit_is_limited_by_the_withdrawable_liquidity() -> None:
    rule = MigrationRule(max_utilization=0.95, max_step=0.25)
    values = {"USDC": 0.0, "aUSDC": 0.0, "aUSDT": 1_000_000.0}
    # USDT reserve 99.9% utilised: only 0.1% of its $100M (= $100k) can be withdrawn, whatever the rates say
    market = Market({"USDC": None, "aUSDC": state(0.01), "aUSDT": state(0.50, supplied=1e8, util=0.999)}, GAS)
    (m,) = assess(rule, (CASH, A, B), values, market).moves
    assert m.kind == "risk" and m.target == "aUSDC"
    assert m.amount_usd == pytest.approx(min(0.25 * 1_000_000, 1e8 * 0.001))
    assert "utilisation 99.9% above cap 95.0%" in m.reason


def test_gradual_migration_when_the_swap_pool_cannot_absorb_it() -> None:
    # max slippage 0.1% with 1bp base and $5B depth: at most (0.001 - 0.0001) * 5e9 = $4.5M per swap
    rule = MigrationRule(max_step=0.25, max_gas_fraction=0.01)
    values = {"USDC": 0.0, "aUSDC": 20_000_000.0, "aUSDT": 0.0}
    market = Market({"USDC": None, "aUSDC": state(0.02), "aUSDT": state(0.10)}, GAS)
    (m,) = assess(rule, (CASH, A, B), values, market).moves
    assert m.amount_usd == pytest.approx(4_500_000)  # min(25% of $20M, $4.5M)
    assert m.slippage_rate <= rule.max_slippage + 1e-12


def test_gas_above_its_fraction_of_the_position_blocks_the_move() -> None:
    rule = MigrationRule(max_gas_fraction=0.0001)
    values = {"USDC": 0.0, "aUSDC": 100_000.0, "aUSDT": 0.0}  # gas $24 > 0.01% of $100k = $10
    market = Market({"USDC": None, "aUSDC": state(0.02), "aUSDT": state(0.10)}, GAS)
    a = assess(rule, (CASH, A, B), values, market)
    assert a.moves == () and "gas $24.00 above 0.01% of $100,000" in a.note


def test_protocol_cap_and_minimum_score() -> None:
    rule = MigrationRule(protocol_caps={"vault": 0.3}, min_score=0.75, max_gas_fraction=0.01)
    values = {"USDC": 1_000_000.0, "aUSDC": 0.0, "aUSDT": 0.0, "vUSDC": 0.0}
    market = Market({"USDC": None, "aUSDC": state(0.02), "aUSDT": state(0.03), "vUSDC": state(0.20)}, GAS)
    moves = assess(rule, (CASH, A, B, C), values, market).moves
    assert "vUSDC" not in {m.target for m in moves}  # score 0.7 < 0.75
    assert moves[0].target == "aUSDT"
    ok = MigrationRule(protocol_caps={"vault": 0.3}, max_gas_fraction=0.01)
    first = assess(ok, (CASH, A, B, C), values, market).moves[0]
    assert first.target == "vUSDC" and first.amount_usd == pytest.approx(300_000)


def test_executed_move_is_exact_and_balances_in_the_ledger() -> None:
    rule = MigrationRule()
    pos = {p.name: p for p in (CASH, A, B)}
    states = {"USDC": None, "aUSDC": state(0.03, index=1.25), "aUSDT": state(0.05, index=1.1)}
    units = {"aUSDC": Decimal("800")}  # 1,000 USDC at index 1.25
    market = Market(states, GAS)
    from trimtab.core.yields.migration import make_move

    m = make_move(rule, "opportunistic", A, B, 1000.0, market)
    ex = execute_move(m, pos, states, units, rule, GAS)
    # withdraw 800 units * 1.25 = 1000 USDC, gas $10; swap 990 USDC at 1 - (1bp + 990/5e9): fee 1bp, gas $6; deposit
    # gas $8
    w, s, dep = ex.fills
    assert (w.quantity, w.quote_amount, w.gas) == (Decimal("800"), Decimal("1000.00"), Decimal("10.00"))
    rate = Decimal(repr(1e-4 + 990 / 5e9))
    gross = (Decimal("990") * (1 - rate)).quantize(Decimal("1e-18"))
    assert s.quote_amount == gross and s.fee == (gross * Decimal("1e-4")).quantize(
        Decimal("1e-18"), rounding="ROUND_CEILING"
    )
    tokens = gross - s.fee - Decimal("6.00")
    assert dep.quote_amount == tokens - Decimal("8.00")
    after = apply_fills(units, ex.fills)
    assert after["aUSDC"] == 0 and after["USDC"] == 0 and after["USDT"] == 0
    assert after["aUSDT"] == ((tokens - 8) / Decimal("1.1")).quantize(Decimal("1e-18"), rounding="ROUND_FLOOR")
    legs = [e for i, f in enumerate(ex.fills) for e in entries_for_fill(f, account="x", time=None, ref=str(i))]  # type: ignore[arg-type]
    ledger = balances_from(legs)
    assert {k: v for k, v in ledger.items() if v} == {
        k: v - units.get(k, 0) for k, v in after.items() if v - units.get(k, 0)
    }
    assert float(ex.gas_usd) == pytest.approx(24.0) and ex.fee_usd == s.fee


def test_rates_table_common_rows_and_trailing_apr() -> None:
    nan = np.nan
    t = np.arange(np.datetime64("2024-01-01"), np.datetime64("2024-01-06")).astype("datetime64[ns]")
    apr = np.array([[0.01, nan], [0.02, 0.04], [0.03, 0.05], [0.04, 0.06], [0.05, 0.07]])
    table = RatesTable(
        t, ("A", "B"), apr, np.where(np.isnan(apr), nan, 1.0), np.ones_like(apr), np.zeros_like(apr), np.ones_like(apr)
    )
    assert table.common_rows(("A", "B")) == (1, 5)
    assert table.state(0, "B") is None
    smooth = table.trailing_apr(2)
    assert smooth.apr[2].tolist() == pytest.approx([0.025, 0.045])
    assert smooth.apr[1].tolist() == pytest.approx([0.015, 0.04])  # B's first row: its own rate only


def test_a_move_is_a_trade_plan_with_its_costs() -> None:
    from trimtab.core.base.types import Side
    from trimtab.core.yields.migration import make_move
    from trimtab.core.yields.trades import as_plan

    rule = MigrationRule()
    pos = {p.name: p for p in (CASH, A, B)}
    states = {"USDC": None, "aUSDC": state(0.03, index=1.25), "aUSDT": state(0.05, index=1.1)}
    ex = execute_move(
        make_move(rule, "opportunistic", A, B, 1000.0, Market(states, GAS)),
        pos,
        states,
        {"aUSDC": Decimal("800")},
        rule,
        GAS,
    )
    plan = as_plan(ex, plan_id="m1")
    assert [(o.asset, o.quote, o.side) for o in plan.orders] == [
        ("aUSDC", "USDC", Side.SELL),
        ("USDC", "USDT", Side.SELL),
        ("aUSDT", "USDT", Side.BUY),
    ]
    assert plan.total_cost.gas == sum(f.gas for f in ex.fills) and plan.total_cost.fee == ex.fee_usd
    assert plan.orders[1].price == 1  # the swap's mid: USDC and USDT both at $1
    assert [o.quote_delta for o in plan.orders] == [f.quote_delta for f in ex.fills]
    assert "APY" in plan.reason and plan.plan_id == "m1"
