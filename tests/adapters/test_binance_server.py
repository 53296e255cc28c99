"""The local Binance-protocol server itself, spoken to over real HTTP with hand-signed requests."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.binance_exchange import BinanceError, Exchange, SymbolSpec
from tests.support.binance_server import ApiKey, BinanceServer, signature

D = Decimal
KEY, SECRET = "A" * 64, "server-test-secret"


def make_exchange() -> Exchange:
    ex = Exchange([SymbolSpec("BTC", "USDT")], fee_bps=D(10))
    ex.set_book("BTCUSDT", [(D("29990"), D("1")), (D("29900"), D("2"))], [(D("30010"), D("0.5")), (D("30100"), D("2"))])
    ex.deposit("acct", "USDT", D("50000"))
    ex.deposit("acct", "BTC", D("2"))
    return ex


@pytest.fixture
def server() -> Iterator[BinanceServer]:
    with BinanceServer(make_exchange(), {KEY: ApiKey(SECRET, "acct")}) as srv:
        yield srv


def http(
    server: BinanceServer,
    method: str,
    path: str,
    query: str = "",
    body: str = "",
    headers: dict[str, str] | None = None,
    timeout: float = 5,
) -> tuple[int, Any, dict[str, str]]:
    url = f"{server.url}{path}" + (f"?{query}" if query else "")
    req = urllib.request.Request(url, data=body.encode() if body else None, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read()), dict(resp.headers)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read()), dict(e.headers)


def signed(
    server: BinanceServer,
    method: str,
    path: str,
    params: dict[str, str],
    *,
    key: str = KEY,
    secret: str = SECRET,
    in_body: bool = False,
    timestamp: int | None = None,
    tamper: bool = False,
) -> tuple[int, Any, dict[str, str]]:
    """Sign like a Binance client: HMAC-SHA256 over the url-encoded params, signature appended last."""
    total = urlencode({**params, "timestamp": str(timestamp if timestamp is not None else int(time.time() * 1000))})
    sig = hmac.new(secret.encode(), total.encode(), hashlib.sha256).hexdigest()
    if tamper:
        sig = ("0" if sig[0] != "0" else "1") + sig[1:]
    query = f"{total}&signature={sig}"
    headers = {"X-MBX-APIKEY": key}
    if in_body:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        return http(server, method, path, body=query, headers=headers)
    return http(server, method, path, query=query, headers=headers)


def market(side: str, qty: str, **extra: str) -> dict[str, str]:
    return {"symbol": "BTCUSDT", "side": side, "type": "MARKET", "quantity": qty, **extra}


# -- signatures and authentication ---------------------------------------------------------------------
def test_signature_matches_binance_documentation_examples() -> None:
    secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
    params = (
        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
    )
    assert signature(secret, params, "") == "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    assert signature(secret, "", params) == signature(secret, params, "")
    # mixed: query string and body are concatenated with no separator
    q, b = (
        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC",
        "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559",
    )
    assert signature(secret, q, b) == "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77"
    assert signature(secret, q, b + "&signature=abc") == signature(secret, q, b)


def test_signed_requests_in_query_or_body_are_accepted(server: BinanceServer) -> None:
    status, body, _ = signed(server, "GET", "/api/v3/account", {})
    assert status == 200 and {"asset": "BTC", "free": "2.00000000", "locked": "0.00000000"} in body["balances"]
    status, body, _ = signed(server, "POST", "/api/v3/order", market("BUY", "0.1"), in_body=True)
    assert status == 200 and body["status"] == "FILLED"


def test_query_and_body_split_signature_is_accepted(server: BinanceServer) -> None:
    q = urlencode({"symbol": "BTCUSDT", "side": "BUY"})
    b = urlencode({"type": "MARKET", "quantity": "0.1", "timestamp": str(int(time.time() * 1000))})
    sig = hmac.new(SECRET.encode(), (q + b).encode(), hashlib.sha256).hexdigest()
    status, body, _ = http(
        server, "POST", "/api/v3/order", query=q, body=f"{b}&signature={sig}", headers={"X-MBX-APIKEY": KEY}
    )
    assert status == 200 and body["executedQty"] == "0.10000000"


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"tamper": True}, 400, -1022),
        ({"secret": "other"}, 400, -1022),
        ({"key": "B" * 64}, 401, -2015),
        ({"key": "not-a-key"}, 401, -2014),
        ({"key": ""}, 401, -2014),
        ({"timestamp": 1499827319559}, 400, -1021),
        ({"timestamp": int(time.time() * 1000) + 60_000}, 400, -1021),
    ],
)
def test_bad_credentials_and_stale_requests_are_rejected(
    server: BinanceServer, kwargs: dict[str, Any], status: int, code: int
) -> None:
    got_status, body, _ = signed(server, "POST", "/api/v3/order", market("BUY", "0.1"), **kwargs)
    assert (got_status, body["code"]) == (status, code)
    assert server.orders("acct") == []


def test_recv_window_limits(server: BinanceServer) -> None:
    assert signed(server, "GET", "/api/v3/account", {"recvWindow": "60001"})[1]["code"] == -1131
    old = int(time.time() * 1000) - 20_000
    assert signed(server, "GET", "/api/v3/account", {"recvWindow": "30000"}, timestamp=old)[0] == 200
    assert signed(server, "GET", "/api/v3/account", {}, timestamp=old)[1]["code"] == -1021


def test_unknown_endpoint_is_404(server: BinanceServer) -> None:
    assert http(server, "GET", "/sapi/v1/capital/config/getall")[0] == 404


# -- market data ---------------------------------------------------------------------------------------
def test_public_market_data(server: BinanceServer) -> None:
    _, info, _ = http(server, "GET", "/api/v3/exchangeInfo")
    filters = {f["filterType"]: f for f in info["symbols"][0]["filters"]}
    assert (
        filters["LOT_SIZE"]["stepSize"],
        filters["PRICE_FILTER"]["tickSize"],
        filters["NOTIONAL"]["minNotional"],
    ) == ("0.00001000", "0.01000000", "5.00000000")
    _, depth, _ = http(server, "GET", "/api/v3/depth", "symbol=BTCUSDT&limit=1")
    assert depth["bids"] == [["29990.00000000", "1.00000000"]] and depth["asks"] == [["30010.00000000", "0.50000000"]]
    _, ticker, _ = http(server, "GET", "/api/v3/ticker/bookTicker", "symbol=BTCUSDT")
    assert (ticker["bidPrice"], ticker["askPrice"]) == ("29990.00000000", "30010.00000000")
    assert http(server, "GET", "/api/v3/ticker/price", "symbol=BTCUSDT")[1]["price"] == "30000.00000000"
    assert abs(http(server, "GET", "/api/v3/time")[1]["serverTime"] - time.time() * 1000) < 5000
    assert http(server, "GET", "/api/v3/depth", "symbol=NOPE")[1]["code"] == -1121


# -- orders --------------------------------------------------------------------------------------------
def test_market_buy_walks_the_book_and_charges_taker_fee_in_quote(server: BinanceServer) -> None:
    status, o, _ = signed(server, "POST", "/api/v3/order", market("BUY", "1", newClientOrderId="my-1"))
    assert status == 200 and o["clientOrderId"] == "my-1" and o["status"] == "FILLED"
    # 0.5 @ 30010 + 0.5 @ 30100
    assert o["cummulativeQuoteQty"] == "30055.00000000"
    assert [(f["price"], f["qty"], f["commission"], f["commissionAsset"]) for f in o["fills"]] == [
        ("30010.00000000", "0.50000000", "15.00500000", "USDT"),
        ("30100.00000000", "0.50000000", "15.05000000", "USDT"),
    ]
    ex = server.exchange
    assert ex.balance("acct", "USDT") == D("50000") - D("30055") - D("30.055")
    assert ex.balance("acct", "BTC") == D("3")
    assert ex.books["BTCUSDT"].asks == [[D("30100"), D("1.5")]]


def test_response_types(server: BinanceServer) -> None:
    ack = signed(server, "POST", "/api/v3/order", market("SELL", "0.1", newOrderRespType="ACK"))[1]
    assert set(ack) == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}
    result = signed(server, "POST", "/api/v3/order", market("SELL", "0.1", newOrderRespType="RESULT"))[1]
    assert result["status"] == "FILLED" and "fills" not in result


def test_query_cancel_open_orders_and_trades(server: BinanceServer) -> None:
    limit = {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.2",
        "price": "29000.00",
        "newClientOrderId": "rest-1",
    }
    placed = signed(server, "POST", "/api/v3/order", limit)[1]
    assert placed["status"] == "NEW"
    assert server.exchange.accounts["acct"]["USDT"][1] == D("0.2") * D("29000") * D("1.001")  # locked
    by_id = signed(server, "GET", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": str(placed["orderId"])})[1]
    by_cid = signed(server, "GET", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "rest-1"})[1]
    assert by_id == by_cid and by_id["status"] == "NEW"
    assert [o["clientOrderId"] for o in signed(server, "GET", "/api/v3/openOrders", {})[1]] == ["rest-1"]
    canceled = signed(server, "DELETE", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "rest-1"})[1]
    assert canceled["status"] == "CANCELED" and server.exchange.balance("acct", "USDT") == D("50000")
    assert server.exchange.accounts["acct"]["USDT"] == [D("50000"), D("0")]
    assert signed(server, "DELETE", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": "1"})[1]["code"] == -2011
    assert signed(server, "GET", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "x"})[1]["code"] == -2013
    filled = signed(server, "POST", "/api/v3/order", market("SELL", "0.3"))[1]
    trades = signed(server, "GET", "/api/v3/myTrades", {"symbol": "BTCUSDT", "orderId": str(filled["orderId"])})[1]
    assert [(t["qty"], t["commission"], t["isBuyer"]) for t in trades] == [("0.30000000", "8.99700000", False)]


def test_limit_ioc_and_fok(server: BinanceServer) -> None:
    base = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "1", "price": "30050.00"}
    fok = signed(server, "POST", "/api/v3/order", base | {"timeInForce": "FOK"})[1]
    assert (fok["status"], fok["executedQty"]) == ("EXPIRED", "0.00000000")
    ioc = signed(server, "POST", "/api/v3/order", base | {"timeInForce": "IOC"})[1]
    assert (ioc["status"], ioc["executedQty"]) == ("EXPIRED", "0.50000000")


@pytest.mark.parametrize(
    ("params", "code", "msg"),
    [
        (market("BUY", "0.000015"), -1013, "Filter failure: LOT_SIZE"),
        (market("BUY", "0.00001"), -1013, "Filter failure: NOTIONAL"),
        (
            {
                "symbol": "BTCUSDT",
                "side": "BUY",
                "type": "LIMIT",
                "timeInForce": "GTC",
                "quantity": "0.1",
                "price": "29000.005",
            },
            -1013,
            "Filter failure: PRICE_FILTER",
        ),
        (
            {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.1", "price": "29000"},
            -1102,
            "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed.",
        ),
        (market("SELL", "3"), -2010, "Account has insufficient balance for requested action."),
        (market("BUY", "2"), -2010, "Account has insufficient balance for requested action."),
        (market("HOLD", "1"), -1117, "Invalid side."),
        (
            {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET"},
            -1102,
            "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.",
        ),
        (market("BUY", "0.1") | {"symbol": "XYZ"}, -1121, "Invalid symbol."),
    ],
)
def test_order_validation_uses_binance_codes(
    server: BinanceServer, params: dict[str, str], code: int, msg: str
) -> None:
    status, body, _ = signed(server, "POST", "/api/v3/order", params)
    assert (status, body) == (400, {"code": code, "msg": msg})
    assert server.orders("acct") == []


def test_duplicate_client_order_id_is_rejected(server: BinanceServer) -> None:
    assert signed(server, "POST", "/api/v3/order", market("BUY", "0.1", newClientOrderId="dup"))[0] == 200
    status, body, _ = signed(server, "POST", "/api/v3/order", market("BUY", "0.1", newClientOrderId="dup"))
    assert (status, body) == (400, {"code": -2010, "msg": "Duplicate order sent."})
    assert len(server.orders("acct")) == 1


# -- faults ---------------------------------------------------------------------------------------------
def test_rate_limit_fault_sends_429_with_retry_after_then_recovers(server: BinanceServer) -> None:
    server.inject("http_429", "/api/v3/account", count=2, retry_after=3)
    for _ in range(2):
        status, body, headers = signed(server, "GET", "/api/v3/account", {})
        assert (status, body["code"], headers["Retry-After"]) == (429, -1003, "3")
    assert signed(server, "GET", "/api/v3/account", {})[0] == 200
    assert [r.fault for r in server.requests] == ["http_429", "http_429", ""]


def test_5xx_fault_processes_the_order_only_when_asked(server: BinanceServer) -> None:
    server.inject("http_5xx", status=502)
    server.inject("http_5xx", status=503, accept=True, after=1)
    assert signed(server, "POST", "/api/v3/order", market("BUY", "0.1"))[0] == 502
    assert server.orders("acct") == []
    assert signed(server, "POST", "/api/v3/order", market("BUY", "0.1"))[0] == 503
    assert len(server.orders("acct")) == 1


def test_timeout_faults(server: BinanceServer) -> None:
    server.inject("timeout", delay=1.5)
    server.inject("timeout_after_accept", delay=1.5, after=1)
    for _ in range(2):
        with pytest.raises((TimeoutError, urllib.error.URLError)):
            signed_with_timeout(server, 0.2)
    deadline = time.time() + 2
    while len(server.orders("acct")) < 1 and time.time() < deadline:
        time.sleep(0.02)
    assert len(server.orders("acct")) == 1  # only the timeout_after_accept one was processed


def signed_with_timeout(server: BinanceServer, timeout: float) -> None:
    total = urlencode({**market("BUY", "0.1"), "timestamp": str(int(time.time() * 1000))})
    sig = hmac.new(SECRET.encode(), total.encode(), hashlib.sha256).hexdigest()
    http(
        server,
        "POST",
        "/api/v3/order",
        query=f"{total}&signature={sig}",
        headers={"X-MBX-APIKEY": KEY},
        timeout=timeout,
    )


def test_partial_fault_fills_a_fraction_then_expires(server: BinanceServer) -> None:
    server.inject("partial", fraction=D("0.25"))
    o = signed(server, "POST", "/api/v3/order", market("SELL", "1", newClientOrderId="p"))[1]
    assert (o["status"], o["executedQty"]) == ("PARTIALLY_FILLED", "0.25000000")
    later = signed(server, "GET", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "p"})[1]
    assert (later["status"], later["executedQty"]) == ("EXPIRED", "0.25000000")
    assert server.exchange.balance("acct", "BTC") == D("1.75")


def test_reject_fault_and_unknown_kind(server: BinanceServer) -> None:
    server.inject("reject", code=-2010, msg="Market is closed.")
    assert signed(server, "POST", "/api/v3/order", market("BUY", "0.1"))[1] == {
        "code": -2010,
        "msg": "Market is closed.",
    }
    with pytest.raises(ValueError, match="unknown fault kind"):
        server.inject("explode")


# -- the matching engine's invariants --------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(
    orders=st.lists(
        st.tuples(st.sampled_from(["BUY", "SELL"]), st.decimals(min_value=D("0.0001"), max_value=D("3"), places=4)),
        max_size=12,
    )
)
def test_market_orders_conserve_value_and_never_overdraw(orders: list[tuple[str, Decimal]]) -> None:
    ex = make_exchange()
    for side, qty in orders:
        depth_before = sum(q for _, q in (ex.books["BTCUSDT"].asks if side == "BUY" else ex.books["BTCUSDT"].bids))
        usdt, btc = ex.balance("acct", "USDT"), ex.balance("acct", "BTC")
        try:
            o = ex.place("acct", market(side, str(qty)))
        except BinanceError as e:
            assert e.code in (-1013, -2010)
            assert (ex.balance("acct", "USDT"), ex.balance("acct", "BTC")) == (usdt, btc)
            continue
        fees = sum((D(str(f["commission"])) for f in o.fills), D(0))
        assert o.executed_qty <= qty and o.cum_quote == sum(D(str(f["price"])) * D(str(f["qty"])) for f in o.fills)
        sign = 1 if side == "BUY" else -1
        assert ex.balance("acct", "BTC") - btc == sign * o.executed_qty
        assert ex.balance("acct", "USDT") - usdt == -sign * o.cum_quote - fees
        depth_after = sum(q for _, q in (ex.books["BTCUSDT"].asks if side == "BUY" else ex.books["BTCUSDT"].bids))
        assert depth_before - depth_after == o.executed_qty
        assert o.status == ("FILLED" if o.executed_qty == qty else "EXPIRED")
        assert all(v >= 0 for bal in ex.accounts["acct"].values() for v in bal)
