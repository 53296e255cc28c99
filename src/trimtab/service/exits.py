"""Emergency exit: sell every risk asset into the quote, each leg guarded by a minimum received vs its pre-quote."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from trimtab.core.base.snapshot import MarketSnapshot
from trimtab.core.base.types import PlannedOrder, Side, TradePlan
from trimtab.service.bootstrap import PortfolioRuntime


def exit_plan(
    rt: PortfolioRuntime, holdings: dict[str, Decimal], snap: MarketSnapshot, *, limit: bool = False
) -> TradePlan:
    """Sell every risk asset into the quote on its direct pair. With `limit`, each leg is an immediate-or-cancel
    limit at the lowest price the exit accepts (the expected price less `exit_guard_bps`): nothing sells below it."""
    quote = rt.strategy.quote
    floor = 1 - Decimal(repr(rt.spec.exit_guard_bps)) / 10_000
    orders = []
    for asset, qty in sorted(holdings.items()):
        if asset == quote or qty <= 0 or asset not in snap.prices:
            continue
        q = rt.strategy.costs.quote(asset, Side.SELL, qty, snap.prices[asset])
        orders.append(
            PlannedOrder(
                asset,
                quote,
                Side.SELL,
                qty,
                snap.prices[asset],
                q.exec_price,
                q.cost,
                q.gross,
                limit_price=q.exec_price * floor if limit else None,
            )
        )
    return TradePlan(tuple(orders), "emergency exit", post_weights={quote: 1.0})


def exit_quotes(rt: PortfolioRuntime, holdings: dict[str, Decimal], snap: MarketSnapshot) -> list[dict[str, Any]]:
    """Pre-quote of each exit leg: expected quote received net of costs and the minimum accepted (guard)."""
    out = []
    guard = Decimal(repr(rt.spec.exit_guard_bps)) / 10_000
    for o in exit_plan(rt, holdings, snap).orders:
        expected = o.quote_delta
        out.append(
            {
                "asset": o.asset,
                "quantity": str(o.quantity),
                "route": f"{o.asset}->{o.quote} on {rt.spec.venue}",
                "mid": str(o.price),
                "expected_received": str(expected),
                "min_received": str((expected * (1 - guard)).quantize(Decimal("1e-8"))),
            }
        )
    return out


def exit_guard(rt: PortfolioRuntime, request: dict[str, Any], snap: MarketSnapshot) -> Any:
    mins = {q["asset"]: Decimal(q["min_received"]) for q in request.get("quotes", [])}

    def guard(order: Any) -> str | None:
        now = rt.strategy.costs.quote(order.asset, Side.SELL, order.quantity, snap.prices[order.asset])
        received = (
            (now.gross if now.gross is not None else order.quantity * now.exec_price) - now.cost.fee - now.cost.gas
        )
        floor = mins.get(order.asset)
        if floor is not None and received < floor:
            return f"guard: would receive {received:.8f} < minimum {floor}"
        return None

    return guard
