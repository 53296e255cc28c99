"""CcxtVenue with the real ccxt `binance` client against a local Binance-protocol server on 127.0.0.1."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import ccxt
import pytest
from tests.contracts.venue_contract import ContractMarket, VenueContract
from tests.support.binance_exchange import Exchange, SymbolSpec
from tests.support.binance_server import ApiKey, BinanceServer

from trimtab.adapters.ccxt_venue import (
    BINANCE,
    CcxtVenue,
    Credentials,
    PollPolicy,
    RetryPolicy,
    client_order_id,
    env_names,
)
from trimtab.adapters.ccxt_venue.orders import step_from_precision
from trimtab.core.base.types import CostEstimate, PlannedOrder, Side, TradePlan
from trimtab.errors import ConfigError, OrderOutcomeUnknown, VenueMisconfigured, VenueUnavailable

D = Decimal
KEY, SECRET = "k" * 64, "test-secret-Zq81"
OTHER_KEY = "o" * 64
READONLY_KEY = "r" * 64
ACCOUNT = "alice"
BTC = ContractMarket("BTC", "USDT", D("30000"), D("0.05"))
ETH = ContractMarket("ETH", "USDT", D("2000"), D("0.5"))


def make_exchange(fee_in: str = "quote") -> Exchange:
    ex = Exchange(
        [
            SymbolSpec("BTC", "USDT"),
            SymbolSpec("ETH", "USDT", step_size=D("0.0001"), min_qty=D("0.0001")),
            SymbolSpec(
                "SOL",
                "USDT",
                step_size=D("0.001"),
                min_qty=D("0.001"),
                tick_size=D("0.001"),
                min_price=D("0.001"),
                min_notional=D("10"),
                notional_filter="MIN_NOTIONAL",
            ),
        ],
        fee_bps=D(10),
        fee_in=fee_in,
    )
    ex.set_book(
        "BTCUSDT",
        [(D("29990"), D("0.4")), (D("29980"), D("5")), (D("29900"), D("50"))],
        [(D("30010"), D("0.6")), (D("30020"), D("5")), (D("30100"), D("50"))],
    )
    ex.set_book("ETHUSDT", [(D("1999"), D("10")), (D("1990"), D("100"))], [(D("2001"), D("10")), (D("2010"), D("100"))])
    ex.set_book("SOLUSDT", [(D("99.9"), D("100"))], [(D("100.1"), D("100"))])
    for asset, amount in (("USDT", D("20000")), ("BTC", D("1")), ("ETH", D("10"))):
        ex.deposit(ACCOUNT, asset, amount)
    return ex


@pytest.fixture
def server() -> Iterator[BinanceServer]:
    keys = {KEY: ApiKey(SECRET, ACCOUNT), READONLY_KEY: ApiKey("ro-secret", ACCOUNT, can_trade=False)}
    with BinanceServer(make_exchange(), keys) as srv:
        yield srv


def make_venue(
    server: BinanceServer,
    *,
    key: str = KEY,
    secret: str = SECRET,
    timeout_ms: int = 5000,
    sleeps: list[float] | None = None,
    poll_timeout: float = 2.0,
) -> CcxtVenue:
    def sleep(seconds: float) -> None:
        if sleeps is not None:
            sleeps.append(seconds)

    return CcxtVenue(
        "binance",
        Credentials(key, secret),
        api_urls=server.ccxt_urls(),
        client_config={"enableRateLimit": False, "timeout": timeout_ms},
        retry=RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05, lookup_grace=0.3, lookup_interval=0.1),
        poll=PollPolicy(timeout=poll_timeout, interval=0.01),
        sleep=sleep,
        name="local-binance",
    )


@pytest.fixture
def venue(server: BinanceServer) -> CcxtVenue:
    return make_venue(server)


def plan_of(*legs: tuple[Side, ContractMarket, str], reason: str = "test") -> TradePlan:
    return VenueContract.make_plan(*((s, m, D(q)) for s, m, q in legs), reason=reason)


class TestCcxtVenueContract(VenueContract):
    @pytest.fixture
    def venue(self, server: BinanceServer) -> CcxtVenue:
        return make_venue(server)

    @pytest.fixture
    def markets(self) -> tuple[ContractMarket, ContractMarket]:
        return BTC, ETH


# -- markets, rules, balances -------------------------------------------------------------------------
def test_rules_come_from_the_exchange_filters(venue: CcxtVenue) -> None:
    btc = venue.rules("btc", "usdt")
    assert (btc.amount_step, btc.price_tick, btc.min_notional, btc.min_amount) == (
        D("0.00001"),
        D("0.01"),
        D("5"),
        D("0.00001"),
    )
    eth = venue.rules("ETH", "USDT")
    assert (eth.amount_step, eth.min_amount) == (D("0.0001"), D("0.0001"))
    sol = venue.rules("SOL", "USDT")  # legacy MIN_NOTIONAL filter
    assert (sol.min_notional, sol.price_tick, sol.amount_step) == (D("10"), D("0.001"), D("0.001"))


def test_unknown_market_is_a_misconfiguration(venue: CcxtVenue) -> None:
    with pytest.raises(VenueMisconfigured, match="DOGE/USDT"):
        venue.rules("DOGE", "USDT")


def test_only_spot_endpoints_are_called_to_load_markets(venue: CcxtVenue, server: BinanceServer) -> None:
    venue.rules("BTC", "USDT")
    venue.rules("ETH", "USDT")
    assert [(r.method, r.path) for r in server.requests] == [("GET", "/api/v3/exchangeInfo")]


@pytest.mark.parametrize(
    ("precision", "mode", "step"),
    [
        ("0.00010000", ccxt.TICK_SIZE, D("0.0001")),
        (1e-05, ccxt.TICK_SIZE, D("0.00001")),
        (4, ccxt.DECIMAL_PLACES, D("0.0001")),
        ("8", ccxt.DECIMAL_PLACES, D("1e-8")),
        (0, ccxt.DECIMAL_PLACES, D(0)),
        (3, ccxt.SIGNIFICANT_DIGITS, D(0)),
        (None, ccxt.TICK_SIZE, D(0)),
    ],
)
def test_step_from_precision_handles_tick_size_and_decimal_places(precision: object, mode: int, step: D) -> None:
    assert step_from_precision(precision, mode) == step


def test_balances_are_exact_decimals_with_canonical_symbols(venue: CcxtVenue) -> None:
    bal = venue.balances()
    assert bal == {"USDT": D("20000"), "BTC": D("1"), "ETH": D("10")}
    assert all(isinstance(v, Decimal) for v in bal.values())


# -- fills ---------------------------------------------------------------------------------------------
def test_market_buy_moves_balances_by_fill_and_fee_exactly(venue: CcxtVenue, server: BinanceServer) -> None:
    report = venue.execute(plan_of((Side.BUY, BTC, "0.5")))
    (fill,) = report.fills
    assert (fill.quantity, fill.price, fill.fee, fill.fee_asset) == (D("0.5"), D("30010"), D("15.005"), "USDT")
    assert fill.slippage == D("0.5") * (D("30010") - BTC.mid)
    assert venue.balances() == {"USDT": D("20000") - D("15005") - D("15.005"), "BTC": D("1.5"), "ETH": D("10")}
    assert server.exchange.balance(ACCOUNT, "USDT") == D("4979.995")
    placed = server.requests_to("POST", "/api/v3/order")[0].params
    assert (placed["type"], placed["side"], placed["quantity"], placed["newOrderRespType"]) == (
        "MARKET",
        "BUY",
        "0.5",
        "FULL",
    )


def test_market_sell_walks_the_book_at_volume_weighted_price(venue: CcxtVenue, server: BinanceServer) -> None:
    (fill,) = venue.execute(plan_of((Side.SELL, BTC, "1"))).fills
    # 0.4 @ 29990 + 0.6 @ 29980 = 29984
    assert (fill.quantity, fill.price, fill.fee) == (D("1"), D("29984"), D("29.984"))
    assert venue.balances() == {"USDT": D("20000") + D("29984") - D("29.984"), "ETH": D("10")}
    book = server.exchange.books["BTCUSDT"]
    assert book.bids[0] == [D("29980"), D("4.4")]  # the book was depleted as it filled


def test_fee_charged_in_base_is_kept_in_base() -> None:
    with BinanceServer(make_exchange(fee_in="received"), {KEY: ApiKey(SECRET, ACCOUNT)}) as srv:
        venue = make_venue(srv)
        (fill,) = venue.execute(plan_of((Side.BUY, ETH, "2"))).fills
        assert (fill.fee, fill.fee_asset) == (D("0.002"), "ETH")
        assert venue.balances()["ETH"] == D("10") + D("2") - D("0.002")
        assert venue.balances()["USDT"] == D("20000") - D("4002")


def test_quantity_goes_through_exchange_precision(venue: CcxtVenue, server: BinanceServer) -> None:
    report = venue.execute(plan_of((Side.BUY, BTC, "0.123456789")))
    assert server.requests_to("POST", "/api/v3/order")[0].params["quantity"] == "0.12345"
    assert report.fills[0].quantity == D("0.12345")
    assert report.complete and "0.123456789 -> 0.12345" in report.notes[0]


def test_order_below_min_notional_is_skipped_without_a_request(venue: CcxtVenue, server: BinanceServer) -> None:
    report = venue.execute(plan_of((Side.BUY, BTC, "0.0001"), (Side.BUY, ETH, "0.1")))
    assert [f.asset for f in report.fills] == ["ETH"]
    assert "notional 3 below minimum notional 5 USDT" == report.failures[0].reason
    assert len(server.requests_to("POST", "/api/v3/order")) == 1


def test_partial_fill_becomes_a_fill_and_a_failure(venue: CcxtVenue, server: BinanceServer) -> None:
    server.inject("partial", fraction=D("0.5"))
    report = venue.execute(plan_of((Side.BUY, BTC, "0.4")))
    (fill,) = report.fills
    (failure,) = report.failures
    assert fill.quantity == D("0.2") and failure.filled_quantity == D("0.2")
    assert "expired" in failure.reason and "filled 0.2 of 0.4" in failure.reason
    assert fill.fee == D("0.2") * D("30010") / 1000  # fees fetched from myTrades: the order query has none
    assert server.requests_to("GET", "/api/v3/order")  # polled from PARTIALLY_FILLED to EXPIRED
    assert server.requests_to("GET", "/api/v3/myTrades")
    assert venue.balances()["BTC"] == D("1.2")


def test_order_still_open_at_poll_timeout_is_canceled(server: BinanceServer) -> None:
    venue = make_venue(server, poll_timeout=0.05)
    server.inject("partial_open", fraction=D("0.25"))
    report = venue.execute(plan_of((Side.SELL, ETH, "2"), (Side.BUY, BTC, "0.1")))
    assert [(f.asset, f.quantity) for f in report.fills] == [("ETH", D("0.5")), ("BTC", D("0.1"))]
    assert "canceled: filled 0.5 of 2" in report.failures[0].reason
    assert len(server.requests_to("DELETE", "/api/v3/order")) == 1
    assert server.orders(ACCOUNT)[0].status == "CANCELED"
    assert venue.balances()["ETH"] == D("9.5")


def test_market_order_larger_than_the_book_expires_with_what_filled(venue: CcxtVenue, server: BinanceServer) -> None:
    server.exchange.set_book("ETHUSDT", [(D("1999"), D("1"))], [(D("2001"), D("1.5"))])
    report = venue.execute(plan_of((Side.BUY, ETH, "4")))
    assert report.fills[0].quantity == D("1.5")
    assert report.failures[0].filled_quantity == D("1.5")
    assert server.exchange.books["ETHUSDT"].asks == []


# -- retries without double submission ------------------------------------------------------------------
def test_timeout_after_accept_is_recovered_by_client_id(server: BinanceServer) -> None:
    venue = make_venue(server, timeout_ms=500)
    server.inject("timeout_after_accept", method="POST", delay=1.5)
    plan = plan_of((Side.BUY, BTC, "0.5"), reason="timeout")
    report = venue.execute(plan)
    assert report.complete and report.fills[0].quantity == D("0.5")
    assert len(server.orders(ACCOUNT)) == 1
    assert len(server.requests_to("POST", "/api/v3/order")) == 1
    lookup = server.requests_to("GET", "/api/v3/order")[0].params
    assert lookup["origClientOrderId"] == client_order_id(plan, 0, max_len=36)
    assert venue.balances()["BTC"] == D("1.5")


def test_timeout_before_accept_is_reported_unknown_and_never_resent(server: BinanceServer) -> None:
    venue = make_venue(server, timeout_ms=500)
    server.inject("timeout", method="POST", delay=1.5)
    plan = plan_of((Side.BUY, BTC, "0.5"), (Side.BUY, ETH, "1"))
    with pytest.raises(OrderOutcomeUnknown) as info:
        venue.execute(plan)
    assert info.value.client_id == client_order_id(plan, 0, max_len=36)
    assert info.value.partial_report.fills == ()  # type: ignore[attr-defined]
    assert server.orders(ACCOUNT) == []  # nothing placed, and in particular nothing placed twice
    assert len(server.requests_to("POST", "/api/v3/order")) == 1  # the later leg is not sent either
    lookups = server.requests_to("GET", "/api/v3/order")
    assert len(lookups) == venue._retry.lookups == 4 and {r.status for r in lookups} == {400}  # -2013


def test_order_listed_late_after_a_timeout_is_found_not_sent_again(server: BinanceServer) -> None:
    sleeps: list[float] = []
    venue = make_venue(server, timeout_ms=500, sleeps=sleeps)
    server.inject("timeout_after_accept", method="POST", delay=1.5)
    server.inject("reject", method="GET", code=-2013, msg="Order does not exist.", count=2)  # listed with a delay
    report = venue.execute(plan_of((Side.BUY, BTC, "0.5"), reason="late"))
    assert report.complete and report.fills[0].quantity == D("0.5")
    assert len(server.orders(ACCOUNT)) == 1 and len(server.requests_to("POST", "/api/v3/order")) == 1
    assert sleeps[:2] == [0.1, 0.1]  # the grace window's lookup interval


def test_order_listed_after_the_grace_window_is_unknown_not_doubled(server: BinanceServer) -> None:
    venue = make_venue(server, timeout_ms=500)
    server.inject("timeout_after_accept", method="POST", delay=1.5)
    server.inject("reject", method="GET", code=-2013, msg="Order does not exist.", count=100)
    plan = plan_of((Side.BUY, BTC, "0.5"), reason="later")
    with pytest.raises(OrderOutcomeUnknown):
        venue.execute(plan)
    server.clear_faults()
    assert len(server.orders(ACCOUNT)) == 1 and len(server.requests_to("POST", "/api/v3/order")) == 1
    fill = venue.find_fill(client_order_id(plan, 0, max_len=36), plan.orders[0])  # what item 2 reconciles with
    assert fill is not None and fill.quantity == D("0.5")


def test_an_older_order_reusing_the_client_id_is_not_taken_for_ours(server: BinanceServer) -> None:
    plan = plan_of((Side.BUY, BTC, "0.1"), reason="collide")
    cid = client_order_id(plan, 0, max_len=36)
    server.exchange.place(
        ACCOUNT, {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.2", "newClientOrderId": cid}
    )
    server.orders(ACCOUNT)[0].time -= 3_600_000  # placed an hour ago by an identical plan
    server.inject("timeout", method="POST", delay=1.5)
    report = make_venue(server, timeout_ms=500).execute(plan)
    assert report.fills == () and "belongs to an earlier order" in report.failures[0].reason
    assert len(server.orders(ACCOUNT)) == 1


@pytest.mark.parametrize("accept", [True, False])
def test_5xx_on_submit_never_double_submits(server: BinanceServer, accept: bool) -> None:
    venue = make_venue(server)
    server.inject("http_5xx", method="POST", status=503, accept=accept)
    if accept:  # processed despite the 5xx: found by client id
        report = venue.execute(plan_of((Side.SELL, ETH, "1")))
        assert report.complete and report.fills[0].quantity == D("1")
    else:  # Binance: a 5xx outcome is UNKNOWN, so it is reported, not re-sent
        with pytest.raises(OrderOutcomeUnknown):
            venue.execute(plan_of((Side.SELL, ETH, "1")))
    assert len(server.orders(ACCOUNT)) == (1 if accept else 0)
    assert len(server.requests_to("POST", "/api/v3/order")) == 1


def test_rate_limit_is_retried_with_backoff_honouring_retry_after(server: BinanceServer) -> None:
    sleeps: list[float] = []
    venue = make_venue(server, sleeps=sleeps)
    server.inject("http_429", method="POST", count=2, retry_after=1)
    report = venue.execute(plan_of((Side.BUY, ETH, "1")))
    assert report.complete and len(server.orders(ACCOUNT)) == 1
    assert sleeps == [0.05, 0.05]  # Retry-After 1 s, capped by the policy's max_delay
    assert server.requests_to("GET", "/api/v3/order") == []  # a 429 was not processed: nothing to look up


def test_server_errors_back_off_exponentially_then_succeed(server: BinanceServer) -> None:
    sleeps: list[float] = []
    venue = make_venue(server, sleeps=sleeps)
    server.inject("http_5xx", "/api/v3/account", count=3, status=502)
    assert venue.balances()["ETH"] == D("10")
    assert sleeps == [0.01, 0.02, 0.04]


def test_persistent_outage_raises_venue_unavailable(server: BinanceServer) -> None:
    venue = make_venue(server)
    server.inject("http_5xx", "/api/v3/account", count=100)
    with pytest.raises(VenueUnavailable):
        venue.balances()
    assert len(server.requests_to("GET", "/api/v3/account")) == 4


def test_outage_mid_plan_raises_with_the_fills_so_far(server: BinanceServer) -> None:
    venue = make_venue(server)
    server.inject("http_429", method="POST", count=100, after=1)
    with pytest.raises(VenueUnavailable) as info:
        venue.execute(plan_of((Side.BUY, BTC, "0.1"), (Side.BUY, ETH, "1")))
    partial = info.value.partial_report  # type: ignore[attr-defined]
    assert [f.asset for f in partial.fills] == ["BTC"]
    assert len(server.orders(ACCOUNT)) == 1


# -- refusals and misconfiguration ---------------------------------------------------------------------
def test_rejected_order_fails_its_leg_and_the_next_legs_continue(venue: CcxtVenue, server: BinanceServer) -> None:
    server.inject("reject", method="POST", code=-2010, msg="New order rejected.")
    report = venue.execute(plan_of((Side.BUY, BTC, "0.1"), (Side.BUY, ETH, "1")))
    assert [f.asset for f in report.fills] == ["ETH"]
    assert report.failures[0].order.asset == "BTC" and "rejected" in report.failures[0].reason


def test_insufficient_funds_fails_only_that_leg(venue: CcxtVenue) -> None:
    report = venue.execute(plan_of((Side.SELL, ETH, "50"), (Side.SELL, BTC, "0.1")))
    assert [f.asset for f in report.fills] == ["BTC"]
    assert "InsufficientFunds" in report.failures[0].reason


def test_the_same_plan_twice_does_not_trade_twice(venue: CcxtVenue, server: BinanceServer) -> None:
    plan = plan_of((Side.BUY, ETH, "1"), reason="once")
    assert venue.execute(plan).complete
    again = venue.execute(plan)
    assert again.fills == () and "Duplicate order sent" in again.failures[0].reason
    assert len(server.orders(ACCOUNT)) == 1


@pytest.mark.parametrize(
    ("key", "secret", "code"),
    [(KEY, "wrong-secret", "-1022"), (OTHER_KEY, SECRET, "-2015"), ("short", SECRET, "-2014")],
)
def test_bad_credentials_are_a_misconfiguration(server: BinanceServer, key: str, secret: str, code: str) -> None:
    venue = make_venue(server, key=key, secret=secret)
    with pytest.raises(VenueMisconfigured, match=code):
        venue.balances()
    with pytest.raises(VenueMisconfigured) as info:
        venue.execute(plan_of((Side.BUY, BTC, "0.1"), (Side.BUY, ETH, "1")))
    assert info.value.partial_report.fills == ()  # type: ignore[attr-defined]
    assert server.orders(ACCOUNT) == []
    assert len(server.requests_to("POST", "/api/v3/order")) == 1  # halted: the second leg was never sent


def test_key_without_trading_permission_halts(server: BinanceServer) -> None:
    venue = make_venue(server, key=READONLY_KEY, secret="ro-secret")
    assert venue.balances()["BTC"] == D("1")
    with pytest.raises(VenueMisconfigured):
        venue.execute(plan_of((Side.BUY, BTC, "0.1")))


def test_secrets_never_appear_in_repr_or_logs(
    venue: CcxtVenue, caplog: pytest.LogCaptureFixture, server: BinanceServer
) -> None:
    caplog.set_level(logging.DEBUG)
    server.inject("http_5xx", method="POST", accept=True)
    venue.execute(plan_of((Side.BUY, BTC, "0.1")))
    text = repr(venue) + str(venue) + caplog.text + repr(Credentials(KEY, SECRET))
    assert KEY not in text and SECRET not in text
    assert "found order" in caplog.text


# -- client order ids and credentials -------------------------------------------------------------------
def test_client_order_id_is_deterministic_and_allowed_by_binance() -> None:
    order = PlannedOrder("BTC", "USDT", Side.BUY, D("0.1"), D("30000"), D("30000"), CostEstimate())
    plan = TradePlan((order, order), "drift 6% > 5%")
    ids = [client_order_id(plan, i, max_len=36) for i in (0, 1)]
    assert ids == [client_order_id(TradePlan((order, order), "drift 6% > 5%"), i, max_len=36) for i in (0, 1)]
    assert ids[0] != ids[1] != client_order_id(TradePlan((order, order), "calendar"), 1, max_len=36)
    assert all(BINANCE.valid_client_order_id(i) and len(i) == 36 for i in ids)


def test_credentials_from_environment_and_file(tmp_path: Path) -> None:
    key_var, secret_var = env_names("binance")
    assert (key_var, secret_var) == ("TRIMTAB_BINANCE_API_KEY", "TRIMTAB_BINANCE_API_SECRET")
    creds = Credentials.from_env("binance", {key_var: KEY, secret_var: SECRET})
    assert (creds.api_key, creds.api_secret) == (KEY, SECRET)
    with pytest.raises(ConfigError, match="TRIMTAB_BINANCE_API_SECRET"):
        Credentials.from_env("binance", {key_var: KEY})
    (tmp_path / "k.json").write_text(f'{{"api_key": "{KEY}", "api_secret": "{SECRET}"}}')
    (tmp_path / "k.env").write_text(f"# binance\napi_key={KEY}\napi_secret = {SECRET}\n")
    (tmp_path / "bad.env").write_text(f"api_key={KEY}\n")
    for name in ("k.json", "k.env"):
        assert Credentials.from_file(tmp_path / name) == creds
    with pytest.raises(ConfigError, match="bad.env: api_secret"):
        Credentials.from_file(tmp_path / "bad.env")
    with pytest.raises(ConfigError, match="missing.json"):
        Credentials.resolve("binance", tmp_path / "missing.json")


def test_venue_reads_credentials_from_the_environment(server: BinanceServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIMTAB_BINANCE_API_KEY", KEY)
    monkeypatch.setenv("TRIMTAB_BINANCE_API_SECRET", SECRET)
    venue = CcxtVenue("binance", api_urls=server.ccxt_urls(), client_config={"enableRateLimit": False})
    assert venue.balances()["USDT"] == D("20000")


def test_venue_reads_credentials_from_a_file(server: BinanceServer, tmp_path: Path) -> None:
    path = tmp_path / "binance.json"
    path.write_text(f'{{"api_key": "{KEY}", "api_secret": "{SECRET}"}}')
    venue = CcxtVenue("binance", path, api_urls=server.ccxt_urls(), client_config={"enableRateLimit": False})
    assert venue.balances()["BTC"] == D("1")
    venue.close()


def test_unknown_exchange_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="venue: unknown ccxt exchange 'nope'"):
        CcxtVenue("nope", Credentials("a", "b"))


def test_find_fill_by_client_id_reconciles_an_executed_leg(venue: CcxtVenue, server: BinanceServer) -> None:
    plan = plan_of((Side.BUY, BTC, "0.05"), reason="reconcile me")
    report = venue.execute(plan)
    (fill,) = report.fills
    found = venue.find_fill(venue.client_id(plan, 0), plan.orders[0])
    assert found is not None
    assert (found.quantity, found.price, found.fee, found.quote_amount) == (
        fill.quantity,
        fill.price,
        fill.fee,
        fill.quote_amount,
    )
    other = plan_of((Side.BUY, BTC, "0.05"), reason="never sent")
    assert venue.find_fill(venue.client_id(other, 0), other.orders[0]) is None
    assert venue.last_price("BTC", "USDT") > 0


def test_twap_sends_each_child_as_its_own_exchange_order(venue: CcxtVenue, server: BinanceServer) -> None:
    from trimtab.adapters.twap import TwapVenue
    from trimtab.core.execution.slicing import TwapSettings

    sleeps: list[float] = []
    now = [0.0]

    def sleep(s: float) -> None:
        sleeps.append(s)
        now[0] += s

    twap = TwapVenue(venue, TwapSettings(horizon_s=2, interval_s=1), sleep=sleep, clock=lambda: now[0])
    plan = plan_of((Side.BUY, BTC, "0.06"), reason="twap on the exchange")
    plan = TradePlan(plan.orders, plan.reason, plan_id="acct@2024")
    before = len(server.orders(ACCOUNT))
    report = twap.execute(plan)
    placed = server.orders(ACCOUNT)[before:]
    assert report.complete and len(report.fills) == 3 == len(placed)
    assert sum(o.executed_qty for o in placed) == D("0.06")
    assert len({o.client_order_id for o in placed}) == 3  # each child has its own idempotent id
    assert sleeps == [1.0, 1.0]
