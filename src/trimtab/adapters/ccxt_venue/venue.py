"""CcxtVenue: the Venue port on a real exchange through ccxt, with exact amounts and retry-safe order submission."""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

import ccxt

from trimtab.adapters.ccxt_venue.capabilities import VenueCapabilities, capabilities_for
from trimtab.adapters.ccxt_venue.credentials import Credentials, RedactingLogger
from trimtab.adapters.ccxt_venue.ohlcv import OhlcvBar, backfill_ohlcv, ticker_price
from trimtab.adapters.ccxt_venue.orders import (
    FINAL,
    OrderOutcome,
    client_order_id,
    dec,
    fill_from,
    outcome_of,
    step_from_precision,
    sum_fees,
)
from trimtab.adapters.ccxt_venue.retry import (
    MISCONFIGURED,
    ORDER_REFUSED,
    THROTTLED,
    TRANSIENT,
    RetryPolicy,
    call,
    misconfigured,
    retry_after_seconds,
)
from trimtab.core.base.ports import ExecutionReport, LegFailure
from trimtab.core.base.types import ZERO, Fill, MarketRules, PlannedOrder, Side, TradePlan, asset_symbol, plain
from trimtab.errors import ConfigError, OrderOutcomeUnknown, VenueError, VenueMisconfigured, VenueUnavailable
from trimtab.scrub import scrub

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """How long to wait for an accepted order to reach a final state, and how often to look."""

    timeout: float = 30.0
    interval: float = 0.5


class _LegAborted(Exception):
    """This leg cannot trade (refused, below minimum, unknown market); the plan goes on."""


class CcxtVenue:
    """A ccxt exchange as a Venue. Credentials (a Credentials, a credentials file path, or None for the
    TRIMTAB_<EXCHANGE>_API_KEY/_API_SECRET environment) are held by the ccxt client only, never logged or shown."""

    def __init__(
        self,
        exchange_id: str,
        credentials: Credentials | str | Path | None = None,
        *,
        api_urls: Mapping[str, str] | None = None,
        capabilities: VenueCapabilities | None = None,
        client_config: Mapping[str, Any] | None = None,
        retry: RetryPolicy | None = None,
        poll: PollPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        name: str | None = None,
    ) -> None:
        factory = getattr(ccxt, exchange_id, None) if exchange_id in ccxt.exchanges else None
        if factory is None:
            raise ConfigError(f"unknown ccxt exchange {exchange_id!r}", field="venue")
        creds = credentials if isinstance(credentials, Credentials) else Credentials.resolve(exchange_id, credentials)
        self.name = name or exchange_id
        self.capabilities = capabilities or capabilities_for(exchange_id)
        self._retry = retry or RetryPolicy()
        self._poll = poll or PollPolicy()
        self._sleep = sleep
        options = copy.deepcopy(
            {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in self.capabilities.ccxt_options.items()}
        )
        config: dict[str, Any] = {
            "apiKey": creds.api_key,
            "secret": creds.api_secret,
            "enableRateLimit": True,
            "options": options,
        }
        config.update(client_config or {})
        self._client: Any = factory(config)
        self._client.logger = RedactingLogger(logging.getLogger(f"{__name__}.wire"), (creds.api_key, creds.api_secret))
        if self.capabilities.string_numbers:
            self._client.number = str
        if api_urls:
            api = self._client.urls.get("api")
            self._client.urls["api"] = {**api, **api_urls} if isinstance(api, dict) else dict(api_urls)
        self._markets: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"CcxtVenue(name={self.name!r}, exchange={self._client.id!r})"

    def close(self) -> None:
        """Release the HTTP session."""
        session = getattr(self._client, "session", None)
        if session is not None:
            session.close()

    # -- reads ------------------------------------------------------------------------------------
    def _call(self, op: str, fn: Callable[[], Any]) -> Any:
        return call(fn, venue=self.name, op=op, policy=self._retry, client=self._client, sleep=self._sleep)

    def _market(self, asset: str, quote: str) -> dict[str, Any]:
        if self._markets is None:
            self._markets = self._call("load_markets", self._client.load_markets)
        symbol = f"{asset_symbol(asset)}/{asset_symbol(quote)}"
        market = self._markets.get(symbol)
        if market is None or market.get("spot") is False:
            raise VenueMisconfigured(f"no spot market {symbol}", venue=self.name, op="rules")
        return dict(market)

    def rules(self, asset: str, quote: str) -> MarketRules:
        """Lot step, tick, minimum notional and amount from the exchange's markets."""
        m = self._market(asset, quote)
        precision, limits = m.get("precision") or {}, m.get("limits") or {}
        return MarketRules(
            amount_step=step_from_precision(precision.get("amount"), self._client.precisionMode),
            price_tick=step_from_precision(precision.get("price"), self._client.precisionMode),
            min_notional=dec((limits.get("cost") or {}).get("min")) or ZERO,
            min_amount=dec((limits.get("amount") or {}).get("min")) or ZERO,
        )

    def balances(self) -> dict[str, Decimal]:
        """Total (free + in orders) per asset, canonical symbols, zero balances left out."""
        raw = self._call("fetch_balance", self._client.fetch_balance)
        out: dict[str, Decimal] = {}
        for cur, amount in (raw.get("total") or {}).items():
            value = dec(amount)
            if value:
                out[asset_symbol(cur)] = out.get(asset_symbol(cur), ZERO) + value
        return out

    # -- execution --------------------------------------------------------------------------------
    def client_id(self, plan: TradePlan, index: int) -> str:
        """The client order id this venue sends for leg `index` of `plan` (deterministic, see client_order_id)."""
        return client_order_id(plan, index, max_len=self.capabilities.client_order_id_max_len)

    def last_price(self, asset: str, quote: str) -> Decimal:
        """Last traded price from the exchange ticker."""
        ticker = self._call("fetch_ticker", lambda: self._client.fetch_ticker(f"{asset}/{quote}"))
        return dec(ticker.get("last") or ticker.get("close") or 0) or ZERO

    def find_fill(self, client_id: str, order: PlannedOrder) -> Fill | None:
        """What the order sent with `client_id` filled (None if the exchange has no such order or it filled nothing):
        how a restarted service reconciles a journaled leg. An order still open is settled (polled, then cancelled)."""
        caps = self.capabilities
        if not caps.fetch_order_by_client_id:
            raise VenueMisconfigured(
                f"{self.name} cannot look orders up by client id", venue=self.name, op="fetch_order"
            )
        symbol = f"{order.asset}/{order.quote}"
        found = self._by_client_id(symbol, client_id)
        if found is None:
            return None
        outcome = self._settle(symbol, found)  # final status and fees (from the order's trades if needed)
        return fill_from(order, outcome)[0] if outcome.filled > 0 else None

    def execute(self, plan: TradePlan) -> ExecutionReport:
        """Each leg in plan order. A refused leg is reported and the rest go on; auth errors and exhausted
        retries raise, with what already filled attached as `err.partial_report`."""
        fills: list[Fill] = []
        failures: list[LegFailure] = []
        notes: list[str] = []
        try:
            for index, order in enumerate(plan.orders):
                try:
                    fill, failure, note = self._leg(plan, index, order)
                except _LegAborted as e:
                    log.info("%s leg %d %s %s aborted: %s", self.name, index, order.side.value, order.asset, e)
                    failures.append(LegFailure(order, str(e)))
                    continue
                fills.extend([fill] if fill else [])
                failures.extend([failure] if failure else [])
                notes.extend([note] if note else [])
        except VenueError as err:
            err.partial_report = ExecutionReport(tuple(fills), tuple(failures), self.name, tuple(notes))
            raise
        return ExecutionReport(tuple(fills), tuple(failures), venue=self.name, notes=tuple(notes))

    def _leg(self, plan: TradePlan, index: int, order: PlannedOrder) -> tuple[Fill | None, LegFailure | None, str]:
        try:
            market = self._market(order.asset, order.quote)
        except VenueMisconfigured as e:
            raise _LegAborted(str(e)) from e
        symbol = market["symbol"]
        amount = self._amount(symbol, order.quantity)
        rules = self.rules(order.asset, order.quote)
        if amount < rules.min_amount:
            raise _LegAborted(f"quantity {plain(amount)} below minimum amount {plain(rules.min_amount)} {order.asset}")
        notional = amount * order.price
        if notional < rules.min_notional:
            raise _LegAborted(
                f"notional {plain(notional)} below minimum notional {plain(rules.min_notional)} {order.quote}"
            )
        cid = client_order_id(plan, index, max_len=self.capabilities.client_order_id_max_len)
        started = self._client.milliseconds()
        placed = self._submit(symbol, order, amount, cid, started)
        outcome = self._settle(symbol, placed)
        note = "" if amount == order.quantity else f"{order.asset} quantity rounded {order.quantity} -> {amount}"
        fill: Fill | None = None
        if outcome.filled > 0:
            fill, fee_note = fill_from(order, outcome)
            note = "; ".join(n for n in (note, fee_note) if n)
        failure = None
        if outcome.filled < amount:
            failure = LegFailure(
                order,
                f"order {outcome.order_id} {outcome.status or 'unknown'}: "
                f"filled {plain(outcome.filled)} of {plain(amount)}",
                filled_quantity=outcome.filled,
            )
        log.info(
            "%s %s %s %s: %s, filled %s @ %s (client id %s)",
            self.name,
            order.side.value,
            plain(amount),
            symbol,
            outcome.status,
            plain(outcome.filled),
            plain(outcome.average),
            cid,
        )
        return fill, failure, note

    def _amount(self, symbol: str, quantity: Decimal) -> Decimal:
        """The quantity through the exchange's own precision (truncated), as Decimal."""
        try:
            text = self._client.amount_to_precision(symbol, str(quantity))
        except ccxt.InvalidOrder as e:
            raise _LegAborted(f"quantity {quantity} below the lot step: {scrub(e)}") from e
        amount = dec(text)
        if amount is None or amount <= 0:
            raise _LegAborted(f"quantity {quantity} rounds to zero at the exchange's precision")
        return amount

    def _limit_text(self, symbol: str, order: PlannedOrder) -> str:
        """The IOC limit on the market's tick, rounded toward the safe side (up for a sell floor, down for a buy
        cap)."""
        if order.limit_price is None:
            raise RuntimeError("internal invariant broken: expected order.limit_price is not None")
        tick = self.rules(order.asset, order.quote).price_tick
        if tick <= 0:
            return plain(order.limit_price)
        rounding = ROUND_CEILING if order.side is Side.SELL else ROUND_FLOOR
        return plain((order.limit_price / tick).to_integral_value(rounding=rounding) * tick)

    def _submit(self, symbol: str, order: PlannedOrder, amount: Decimal, cid: str, started: int) -> dict[str, Any]:
        """Place a market order at most once. Only a refusal before processing (429) is re-sent; after an
        ambiguous failure (timeout, 5xx) the client id is looked up through the grace window, and an order
        still not found raises OrderOutcomeUnknown: never re-sent, the journal keeps the leg open."""
        caps = self.capabilities
        kind, price = ("market", None) if order.limit_price is None else ("limit", self._limit_text(symbol, order))
        params = {
            **(caps.market_order_params if price is None else {"timeInForce": "IOC"}),
            caps.client_order_id_param: cid,
        }
        last: Exception | None = None
        throttled = False
        for attempt in range(self._retry.attempts):
            if attempt:
                wait = self._retry.delay(
                    attempt - 1, retry_after_seconds(self._client) if isinstance(last, THROTTLED) else None
                )
                self._sleep(wait)
            try:
                placed: dict[str, Any] = self._client.create_order(
                    symbol, kind, order.side.value, str(amount), price, dict(params)
                )
                return placed
            except MISCONFIGURED as e:
                raise misconfigured(e, self.name, "create_order") from e
            except THROTTLED as e:  # refused before processing: nothing to look up, safe to re-send
                last, throttled = e, True
            except TRANSIENT as e:  # timeout / 5xx: the order may exist, now or a little later
                return self._await_lookup(symbol, cid, started, e)
            except ORDER_REFUSED as e:
                if throttled and "duplicate" in str(e).lower():  # an earlier attempt did land after all
                    return self._await_lookup(symbol, cid, started, e)
                raise _LegAborted(f"rejected: {type(e).__name__}: {scrub(e)}") from e
            except ccxt.BaseError as e:
                raise VenueError(f"{type(e).__name__}: {scrub(e)}", venue=self.name, op="create_order") from e
            log.warning("%s create_order %s: %s (attempt %d)", self.name, cid, type(last).__name__, attempt + 1)
        raise VenueUnavailable(
            f"order {cid} not placed after {self._retry.attempts} attempts: {scrub(last)}",
            venue=self.name,
            op="create_order",
        ) from last

    def _by_client_id(self, symbol: str, cid: str) -> dict[str, Any] | None:
        """The exchange's order with client id `cid` (None when the exchange has no such order)."""
        param = self.capabilities.client_id_query_param
        try:
            found: dict[str, Any] = self._call(
                "fetch_order", lambda: self._client.fetch_order(None, symbol, {param: cid})
            )
        except VenueError as e:
            if isinstance(e.__cause__, ccxt.OrderNotFound):
                return None
            raise
        return found

    def _await_lookup(self, symbol: str, cid: str, started: int, cause: Exception) -> dict[str, Any]:
        """Our order after an ambiguous submission, polled for the grace window; OrderOutcomeUnknown if it
        never shows up (or cannot be looked up): re-sending could buy twice."""

        def unknown(why: str) -> OrderOutcomeUnknown:
            return OrderOutcomeUnknown(
                f"order {cid} outcome unknown after {type(cause).__name__} ({why}); not re-sent",
                client_id=cid,
                venue=self.name,
                op="create_order",
            )

        if not self.capabilities.fetch_order_by_client_id:
            raise unknown(f"{self.name} cannot look orders up by client id") from cause
        lookups = self._retry.lookups
        for n in range(lookups):
            if n:
                self._sleep(self._retry.lookup_interval)
            try:
                found = self._lookup(symbol, cid, started, cause)
            except VenueMisconfigured:
                raise
            except VenueError as e:
                raise unknown(f"lookup failed: {e}") from e
            if found is not None:
                return found
        raise unknown(f"not found in {lookups} lookup(s) over {self._retry.lookup_grace:g} s") from cause

    def _lookup(self, symbol: str, cid: str, started: int, cause: Exception) -> dict[str, Any] | None:
        """The order with our client id if it exists and is ours (not an older order that reused the id)."""
        found = self._by_client_id(symbol, cid)
        if found is None:
            return None
        ts = found.get("timestamp")
        window = int(self._client.options.get("recvWindow") or 60_000)
        if ts is not None and int(ts) < started - window:
            raise _LegAborted(f"client order id {cid} belongs to an earlier order; not re-sent")
        log.info("%s found order %s by client id %s after %s", self.name, found.get("id"), cid, type(cause).__name__)
        return found

    def _settle(self, symbol: str, placed: dict[str, Any]) -> OrderOutcome:
        """Poll until final (bounded); cancel what is still open; fetch trades if fees were not reported."""
        order_id = str(placed.get("id") or "")
        current = placed
        deadline = time.monotonic() + self._poll.timeout
        while outcome_of(current).status not in FINAL:
            if time.monotonic() >= deadline:
                self._cancel(symbol, order_id)
                current = self._call("fetch_order", lambda: self._client.fetch_order(order_id, symbol))
                break
            self._sleep(self._poll.interval)
            current = self._call("fetch_order", lambda: self._client.fetch_order(order_id, symbol))
        outcome = outcome_of(current)
        if outcome.filled > 0 and outcome.fees is None and self.capabilities.fees_from_order_trades:
            trades = self._call("fetch_order_trades", lambda: self._client.fetch_order_trades(order_id, symbol))
            fees = sum_fees(fee for t in trades for fee in (t.get("fees") or [t.get("fee")]) if fee)
            outcome = OrderOutcome(
                outcome.order_id, outcome.status, outcome.filled, outcome.cost, fees, outcome.timestamp
            )
        return outcome

    def _cancel(self, symbol: str, order_id: str) -> None:
        try:
            self._call("cancel_order", lambda: self._client.cancel_order(order_id, symbol))
        except VenueError as e:
            if not isinstance(e.__cause__, ccxt.OrderNotFound):  # already final: nothing to cancel
                raise

    # -- market data for the service's price store (adapters/ccxt_venue/ohlcv.py) -----------------
    def ticker(self, asset: str, quote: str) -> tuple[Decimal, datetime]:
        """Last price and the ticker's own timestamp."""
        return ticker_price(self._client, f"{asset_symbol(asset)}/{asset_symbol(quote)}", request=self._call)

    def ohlcv(self, asset: str, quote: str, timeframe: str, since: datetime, until: datetime) -> list[OhlcvBar]:
        """Closed candles from `since` to `until`, paged and rate-limited."""
        return backfill_ohlcv(
            self._client,
            f"{asset_symbol(asset)}/{asset_symbol(quote)}",
            timeframe,
            since,
            until,
            request=self._call,
            sleep=self._sleep,
        )
