"""The exchange behind the local Binance server: symbols with filters, order books, accounts, orders, fills.

Errors carry Binance's real codes and messages (spot REST API v3 "Error codes" page), so ccxt maps them
exactly as it maps production responses.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

ZERO = Decimal(0)
EIGHT = Decimal("1e-8")


class BinanceError(Exception):
    """An error response: HTTP status plus Binance's {"code", "msg"} body."""

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(f"{status} {code} {msg}")
        self.status = status
        self.code = code
        self.msg = msg


def bad(code: int, msg: str) -> BinanceError:
    return BinanceError(400, code, msg)


def fmt(d: Decimal) -> str:
    """Binance's 8-decimal strings, widened when a value carries more digits so nothing is lost."""
    exp = d.normalize().as_tuple().exponent
    places = max(8, -exp) if isinstance(exp, int) else 8
    return f"{d:.{places}f}"


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class SymbolSpec:
    """One spot market with the filters Binance publishes in exchangeInfo."""

    base: str
    quote: str
    tick_size: Decimal = Decimal("0.01")
    min_price: Decimal = Decimal("0.01")
    max_price: Decimal = Decimal("1000000")
    step_size: Decimal = Decimal("0.00001")
    min_qty: Decimal = Decimal("0.00001")
    max_qty: Decimal = Decimal("9000")
    min_notional: Decimal = Decimal("5")
    notional_filter: str = "NOTIONAL"  # or the legacy "MIN_NOTIONAL"
    status: str = "TRADING"

    @property
    def symbol(self) -> str:
        return self.base + self.quote

    def info(self) -> dict[str, object]:
        notional: dict[str, object] = {"filterType": self.notional_filter, "minNotional": fmt(self.min_notional)}
        if self.notional_filter == "NOTIONAL":
            notional |= {
                "applyMinToMarket": True,
                "maxNotional": "9000000.00000000",
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            }
        else:
            notional |= {"applyToMarket": True, "avgPriceMins": 5}
        return {
            "symbol": self.symbol,
            "status": self.status,
            "baseAsset": self.base,
            "baseAssetPrecision": 8,
            "quoteAsset": self.quote,
            "quotePrecision": 8,
            "quoteAssetPrecision": 8,
            "baseCommissionPrecision": 8,
            "quoteCommissionPrecision": 8,
            "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
            "icebergAllowed": True,
            "ocoAllowed": True,
            "quoteOrderQtyMarketAllowed": True,
            "allowTrailingStop": True,
            "cancelReplaceAllowed": True,
            "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": False,
            "filters": [
                {
                    "filterType": "PRICE_FILTER",
                    "minPrice": fmt(self.min_price),
                    "maxPrice": fmt(self.max_price),
                    "tickSize": fmt(self.tick_size),
                },
                {
                    "filterType": "LOT_SIZE",
                    "minQty": fmt(self.min_qty),
                    "maxQty": fmt(self.max_qty),
                    "stepSize": fmt(self.step_size),
                },
                notional,
            ],
            "permissions": [],
            "permissionSets": [["SPOT"]],
            "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
            "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
        }


@dataclass
class Book:
    """Price levels [price, quantity]: bids best (highest) first, asks best (lowest) first."""

    bids: list[list[Decimal]] = field(default_factory=list)
    asks: list[list[Decimal]] = field(default_factory=list)

    def mid(self) -> Decimal:
        if self.bids and self.asks:
            return (self.bids[0][0] + self.asks[0][0]) / 2
        side = self.bids or self.asks
        return side[0][0] if side else ZERO


@dataclass
class Order:
    account: str
    symbol: str
    order_id: int
    client_order_id: str
    side: str
    type: str
    time_in_force: str
    price: Decimal
    orig_qty: Decimal
    time: int
    status: str = "NEW"
    executed_qty: Decimal = ZERO
    cum_quote: Decimal = ZERO
    update_time: int = 0
    locked: Decimal = ZERO  # what a resting order holds back (quote for buys, base for sells)
    fills: list[dict[str, object]] = field(default_factory=list)
    expire_on_query: bool = False  # a partial fill reported as PARTIALLY_FILLED, EXPIRED when next looked at

    def view(self) -> dict[str, object]:
        """The GET /api/v3/order shape."""
        return {
            "symbol": self.symbol,
            "orderId": self.order_id,
            "orderListId": -1,
            "clientOrderId": self.client_order_id,
            "price": fmt(self.price),
            "origQty": fmt(self.orig_qty),
            "executedQty": fmt(self.executed_qty),
            "cummulativeQuoteQty": fmt(self.cum_quote),
            "status": self.status,
            "timeInForce": self.time_in_force,
            "type": self.type,
            "side": self.side,
            "stopPrice": fmt(ZERO),
            "icebergQty": fmt(ZERO),
            "time": self.time,
            "updateTime": self.update_time,
            "isWorking": True,
            "workingTime": self.time,
            "origQuoteOrderQty": fmt(ZERO),
            "selfTradePreventionMode": "EXPIRE_MAKER",
        }

    def response(self, resp_type: str) -> dict[str, object]:
        """The POST /api/v3/order shape for newOrderRespType ACK, RESULT or FULL."""
        ack: dict[str, object] = {
            "symbol": self.symbol,
            "orderId": self.order_id,
            "orderListId": -1,
            "clientOrderId": self.client_order_id,
            "transactTime": self.time,
        }
        if resp_type == "ACK":
            return ack
        view = self.view()
        for k in ("stopPrice", "icebergQty", "time", "updateTime", "isWorking"):
            view.pop(k)
        out = ack | view
        if resp_type == "FULL":
            out["fills"] = [
                {k: v for k, v in f.items() if k in ("price", "qty", "commission", "commissionAsset", "tradeId")}
                for f in self.fills
            ]
        return out


def _on_step(value: Decimal, start: Decimal, step: Decimal) -> bool:
    return step <= 0 or (value - start) % step == 0


class Exchange:
    """Symbols, books and accounts behind one lock; the HTTP layer only parses and formats."""

    def __init__(self, symbols: list[SymbolSpec], *, fee_bps: Decimal = Decimal(10), fee_in: str = "quote") -> None:
        self.symbols = {s.symbol: s for s in symbols}
        self.books = {s.symbol: Book() for s in symbols}
        self.fee_rate = fee_bps / Decimal(10_000)
        self.fee_in = fee_in  # "quote": taker fee always in quote; "received": in the asset received (Binance default)
        self.accounts: dict[str, dict[str, list[Decimal]]] = {}
        self.orders: dict[int, Order] = {}
        self.lock = threading.RLock()
        self._next_order = 1000
        self._next_trade = 5000
        self.fill_fraction: dict[str, Decimal] = {}  # symbol -> fraction of the next market order to fill
        self.hold_open: set[str] = set()  # symbols whose partial fills stay PARTIALLY_FILLED until canceled
        self.daily: dict[str, list[tuple[int, Decimal, Decimal]]] = {}  # symbol -> closed days (open ms, close, volume)
        self.ticker_time_ms: int | None = None  # the tickers' closeTime (None: now)

    # -- setup ------------------------------------------------------------------------------------
    def set_book(self, symbol: str, bids: list[tuple[Decimal, Decimal]], asks: list[tuple[Decimal, Decimal]]) -> None:
        with self.lock:
            self.books[symbol] = Book(
                sorted(([p, q] for p, q in bids), key=lambda lv: -lv[0]),
                sorted(([p, q] for p, q in asks), key=lambda lv: lv[0]),
            )

    def set_daily(self, symbol: str, days: list[tuple[int, Decimal, Decimal]]) -> None:
        """Closed daily candles (open time ms at 00:00 UTC, close, base volume), served by GET /api/v3/klines."""
        with self.lock:
            self.daily[self.spec(symbol).symbol] = sorted(days)

    def deposit(self, account: str, asset: str, amount: Decimal) -> None:
        with self.lock:
            bal = self.accounts.setdefault(account, {}).setdefault(asset, [ZERO, ZERO])
            bal[0] += amount

    def balance(self, account: str, asset: str) -> Decimal:
        """Free plus locked."""
        with self.lock:
            free, locked = self.accounts.get(account, {}).get(asset, [ZERO, ZERO])
            return free + locked

    # -- queries ----------------------------------------------------------------------------------
    def spec(self, symbol: str | None) -> SymbolSpec:
        if not symbol:
            raise bad(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
        if symbol not in self.symbols:
            raise bad(-1121, "Invalid symbol.")
        return self.symbols[symbol]

    def account_view(self, account: str, fee_bps: Decimal) -> dict[str, object]:
        with self.lock:
            bals = [
                {"asset": a, "free": fmt(f), "locked": fmt(lk)}
                for a, (f, lk) in sorted(self.accounts.get(account, {}).items())
            ]
        rate = fmt(self.fee_rate)
        return {
            "makerCommission": int(fee_bps),
            "takerCommission": int(fee_bps),
            "buyerCommission": 0,
            "sellerCommission": 0,
            "commissionRates": {"maker": rate, "taker": rate, "buyer": "0.00000000", "seller": "0.00000000"},
            "canTrade": True,
            "canWithdraw": True,
            "canDeposit": True,
            "brokered": False,
            "requireSelfTradePrevention": False,
            "preventSor": False,
            "updateTime": now_ms(),
            "accountType": "SPOT",
            "balances": bals,
            "permissions": ["SPOT"],
            "uid": abs(hash(account)) % 10**9,
        }

    def find(self, account: str, symbol: str, order_id: str | None, client_id: str | None) -> Order:
        """GET /api/v3/order: by orderId or origClientOrderId; a pending partial fill expires on this look."""
        self.spec(symbol)
        if order_id is None and client_id is None:
            raise bad(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
        with self.lock:
            for o in self.orders.values():
                if o.account != account or o.symbol != symbol:
                    continue
                if (order_id is not None and str(o.order_id) == order_id) or (
                    order_id is None and o.client_order_id == client_id
                ):
                    if o.expire_on_query:
                        o.expire_on_query, o.status, o.update_time = False, "EXPIRED", now_ms()
                    return o
        raise bad(-2013, "Order does not exist.")

    def open_orders(self, account: str, symbol: str | None) -> list[Order]:
        with self.lock:
            return [
                o
                for o in self.orders.values()
                if o.account == account
                and o.status in ("NEW", "PARTIALLY_FILLED")
                and (symbol is None or o.symbol == symbol)
                and not o.expire_on_query
            ]

    def trades(self, account: str, symbol: str, order_id: str | None) -> list[dict[str, object]]:
        self.spec(symbol)
        with self.lock:
            return [
                f
                | {
                    "symbol": o.symbol,
                    "orderId": o.order_id,
                    "orderListId": -1,
                    "isBuyer": o.side == "BUY",
                    "isMaker": False,
                    "isBestMatch": True,
                }
                for o in self.orders.values()
                if o.account == account and o.symbol == symbol and (order_id is None or str(o.order_id) == order_id)
                for f in o.fills
            ]

    def klines_view(self, symbol: str, p: dict[str, str]) -> list[list[object]]:
        """GET /api/v3/klines, interval 1d: closed days plus today's open candle at the book's mid, Binance's shape
        [openTime, open, high, low, close, volume, closeTime, quoteVolume, trades, takerBase, takerQuote, "0"]."""
        if p.get("interval") != "1d":
            raise bad(-1120, "Invalid interval.")
        try:
            limit = int(p.get("limit", "500"))
            start = int(p["startTime"]) if "startTime" in p else None
            end = int(p["endTime"]) if "endTime" in p else None
        except ValueError:
            raise bad(-1100, "Illegal characters found in a parameter.") from None
        if not 1 <= limit <= 1000:
            raise bad(-1130, "Invalid data sent for a parameter.")
        with self.lock:
            days = list(self.daily.get(symbol, []))
            mid = self.books[symbol].mid()
        day = 86_400_000
        today = now_ms() // day * day
        if days and days[-1][0] + day <= today and mid > 0:
            days.append((today, mid, ZERO))  # the candle still open now
        rows: list[list[object]] = []
        prev = days[0][1] if days else ZERO
        for opened, close, volume in days:
            first = prev
            prev = close
            if (start is not None and opened < start) or (end is not None and opened > end):
                continue
            rows.append(
                [
                    opened,
                    fmt(first),
                    fmt(max(first, close)),
                    fmt(min(first, close)),
                    fmt(close),
                    fmt(volume),
                    opened + day - 1,
                    fmt(volume * close),
                    100,
                    fmt(ZERO),
                    fmt(ZERO),
                    "0",
                ]
            )
        return rows[:limit] if start is not None else rows[-limit:]  # Binance: from startTime, else the latest

    # -- orders -----------------------------------------------------------------------------------
    def cancel(self, account: str, symbol: str, order_id: str | None, client_id: str | None) -> Order:
        with self.lock:
            try:
                o = self.find(account, symbol, order_id, client_id)
            except BinanceError:
                raise bad(-2011, "Unknown order sent.") from None
            if o.status not in ("NEW", "PARTIALLY_FILLED"):
                raise bad(-2011, "Unknown order sent.")
            spec = self.symbols[symbol]
            self._move(account, spec.quote if o.side == "BUY" else spec.base, -o.locked, locking=True)
            o.locked, o.status, o.update_time = ZERO, "CANCELED", now_ms()
            return o

    def place(self, account: str, p: dict[str, str]) -> Order:
        """POST /api/v3/order for MARKET and LIMIT: validate, check funds, match against the book."""
        spec = self.spec(p.get("symbol"))
        side, otype = p.get("side", ""), p.get("type", "")
        if side not in ("BUY", "SELL"):
            raise bad(-1117, "Invalid side.")
        if otype not in ("MARKET", "LIMIT"):
            raise bad(-1116, "Invalid orderType.")
        qty = self._decimal(p, "quantity")
        tif = p.get("timeInForce", "GTC" if otype == "LIMIT" else "")
        price = ZERO
        if otype == "LIMIT":
            if "timeInForce" not in p:
                raise bad(-1102, "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed.")
            if tif not in ("GTC", "IOC", "FOK"):
                raise bad(-1115, "Invalid timeInForce.")
            price = self._decimal(p, "price")
            if price < spec.min_price or price > spec.max_price or not _on_step(price, spec.min_price, spec.tick_size):
                raise bad(-1013, "Filter failure: PRICE_FILTER")
        if qty < spec.min_qty or qty > spec.max_qty or not _on_step(qty, spec.min_qty, spec.step_size):
            raise bad(-1013, "Filter failure: LOT_SIZE")
        with self.lock:
            book = self.books[spec.symbol]
            ref_price = price if otype == "LIMIT" else book.mid()
            if qty * ref_price < spec.min_notional:
                raise bad(-1013, f"Filter failure: {spec.notional_filter}")
            cid = p.get("newClientOrderId") or f"srv{self._next_order}"
            if any(o.account == account and o.client_order_id == cid for o in self.orders.values()):
                raise bad(-2010, "Duplicate order sent.")
            return self._match(account, spec, side, otype, tif, price, qty, cid)

    def _match(
        self, account: str, spec: SymbolSpec, side: str, otype: str, tif: str, price: Decimal, qty: Decimal, cid: str
    ) -> Order:
        book = self.books[spec.symbol]
        levels = book.asks if side == "BUY" else book.bids
        target = qty
        fraction = self.fill_fraction.get(spec.symbol) if otype == "MARKET" else None
        if fraction is not None:
            target = (qty * fraction / spec.step_size).to_integral_value(ROUND_DOWN) * spec.step_size
        takes: list[tuple[int, Decimal, Decimal]] = []
        left = target
        for i, (lp, lq) in enumerate(levels):
            if left <= 0 or (otype == "LIMIT" and (lp > price if side == "BUY" else lp < price)):
                break
            take = min(lq, left)
            takes.append((i, lp, take))
            left -= take
        filled = target - left
        if otype == "LIMIT" and tif == "FOK" and filled < qty:
            takes, filled = [], ZERO
        fees = [self._fee(tp * tq if self.fee_in == "quote" or side == "SELL" else tq) for _, tp, tq in takes]
        cost = sum((tp * tq for _, tp, tq in takes), ZERO)
        fee_total = sum(fees, ZERO)
        fee_asset = spec.quote if self.fee_in == "quote" or side == "SELL" else spec.base
        rests = otype == "LIMIT" and tif == "GTC" and filled < qty
        lock = ZERO
        if rests:
            lock = (qty - filled) * price * (1 + self.fee_rate) if side == "BUY" else qty - filled
        if side == "BUY":
            need_asset, need = spec.quote, cost + (fee_total if fee_asset == spec.quote else ZERO) + lock
        else:
            need_asset, need = spec.base, qty
        if need > self.accounts.get(account, {}).get(need_asset, [ZERO, ZERO])[0]:
            raise bad(-2010, "Account has insufficient balance for requested action.")
        if fraction is not None:
            del self.fill_fraction[spec.symbol]
        ts = now_ms()
        self._next_order += 1
        o = Order(
            account, spec.symbol, self._next_order, cid, side, otype, tif or "GTC", price, qty, ts, update_time=ts
        )
        for (i, tp, tq), fee in zip(takes, fees, strict=True):
            levels[i][1] -= tq
            self._next_trade += 1
            o.fills.append(
                {
                    "price": fmt(tp),
                    "qty": fmt(tq),
                    "quoteQty": fmt(tp * tq),
                    "commission": fmt(fee),
                    "commissionAsset": fee_asset,
                    "tradeId": self._next_trade,
                    "id": self._next_trade,
                    "time": ts,
                }
            )
        levels[:] = [lv for lv in levels if lv[1] > 0]
        base_in, quote_in = (filled, -cost) if side == "BUY" else (-filled, cost)
        if fee_asset == spec.quote:
            quote_in -= fee_total
        else:
            base_in -= fee_total
        self._move(account, spec.base, base_in)
        self._move(account, spec.quote, quote_in)
        if rests:
            self._move(account, need_asset, lock, locking=True)
        o.executed_qty, o.cum_quote, o.locked = filled, cost, lock
        if filled == qty:
            o.status = "FILLED"
        elif fraction is not None:
            o.status, o.expire_on_query = "PARTIALLY_FILLED", spec.symbol not in self.hold_open
        else:
            o.status = ("PARTIALLY_FILLED" if filled else "NEW") if rests else "EXPIRED"
        self.orders[o.order_id] = o
        return o

    def _fee(self, amount: Decimal) -> Decimal:
        return (amount * self.fee_rate).quantize(EIGHT, rounding=ROUND_HALF_UP)

    def _move(self, account: str, asset: str, amount: Decimal, *, locking: bool = False) -> None:
        """Credit free balance by `amount`; with `locking`, move `amount` from free to locked instead."""
        bal = self.accounts.setdefault(account, {}).setdefault(asset, [ZERO, ZERO])
        bal[0] += -amount if locking else amount
        if locking:
            bal[1] += amount

    @staticmethod
    def _decimal(p: dict[str, str], name: str) -> Decimal:
        raw = p.get(name)
        if not raw:
            raise bad(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
        try:
            value = Decimal(raw)
        except ArithmeticError:
            raise bad(
                -1100,
                f"Illegal characters found in parameter '{name}'; legal range is "
                "'^([0-9]{1,20})(\\.[0-9]{1,20})?$'.",
            ) from None
        if not value.is_finite() or value <= 0:
            raise bad(-1100, f"Illegal characters found in parameter '{name}'.")
        return value
