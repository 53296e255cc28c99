"""DexVenue on the real local chain: exact quotes, routes, atomic batches, guards, gas, keys, bad input."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hexbytes import HexBytes
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.chain.test_dex_contract import make_venue
from trimtab.adapters.dex import DexSettings, DexVenue, GasWait, deployment_of, load_deployment, load_signer
from trimtab.adapters.dex.deployment import parse_deployment
from trimtab.adapters.dex.routes import PoolBook
from trimtab.adapters.storage import InMemoryLedgerStore
from trimtab.chain.anvil import free_port
from trimtab.chain.artifacts import load_artifact
from trimtab.chain.deploy import FAR_DEADLINE, ChainEnv
from trimtab.chain.keys import ANVIL_DEV_KEYS
from trimtab.chain.node import mine, rpc, set_automine
from trimtab.chain.tx import GWEI, Sender, send_signed
from trimtab.core.base.ports import ExecutionReport
from trimtab.core.base.snapshot import MarketSnapshot
from trimtab.core.base.types import CostEstimate, PlannedOrder, Side, TradePlan
from trimtab.core.costs.model import linear_costs
from trimtab.core.strategy import Strategy
from trimtab.core.triggers.rules import ThresholdBand
from trimtab.engine import run_cycle
from trimtab.errors import ConfigError, InsufficientFunds, VenueMisconfigured, VenueUnavailable

TRADER_KEY = ANVIL_DEV_KEYS[1]


def order(venue: DexVenue, side: Side, asset: str, quote: str, qty: str) -> PlannedOrder:
    mid = venue.mid_prices([asset], quote)[asset]
    return PlannedOrder(asset, quote, side, Decimal(qty), mid, mid, CostEstimate())


def plan_of(*orders: PlannedOrder) -> TradePlan:
    return TradePlan(tuple(orders), "test", plan_id="t")


def token_balances(chain: ChainEnv) -> dict[str, int]:
    return chain.balances(chain.accounts.trader.address)


def nonce(chain: ChainEnv) -> int:
    return int(chain.w3.eth.get_transaction_count(chain.accounts.trader.address))


# -- quotes, routes, fills -------------------------------------------------------------------------


def test_quotes_equal_executed_amounts_when_nothing_else_trades(chain: ChainEnv) -> None:
    venue = make_venue(chain)
    plan = plan_of(
        order(venue, Side.SELL, "BTC", "USDC", "0.5"),
        order(venue, Side.BUY, "ETH", "USDC", "10"),
        order(venue, Side.SELL, "LINK", "USDC", "1000"),
    )
    legs = venue.preview(plan).legs
    before = token_balances(chain)
    report = venue.execute(plan)
    assert report.complete and len(report.fills) == 3
    details = venue.last_execution
    assert details is not None and [t.kind for t in details.txs] == ["batch"]  # one transaction for all legs
    for leg, fill in zip(legs, report.fills, strict=True):
        assert details.simulated[leg.index] == leg.expected_out  # local x*y=k == the chain's eth_call
        got = fill.quantity if fill.side is Side.BUY else fill.quote_amount - fill.fee
        assert got * Decimal(10) ** leg.token_out.decimals == leg.expected_out
    after = token_balances(chain)
    assert before["WBTC"] - after["WBTC"] == chain.units("WBTC", "0.5")
    assert after["WETH"] - before["WETH"] == legs[1].expected_out >= chain.units("WETH", 10)


def test_local_quote_equals_router_get_amounts_out(chain: ChainEnv) -> None:
    venue = make_venue(chain)
    leg = venue.preview(plan_of(order(venue, Side.SELL, "ETH", "USDC", "7.25"))).legs[0]
    chain_out = chain.router.functions.getAmountsOut(leg.amount_in, list(leg.route.path)).call()[-1]
    assert leg.expected_out == chain_out


def test_multi_hop_leg_link_weth_wbtc(chain: ChainEnv) -> None:
    venue = make_venue(chain)
    plan = plan_of(order(venue, Side.SELL, "LINK", "BTC", "1000"))
    leg = venue.preview(plan).legs[0]
    assert leg.route.symbols == ("LINK", "WETH", "WBTC") and leg.route.kind == "v2"
    quoted = chain.router.functions.getAmountsOut(leg.amount_in, list(leg.route.path)).call()[-1]
    before = chain.balance("WBTC", chain.accounts.trader.address)
    report = venue.execute(plan)
    assert report.complete
    assert chain.balance("WBTC", chain.accounts.trader.address) - before == quoted == leg.expected_out
    # two 0.3% hops: the fee share is 1 - 0.997^2 of the output's pre-fee value
    fill = report.fills[0]
    assert float(fill.fee / fill.quote_amount) == pytest.approx(1 - 0.997**2, rel=1e-3)


def test_v3_pool_wins_when_it_pays_more_and_fills_exactly(chain: ChainEnv, attacker: Sender) -> None:
    venue = make_venue(chain)
    buy = order(venue, Side.BUY, "ETH", "USDC", "5")
    assert venue.preview(plan_of(buy)).legs[0].route.kind == "v2"  # the deeper V2 pool wins at equal prices
    usdc, weth = chain.path("USDC", "WETH")  # push the V2 WETH price up 10%: V3 is now cheaper for buyers
    attacker.transact(
        chain.router.functions.swapExactTokensForTokens(
            chain.units("USDC", 250_000), 0, [usdc, weth], attacker.address, FAR_DEADLINE
        )
    )
    leg = venue.preview(plan_of(buy)).legs[0]
    assert leg.route.kind == "v3" and leg.route.v3_fee == 3000
    assert chain.v3 is not None
    quoted_in = chain.v3.quoter.functions.quoteExactOutputSingle((usdc, weth, leg.target_units, 3000, 0)).call()[0]
    before = token_balances(chain)
    report = venue.execute(plan_of(buy))
    assert report.complete
    after = token_balances(chain)
    assert after["WETH"] - before["WETH"] == chain.units("WETH", 5)  # exact output on V3
    assert before["USDC"] - after["USDC"] == quoted_in
    assert report.fills[0].quantity == Decimal(5)


# -- atomicity, status 0, deadline -------------------------------------------------------------------


def _pending(chain: ChainEnv, count: int = 1, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while int(rpc(chain.w3, "txpool_status")["pending"], 16) < count:
        assert time.monotonic() < deadline, "the venue never sent its transaction"
        time.sleep(0.01)


def _execute_with_automine_off(
    chain: ChainEnv, venue: DexVenue, plan: TradePlan, meddle: Callable[[], None]
) -> ExecutionReport:
    """Send the venue's batch into the mempool, let `meddle` act on the chain, then mine one block."""
    result: dict[str, Any] = {}
    set_automine(chain.w3, False)
    worker = threading.Thread(target=lambda: result.setdefault("report", venue.execute(plan)))
    worker.start()
    try:
        _pending(chain)
        meddle()
        mine(chain.w3)
    finally:
        worker.join(30)
        set_automine(chain.w3, True)
    assert "report" in result, "execute did not return"
    report: ExecutionReport = result["report"]
    return report


def test_front_run_makes_the_minimum_impossible_and_the_whole_batch_reverts(chain: ChainEnv, attacker: Sender) -> None:
    venue = make_venue(chain)
    plan = plan_of(order(venue, Side.SELL, "BTC", "USDC", "0.5"), order(venue, Side.BUY, "ETH", "USDC", "10"))
    usdc, weth = chain.path("USDC", "WETH")
    before = token_balances(chain)
    eth_before = chain.w3.eth.get_balance(chain.accounts.trader.address)

    def front_run() -> None:  # the attacker buys WETH first (higher tip): leg 2's minimum is now out of reach
        call = chain.router.functions.swapExactTokensForTokens(
            chain.units("USDC", 300_000), 0, [usdc, weth], attacker.address, FAR_DEADLINE
        )
        send_signed(chain.w3, attacker.sign(call, priority_fee=10 * GWEI))

    report = _execute_with_automine_off(chain, venue, plan, front_run)
    assert report.fills == () and len(report.failures) == 2
    assert all("status 0" in f.reason and "InsufficientOutput(leg=1" in f.reason for f in report.failures)
    assert token_balances(chain) == before  # leg 1's untouched pool did not trade either: all or nothing
    details = venue.last_execution
    assert details is not None and details.txs[-1].status == 0
    spent = eth_before - chain.w3.eth.get_balance(chain.accounts.trader.address)
    assert spent == details.txs[-1].gas_used * details.txs[-1].effective_gas_price  # only gas was lost


def test_expired_deadline_reverts_and_is_reported(chain: ChainEnv) -> None:
    venue = make_venue(chain, DexSettings(deadline_seconds=30, estimate_gas=False))
    plan = plan_of(order(venue, Side.SELL, "ETH", "USDC", "1"))
    before = token_balances(chain)

    def stall() -> None:  # the transaction is only mined 10 minutes later
        latest = int(chain.w3.eth.get_block("latest")["timestamp"])
        rpc(chain.w3, "evm_setNextBlockTimestamp", [latest + 600])

    report = _execute_with_automine_off(chain, venue, plan, stall)
    assert report.fills == () and "Expired(deadline=" in report.failures[0].reason
    assert token_balances(chain) == before


# -- ledger == chain through the engine --------------------------------------------------------------


def test_engine_cycle_keeps_the_ledger_equal_to_the_chain(chain: ChainEnv) -> None:
    venue = make_venue(chain, DexSettings(min_notional=Decimal(10)))
    account = "wallet"
    opening = venue.balances()
    ledger = InMemoryLedgerStore()
    now = datetime(2023, 11, 30, tzinfo=UTC)
    ledger.open_account(account, opening, time=now)
    targets = {"BTC": 0.25, "ETH": 0.25, "LINK": 0.25, "USDC": 0.25}
    strategy = Strategy("chain", "USDC", targets, ThresholdBand(band=0.05), linear_costs(30, 100))
    snapshot = MarketSnapshot(now, venue.mid_prices(list(targets), "USDC"))
    result = run_cycle(strategy, snapshot, venue, ledger, account=account, rules=lambda a: venue.rules(a, "USDC"))
    assert result.report is not None and result.report.complete and len(result.report.fills) >= 2
    assert ledger.balances(account) == {**dict.fromkeys(opening, Decimal(0)), **venue.balances()}
    details = venue.last_execution
    assert details is not None and [t.kind for t in details.txs] == ["batch"]
    assert any(n.startswith("realised gas:") for n in result.report.notes)


# -- gas -------------------------------------------------------------------------------------------


def test_batched_gas_estimate_beats_separate_and_realised_gas_is_reported(chain: ChainEnv) -> None:
    venue = make_venue(chain, DexSettings(gas_in_fills=True))
    plan = plan_of(
        order(venue, Side.SELL, "BTC", "USDC", "0.5"),
        order(venue, Side.SELL, "BTC", "ETH", "0.4"),
        order(venue, Side.SELL, "ETH", "LINK", "15"),
        order(venue, Side.BUY, "LINK", "USDC", "900"),
    )
    eth_before = chain.w3.eth.get_balance(chain.accounts.trader.address)
    report = venue.execute(plan)
    assert report.complete
    details = venue.last_execution
    assert details is not None and details.gas is not None
    assert details.gas.batched is not None and details.gas.separate is not None
    assert details.gas.batched < details.gas.separate  # direct batch: one tx base, no router hops
    tx = details.txs[-1]
    assert eth_before - chain.w3.eth.get_balance(chain.accounts.trader.address) == tx.gas_used * tx.effective_gas_price
    by_quote: dict[str, Decimal] = {}
    for f in report.fills:
        by_quote[f.quote] = by_quote.get(f.quote, Decimal(0)) + f.gas
    assert sum(by_quote.values()) > 0 and tx.gas_cost_quote > 0
    assert any(n.startswith("estimated gas: batched") for n in report.notes)


def _set_base_fee(chain: ChainEnv, wei: int) -> None:
    rpc(chain.w3, "anvil_setNextBlockBaseFeePerGas", [hex(wei)])
    mine(chain.w3)


@pytest.fixture
def base_fee_restored(chain: ChainEnv) -> Iterator[None]:
    """evm_revert does not restore anvil's next-block base fee: put it back for the tests that follow."""
    pending = int(chain.w3.eth.get_block("pending")["baseFeePerGas"])
    yield
    rpc(chain.w3, "anvil_setNextBlockBaseFeePerGas", [hex(pending)])


@pytest.mark.usefixtures("base_fee_restored")
def test_gas_wait_executes_once_the_base_fee_drops_below_the_cap(chain: ChainEnv) -> None:
    _set_base_fee(chain, 40 * GWEI)
    polls: list[float] = []

    def sleep(_seconds: float) -> None:  # the market calms down after the second look
        polls.append(_seconds)
        if len(polls) == 2:
            _set_base_fee(chain, 2 * GWEI)

    wait = GasWait(max_base_fee=5 * GWEI, timeout=60, poll=0.01)
    venue = DexVenue(
        chain.w3.provider.endpoint_uri,
        deployment_of(chain),
        chain.accounts.trader,  # type: ignore[attr-defined]
        DexSettings(gas_wait=wait, estimate_gas=False),
        sleep=sleep,
    )
    report = venue.execute(plan_of(order(venue, Side.SELL, "ETH", "USDC", "1")))
    assert report.complete and len(polls) == 2
    details = venue.last_execution
    assert details is not None and details.gas_wait is not None and details.gas_wait.below_cap
    receipt = chain.w3.eth.get_transaction_receipt(HexBytes(details.txs[0].tx_hash))
    block = chain.w3.eth.get_block(receipt["blockNumber"])
    assert block["baseFeePerGas"] <= 5 * GWEI


@pytest.mark.usefixtures("base_fee_restored")
def test_gas_wait_executes_anyway_when_the_deadline_passes(chain: ChainEnv) -> None:
    _set_base_fee(chain, 40 * GWEI)
    wait = GasWait(max_base_fee=5 * GWEI, timeout=0.2, poll=0.05)
    venue = make_venue(chain, DexSettings(gas_wait=wait, estimate_gas=False))
    report = venue.execute(plan_of(order(venue, Side.SELL, "ETH", "USDC", "1")))
    assert report.complete
    details = venue.last_execution
    assert details is not None and details.gas_wait is not None and not details.gas_wait.below_cap
    assert details.gas_wait.polls >= 2 and details.txs[0].effective_gas_price > 5 * GWEI
    assert any("deadline passed" in n for n in report.notes)


@pytest.mark.usefixtures("base_fee_restored")
def test_base_fee_above_the_max_fee_cap_sends_nothing(chain: ChainEnv) -> None:
    _set_base_fee(chain, 300 * GWEI)
    venue = make_venue(chain)
    sent = nonce(chain)
    with pytest.raises(VenueUnavailable, match="max-fee cap"):
        venue.execute(plan_of(order(venue, Side.SELL, "ETH", "USDC", "1")))
    assert nonce(chain) == sent


# -- private endpoint ------------------------------------------------------------------------------


class RecordingProxy:
    """A JSON-RPC forwarder on 127.0.0.1 that records every method it relays (a stand-in private relay)."""

    def __init__(self, upstream: str) -> None:
        self.methods: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers["Content-Length"]))
                payload = json.loads(body)
                for call in payload if isinstance(payload, list) else [payload]:
                    proxy.methods.append(call["method"])
                req = urllib.request.Request(upstream, data=body, headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback anvil
                    answer = resp.read()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxies(chain: ChainEnv) -> Iterator[tuple[RecordingProxy, RecordingProxy]]:
    upstream = chain.w3.provider.endpoint_uri  # type: ignore[attr-defined]
    public, private = RecordingProxy(upstream), RecordingProxy(upstream)
    yield public, private
    public.close()
    private.close()


def test_raw_transactions_go_to_the_private_endpoint_when_set(
    chain: ChainEnv, proxies: tuple[RecordingProxy, RecordingProxy]
) -> None:
    public, private = proxies
    venue = DexVenue(
        public.url,
        deployment_of(chain),
        chain.accounts.trader,
        DexSettings(private_rpc=private.url, estimate_gas=False),
    )
    token = venue.token("USDC")  # force one approval too: it must also go privately
    Sender(chain.w3, chain.accounts.trader).transact(chain.tokens["USDC"].functions.approve(chain.executor.address, 0))
    report = venue.execute(plan_of(order(venue, Side.BUY, "ETH", "USDC", "1")))
    assert report.complete and token.symbol == "USDC"
    assert private.methods.count("eth_sendRawTransaction") == 2  # approve + batch
    assert "eth_sendRawTransaction" not in public.methods
    assert "eth_call" in public.methods  # reads and the simulation stay on the public node
    assert "private endpoint" in repr(venue)


def test_an_rpc_that_stops_answering_is_venue_unavailable(
    chain: ChainEnv, proxies: tuple[RecordingProxy, RecordingProxy]
) -> None:
    public, _ = proxies
    venue = DexVenue(public.url, deployment_of(chain), chain.accounts.trader)
    assert venue.balances()
    public.close()
    with pytest.raises(VenueUnavailable, match="did not answer"):
        venue.balances()


# -- bad input -------------------------------------------------------------------------------------


def test_an_rpc_on_a_closed_port_fails_before_anything(chain: ChainEnv) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(VenueUnavailable):
        DexVenue(dead, deployment_of(chain), chain.accounts.trader)
    url = chain.w3.provider.endpoint_uri  # type: ignore[attr-defined]
    with pytest.raises(VenueUnavailable):
        DexVenue(url, deployment_of(chain), chain.accounts.trader, DexSettings(private_rpc=dead))


def test_unknown_token_and_missing_pool_are_refused_before_sending(chain: ChainEnv) -> None:
    venue = make_venue(chain)
    sent = nonce(chain)
    bogus = PlannedOrder("DOGE", "USDC", Side.BUY, Decimal(1), Decimal(1), Decimal(1), CostEstimate())
    with pytest.raises(VenueMisconfigured, match="unknown token 'DOGE'"):
        venue.execute(plan_of(bogus))
    with pytest.raises(VenueMisconfigured, match="unknown token"):
        venue.rules("DOGE", "USDC")
    # a real token with no pool at all
    owner = Sender(chain.w3, chain.accounts.deployer)
    doge = owner.deploy(load_artifact("TestToken"), "Doge (test)", "DOGE", 8)
    deployment = deployment_of(chain)
    deployment = replace(deployment, tokens={**deployment.tokens, "DOGE": (str(doge.address), 8)})
    venue = DexVenue(chain.w3.provider.endpoint_uri, deployment, chain.accounts.trader)  # type: ignore[attr-defined]
    sent = nonce(chain)
    with pytest.raises(VenueMisconfigured, match="no Uniswap pool connects USDC to DOGE"):
        venue.execute(plan_of(replace(bogus, quantity=Decimal(100))))
    assert nonce(chain) == sent


def test_insufficient_balance_is_a_reported_failure_and_nothing_is_sent(chain: ChainEnv) -> None:
    venue = make_venue(chain)
    sent, before = nonce(chain), token_balances(chain)
    report = venue.execute(plan_of(order(venue, Side.SELL, "BTC", "USDC", "5")))
    assert report.fills == () and "insufficient BTC balance: needs 5, holds 2" in report.failures[0].reason
    assert nonce(chain) == sent and token_balances(chain) == before


def test_insufficient_native_gas_raises_before_sending(chain: ChainEnv) -> None:
    venue = make_venue(chain, DexSettings(estimate_gas=False))
    rpc(chain.w3, "anvil_setBalance", [chain.accounts.trader.address, hex(10**9)])
    sent, before = nonce(chain), token_balances(chain)
    with pytest.raises(InsufficientFunds, match="cannot cover"):
        venue.execute(plan_of(order(venue, Side.SELL, "ETH", "USDC", "1")))
    assert nonce(chain) == sent and token_balances(chain) == before


def test_approvals_are_bounded_and_off_means_refuse(chain: ChainEnv) -> None:
    trader = Sender(chain.w3, chain.accounts.trader)
    trader.transact(chain.tokens["WETH"].functions.approve(chain.executor.address, 0))
    venue = make_venue(chain, DexSettings(approvals="off", estimate_gas=False))
    sent = nonce(chain)
    with pytest.raises(VenueMisconfigured, match="approvals are off"):
        venue.execute(plan_of(order(venue, Side.SELL, "ETH", "USDC", "2")))
    assert nonce(chain) == sent
    venue = make_venue(chain, DexSettings(estimate_gas=False))
    assert venue.execute(plan_of(order(venue, Side.SELL, "ETH", "USDC", "2"))).complete
    allowance = chain.tokens["WETH"].functions.allowance(trader.address, chain.executor.address).call()
    assert allowance == 0  # approved exactly the 2 WETH the batch pulled
    # V2 only: after the first sale the untouched V3 pool would pay more for the second
    venue = make_venue(chain, DexSettings(estimate_gas=False, use_v3=False, allowance_caps={"ETH": Decimal(5)}))
    assert venue.execute(plan_of(order(venue, Side.SELL, "ETH", "USDC", "2"))).complete
    allowance = chain.tokens["WETH"].functions.allowance(trader.address, chain.executor.address).call()
    assert allowance == chain.units("WETH", 3)  # the 5 WETH cap, less what was pulled


def test_wrong_chain_or_executor_owner_is_misconfigured(chain: ChainEnv) -> None:
    url = chain.w3.provider.endpoint_uri  # type: ignore[attr-defined]
    with pytest.raises(VenueMisconfigured, match="chain 31337"):
        DexVenue(url, replace(deployment_of(chain), chain_id=1), chain.accounts.trader)
    with pytest.raises(VenueMisconfigured, match="serves"):
        DexVenue(url, deployment_of(chain), chain.accounts.attacker)


# -- keys and deployment file ----------------------------------------------------------------------


def test_key_from_env_or_file_is_never_shown(chain: ChainEnv, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    account = load_signer(env={"TRIMTAB_EVM_PRIVATE_KEY": TRADER_KEY})
    key_file = tmp_path / "key"
    key_file.write_text(TRADER_KEY + "\n")
    assert load_signer(key_file).address == account.address == chain.accounts.trader.address
    venue = make_venue(chain)
    venue.execute(plan_of(order(venue, Side.SELL, "ETH", "USDC", "1")))
    secret = TRADER_KEY[2:].lower()
    assert secret not in repr(venue).lower() and secret not in str(vars(venue)).lower()
    assert secret not in caplog.text.lower()
    bad = tmp_path / "bad"
    bad.write_text("0x1234")
    with pytest.raises(VenueMisconfigured, match="not a valid") as err:
        load_signer(bad)
    assert "1234" not in str(err.value)
    with pytest.raises(VenueMisconfigured, match="is not set"):
        load_signer(env={})


def test_deployment_file_round_trips_and_bad_fields_are_named(chain: ChainEnv, tmp_path: Path) -> None:
    deployment = deployment_of(chain)
    path = tmp_path / "deployment.json"
    deployment.save(path)
    loaded = load_deployment(path)
    assert loaded.registry() == deployment.registry() and loaded.v3_pools == deployment.v3_pools
    assert loaded.registry()["ETH"].address == chain.weth.address
    doc = json.loads(path.read_text())
    doc["tokens"]["USDC"]["address"] = "0x123"
    with pytest.raises(ConfigError, match=r"tokens\.USDC"):
        parse_deployment(doc, "d.json")
    with pytest.raises(ConfigError, match="deployment file not found"):
        load_deployment(tmp_path / "missing.json")
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_deployment(path)


# -- route math (no chain) -------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(r_in=st.integers(10**6, 10**30), r_out=st.integers(10**6, 10**30), frac=st.floats(1e-9, 0.5))
def test_min_amount_in_is_the_smallest_input_that_buys_the_quantity(r_in: int, r_out: int, frac: float) -> None:
    a, b = "0x" + "11" * 20, "0x" + "22" * 20
    book = PoolBook()
    book.set(a, b, r_in, r_out)
    want = max(1, int(r_out * frac))
    need = book.min_amount_in((a, b), want)
    assert need is not None
    assert book.amounts_out((a, b), need)[-1] >= want
    assert need == 1 or book.amounts_out((a, b), need - 1)[-1] < want
