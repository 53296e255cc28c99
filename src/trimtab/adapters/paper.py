"""Paper venue: fills market orders at the current snapshot's prices through the strategy's cost model."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from decimal import Decimal

from trimtab.core.base.ports import ExecutionReport, LegFailure
from trimtab.core.base.types import ZERO, Fill, MarketRules, Side, TradePlan
from trimtab.core.costs.model import CostModel


class PaperVenue:
    """An exchange simulated in memory: balances, market rules, fills priced by `costs.quote` (estimate == realised)."""

    name = "paper"

    def __init__(
        self,
        balances: Mapping[str, Decimal],
        costs: CostModel,
        prices: Mapping[str, Decimal] | None = None,
        rules: Callable[[str], MarketRules] | None = None,
    ) -> None:
        self._balances: dict[str, Decimal] = {a: q for a, q in balances.items() if q}
        self._costs = costs
        self._prices: dict[str, Decimal] = dict(prices or {})
        self._rules = rules or (lambda _a: MarketRules(amount_step=ZERO, price_tick=ZERO))
        self._seq = 0
        self._run = uuid.uuid4().hex[:10]  # order ids stay unique across runs into one ledger

    def set_prices(self, prices: Mapping[str, Decimal]) -> None:
        """Move the venue's market to a new snapshot."""
        self._prices = dict(prices)

    def set_costs(self, costs: CostModel) -> None:
        """Price fills with `costs` from now on (a time-bound model in backtests: gas of the day)."""
        self._costs = costs

    def balances(self) -> dict[str, Decimal]:
        return {a: q for a, q in self._balances.items() if q}

    def transfer(self, asset: str, amount: Decimal) -> None:
        """An external flow into (+) or out of (-) the account; never below zero."""
        after = self._balances.get(asset, ZERO) + amount
        if after < 0:
            raise ValueError(f"a transfer of {amount} {asset} would leave {after}")
        self._balances[asset] = after

    def rules(self, asset: str, quote: str) -> MarketRules:
        return self._rules(asset)

    def execute(self, plan: TradePlan) -> ExecutionReport:
        """Fill each order in plan order; an order the account cannot afford fails alone, the rest still fill."""
        fills: list[Fill] = []
        failures: list[LegFailure] = []
        for order in plan.orders:
            mid = self._prices.get(order.asset)
            if mid is None or mid <= 0:
                failures.append(LegFailure(order, f"no market price for {order.asset}"))
                continue
            rules = self._rules(order.asset)
            if order.quantity <= 0 or order.quantity * mid < rules.min_notional:
                failures.append(
                    LegFailure(order, f"notional {order.quantity * mid:.2f} below min notional {rules.min_notional}")
                )
                continue
            q = self._costs.quote(order.asset, order.side, order.quantity, mid)
            if order.limit_price is not None and (
                q.exec_price < order.limit_price if order.side is Side.SELL else q.exec_price > order.limit_price
            ):
                failures.append(
                    LegFailure(
                        order,
                        f"limit {order.limit_price} not reached at {q.exec_price:.8f}: cancelled (immediate or cancel)",
                    )
                )
                continue
            self._seq += 1
            fill = Fill(
                order.asset,
                order.quote,
                order.side,
                order.quantity,
                q.exec_price,
                q.cost.fee,
                q.cost.slippage,
                q.cost.gas,
                order_id=f"paper-{self._run}-{self._seq}",
                gross=q.gross,
            )
            base_after = self._balances.get(order.asset, ZERO) + fill.base_delta
            quote_after = self._balances.get(order.quote, ZERO) + fill.quote_delta
            if base_after < 0 or quote_after < 0:
                short = order.asset if base_after < 0 else order.quote
                failures.append(LegFailure(order, f"insufficient {short} balance"))
                continue
            self._balances[order.asset] = base_after
            self._balances[order.quote] = quote_after
            fills.append(fill)
        return ExecutionReport(tuple(fills), tuple(failures), venue=self.name)
