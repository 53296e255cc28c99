"""Executed swap amounts -> Fills, with the pool fee split out in quote terms and gas valued in quote.

gross + fee is exactly the quote amount that moved on chain (buy: paid; sell: gross - fee = received),
so a ledger built from the fills equals the chain's token balances. Gas is paid in the native coin,
outside the portfolio's tokens: it goes into Fill.gas only when asked (then the ledger's quote runs
below the chain by the gas paid, the cost view a portfolio charged for its own gas wants).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from trimtab.adapters.dex.preflight import LegPlan
from trimtab.adapters.dex.reader import units_to_decimal
from trimtab.adapters.dex.routes import fee_share
from trimtab.core.base.types import ZERO, Fill, Side

WEI_PER_ETH = Decimal(10) ** 18


@dataclass(frozen=True)
class Executed:
    """What one leg moved on chain, in base units of its input and output tokens."""

    leg: LegPlan
    paid: int
    received: int
    tx_hash: str


def gas_in_quote(gas_used: int, effective_gas_price: int, native_price: Decimal) -> Decimal:
    """gasUsed * effectiveGasPrice (wei) in quote units at the native coin's price."""
    return Decimal(gas_used * effective_gas_price) / WEI_PER_ETH * native_price


def fill_of(ex: Executed, gas: Decimal = ZERO, price_places: int | None = 18) -> Fill:
    """One Fill: quantity = base units moved, price = gross / quantity, fee = LP fee share, slippage vs plan mid.

    The price is rounded to `price_places` decimals (the ledger stores prices at 18); None keeps it exact
    to the money context, which the venue contract's quantity * price == gross check needs.
    """
    leg = ex.leg
    buy = leg.order.side is Side.BUY
    base_units, quote_units = (ex.received, ex.paid) if buy else (ex.paid, ex.received)
    fee_units = fee_share(leg.route, quote_units, paid=buy)
    gross_units = quote_units - fee_units if buy else quote_units + fee_units
    qty = units_to_decimal(base_units, leg.base.decimals)
    gross = units_to_decimal(gross_units, leg.quote.decimals)
    price = gross / qty
    if price_places is not None:
        price = price.quantize(Decimal(1).scaleb(-price_places), rounding=ROUND_HALF_EVEN)
    return Fill(
        asset=leg.order.asset,
        quote=leg.order.quote,
        side=leg.order.side,
        quantity=qty,
        price=price,
        fee=units_to_decimal(fee_units, leg.quote.decimals),
        slippage=abs(gross - qty * leg.order.price),
        gas=gas,
        order_id=f"{ex.tx_hash}:{leg.index}",
        gross=gross,
    )


def split_gas(total: Decimal, weights: Sequence[int]) -> list[Decimal]:
    """Split a transaction's gas cost across its legs pro rata to `weights`; the parts sum to `total` exactly."""
    if not weights:
        return []
    whole = sum(weights)
    parts = [total * w / whole if whole else total / len(weights) for w in weights[:-1]]
    return [*parts, total - sum(parts, ZERO)]
