"""Execution on real exchanges through ccxt: CcxtVenue plus its credentials, capability data and retry policy."""

from trimtab.adapters.ccxt_venue.capabilities import BINANCE, VenueCapabilities, capabilities_for
from trimtab.adapters.ccxt_venue.credentials import Credentials, env_names
from trimtab.adapters.ccxt_venue.orders import client_order_id
from trimtab.adapters.ccxt_venue.retry import RetryPolicy
from trimtab.adapters.ccxt_venue.venue import CcxtVenue, PollPolicy

__all__ = [
    "BINANCE",
    "CcxtVenue",
    "Credentials",
    "PollPolicy",
    "RetryPolicy",
    "VenueCapabilities",
    "capabilities_for",
    "client_order_id",
    "env_names",
]
