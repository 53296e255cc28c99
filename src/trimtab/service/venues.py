"""Venues the service trades on, each able to name client order ids up front and find orders by them."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from trimtab.adapters.ccxt_venue.orders import client_order_id
from trimtab.adapters.paper import PaperVenue
from trimtab.core.costs import CostModel
from trimtab.core.ports import ExecutionReport
from trimtab.core.types import Fill, MarketRules, PlannedOrder, TradePlan
from trimtab.service.journal import TrackedVenue
from trimtab.service.paper_exchange import DurablePaperExchange
from trimtab.service.settings import PortfolioSpec, ServiceSettings


class EphemeralPaper:
    """The in-memory paper venue mirroring the ledger each cycle; it dies with the process, so after a crash
    no order of it exists (find_fill is always None) and the journal marks the legs not filled."""

    name = "paper"

    def __init__(self, balances: Mapping[str, Decimal], costs: CostModel, prices: Mapping[str, Decimal]) -> None:
        self._venue = PaperVenue(balances, costs, prices)

    def set_prices(self, prices: Mapping[str, Decimal]) -> None:
        self._venue.set_prices(prices)

    def balances(self) -> dict[str, Decimal]:
        return self._venue.balances()

    def rules(self, asset: str, quote: str) -> MarketRules:
        return self._venue.rules(asset, quote)

    def execute(self, plan: TradePlan) -> ExecutionReport:
        return self._venue.execute(plan)

    def client_id(self, plan: TradePlan, index: int) -> str:
        return client_order_id(plan, index, prefix="pp")

    def find_fill(self, client_id: str, order: PlannedOrder) -> Fill | None:
        return None


class CcxtTracked:
    """A CcxtVenue plus order lookup by client id (the same ids CcxtVenue derives when it sends)."""

    def __init__(self, venue: Any) -> None:
        self._venue = venue
        self.name: str = venue.name

    def set_prices(self, prices: Mapping[str, Decimal]) -> None:
        """Prices come from the exchange itself."""

    def balances(self) -> dict[str, Decimal]:
        return dict(self._venue.balances())

    def rules(self, asset: str, quote: str) -> MarketRules:
        return self._venue.rules(asset, quote)  # type: ignore[no-any-return]

    def execute(self, plan: TradePlan) -> ExecutionReport:
        return self._venue.execute(plan)  # type: ignore[no-any-return]

    def client_id(self, plan: TradePlan, index: int) -> str:
        return self._venue.client_id(plan, index)  # type: ignore[no-any-return]

    def price(self, asset: str, quote: str) -> Decimal:
        """Last traded price from the exchange ticker."""
        return self._venue.last_price(asset, quote)  # type: ignore[no-any-return]

    def find_fill(self, client_id: str, order: PlannedOrder) -> Fill | None:
        return self._venue.find_fill(client_id, order)  # type: ignore[no-any-return]

    @property
    def market(self) -> Any:
        """The CcxtVenue itself, for market data with history (ticker with its time, OHLCV): service/history.py."""
        return self._venue


def make_tracked_venue(settings: ServiceSettings, spec: PortfolioSpec, costs: CostModel) -> TrackedVenue | None:
    """The portfolio's persistent venue; None for the default ephemeral paper venue (built per cycle)."""
    if spec.venue == "paper":
        if spec.paper_state is None:
            return None
        return DurablePaperExchange(settings.path(spec.paper_state), spec.account_name, costs,
                                    latency_s=spec.paper_latency_ms / 1000)
    from trimtab.adapters.ccxt_venue import CcxtVenue

    exchange = spec.venue.removeprefix("ccxt:")
    creds = str(settings.path(spec.credentials)) if spec.credentials else None
    return CcxtTracked(CcxtVenue(exchange, creds, api_urls=api_urls(exchange, spec.url) if spec.url else None))


def api_urls(exchange: str, base: str) -> dict[str, str]:
    """ccxt `urls['api']` overrides pointing an exchange at `base` (Binance's API families; else public/private)."""
    base = base.rstrip("/")
    if exchange == "binance":
        return {"public": f"{base}/api/v3", "private": f"{base}/api/v3", "v1": f"{base}/api/v1",
                **{f"sapi{v}": f"{base}/sapi/{v.lower() or 'v1'}" for v in ("", "V2", "V3", "V4")}}
    return {"public": base, "private": base}
