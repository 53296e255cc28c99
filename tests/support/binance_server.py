"""A real HTTP server on 127.0.0.1 speaking the subset of Binance's spot REST API v3 that ccxt's `binance` uses.

Signed endpoints check X-MBX-APIKEY, the HMAC-SHA256 signature over query string + body (Binance's
"SIGNED endpoint security"), timestamp and recvWindow. Faults (timeouts, 429, 5xx, partial fills,
rejections) are injected through `BinanceServer.inject`, a Python method, never over HTTP.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.support.binance_exchange import BinanceError, Exchange, Order, bad, fmt, now_ms

API_KEY_FORMAT = re.compile(r"^[A-Za-z0-9]{64}$")
PUBLIC = {
    "/api/v3/ping",
    "/api/v3/time",
    "/api/v3/exchangeInfo",
    "/api/v3/depth",
    "/api/v3/ticker/24hr",
    "/api/v3/ticker/price",
    "/api/v3/ticker/bookTicker",
    "/api/v3/avgPrice",
    "/api/v3/klines",
}
SIGNED = {
    ("GET", "/api/v3/account"),
    ("POST", "/api/v3/order"),
    ("GET", "/api/v3/order"),
    ("DELETE", "/api/v3/order"),
    ("GET", "/api/v3/openOrders"),
    ("GET", "/api/v3/myTrades"),
}
FAULT_KINDS = (
    "latency",
    "timeout",
    "timeout_after_accept",
    "http_429",
    "http_5xx",
    "partial",
    "partial_open",
    "reject",
)


@dataclass(frozen=True)
class ApiKey:
    """A key pair's secret, the account it trades for, and whether it may trade (Binance's "Enable Spot")."""

    secret: str
    account: str
    can_trade: bool = True

    def __repr__(self) -> str:
        return f"ApiKey(account={self.account!r}, can_trade={self.can_trade})"


@dataclass
class Fault:
    kind: str
    path: str
    method: str | None
    remaining: int
    delay: float
    status: int
    code: int
    msg: str
    retry_after: int
    fraction: Decimal
    accept: bool
    skip: int = 0


@dataclass
class RequestRecord:
    """One request as the server saw it, logged on arrival (`params`: query and body merged; `status` 0 until
    answered, and for a dropped connection)."""

    method: str
    path: str
    params: dict[str, str]
    api_key: str
    status: int
    fault: str = ""


@dataclass
class _Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class BinanceServer:
    """Start with `start()` (or `with`), point ccxt at `ccxt_urls()`; `requests` logs what arrived."""

    def __init__(
        self,
        exchange: Exchange,
        keys: dict[str, ApiKey],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        fee_bps: Decimal = Decimal(10),
    ) -> None:
        self.exchange = exchange
        self.keys = dict(keys)
        self.fee_bps = fee_bps
        self._faults: list[Fault] = []
        self._log: list[RequestRecord] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = ThreadingHTTPServer((host, port), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def ccxt_urls(self) -> dict[str, str]:
        """Overrides for ccxt's `urls['api']`: spot public/private plus the sapi family, all pointed here."""
        base = self.url
        return {
            "public": f"{base}/api/v3",
            "private": f"{base}/api/v3",
            "v1": f"{base}/api/v1",
            "sapi": f"{base}/sapi/v1",
            "sapiV2": f"{base}/sapi/v2",
            "sapiV3": f"{base}/sapi/v3",
            "sapiV4": f"{base}/sapi/v4",
        }

    def start(self) -> BinanceServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="binance-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> BinanceServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- fault injection and the request log -------------------------------------------------------
    def inject(
        self,
        kind: str,
        path: str = "/api/v3/order",
        *,
        method: str | None = None,
        count: int = 1,
        delay: float = 1.0,
        status: int = 503,
        code: int | None = None,
        msg: str | None = None,
        retry_after: int = 1,
        fraction: Decimal = Decimal("0.5"),
        accept: bool = False,
        after: int = 0,
    ) -> None:
        """Make `count` requests to `path` (and `method`, if given) misbehave, once `after` more have passed.

        latency: sleep `delay` s, then answer normally; timeout: sleep `delay` s and answer nothing;
        timeout_after_accept: process, then sleep past the client's timeout; http_429: 429 with Retry-After;
        http_5xx: `status` (processed first if `accept`);
        partial: a MARKET order fills only `fraction` (PARTIALLY_FILLED, EXPIRED when next queried);
        partial_open: the same, but the order stays PARTIALLY_FILLED until canceled;
        reject: 400 with `code`/`msg` (default -2010 "New order rejected.").
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {FAULT_KINDS}")
        defaults = {
            "http_429": (-1003, "Too many requests; current limit of IP is 6000 requests per minute."),
            "http_5xx": (-1001, "Internal error; unable to process your request. Please try again."),
            "reject": (-2010, "New order rejected."),
        }
        d_code, d_msg = defaults.get(kind, (0, ""))
        with self._lock:
            self._faults.append(
                Fault(
                    kind,
                    path,
                    method,
                    count,
                    delay,
                    status,
                    d_code if code is None else code,
                    d_msg if msg is None else msg,
                    retry_after,
                    fraction,
                    accept,
                    after,
                )
            )

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._log)

    def requests_to(self, method: str, path: str) -> list[RequestRecord]:
        return [r for r in self.requests if r.method == method and r.path == path]

    def orders(self, account: str) -> list[Order]:
        """Every order the account has placed, oldest first."""
        with self.exchange.lock:
            return [o for o in self.exchange.orders.values() if o.account == account]

    # -- request handling -------------------------------------------------------------------------
    def _take_fault(self, method: str, path: str) -> Fault | None:
        """The first active fault matching the request; faults still waiting (`after`) count it down."""
        chosen: Fault | None = None
        with self._lock:
            for f in self._faults:
                if f.remaining > 0 and f.path == path and f.method in (None, method):
                    if f.skip > 0:
                        f.skip -= 1
                    elif chosen is None:
                        chosen = f
            if chosen is not None:
                chosen.remaining -= 1
        return chosen

    def _record(self, rec: RequestRecord) -> None:
        with self._lock:
            self._log.append(rec)

    def handle(self, method: str, path: str, query: str, body: str, headers: dict[str, str]) -> _Reply | None:
        """Answer one request; None means "send nothing" (the connection is dropped)."""
        params = dict(parse_qsl(query, keep_blank_values=True)) | dict(parse_qsl(body, keep_blank_values=True))
        api_key = headers.get("x-mbx-apikey", "")
        fault = self._take_fault(method, path)
        record = RequestRecord(method, path, params, api_key, 0, fault.kind if fault else "")
        self._record(record)
        reply = self._faulted(fault, method, path, query, body, params, api_key)
        record.status = reply.status if reply else 0
        return reply

    def _faulted(
        self, fault: Fault | None, method: str, path: str, query: str, body: str, params: dict[str, str], api_key: str
    ) -> _Reply | None:
        if fault is None:
            return self._dispatch(method, path, query, body, params, api_key)
        if fault.kind == "latency":
            self._stopping.wait(fault.delay)
            return self._dispatch(method, path, query, body, params, api_key)
        if fault.kind == "timeout":
            self._stopping.wait(fault.delay)
            return None
        if fault.kind == "timeout_after_accept":
            reply = self._dispatch(method, path, query, body, params, api_key)
            self._stopping.wait(fault.delay)
            return reply
        if fault.kind == "http_429":
            return _Reply(429, {"code": fault.code, "msg": fault.msg}, {"Retry-After": str(fault.retry_after)})
        if fault.kind == "http_5xx":
            if fault.accept:
                self._dispatch(method, path, query, body, params, api_key)
            return _Reply(fault.status, {"code": fault.code, "msg": fault.msg})
        if fault.kind == "reject":
            return _Reply(400, {"code": fault.code, "msg": fault.msg})
        # partial / partial_open: the next MARKET order on the symbol fills only a fraction
        symbol = params.get("symbol", "")
        with self.exchange.lock:
            self.exchange.fill_fraction[symbol] = fault.fraction
            if fault.kind == "partial_open":
                self.exchange.hold_open.add(symbol)
            reply = self._dispatch(method, path, query, body, params, api_key)
            self.exchange.fill_fraction.pop(symbol, None)
            self.exchange.hold_open.discard(symbol)
        return reply

    def _dispatch(self, method: str, path: str, query: str, body: str, params: dict[str, str], api_key: str) -> _Reply:
        try:
            if method == "GET" and path in PUBLIC:
                return _Reply(200, self._public(path, params))
            if (method, path) in SIGNED:
                key = self._authenticate(query, body, params, api_key)
                return _Reply(200, self._private(method, path, params, key))
            return _Reply(404, {"code": -1000, "msg": f"Unknown endpoint {method} {path}"})
        except BinanceError as e:
            return _Reply(e.status, {"code": e.code, "msg": e.msg})

    def _authenticate(self, query: str, body: str, params: dict[str, str], api_key: str) -> ApiKey:
        """Binance's checks for a SIGNED request: key format, known key, timestamp window, HMAC of totalParams."""
        if not API_KEY_FORMAT.match(api_key):
            raise BinanceError(401, -2014, "API-key format invalid.")
        key = self.keys.get(api_key)
        if key is None:
            raise BinanceError(401, -2015, "Invalid API-key, IP, or permissions for action.")
        try:
            ts = int(params["timestamp"])
            window = int(params.get("recvWindow", "5000"))
        except (KeyError, ValueError):
            raise bad(-1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.") from None
        if window > 60_000:
            raise bad(-1131, "recvWindow must be less than 60000")
        server_time = now_ms()
        if ts >= server_time + 1000 or server_time - ts > window:
            raise bad(-1021, "Timestamp for this request is outside of the recvWindow.")
        sig = params.get("signature", "")
        if not sig or not hmac.compare_digest(signature(key.secret, query, body), sig.lower()):
            raise bad(-1022, "Signature for this request is not valid.")
        return key

    def _public(self, path: str, p: dict[str, str]) -> Any:
        ex = self.exchange
        if path == "/api/v3/ping":
            return {}
        if path == "/api/v3/time":
            return {"serverTime": now_ms()}
        if path == "/api/v3/exchangeInfo":
            wanted = [p["symbol"]] if "symbol" in p else json.loads(p["symbols"]) if "symbols" in p else None
            specs = [ex.spec(s) for s in wanted] if wanted else list(ex.symbols.values())
            return {
                "timezone": "UTC",
                "serverTime": now_ms(),
                "exchangeFilters": [],
                "rateLimits": [
                    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000}
                ],
                "symbols": [s.info() for s in specs],
            }
        if path == "/api/v3/depth":
            spec = ex.spec(p.get("symbol"))
            limit = int(p.get("limit", "100"))
            with ex.lock:
                book = ex.books[spec.symbol]
                return {
                    "lastUpdateId": now_ms(),
                    "bids": [[fmt(a), fmt(b)] for a, b in book.bids[:limit]],
                    "asks": [[fmt(a), fmt(b)] for a, b in book.asks[:limit]],
                }
        if path == "/api/v3/klines":
            return ex.klines_view(ex.spec(p.get("symbol")).symbol, p)
        symbols = [ex.spec(p["symbol"]).symbol] if "symbol" in p else list(ex.symbols)
        views = [self._ticker(path, s) for s in symbols]
        return views[0] if "symbol" in p else views

    def _ticker(self, path: str, symbol: str) -> dict[str, object]:
        with self.exchange.lock:
            book = self.exchange.books[symbol]
            bid = book.bids[0] if book.bids else [Decimal(0), Decimal(0)]
            ask = book.asks[0] if book.asks else [Decimal(0), Decimal(0)]
            mid = book.mid()
        if path == "/api/v3/ticker/price":
            return {"symbol": symbol, "price": fmt(mid)}
        if path == "/api/v3/avgPrice":
            return {"mins": 5, "price": fmt(mid), "closeTime": now_ms()}
        top: dict[str, object] = {
            "symbol": symbol,
            "bidPrice": fmt(bid[0]),
            "bidQty": fmt(bid[1]),
            "askPrice": fmt(ask[0]),
            "askQty": fmt(ask[1]),
        }
        if path == "/api/v3/ticker/bookTicker":
            return top
        t = self.exchange.ticker_time_ms or now_ms()
        return top | {
            "priceChange": fmt(Decimal(0)),
            "priceChangePercent": "0.000",
            "weightedAvgPrice": fmt(mid),
            "prevClosePrice": fmt(mid),
            "lastPrice": fmt(mid),
            "lastQty": fmt(Decimal(0)),
            "openPrice": fmt(mid),
            "highPrice": fmt(mid),
            "lowPrice": fmt(mid),
            "volume": fmt(Decimal(0)),
            "quoteVolume": fmt(Decimal(0)),
            "openTime": t - 86_400_000,
            "closeTime": t,
            "firstId": -1,
            "lastId": -1,
            "count": 0,
        }

    def _private(self, method: str, path: str, p: dict[str, str], key: ApiKey) -> Any:
        ex, account = self.exchange, key.account
        if path == "/api/v3/account":
            return ex.account_view(account, self.fee_bps)
        if path == "/api/v3/openOrders":
            return [o.view() for o in ex.open_orders(account, p.get("symbol"))]
        if path == "/api/v3/myTrades":
            return ex.trades(account, ex.spec(p.get("symbol")).symbol, p.get("orderId"))
        symbol = ex.spec(p.get("symbol")).symbol
        if method == "GET":
            return ex.find(account, symbol, p.get("orderId"), p.get("origClientOrderId")).view()
        if method == "DELETE":
            o = ex.cancel(account, symbol, p.get("orderId"), p.get("origClientOrderId"))
            return {
                k: v for k, v in o.view().items() if k not in ("time", "updateTime", "isWorking", "workingTime")
            } | {"origClientOrderId": o.client_order_id, "transactTime": now_ms()}
        if not key.can_trade:
            raise bad(-2010, "This account may not place or cancel orders.")
        resp_type = p.get("newOrderRespType") or "FULL"  # Binance: MARKET and LIMIT default to FULL
        if resp_type not in ("ACK", "RESULT", "FULL"):
            raise bad(-1100, "Illegal characters found in parameter 'newOrderRespType'.")
        return ex.place(account, p).response(resp_type)


def signature(secret: str, query: str, body: str) -> str:
    """HMAC-SHA256 hex of totalParams = query string + request body, concatenated as sent, `signature` left out."""
    payload = _without_signature(query) + _without_signature(body)
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def _without_signature(part: str) -> str:
    """The raw query or body with its `signature=` pair removed, order and encoding untouched."""
    return "&".join(kv for kv in part.split("&") if kv and not kv.startswith("signature="))


def _handler_for(server: BinanceServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet server
            return

        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply = server.handle(method, parts.path, parts.query, body, headers)
            if reply is None:
                self.close_connection = True
                return
            payload = json.dumps(reply.body).encode()
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json;charset=UTF-8")
                self.send_header("Content-Length", str(len(payload)))
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

    return Handler
