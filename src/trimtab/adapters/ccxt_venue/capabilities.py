"""Per-exchange capability data (freqtrade's `_ft_has` idea): what CcxtVenue may rely on, with no subclasses."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class VenueCapabilities:
    """How to drive one exchange through ccxt; unknown exchanges get the cautious defaults."""

    ccxt_options: Mapping[str, Any] = field(default_factory=dict)  # merged into the ccxt client's `options`
    string_numbers: bool = False  # ccxt returns amounts as exact strings (`exchange.number = str`); tested per venue
    client_order_id_param: str = "clientOrderId"  # create_order param carrying our id
    client_order_id_max_len: int = 32
    client_order_id_pattern: str = r"^[A-Za-z0-9_-]+$"  # what the exchange accepts
    fetch_order_by_client_id: bool = False  # fetch_order(None, symbol, {client_id_query_param: id}) works
    client_id_query_param: str = "clientOrderId"
    fees_from_order_trades: bool = False  # when an order lacks fees, fetch_order_trades has them
    market_order_params: Mapping[str, Any] = field(default_factory=dict)  # extra create_order params

    def valid_client_order_id(self, cid: str) -> bool:
        return 0 < len(cid) <= self.client_order_id_max_len and re.match(self.client_order_id_pattern, cid) is not None


BINANCE = VenueCapabilities(
    # spot only: no futures exchangeInfo, no margin pairs, no sapi capital/config (needs extra permissions)
    ccxt_options=MappingProxyType(
        {"defaultType": "spot", "fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False}
    ),
    string_numbers=True,
    client_order_id_param="newClientOrderId",
    client_order_id_max_len=36,
    client_order_id_pattern=r"^[.A-Z:/a-z0-9_-]{1,36}$",
    fetch_order_by_client_id=True,
    client_id_query_param="origClientOrderId",
    fees_from_order_trades=True,
    market_order_params=MappingProxyType({"newOrderRespType": "FULL"}),
)

KNOWN: Mapping[str, VenueCapabilities] = MappingProxyType({"binance": BINANCE})


def capabilities_for(exchange_id: str) -> VenueCapabilities:
    return KNOWN.get(exchange_id, VenueCapabilities())
