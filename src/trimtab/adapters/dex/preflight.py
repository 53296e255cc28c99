"""Pre-flight of a plan, before anything is sent: route each order, size it, and check it can be funded.

Orders are simulated in plan order on one copy of the pools and balances, so sells fund later buys and
legs sharing a pool see each other's price impact. The route with the better output (sell) or the
smaller input (buy) wins, across direct and through-WETH V2 paths and V3 pools.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from trimtab.adapters.dex.deployment import Token
from trimtab.adapters.dex.reader import ChainReader, decimal_to_units, units_to_decimal
from trimtab.adapters.dex.routes import PoolBook, Route
from trimtab.core.base.ports import LegFailure
from trimtab.core.base.types import PlannedOrder, Side, TradePlan, plain
from trimtab.errors import OrderRejected, VenueMisconfigured


@dataclass(frozen=True)
class LegPlan:
    """One order as a swap: route, exact input, expected output (on the simulated pool state)."""

    index: int  # position in the plan
    order: PlannedOrder
    base: Token
    quote: Token
    route: Route
    amount_in: int
    expected_out: int
    target_units: int  # the order's quantity in base units

    @property
    def token_in(self) -> Token:
        return self.quote if self.order.side is Side.BUY else self.base

    @property
    def token_out(self) -> Token:
        return self.base if self.order.side is Side.BUY else self.quote

    def describe(self) -> str:
        tin, tout = self.token_in, self.token_out
        return (
            f"{self.order.side.value} {plain(units_to_decimal(self.target_units, self.base.decimals))} "
            f"{self.base.symbol}: {plain(units_to_decimal(self.amount_in, tin.decimals))} {tin.symbol} -> "
            f"{plain(units_to_decimal(self.expected_out, tout.decimals))} {tout.symbol} via {self.route.label()}"
        )


@dataclass(frozen=True)
class Preflight:
    legs: tuple[LegPlan, ...]
    failures: tuple[tuple[int, LegFailure], ...]  # (plan index, failure)


def _best(
    reader: ChainReader, book: PoolBook, order: PlannedOrder, tin: Token, tout: Token, units: int, used_v3: set[str]
) -> tuple[Route, int, int] | None:
    """(route, amount_in, expected_out) of the best feasible route; None if no pool can fill the size."""
    routes = reader.v2_routes(book, tin, tout)
    pools = [p for p in reader.v3_pools(tin, tout) if p.address not in used_v3]
    if not routes and not pools:
        raise VenueMisconfigured(
            f"no Uniswap pool connects {tin.symbol} to {tout.symbol}", venue=reader.venue, op="route"
        )
    found: list[tuple[Route, int, int]] = []
    for route in routes:
        try:
            if order.side is Side.SELL:
                found.append((route, units, book.amounts_out(route.path, units)[-1]))
            else:
                need = book.min_amount_in(route.path, units)
                if need is not None:
                    found.append((route, need, book.amounts_out(route.path, need)[-1]))
        except OrderRejected:  # zero output or no liquidity on this path
            continue
    for pool in pools:
        route = Route("v3", (tin.address, tout.address), (tin.token, tout.token), v3_fee=pool.fee)
        if order.side is Side.SELL:
            out = reader.v3_quote_out(tin, tout, pool.fee, units)
            if out:
                found.append((route, units, out))
        else:
            need_in = reader.v3_quote_in(tin, tout, pool.fee, units)
            if need_in:
                found.append((route, need_in, units))
    found = [f for f in found if f[2] > 0]
    if not found:
        return None
    if order.side is Side.SELL:
        return max(found, key=lambda f: (f[2], -f[0].hops, f[0].kind == "v2"))
    return min(found, key=lambda f: (f[1], f[0].hops, f[0].kind != "v2"))


def preflight(
    reader: ChainReader, plan: TradePlan, owner: str, min_notional: Decimal, *, use_v3: bool = True
) -> Preflight:
    """Route and size every order in plan order; unfundable or unfillable orders become LegFailures.

    Raises VenueMisconfigured for an unknown token or a pair no pool connects: nothing has been sent.
    """
    tokens = {o.asset: reader.token(o.asset) for o in plan.orders} | {
        o.quote: reader.token(o.quote) for o in plan.orders
    }
    held = {t.address: reader.balance(t, owner) for t in tokens.values()}
    book = PoolBook()
    used_v3: set[str] = set() if use_v3 else {p.address for p in reader.deployment.v3_pools}
    legs: list[LegPlan] = []
    failures: list[tuple[int, LegFailure]] = []
    for i, order in enumerate(plan.orders):
        base, quote = tokens[order.asset], tokens[order.quote]
        if base.address == quote.address:
            raise VenueMisconfigured(f"{order.asset}/{order.quote} is the same token", venue=reader.venue, op="route")
        units = decimal_to_units(order.quantity, base.decimals)
        if units <= 0:
            failures.append(
                (i, LegFailure(order, f"quantity {order.quantity} is below one base unit of {base.symbol}"))
            )
            continue
        notional = order.quantity * order.price
        if notional < min_notional:
            failures.append(
                (i, LegFailure(order, f"notional {notional:.6f} below min notional {min_notional} {order.quote}"))
            )
            continue
        tin, tout = (quote, base) if order.side is Side.BUY else (base, quote)
        best = _best(reader, book, order, tin, tout, units, used_v3)
        if best is None:
            failures.append((i, LegFailure(order, f"insufficient pool liquidity for {order.quantity} {base.symbol}")))
            continue
        route, amount_in, out = best
        if held[tin.address] < amount_in:
            have, need = (plain(units_to_decimal(x, tin.decimals)) for x in (held[tin.address], amount_in))
            failures.append((i, LegFailure(order, f"insufficient {tin.symbol} balance: needs {need}, holds {have}")))
            continue
        held[tin.address] -= amount_in
        held[tout.address] += out
        if route.kind == "v2":
            book.swap(route.path, book.amounts_out(route.path, amount_in))
        else:
            used_v3.add(next(p.address for p in reader.v3_pools(tin, tout) if p.fee == route.v3_fee))
        legs.append(LegPlan(i, order, base, quote, route, amount_in, out, units))
    return Preflight(tuple(legs), tuple(failures))
