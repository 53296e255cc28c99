"""A migration as trades: withdraw (sell units for the underlying), swap (sell one stablecoin for another),
deposit (buy units with the underlying), each a Fill with its own gas, fee and slippage, in exact Decimal.

Units are priced at the index (a unit of aUSDC is worth `liquidity_index` USDC), so the ledger's
double-entry legs (core/ledger.entries_for_fill) carry deposits and withdrawals like any other trade.
Gas is charged in the leg's quote token at its USD price (paid in ETH on chain; valued the same here).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from trimtab.core.base.types import ZERO, CostEstimate, Fill, PlannedOrder, Side, TradePlan, money_down, money_up
from trimtab.core.yields.migration import MigrationRule, Move
from trimtab.core.yields.positions import CASH_STATE, ReserveState, YieldPosition, d


@dataclass(frozen=True, slots=True)
class Executed:
    """The legs of one move and what they cost in USD."""

    move: Move
    fills: tuple[Fill, ...]
    gas_usd: Decimal
    fee_usd: Decimal
    slippage_usd: Decimal


def position_value(units: Decimal, state: ReserveState | None) -> Decimal:
    """USD value of `units` of a position: units * index * price."""
    s = state or CASH_STATE
    return units * d(s.index) * d(s.price)


def execute_move(
    move: Move,
    positions: Mapping[str, YieldPosition],
    states: Mapping[str, ReserveState | None],
    units: Mapping[str, Decimal],
    rule: MigrationRule,
    usd_per_gas: float,
    ref: str = "",
) -> Executed:
    """Fills for `move` against the held `units`: the source leg never takes more than is held."""
    src, dst = positions[move.source], positions[move.target]
    s_src, s_dst = states.get(src.name) or CASH_STATE, states.get(dst.name) or CASH_STATE
    p_src, p_dst, i_src, i_dst = d(s_src.price), d(s_dst.price), d(s_src.index), d(s_dst.index)
    gas_unit = d(usd_per_gas)
    held = units.get(src.name, ZERO)
    value = held * i_src * p_src
    want = d(move.amount_usd)
    take = held if want >= value - Decimal("0.01") else min(held, money_down(want / (i_src * p_src)))
    fills: list[Fill] = []
    gas_usd = fee_usd = slip_usd = ZERO

    if src.is_cash:
        tokens = take
    else:
        g = money_up(gas_unit * rule.gas.withdraw / p_src)
        gross = money_down(take * i_src)
        fills.append(Fill(src.name, src.underlying, Side.SELL, take, i_src, ZERO, ZERO, g, f"{ref}w", gross=gross))
        tokens = gross - g
        gas_usd += g * p_src

    if src.underlying != dst.underlying:
        mid = p_src / p_dst
        rate = d(rule.swap.slippage(float(tokens * p_src)))
        exec_price = mid * (1 - rate)
        gross = money_down(tokens * exec_price)
        fee = money_up(gross * d(rule.swap.fee_bps) * Decimal("1e-4"))
        g = money_up(gas_unit * rule.gas.swap / p_dst)
        slip = tokens * mid - gross
        fills.append(
            Fill(
                src.underlying,
                dst.underlying,
                Side.SELL,
                tokens,
                exec_price,
                fee,
                slip,
                g,
                f"{ref}s",
                fee_asset=dst.underlying,
                gross=gross,
            )
        )
        tokens = gross - fee - g
        gas_usd += g * p_dst
        fee_usd += fee * p_dst
        slip_usd += slip * p_dst

    if not dst.is_cash:
        g = money_up(gas_unit * rule.gas.deposit / p_dst)
        spend = tokens - g
        qty = money_down(spend / i_dst)
        fills.append(Fill(dst.name, dst.underlying, Side.BUY, qty, i_dst, ZERO, ZERO, g, f"{ref}d", gross=spend))
        gas_usd += g * p_dst
    return Executed(move, tuple(fills), gas_usd, fee_usd, slip_usd)


def apply_fills(units: Mapping[str, Decimal], fills: tuple[Fill, ...]) -> dict[str, Decimal]:
    """Holdings after the fills (same arithmetic as the ledger's legs); a negative balance is a bug, so it raises."""
    out = dict(units)
    for f in fills:
        out[f.asset] = out.get(f.asset, ZERO) + f.base_delta
        out[f.quote] = out.get(f.quote, ZERO) + f.quote_delta
    for k, v in out.items():
        if v < 0:
            raise ValueError(f"migration would leave {k} at {v}")
    return out


def as_plan(ex: Executed, plan_id: str = "") -> TradePlan:
    """The move as a TradePlan (withdraw / swap / deposit orders with their cost estimates), the type venues take."""
    orders = []
    for f in ex.fills:
        mid = f.price + (f.slippage / f.quantity if f.quantity else ZERO)
        cost = CostEstimate(fee=f.fee, slippage=f.slippage, gas=f.gas)
        orders.append(PlannedOrder(f.asset, f.quote, f.side, f.quantity, mid, f.price, cost, gross=f.quote_amount))
    return TradePlan(tuple(orders), ex.move.reason, plan_id=plan_id)
