"""Trade planner: the orders that move holdings to desired weights, net of their own costs.

Post-trade value V' solves V' = V - C(V'), where C prices the trades n_i = w_i V' - v_i with the
strategy's cost model (fixed-point iteration), so post-trade weights hit the targets exactly after
costs. Only differences are traded, sells come before buys, every order goes through the quote
asset, quantities are rounded down to the lot step, and orders below minimums are dropped with the
residual drift reported. The plan never spends more quote than the sells and the holdings provide.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from trimtab.core.base.portfolio import PortfolioState
from trimtab.core.base.types import ZERO, MarketRules, PlannedOrder, Residual, Side, TradePlan
from trimtab.core.costs.model import CostModel
from trimtab.core.measures.drift import effective_band

RulesFor = Callable[[str], MarketRules]
_MAX_ITER = 100
_TOL = Decimal("1e-14")

# Buys scaled down to the cash left are shaved by one part in a million more: fees and slippage are not linear
# in size everywhere (tiers, books, pools), so exact scaling could still overspend by a rounding step.
BUY_SCALE_MARGIN = Decimal("0.999999")


@dataclass(frozen=True, slots=True)
class PlanSettings:
    """Knobs of the planner that come from the strategy's constraints block."""

    min_trade: Decimal = ZERO  # quote units; smaller orders are dropped
    dust: Decimal = Decimal("1e-9")  # trades below dust * V are not worth an order
    band: float | None = None  # for reporting residuals against the trigger's band
    relative_band: float | None = None


def _dec(x: float) -> Decimal:
    return Decimal(repr(float(x)))


def _post_cost_value(
    state: PortfolioState, desired: Mapping[str, Decimal], costs: CostModel, dust: Decimal, min_trade: Decimal = ZERO
) -> tuple[Decimal, dict[str, Decimal]]:
    """Solve V' = V - C(V') by fixed-point iteration; returns V' and the signed mid notionals per asset.

    A trade counts only when its notional at V' = V exceeds dust * V and `min_trade`, so skipped trades cost nothing.
    """
    total = state.total
    # The trade set is decided once, on notionals at V' = V, so the iteration cannot oscillate across the threshold.
    risky = [
        a
        for a in desired
        if a != state.quote and abs(desired[a] * total - state.value(a)) > max(dust * total, min_trade)
    ]
    v_new = total
    trades: dict[str, Decimal] = {}
    for _ in range(_MAX_ITER):
        trades = {}
        cost = ZERO
        for a in risky:
            n = desired[a] * v_new - state.value(a)
            if n == 0:
                continue
            price = state.price(a)
            side = Side.BUY if n > 0 else Side.SELL
            trades[a] = n
            cost += costs.quote(a, side, abs(n) / price, price).cost.total
        nxt = total - cost
        done = abs(nxt - v_new) <= _TOL * total
        v_new = nxt
        if done:
            break
    return v_new, trades


def _order(state: PortfolioState, asset: str, side: Side, qty: Decimal, costs: CostModel) -> PlannedOrder:
    price = state.price(asset)
    q = costs.quote(asset, side, qty, price)
    return PlannedOrder(asset, state.quote, side, qty, price, q.exec_price, q.cost, q.gross)


def _blocked_reason(rules: MarketRules, qty: Decimal, price: Decimal) -> str:
    notional = qty * price
    if qty <= 0:
        return f"below lot size {rules.amount_step}"
    if rules.min_amount and qty < rules.min_amount:
        return f"below min amount {rules.min_amount}"
    if rules.min_notional and notional < rules.min_notional:
        return f"notional {notional:.2f} below min notional {rules.min_notional}"
    return ""  # min_trade_usd was applied when the trade set was chosen (see _post_cost_value)


def _fund_buys(
    state: PortfolioState,
    sells: list[PlannedOrder],
    buys: list[PlannedOrder],
    costs: CostModel,
    rules: RulesFor,
    settings: PlanSettings,
    blocked: dict[str, str],
) -> list[PlannedOrder]:
    """Scale buys down (re-quantized) until they fit in the quote the holdings and sells provide."""
    available = state.quantity(state.quote) + sum((o.quote_delta for o in sells), ZERO)
    for _ in range(_MAX_ITER):
        need = -sum((o.quote_delta for o in buys), ZERO)
        if need <= available or not buys:
            return buys
        scale = max(available, ZERO) / need if need > 0 else ZERO
        scaled = []
        for o in buys:
            qty = rules(o.asset).quantize_amount(o.quantity * scale * BUY_SCALE_MARGIN)
            why = _blocked_reason(rules(o.asset), qty, o.price)
            if why:
                blocked[o.asset] = f"insufficient quote after costs; {why}"
                continue
            blocked.setdefault(o.asset, "insufficient quote after costs: buy scaled down")
            scaled.append(_order(state, o.asset, Side.BUY, qty, costs))
        buys = scaled
    return [] if -sum((o.quote_delta for o in buys), ZERO) > available else buys


def plan_rebalance(
    state: PortfolioState,
    desired: Mapping[str, float],
    costs: CostModel,
    rules: RulesFor | Mapping[str, MarketRules] | None = None,
    settings: PlanSettings = PlanSettings(),
    *,
    targets: Mapping[str, float] | None = None,
    reason: str = "",
) -> TradePlan:
    """Orders moving `state` to `desired` weights after costs; residuals are reported against `targets`."""
    rules_for = _rules_lookup(rules)
    want = {a: _dec(w) for a, w in desired.items()}
    for a in state.holdings:  # held assets without a target are sold
        want.setdefault(a, ZERO)
    v_new, trades = _post_cost_value(state, want, costs, settings.dust, settings.min_trade)
    blocked: dict[str, str] = {}
    for a in want:
        if a != state.quote and a not in trades and abs(want[a] * v_new - state.value(a)) > settings.dust * state.total:
            blocked[a] = f"trade below min_trade_usd {settings.min_trade}"
    sells: list[PlannedOrder] = []
    buys: list[PlannedOrder] = []
    for asset, n in trades.items():
        price = state.price(asset)
        side = Side.BUY if n > 0 else Side.SELL
        raw = abs(n) / price
        if side is Side.SELL:
            raw = min(raw, state.quantity(asset))
        qty = rules_for(asset).quantize_amount(raw)
        why = _blocked_reason(rules_for(asset), qty, price)
        if why:
            blocked[asset] = why
            continue
        order = _order(state, asset, side, qty, costs)
        if side is Side.SELL and order.quote_delta <= 0:
            blocked[asset] = "costs exceed sale proceeds"
            continue
        (sells if side is Side.SELL else buys).append(order)
    buys = _fund_buys(state, sells, buys, costs, rules_for, settings, blocked)
    orders = tuple(sorted(sells, key=lambda o: -o.notional) + sorted(buys, key=lambda o: -o.notional))
    post = apply_orders(state, orders)
    post_w = post.weights(extra=want)
    residual = _residuals(post_w, targets if targets is not None else desired, blocked, settings)
    return TradePlan(orders=orders, reason=reason, residual=residual, post_weights=post_w)


def apply_orders(state: PortfolioState, orders: tuple[PlannedOrder, ...]) -> PortfolioState:
    """The state after the orders fill exactly as quoted (for residuals and previews)."""
    h = dict(state.holdings)
    for o in orders:
        h[o.asset] = h.get(o.asset, ZERO) + (o.quantity if o.side is Side.BUY else -o.quantity)
        h[o.quote] = h.get(o.quote, ZERO) + o.quote_delta
    return PortfolioState(holdings=h, prices=state.prices, quote=state.quote)


def _residuals(
    post_w: Mapping[str, float], targets: Mapping[str, float], blocked: Mapping[str, str], settings: PlanSettings
) -> tuple[Residual, ...]:
    out = []
    for a in sorted(set(post_w) | set(targets)):
        t = targets.get(a, 0.0)
        d = post_w.get(a, 0.0) - t
        band = effective_band(t, settings.band, settings.relative_band)
        within = abs(d) <= band + 1e-12
        out.append(Residual(a, d, "" if within else blocked.get(a, "outside band")))
    return tuple(out)


def _rules_lookup(rules: RulesFor | Mapping[str, MarketRules] | None) -> RulesFor:
    if rules is None:
        default = MarketRules(amount_step=ZERO, price_tick=ZERO)
        return lambda _a: default
    if callable(rules):
        return rules
    table = dict(rules)
    fallback = table.get("*", MarketRules(amount_step=ZERO, price_tick=ZERO))
    return lambda a: table.get(a, fallback)


def band_edge_targets(
    weights: Mapping[str, float], targets: Mapping[str, float], band: float | None, relative_band: float | None
) -> dict[str, float]:
    """Breaching assets go to their nearest band edge; the others keep their weights, scaled to sum to 1 (to 0, with
    the edges normalised, when the edges alone reach 100%)."""
    names = list(targets) + [a for a in weights if a not in targets]
    edge: dict[str, float] = {}
    free: dict[str, float] = {}
    for a in names:
        w, t = weights.get(a, 0.0), targets.get(a, 0.0)
        b = effective_band(t, band, relative_band)
        if abs(w - t) > b:
            edge[a] = t + (b if w > t else -b) if b != float("inf") else t
        else:
            free[a] = w
    rest = 1.0 - sum(edge.values())
    free_total = sum(free.values())
    if free_total > 0 and rest > 0:
        out = {**edge, **{a: w * rest / free_total for a, w in free.items()}}
    else:  # nothing can absorb the remainder: the free assets go to 0 and the edges are normalised
        s = sum(edge.values())
        out = dict.fromkeys(free, 0.0) | ({a: w / s for a, w in edge.items()} if s > 0 else {})
    return {a: max(0.0, w) for a, w in out.items()}
