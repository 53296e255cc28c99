"""A durable paper exchange: balances and orders in its own SQLite file, orders keyed by client order id.

It behaves like a real venue for crash safety: an order either exists (and moved balances, atomically) or
not; a repeated client id returns the existing order instead of trading twice; orders can be looked up
by client id after a crash; an optional latency before and after each order widens the crash windows.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path

from trimtab.adapters.ccxt_venue.orders import client_order_id
from trimtab.core.base.ports import ExecutionReport, LegFailure
from trimtab.core.base.types import ZERO, Fill, MarketRules, PlannedOrder, Side, TradePlan
from trimtab.core.costs.model import CostModel

SCHEMA = """
CREATE TABLE IF NOT EXISTS balances (account TEXT, asset TEXT, quantity TEXT NOT NULL, PRIMARY KEY (account, asset));
CREATE TABLE IF NOT EXISTS orders (client_id TEXT PRIMARY KEY, account TEXT NOT NULL, asset TEXT NOT NULL,
  quote TEXT NOT NULL, side TEXT NOT NULL, quantity TEXT NOT NULL, price TEXT NOT NULL, fee TEXT NOT NULL,
  slippage TEXT NOT NULL, gas TEXT NOT NULL, gross TEXT NOT NULL, created REAL NOT NULL);
"""


class DurablePaperExchange:
    """Venue for one account of a paper exchange file; fills priced by the cost model at `set_prices` mids."""

    def __init__(
        self, path: str | Path, account: str, costs: CostModel, *, latency_s: float = 0.0, name: str = "paper-exchange"
    ) -> None:
        self.name = name
        self.path = Path(path)
        self.account = account
        self._costs = costs
        self._latency = latency_s
        self._prices: dict[str, Decimal] = {}
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    def fund(self, holdings: Mapping[str, Decimal]) -> bool:
        """Deposit opening balances once; False (no change) if the account already has any balance row."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if self._db.execute("SELECT 1 FROM balances WHERE account=?", (self.account,)).fetchone():
                    self._db.execute("ROLLBACK")
                    return False
                for asset, q in holdings.items():
                    self._db.execute("INSERT INTO balances VALUES (?,?,?)", (self.account, asset, str(q)))
                self._db.execute("COMMIT")
                return True
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def set_prices(self, prices: Mapping[str, Decimal]) -> None:
        self._prices = dict(prices)

    def set_costs(self, costs: CostModel) -> None:
        """Fill with `costs` from now on (the cycle's market-bound model: gas of the day, calibrated impact)."""
        self._costs = costs

    def balances(self) -> dict[str, Decimal]:
        with self._lock:
            rows = self._db.execute("SELECT asset, quantity FROM balances WHERE account=?", (self.account,))
            return {a: Decimal(q) for a, q in rows if Decimal(q)}

    def rules(self, asset: str, quote: str) -> MarketRules:
        return MarketRules(amount_step=ZERO, price_tick=ZERO)

    def client_id(self, plan: TradePlan, index: int) -> str:
        return client_order_id(plan, index, prefix="px", max_len=36)

    def execute(self, plan: TradePlan) -> ExecutionReport:
        fills: list[Fill] = []
        failures: list[LegFailure] = []
        for i, order in enumerate(plan.orders):
            fill, why = self._leg(self.client_id(plan, i), order)
            if fill is not None:
                fills.append(fill)
            else:
                failures.append(LegFailure(order, why))
        return ExecutionReport(tuple(fills), tuple(failures), venue=self.name)

    def find_fill(self, client_id: str, order: PlannedOrder) -> Fill | None:
        """The fill of the order with this client id, or None if the exchange never received it."""
        with self._lock:
            row = self._db.execute("SELECT * FROM orders WHERE client_id=?", (client_id,)).fetchone()
        return None if row is None else _fill(row)

    def _leg(self, cid: str, order: PlannedOrder) -> tuple[Fill | None, str]:
        existing = self.find_fill(cid, order)
        if existing is not None:  # a re-sent client id: the exchange answers with the order it already has
            return existing, ""
        time.sleep(self._latency)  # request in flight
        mid = self._prices.get(order.asset)
        if mid is None or mid <= 0:
            return None, f"no market price for {order.asset}"
        q = self._costs.quote(order.asset, order.side, order.quantity, mid)
        fill = Fill(
            order.asset,
            order.quote,
            order.side,
            order.quantity,
            q.exec_price,
            q.cost.fee,
            q.cost.slippage,
            q.cost.gas,
            order_id=cid,
            gross=q.gross,
        )
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                have = dict(
                    self._db.execute(
                        "SELECT asset, quantity FROM balances WHERE account=? AND asset IN (?,?)",
                        (self.account, order.asset, order.quote),
                    ).fetchall()
                )
                base = Decimal(have.get(order.asset, "0")) + fill.base_delta
                quote = Decimal(have.get(order.quote, "0")) + fill.quote_delta
                if base < 0 or quote < 0:
                    self._db.execute("ROLLBACK")
                    return None, f"insufficient {order.asset if base < 0 else order.quote} balance"
                for asset, qty in ((order.asset, base), (order.quote, quote)):
                    self._db.execute(
                        "INSERT INTO balances VALUES (?,?,?) ON CONFLICT (account, asset) "
                        "DO UPDATE SET quantity=excluded.quantity",
                        (self.account, asset, str(qty)),
                    )
                self._db.execute(
                    "INSERT INTO orders VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        cid,
                        self.account,
                        order.asset,
                        order.quote,
                        order.side.value,
                        str(fill.quantity),
                        str(fill.price),
                        str(fill.fee),
                        str(fill.slippage),
                        str(fill.gas),
                        str(fill.quote_amount),
                        time.time(),
                    ),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        time.sleep(self._latency)  # response in flight
        return fill, ""

    def orders(self) -> list[Fill]:
        """Every order of this account, oldest first (for audits and tests)."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM orders WHERE account=? ORDER BY created", (self.account,))
            return [_fill(r) for r in rows.fetchall()]


def _fill(row: tuple[str, ...]) -> Fill:
    cid, _acct, asset, quote, side, qty, price, fee, slip, gas, gross, _t = row
    return Fill(
        asset,
        quote,
        Side(side),
        Decimal(qty),
        Decimal(price),
        Decimal(fee),
        Decimal(slip),
        Decimal(gas),
        order_id=cid,
        gross=Decimal(gross),
    )
