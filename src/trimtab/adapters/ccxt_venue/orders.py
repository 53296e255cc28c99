"""ccxt order structures read as exact Decimals, deterministic client order ids, and fills built from them."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from ccxt.base.decimal_to_precision import DECIMAL_PLACES, TICK_SIZE

from trimtab.core.base.types import ZERO, Fill, PlannedOrder, TradePlan, asset_symbol

FINAL = frozenset({"closed", "canceled", "expired", "rejected"})


def dec(value: Any) -> Decimal | None:
    """ccxt number (str in string mode, else float/int) as Decimal; floats through repr, the shortest exact form."""
    if value is None or value == "":
        return None
    try:
        d = Decimal(value) if isinstance(value, str | int) else Decimal(repr(float(value)))
    except (InvalidOperation, TypeError, ValueError):
        return None
    return d if d.is_finite() else None


def step_from_precision(precision: Any, mode: int) -> Decimal:
    """Lot step or tick from a ccxt precision: a step under TICK_SIZE, a count of decimals under
    DECIMAL_PLACES; SIGNIFICANT_DIGITS has no fixed step, reported as 0 (no rounding)."""
    value = dec(precision)
    if value is None or value <= 0:
        return ZERO
    if mode == TICK_SIZE:
        return value
    if mode == DECIMAL_PLACES:
        return Decimal(1).scaleb(-int(value))
    return ZERO


def client_order_id(plan: TradePlan, index: int, prefix: str = "tt", max_len: int = 32) -> str:
    """Same plan and leg -> same id, so a retried submit is recognised by the exchange instead of repeated.

    Hash of the plan id (unique per rebalance), the reason, every leg (asset, quote, side, quantity, mid) and
    the leg index; hex only. The plan id keeps an identical plan on another day from reusing ids.
    """
    legs = ";".join(f"{o.asset}/{o.quote}:{o.side.value}:{o.quantity}:{o.price}" for o in plan.orders)
    o = plan.orders[index]
    text = f"{plan.plan_id}|{plan.reason}|{legs}|{index}|{o.asset}|{o.side.value}|{o.quantity}"
    return (prefix + hashlib.sha256(text.encode()).hexdigest())[:max_len]


@dataclass(frozen=True, slots=True)
class OrderOutcome:
    """What an exchange order did: status, base filled, quote spent/received, fees by currency (None: not reported)."""

    order_id: str
    status: str
    filled: Decimal
    cost: Decimal
    fees: Mapping[str, Decimal] | None
    timestamp: int | None

    @property
    def final(self) -> bool:
        return self.status in FINAL

    @property
    def average(self) -> Decimal:
        return self.cost / self.filled if self.filled else ZERO


def sum_fees(entries: Iterable[Any]) -> dict[str, Decimal] | None:
    """Fee entries ({'currency', 'cost'}) summed per canonical currency; None when none carries a cost."""
    out: dict[str, Decimal] = {}
    for fee in entries:
        if not isinstance(fee, Mapping):
            continue
        cost, cur = dec(fee.get("cost")), fee.get("currency")
        if cost is None or not cur:
            continue
        key = asset_symbol(str(cur))
        out[key] = out.get(key, ZERO) + cost
    return out or None


def outcome_of(order: Mapping[str, Any]) -> OrderOutcome:
    filled = dec(order.get("filled")) or ZERO
    cost = dec(order.get("cost"))
    if cost is None:
        average = dec(order.get("average")) or dec(order.get("price")) or ZERO
        cost = filled * average
    fees = sum_fees(order.get("fees") or ([order["fee"]] if order.get("fee") else []))
    status = str(order.get("status") or "")
    ts = order.get("timestamp")
    return OrderOutcome(str(order.get("id") or ""), status, filled, cost, fees, int(ts) if ts is not None else None)


def fee_for_fill(
    fees: Mapping[str, Decimal] | None, asset: str, quote: str, price: Decimal
) -> tuple[Decimal, str, str]:
    """(fee, fee_asset, note): one currency is kept as charged; base mixed with quote is converted at the fill price."""
    if not fees:
        return ZERO, quote, "" if fees is not None else "fee not reported by the exchange"
    if len(fees) == 1:
        ((cur, amount),) = fees.items()
        return amount, cur, ""
    in_quote = fees.get(quote, ZERO) + fees.get(asset, ZERO) * price
    others = {c: a for c, a in fees.items() if c not in (asset, quote)}
    note = "; ".join(f"fee of {a} {c} not included in the fill" for c, a in sorted(others.items()))
    return in_quote, quote, note


def fill_from(order: PlannedOrder, outcome: OrderOutcome) -> tuple[Fill, str]:
    """A Fill for what traded: gross = the exchange's quote amount, price = gross / filled; a note on fees."""
    price = outcome.average
    fee, fee_asset, note = fee_for_fill(outcome.fees, order.asset, order.quote, price)
    fill = Fill(
        order.asset,
        order.quote,
        order.side,
        outcome.filled,
        price,
        fee,
        slippage=outcome.filled * abs(price - order.price),
        order_id=outcome.order_id,
        fee_asset=fee_asset,
        gross=outcome.cost,
    )
    return fill, note
