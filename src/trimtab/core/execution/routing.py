"""Market graph and size-aware cheapest-path search (direct vs multi-hop, across chains through bridges).

Nodes are (asset, chain) holdings; edges are markets (both directions: sell base, buy base) and bridges.
Each edge maps an input amount to an output amount, increasing in the input. Because costs depend on
size, edge weights are not constants; instead a hop-bounded Bellman-Ford carries the actual amount along
each path and keeps, per node, the best amount reached (max output for an exact input, min input for an
exact output). With increasing edge functions a better amount at a node never yields a worse path after
it, so the labels are exact for paths of up to `max_hops` hops. Nodes that cannot reach the target within
the remaining hops are pruned (BFS distances), so a search touches only the neighbourhood of the order.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from trimtab.core.base.types import ZERO, MarketRules, asset_symbol
from trimtab.core.costs.model import CostModel
from trimtab.core.costs.pricing import FloatPricer

Node = tuple[str, str]  # (asset, chain)
NO_RULES = MarketRules(amount_step=ZERO, price_tick=ZERO)


@dataclass(frozen=True, slots=True)
class Market:
    """BASE/QUOTE on one venue at `mid` (quote per base), priced by a cost model (fees, impact, AMM, gas)."""

    venue: str
    base: str
    quote: str
    mid: Decimal
    costs: CostModel
    rules: MarketRules = NO_RULES
    chain: str = ""
    batchable: bool = False  # legs on this venue and chain can share one transaction / venue call
    tx_base_cost: Decimal = ZERO  # per-transaction overhead (plan quote units) that batching shares

    def __post_init__(self) -> None:
        object.__setattr__(self, "base", asset_symbol(self.base))
        object.__setattr__(self, "quote", asset_symbol(self.quote))
        if not isinstance(self.costs, CostModel):  # a single part is a model of one part
            object.__setattr__(self, "costs", CostModel((self.costs,)))
        if self.mid <= 0:
            raise ValueError(f"market {self.label} needs a positive mid price")

    @property
    def label(self) -> str:
        return f"{self.base}/{self.quote}@{self.venue}" + (f"[{self.chain}]" if self.chain else "")


@dataclass(frozen=True, slots=True)
class Bridge:
    """Moves `asset` between chains for a proportional fee plus a fixed fee (asset units), after `delay_s`."""

    asset: str
    from_chain: str
    to_chain: str
    fee_bps: Decimal = ZERO
    fixed_fee: Decimal = ZERO
    delay_s: float = 0.0
    name: str = "bridge"
    both_ways: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "asset", asset_symbol(self.asset))

    @property
    def label(self) -> str:
        return f"{self.asset} {self.from_chain}->{self.to_chain}@{self.name}"


@dataclass(frozen=True, slots=True, eq=False)
class Edge:
    """One direction of a market ("sell" base->quote, "buy" quote->base) or of a bridge."""

    src: Node
    dst: Node
    kind: str  # "sell" | "buy" | "bridge"
    forward: Callable[[float], float]  # output for an exact input (0 when infeasible)
    backward: Callable[[float], float]  # input needed for an exact output (inf when infeasible)
    market: Market | None = None
    bridge: Bridge | None = None
    delay_s: float = 0.0

    @property
    def label(self) -> str:
        if self.market is not None:
            return self.market.label
        if self.bridge is None:
            raise RuntimeError("internal invariant broken: expected self.bridge is not None")
        return self.bridge.label


def _market_edges(m: Market) -> tuple[Edge, Edge]:
    p = FloatPricer.of(m.costs, m.base, m.mid)
    min_q = max(float(m.rules.min_notional) / p.mid, float(m.rules.min_amount))

    def sell_fwd(q: float) -> float:
        return max(p.sell(q), 0.0) if q >= min_q and q > 0 else 0.0

    def sell_bwd(out: float) -> float:
        q = p.sell_for(out)
        return max(q, min_q) if out > 0 else 0.0

    def buy_fwd(a: float) -> float:
        q = p.buy_with(a)
        return q if q >= min_q else 0.0

    def buy_bwd(q: float) -> float:
        return p.buy_cost(max(q, min_q)) if q > 0 else 0.0

    base, quote = (m.base, m.chain), (m.quote, m.chain)
    return (
        Edge(base, quote, "sell", sell_fwd, sell_bwd, market=m),
        Edge(quote, base, "buy", buy_fwd, buy_bwd, market=m),
    )


def _bridge_edges(b: Bridge) -> list[Edge]:
    keep = 1.0 - float(b.fee_bps) * 1e-4
    fixed = float(b.fixed_fee)

    def fwd(a: float) -> float:
        return max(a * keep - fixed, 0.0)

    def bwd(out: float) -> float:
        return (out + fixed) / keep if out > 0 else 0.0

    ends = [((b.asset, b.from_chain), (b.asset, b.to_chain))]
    if b.both_ways:
        ends.append(((b.asset, b.to_chain), (b.asset, b.from_chain)))
    return [Edge(s, d, "bridge", fwd, bwd, bridge=b, delay_s=b.delay_s) for s, d in ends]


@dataclass(frozen=True, slots=True)
class Hop:
    edge: Edge
    amount_in: float
    amount_out: float


@dataclass(frozen=True, slots=True)
class Route:
    """A path with the amounts simulated hop by hop at the order's size."""

    hops: tuple[Hop, ...]
    delay_s: float = 0.0

    @property
    def amount_in(self) -> float:
        return self.hops[0].amount_in if self.hops else 0.0

    @property
    def amount_out(self) -> float:
        return self.hops[-1].amount_out if self.hops else 0.0

    @property
    def path(self) -> tuple[Node, ...]:
        return (self.hops[0].edge.src, *(h.edge.dst for h in self.hops)) if self.hops else ()

    def describe(self) -> str:
        """`LINK -> ETH (LINK/ETH@uni) -> BTC (BTC/ETH@uni)`."""
        if not self.hops:
            return "(no route)"
        parts = [self.hops[0].edge.src[0]]
        parts += [f"{h.edge.dst[0]} ({h.edge.label})" for h in self.hops]
        return " -> ".join(parts)

    def cost(self, price: Callable[[str], float]) -> float:
        """Value lost along the route at reference prices (plan quote units): value in - value out."""
        return self.amount_in * price(self.path[0][0]) - self.amount_out * price(self.path[-1][0])


@dataclass
class MarketGraph:
    """Assets on chains joined by markets and bridges; built once, searched for every order."""

    markets: tuple[Market, ...] = ()
    bridges: tuple[Bridge, ...] = ()
    _out: dict[Node, list[Edge]] = field(default_factory=dict, init=False, repr=False)
    _in: dict[Node, list[Edge]] = field(default_factory=dict, init=False, repr=False)
    _dist_cache: dict[tuple[Node, bool], dict[Node, int]] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        edges: list[Edge] = []
        for m in self.markets:
            edges.extend(_market_edges(m))
        for b in self.bridges:
            edges.extend(_bridge_edges(b))
        for e in edges:
            self._out.setdefault(e.src, []).append(e)
            self._in.setdefault(e.dst, []).append(e)

    @property
    def nodes(self) -> set[Node]:
        return set(self._out) | set(self._in)

    def out_edges(self, node: Node) -> list[Edge]:
        return self._out.get(node, [])

    def in_edges(self, node: Node) -> list[Edge]:
        return self._in.get(node, [])

    def parallel(self, edge: Edge) -> list[Edge]:
        """Edges of the same kind between the same two nodes (the same pair on other venues/pools)."""
        return [e for e in self._out.get(edge.src, []) if e.dst == edge.dst and e.kind == edge.kind]

    def has_market(self, base: str, quote: str, chain: str = "") -> bool:
        return any(e.kind == "sell" for e in self.out_edges((asset_symbol(base), chain)) if e.dst[0] == quote)

    def _hops(self, root: Node, towards: bool) -> dict[Node, int]:
        """BFS hop counts to `root` (towards=True, over in-edges) or from it (over out-edges)."""
        key = (root, towards)
        cached = self._dist_cache.get(key)
        if cached is not None:
            return cached
        dist = {root: 0}
        queue = deque([root])
        while queue:
            n = queue.popleft()
            for e in self.in_edges(n) if towards else self.out_edges(n):
                nxt = e.src if towards else e.dst
                if nxt not in dist:
                    dist[nxt] = dist[n] + 1
                    queue.append(nxt)
        self._dist_cache[key] = dist
        return dist

    def best_route(
        self,
        src: Node,
        dst: Node,
        amount: float,
        *,
        exact_out: bool = False,
        max_hops: int = 3,
        max_delay_s: float | None = None,
    ) -> Route | None:
        """Cheapest path of at most `max_hops` for `amount` (input, or output when `exact_out`); None if none."""
        if amount <= 0 or src == dst:
            return None
        if exact_out:
            return self._search_backward(src, dst, amount, max_hops, max_delay_s)
        return self._search_forward(src, dst, amount, max_hops, max_delay_s)

    def _search_forward(self, src: Node, dst: Node, amount: float, k: int, max_delay: float | None) -> Route | None:
        dist = self._hops(dst, towards=True)
        if dist.get(src, k + 1) > k:
            return None
        labels: dict[Node, tuple[float, tuple[Hop, ...], float]] = {src: (amount, (), 0.0)}
        frontier = dict(labels)
        for h in range(1, k + 1):
            nxt: dict[Node, tuple[float, tuple[Hop, ...], float]] = {}
            for node, (amt, path, delay) in frontier.items():
                for e in self.out_edges(node):
                    if dist.get(e.dst, k + 1) > k - h or e.dst == src or any(p.edge.src == e.dst for p in path):
                        continue
                    if max_delay is not None and delay + e.delay_s > max_delay:
                        continue
                    out = e.forward(amt)
                    cur = labels.get(e.dst)
                    if out > 0 and (cur is None or out > cur[0]):
                        labels[e.dst] = nxt[e.dst] = (out, (*path, Hop(e, amt, out)), delay + e.delay_s)
            frontier = {n: v for n, v in nxt.items() if n != dst}
            if not frontier:
                break
        best = labels.get(dst)
        return Route(best[1], best[2]) if best else None

    def _search_backward(self, src: Node, dst: Node, amount: float, k: int, max_delay: float | None) -> Route | None:
        dist = self._hops(src, towards=False)
        if dist.get(dst, k + 1) > k:
            return None
        labels: dict[Node, tuple[float, tuple[Hop, ...], float]] = {dst: (amount, (), 0.0)}
        frontier = dict(labels)
        for h in range(1, k + 1):
            nxt: dict[Node, tuple[float, tuple[Hop, ...], float]] = {}
            for node, (need, path, delay) in frontier.items():
                for e in self.in_edges(node):
                    if dist.get(e.src, k + 1) > k - h or e.src == dst or any(p.edge.dst == e.src for p in path):
                        continue
                    if max_delay is not None and delay + e.delay_s > max_delay:
                        continue
                    need_in = e.backward(need)
                    cur = labels.get(e.src)
                    if math.isfinite(need_in) and need_in > 0 and (cur is None or need_in < cur[0]):
                        labels[e.src] = nxt[e.src] = (need_in, (Hop(e, need_in, need), *path), delay + e.delay_s)
            frontier = {n: v for n, v in nxt.items() if n != src}
            if not frontier:
                break
        best = labels.get(src)
        return Route(best[1], best[2]) if best else None


def simulate(edges: Iterable[Edge], amount_in: float) -> Route:
    """Re-run a path forward from `amount_in` (after its hops changed, e.g. by splitting)."""
    hops = []
    amt = amount_in
    delay = 0.0
    for e in edges:
        out = e.forward(amt)
        hops.append(Hop(e, amt, out))
        amt = out
        delay += e.delay_s
    return Route(tuple(hops), delay)


def required_input(edges: Iterable[Edge], amount_out: float) -> float:
    """Input that makes a fixed path deliver `amount_out`: the hops' backward functions, last hop first."""
    need = amount_out
    for e in reversed(list(edges)):
        need = e.backward(need)
    return need
