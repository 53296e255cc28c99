"""Venues that name client order ids up front and find orders by them: what the journal needs of a venue."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from trimtab.adapters.ccxt_venue.orders import client_order_id
from trimtab.adapters.paper import PaperVenue
from trimtab.core.base.ports import ExecutionReport
from trimtab.core.base.types import Fill, MarketRules, PlannedOrder, TradePlan
from trimtab.core.costs.model import CostModel


class EphemeralPaper:
    """The in-memory paper venue mirroring the ledger each cycle; it dies with the process, so after a crash
    no order of it exists (find_fill is always None) and the journal marks the legs not filled. Its legs fill in
    one call, so the journal marks them sent together (one write, not one per leg)."""

    name = "paper"
    atomic_batches = True

    def __init__(
        self,
        balances: Mapping[str, Decimal],
        costs: CostModel,
        prices: Mapping[str, Decimal],
        rules: Callable[[str], MarketRules] | None = None,
    ) -> None:
        self._venue = PaperVenue(balances, costs, prices, rules)

    def set_prices(self, prices: Mapping[str, Decimal]) -> None:
        self._venue.set_prices(prices)

    def set_costs(self, costs: CostModel) -> None:
        self._venue.set_costs(costs)

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
    """A CcxtVenue plus order lookup by client id (the same ids CcxtVenue derives when it sends); a sent order
    the exchange does not list stays unknown for `lookup_grace_s` (exchanges list new orders with a delay)."""

    def __init__(self, venue: Any, lookup_grace_s: float = 600.0) -> None:
        self._venue = venue
        self.name: str = venue.name
        self.lookup_grace_s = lookup_grace_s

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

    def close(self) -> None:
        self._venue.close()

    @property
    def market(self) -> Any:
        """The CcxtVenue itself, for market data with history (ticker with its time, OHLCV): service/history.py."""
        return self._venue

    def price(self, asset: str, quote: str) -> Decimal:
        """Last traded price from the exchange ticker."""
        return self._venue.last_price(asset, quote)  # type: ignore[no-any-return]

    def find_fill(self, client_id: str, order: PlannedOrder) -> Fill | None:
        return self._venue.find_fill(client_id, order)  # type: ignore[no-any-return]


class DexTracked:
    """The DEX venue with client ids per leg; fills are found by id in what this process executed.

    A transaction's outcome after a crash is not looked up on chain yet: such a leg reconciles as not found."""

    atomic_batches = True

    def __init__(self, venue: Any) -> None:
        self._venue = venue
        self.name: str = venue.name
        self._fills: dict[str, Fill] = {}

    @property
    def dex(self) -> Any:
        """The DexVenue itself (its last execution's transactions, settings)."""
        return self._venue

    @property
    def address(self) -> str:
        return str(self._venue.address)

    def chain_time(self) -> Any:
        """The latest block's timestamp: the time of the pools' prices."""
        from datetime import UTC, datetime

        return datetime.fromtimestamp(int(self._venue.w3.eth.get_block("latest")["timestamp"]), UTC)

    def preview(self, plan: TradePlan) -> Any:
        """The venue's own pre-flight (routes, sizes) on the current pools."""
        return self._venue.preview(plan)

    def balances(self) -> dict[str, Decimal]:
        return dict(self._venue.balances())

    def rules(self, asset: str, quote: str) -> MarketRules:
        return self._venue.rules(asset, quote)  # type: ignore[no-any-return]

    def mid_prices(self, assets: list[str] | tuple[str, ...], quote: str) -> dict[str, Decimal]:
        return self._venue.mid_prices(assets, quote)  # type: ignore[no-any-return]

    def execute(self, plan: TradePlan) -> ExecutionReport:
        report: ExecutionReport = self._venue.execute(plan)
        for i, f in enumerate(report.fills):
            self._fills[self.client_id(plan, i)] = f
        return report

    def client_id(self, plan: TradePlan, index: int) -> str:
        return f"{plan.plan_id}:{index}"

    def find_fill(self, client_id: str, order: PlannedOrder) -> Fill | None:
        return self._fills.get(client_id)

    def close(self) -> None:
        """Nothing to release: web3 HTTP sessions close with the process."""


class PlannedFills:
    """The paper venue of yield portfolios: each leg fills at its planned price and costs, which
    core.yields.trades computed exactly (index, swap fee and slippage, gas); one batch, like the chain's."""

    name = "paper-yield"
    atomic_batches = True

    def __init__(self, balances: Mapping[str, Decimal]) -> None:
        self._balances = {a: q for a, q in balances.items() if q}

    def balances(self) -> dict[str, Decimal]:
        return dict(self._balances)

    def rules(self, asset: str, quote: str) -> MarketRules:
        return MarketRules()

    def execute(self, plan: TradePlan) -> ExecutionReport:
        fills = tuple(
            Fill(
                o.asset,
                o.quote,
                o.side,
                o.quantity,
                o.exec_price,
                o.cost.fee,
                o.cost.slippage,
                o.cost.gas,
                self.client_id(plan, i),
                gross=o.gross,
            )
            for i, o in enumerate(plan.orders)
        )
        for f in fills:
            self._balances[f.asset] = self._balances.get(f.asset, Decimal(0)) + f.base_delta
            self._balances[f.quote] = self._balances.get(f.quote, Decimal(0)) + f.quote_delta
        return ExecutionReport(fills, venue=self.name)

    def client_id(self, plan: TradePlan, index: int) -> str:
        return f"{plan.plan_id}:{index}"

    def find_fill(self, client_id: str, order: PlannedOrder) -> Fill | None:
        return None  # it dies with the process, like EphemeralPaper: after a crash no leg of it exists
