"""From a TradePlan to an ExecutionPlan: netting, routes, splits, slices, batches and a dry-run view.

The TradePlan (what to trade) stays as it is; the ExecutionPlan wraps it with how: each leg's cheapest
route at its size (core/execution/routing.py), each hop split across parallel venues (core/execution/splitting.py), TWAP
slices (core/execution/slicing.py), batches of legs that share one transaction, and the weights projected after.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from trimtab.core.base.portfolio import PortfolioState
from trimtab.core.base.types import ZERO, PlannedOrder, Side, TradePlan
from trimtab.core.costs.amm import AmmSlippage
from trimtab.core.costs.model import CostModel
from trimtab.core.execution.routing import Edge, MarketGraph, Node, Route
from trimtab.core.execution.slicing import ChildOrder, Twap
from trimtab.core.execution.splitting import split_amm, split_exact_in, split_exact_out

BalanceOf = Callable[[str, str], float]  # (venue, asset) -> available amount


def net_orders(orders: Sequence[PlannedOrder], costs: CostModel | None = None) -> tuple[PlannedOrder, ...]:
    """One order per (asset, quote): buys and sells of the same asset cancel; sells first so they fund buys.

    Netted orders are re-quoted with `costs` when given, else their cost is the input costs pro rata.
    """
    groups: dict[tuple[str, str], list[PlannedOrder]] = {}
    for o in orders:
        groups.setdefault((o.asset, o.quote), []).append(o)
    out: list[PlannedOrder] = []
    for (asset, quote), group in groups.items():
        if len(group) == 1:
            out.append(group[0])
            continue
        signed = sum(((o.quantity if o.side is Side.BUY else -o.quantity) for o in group), ZERO)
        if signed == 0:
            continue
        side = Side.BUY if signed > 0 else Side.SELL
        qty, first = abs(signed), group[0]
        if costs is not None:
            q = costs.quote(asset, side, qty, first.price)
            out.append(PlannedOrder(asset, quote, side, qty, first.price, q.exec_price, q.cost, q.gross))
        else:
            same = [o for o in group if o.side is side]
            base = sum((o.quantity for o in same), ZERO)
            cost = same[0].cost
            for o in same[1:]:
                cost = cost + o.cost
            scale = qty / base
            scaled = type(cost)(cost.fee * scale, cost.slippage * scale, cost.gas * scale)
            out.append(PlannedOrder(asset, quote, side, qty, first.price, same[0].exec_price, scaled))
    sells = sorted((o for o in out if o.side is Side.SELL), key=lambda o: -o.notional)
    buys = sorted((o for o in out if o.side is Side.BUY), key=lambda o: -o.notional)
    return tuple(sells + buys)


@dataclass(frozen=True, slots=True)
class ExecutionSettings:
    """How legs are routed and sent: hop limit, bridge delay limit, slippage limit, splitting, TWAP, chain."""

    chain: str = ""  # where the plan's holdings live
    max_hops: int = 3
    max_delay_s: float | None = None
    slippage_limit_bps: Decimal = Decimal(50)  # worst acceptable price vs expected
    split: bool = True
    twap: Twap | None = None


@dataclass(frozen=True, slots=True)
class VenueShare:
    """Part of a hop sent to one market."""

    market: str
    venue: str
    chain: str
    amount_in: float
    amount_out: float


@dataclass(frozen=True, slots=True)
class RoutedHop:
    src: str
    dst: str
    kind: str
    shares: tuple[VenueShare, ...]
    delay_s: float = 0.0

    @property
    def amount_in(self) -> float:
        return sum(s.amount_in for s in self.shares)

    @property
    def amount_out(self) -> float:
        return sum(s.amount_out for s in self.shares)


@dataclass(frozen=True, slots=True)
class RoutedLeg:
    """One order as it will be executed, with what it is expected to cost at its size."""

    order: PlannedOrder
    hops: tuple[RoutedHop, ...]
    expected_price: float  # quote per base, after every hop's costs
    worst_price: float  # slippage limit: refuse fills worse than this
    expected_cost: float  # plan quote units: value in - value out at mid
    direct_cost: float | None  # cost of the best one-hop route, for comparison (None: no direct market)
    slices: tuple[ChildOrder, ...] = ()

    @property
    def amount_in(self) -> float:
        return self.hops[0].amount_in

    @property
    def amount_out(self) -> float:
        return self.hops[-1].amount_out

    @property
    def route(self) -> str:
        parts = [self.hops[0].src]
        for h in self.hops:
            venues = "+".join(s.market for s in h.shares)
            parts.append(f"{h.dst} ({venues})")
        return " -> ".join(parts)


@dataclass(frozen=True, slots=True)
class Batch:
    """Legs sent in one transaction / venue call, and what that saves against one each."""

    venue: str
    chain: str
    legs: tuple[int, ...]
    tx_base_cost: float

    @property
    def separate_cost(self) -> float:
        return self.tx_base_cost * len(self.legs)

    @property
    def saving(self) -> float:
        return self.tx_base_cost * (len(self.legs) - 1)


@dataclass(frozen=True)
class ExecutionPlan:
    """A TradePlan with its routes, splits, slices and batches; `dry_run()` is the table a user reviews."""

    plan: TradePlan
    legs: tuple[RoutedLeg, ...]
    unrouted: tuple[tuple[PlannedOrder, str], ...] = ()
    batches: tuple[Batch, ...] = ()
    projected_weights: dict[str, float] = field(default_factory=dict)

    @property
    def expected_cost(self) -> float:
        return sum(leg.expected_cost for leg in self.legs)

    @property
    def batching_saving(self) -> float:
        return sum(b.saving for b in self.batches)

    def dry_run(self) -> list[dict[str, object]]:
        """Per leg: route, split, expected and worst price, expected cost, slices; plus projected weights."""
        rows: list[dict[str, object]] = []
        for leg in self.legs:
            o = leg.order
            rows.append(
                {
                    "asset": o.asset,
                    "side": o.side.value,
                    "quantity": str(o.quantity),
                    "route": leg.route,
                    "hops": len(leg.hops),
                    "splits": [[s.market, s.amount_in] for h in leg.hops for s in h.shares],
                    "expected_price": leg.expected_price,
                    "worst_price": leg.worst_price,
                    "mid": float(o.price),
                    "expected_cost": leg.expected_cost,
                    "direct_cost": leg.direct_cost,
                    "slices": [[c.offset_s, str(c.quantity)] for c in leg.slices],
                }
            )
        return rows


def _amm_pool(edge: Edge) -> tuple[float, float, float] | None:
    """(reserve_in, reserve_out, fee) when the edge's market is a bare constant-product pool."""
    m = edge.market
    if m is None or len(m.costs.parts) != 1 or not isinstance(m.costs.parts[0], AmmSlippage):
        return None
    pool = m.costs.parts[0].pools.get(m.base)
    if pool is None:
        return None
    x, y, f = float(pool.reserve_base), float(pool.reserve_quote), float(pool.fee)
    return (x, y, f) if edge.kind == "sell" else (y, x, f)


def _split_hop(graph: MarketGraph, edge: Edge, amount: float, exact_out: bool, balance: BalanceOf | None) -> RoutedHop:
    """Spread one hop over the parallel markets so marginal costs are equal (input amount, or output)."""
    options = graph.parallel(edge) if edge.market is not None else [edge]
    if len(options) == 1:
        out = options[0].backward(amount) if exact_out else options[0].forward(amount)
        a_in, a_out = (out, amount) if exact_out else (amount, out)
        return RoutedHop(edge.src[0], edge.dst[0], edge.kind, (_share(edge, a_in, a_out),), edge.delay_s)
    caps = None
    if balance is not None:
        held = [balance(e.market.venue, e.src[0]) if e.market else math.inf for e in options]
        caps = [e.forward(h) for h, e in zip(held, options, strict=True)] if exact_out else held
    pools = [_amm_pool(e) for e in options]
    if not exact_out and caps is None and all(p is not None for p in pools):
        alloc = split_amm([p for p in pools if p is not None], amount)
    elif exact_out:
        alloc = split_exact_out([e.backward for e in options], amount, caps).allocations
    else:
        alloc = split_exact_in([e.forward for e in options], amount, caps).allocations
    shares = []
    for e, x in zip(options, alloc, strict=True):
        if x > 0:
            shares.append(_share(e, e.backward(x), x) if exact_out else _share(e, x, e.forward(x)))
    return RoutedHop(edge.src[0], edge.dst[0], edge.kind, tuple(shares), edge.delay_s)


def _share(e: Edge, a_in: float, a_out: float) -> VenueShare:
    venue = e.market.venue if e.market else (e.bridge.name if e.bridge else "")
    chain = e.market.chain if e.market else e.src[1]
    return VenueShare(e.label, venue, chain, a_in, a_out)


def _routed_hops(
    graph: MarketGraph, route: Route, exact_out: bool, split: bool, balance: BalanceOf | None
) -> tuple[RoutedHop, ...]:
    edges = [h.edge for h in route.hops]
    if not split:
        return tuple(
            RoutedHop(
                h.edge.src[0], h.edge.dst[0], h.edge.kind, (_share(h.edge, h.amount_in, h.amount_out),), h.edge.delay_s
            )
            for h in route.hops
        )
    hops: list[RoutedHop] = []
    if exact_out:
        need = route.amount_out
        for e in reversed(edges):
            hop = _split_hop(graph, e, need, True, balance)
            hops.insert(0, hop)
            need = hop.amount_in
    else:
        amt = route.amount_in
        for e in edges:
            hop = _split_hop(graph, e, amt, False, balance)
            hops.append(hop)
            amt = hop.amount_out
    return tuple(hops)


def _batches(legs: Sequence[RoutedLeg], graph: MarketGraph) -> tuple[Batch, ...]:
    by_key: dict[tuple[str, str], tuple[list[int], float]] = {}
    base_cost = {(m.venue, m.chain): float(m.tx_base_cost) for m in graph.markets if m.batchable}
    for i, leg in enumerate(legs):
        keys = {(s.venue, s.chain) for h in leg.hops for s in h.shares}
        for key in keys & set(base_cost):
            by_key.setdefault(key, ([], base_cost[key]))[0].append(i)
    return tuple(Batch(v, c, tuple(ix), cost) for (v, c), (ix, cost) in sorted(by_key.items()) if len(ix) > 1)


def build_execution_plan(
    plan: TradePlan,
    graph: MarketGraph,
    state: PortfolioState,
    settings: ExecutionSettings = ExecutionSettings(),
    balance: BalanceOf | None = None,
) -> ExecutionPlan:
    """Route every (netted) order of `plan` through `graph`: sells exact-in to the quote, buys exact-out."""
    legs: list[RoutedLeg] = []
    unrouted: list[tuple[PlannedOrder, str]] = []
    holdings = {a: float(q) for a, q in state.holdings.items()}
    tol = float(settings.slippage_limit_bps) * 1e-4
    for o in net_orders(plan.orders):
        sell = o.side is Side.SELL
        asset: Node = (o.asset, settings.chain)
        quote: Node = (o.quote, settings.chain)
        src, dst = (asset, quote) if sell else (quote, asset)
        qty = float(o.quantity)
        route = graph.best_route(
            src, dst, qty, exact_out=not sell, max_hops=settings.max_hops, max_delay_s=settings.max_delay_s
        )
        if route is None:
            unrouted.append((o, f"no route {src[0]} -> {dst[0]} within {settings.max_hops} hops"))
            continue
        hops = _routed_hops(graph, route, not sell, settings.split, balance)
        a_in, a_out = hops[0].amount_in, hops[-1].amount_out
        mid = float(o.price)
        price = a_out / a_in if sell else a_in / a_out
        worst = price * (1 - tol) if sell else price * (1 + tol)
        cost = a_in * mid - a_out if sell else a_in - a_out * mid
        direct = graph.best_route(src, dst, qty, exact_out=not sell, max_hops=1)
        direct_cost = (
            None
            if direct is None
            else (direct.amount_in * mid - direct.amount_out if sell else direct.amount_in - direct.amount_out * mid)
        )
        slices = settings.twap.slices(o.quantity) if settings.twap is not None else ()
        legs.append(RoutedLeg(o, hops, price, worst, cost, direct_cost, slices))
        holdings[o.asset] = holdings.get(o.asset, 0.0) + (-a_in if sell else a_out)
        holdings[o.quote] = holdings.get(o.quote, 0.0) + (a_out if sell else -a_in)
    return ExecutionPlan(
        plan, tuple(legs), tuple(unrouted), _batches(legs, graph), _weights(holdings, state.prices, state.quote)
    )


def _weights(holdings: Mapping[str, float], prices: Mapping[str, Decimal], quote: str) -> dict[str, float]:
    values = {a: q * (1.0 if a == quote else float(prices.get(a, 0))) for a, q in holdings.items()}
    total = sum(values.values())
    return {a: (v / total if total > 0 else 0.0) for a, v in sorted(values.items())}
