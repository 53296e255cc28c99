"""DexVenue: the Venue port on Uniswap through trimtab's BatchExecutor, one atomic transaction per plan.

Pre-flight (routes, sizes, funding) -> gas wait and fee cap -> bounded approvals -> one eth_call of the
ordered batch -> minOut = simulated * (1 - tolerance), short deadline -> one signed transaction (sent to
the private endpoint when set) -> receipt status checked -> fills from the receipt's Transfer logs.
V3 legs (the executor is V2-only) go through SwapRouter, one transaction each, in plan order.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

import requests
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError, TimeExhausted
from web3.types import TxReceipt

from trimtab.adapters.dex.deployment import Deployment, Token
from trimtab.adapters.dex.fills import Executed, gas_in_quote
from trimtab.adapters.dex.gas import GasComparison, GasWait, simulate_gas, wait_for_gas
from trimtab.adapters.dex.preflight import LegPlan, Preflight, preflight
from trimtab.adapters.dex.reader import ChainReader, decimal_to_units, units_to_decimal
from trimtab.adapters.dex.records import ExecutionDetails, Progress, TxRecord, transfers
from trimtab.adapters.dex.routes import PoolBook
from trimtab.chain.artifacts import load_artifact
from trimtab.chain.batch import SwapLeg, batch_call, deadline_after, leg_outputs, simulate_batch, with_min_outs
from trimtab.chain.keys import refuse_dev_key_off_local
from trimtab.chain.node import connect
from trimtab.chain.revert import describe_revert
from trimtab.chain.tx import GWEI, FeePolicy, Sender, fee_fields
from trimtab.core.base.ports import ExecutionReport
from trimtab.core.base.types import ZERO, MarketRules, TradePlan
from trimtab.errors import InsufficientFunds, OrderRejected, VenueError, VenueMisconfigured, VenueUnavailable


@dataclass(frozen=True)
class DexSettings:
    """Execution knobs: slippage tolerance, deadline window, fee cap, gas wait, private endpoint, approvals."""

    slippage: Decimal = Decimal("0.005")
    deadline_seconds: int = 60
    min_notional: Decimal = ZERO  # quote units
    fees: FeePolicy = FeePolicy(max_fee_cap=100 * GWEI)
    gas_wait: GasWait | None = None
    private_rpc: str | None = None  # raw transactions go here instead of the public RPC when set
    approvals: Literal["exact", "off"] = "exact"  # approve exactly what a batch needs (or the cap); never unlimited
    allowance_caps: Mapping[str, Decimal] = field(default_factory=dict)  # symbol -> approve this much when short
    use_v3: bool = True
    gas_in_fills: bool = False  # charge each fill its share of gas (in quote units); see fills.py
    estimate_gas: bool = True  # simulate batched vs separate gas (eth_simulateV1)
    receipt_timeout: float = 120.0
    price_places: int | None = 18  # Fill.price decimals (ledger prices are NUMERIC(48, 18)); None = exact


class DexVenue:
    """Uniswap V2 (+V3) on an EVM chain as a Venue; the signing key is held privately and never shown."""

    atomic_batches = True  # a plan goes out as one guarded batch transaction: wrappers send it whole

    def __init__(
        self,
        rpc_url: str,
        deployment: Deployment,
        account: LocalAccount,
        settings: DexSettings | None = None,
        *,
        name: str = "uniswap",
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.settings = settings or DexSettings()
        if not Decimal(0) <= self.settings.slippage < Decimal(1):
            raise VenueMisconfigured(f"slippage tolerance must be in [0, 1), got {self.settings.slippage}", venue=name)
        self._rpc_url = rpc_url
        self._sleep, self._clock = sleep, clock
        with self._rpc_errors("connect"):
            self.w3 = connect(rpc_url)
            chain_id = int(self.w3.eth.chain_id)
            if chain_id != deployment.chain_id:
                raise VenueMisconfigured(
                    f"RPC is chain {chain_id}, the deployment is for chain {deployment.chain_id}",
                    venue=name,
                    op="connect",
                )
            refuse_dev_key_off_local(account, chain_id)
            self._tx_w3 = connect(self.settings.private_rpc) if self.settings.private_rpc else self.w3
            self._reader = ChainReader(self.w3, deployment, name)
            self._reader.check_contracts(account.address)
            self._sender = Sender(self.w3, account, self.settings.fees, venue=name)
        self.__account = account
        self.address = account.address
        self.last_execution: ExecutionDetails | None = None

    def __repr__(self) -> str:
        private = ", private endpoint" if self.settings.private_rpc else ""
        return f"DexVenue(name={self.name!r}, rpc={self._rpc_url!r}, wallet={self.address}{private})"

    @contextlib.contextmanager
    def _rpc_errors(self, op: str) -> Iterator[None]:
        """A node that does not answer becomes VenueUnavailable (the engine retries), never a raw traceback."""
        try:
            yield
        except (requests.exceptions.RequestException, ConnectionError, OSError) as exc:
            raise VenueUnavailable(
                f"RPC {self._rpc_url} did not answer ({type(exc).__name__})", venue=self.name, op=op
            ) from None

    # -- reads ------------------------------------------------------------------------------------
    def token(self, symbol: str) -> Token:
        return self._reader.token(symbol)

    def balances(self) -> dict[str, Decimal]:
        """ERC20 balances of the wallet by portfolio symbol (WETH as ETH), zero balances left out."""
        with self._rpc_errors("balances"):
            out = {
                t.symbol: units_to_decimal(self._reader.balance(t, self.address), t.decimals)
                for t in self._reader.registry.values()
            }
        return {s: q for s, q in out.items() if q}

    def rules(self, asset: str, quote: str) -> MarketRules:
        """Lot step = one base unit of the token; minimum notional as configured (quote units)."""
        base, q = self.token(asset), self.token(quote)
        return MarketRules(
            amount_step=Decimal(1).scaleb(-base.decimals),
            price_tick=Decimal(1).scaleb(-q.decimals),
            min_notional=self.settings.min_notional,
        )

    def mid_prices(self, assets: list[str] | tuple[str, ...], quote: str) -> dict[str, Decimal]:
        """Pool mid price (before fees) of each asset in quote units, from V2 reserves (direct pair, else via WETH)."""
        q = self.token(quote)
        with self._rpc_errors("prices"):
            return {a: self._mid(self.token(a), q) for a in assets}

    def _mid(self, base: Token, quote: Token) -> Decimal:
        if base.address == quote.address:
            return Decimal(1)
        book = PoolBook()
        routes = self._reader.v2_routes(book, base, quote)
        if not routes:
            raise VenueMisconfigured(f"no V2 pool prices {base.symbol} in {quote.symbol}", venue=self.name, op="prices")
        return book.mid(routes[0].path).scaleb(base.decimals - quote.decimals)

    def preview(self, plan: TradePlan) -> Preflight:
        """Routes, sizes and funding of every order, read-only: what execute() would send."""
        with self._rpc_errors("preview"):
            return preflight(self._reader, plan, self.address, self.settings.min_notional, use_v3=self.settings.use_v3)

    def estimate_gas(self, legs: tuple[LegPlan, ...]) -> GasComparison:
        """Simulated gas of the V2 legs as one executor batch vs one Router02 swap each (None parts if unknown)."""
        v2 = [leg for leg in legs if leg.route.kind == "v2"]
        if not v2:
            return GasComparison(None, None, 0)
        with self._rpc_errors("estimate"):
            deadline = deadline_after(self.w3, self.settings.deadline_seconds)
            ex = self._reader.executor
            router = self.w3.eth.contract(
                address=to_checksum_address(self._reader.deployment.v2_router),
                abi=load_artifact("UniswapV2Router02").abi,
            )
            needs: dict[str, int] = {}
            for leg in v2:
                needs[leg.token_in.address] = needs.get(leg.token_in.address, 0) + leg.amount_in
            setup = [
                self._call_of(self._reader.erc20(self._reader.by_address(t)), "approve", [spender, n])
                for t, n in needs.items()
                for spender in (ex.address, router.address)
            ]
            batch = self._call_of(
                ex, "executeDirect", [[SwapLeg(leg.route.path, leg.amount_in).as_abi() for leg in v2], deadline]
            )
            separate = [
                self._call_of(
                    router, "swapExactTokensForTokens", [leg.amount_in, 0, list(leg.route.path), self.address, deadline]
                )
                for leg in v2
            ]
            one = simulate_gas(self.w3, setup, [batch])
            many = simulate_gas(self.w3, setup, separate)
        return GasComparison(one[0] if one else None, sum(many) if many else None, len(v2))

    def _call_of(self, contract: Any, fn: str, args: list[Any]) -> dict[str, Any]:
        return {"from": self.address, "to": contract.address, "data": contract.encode_abi(fn, args=args)}

    # -- execution --------------------------------------------------------------------------------
    def execute(self, plan: TradePlan) -> ExecutionReport:
        """Run the plan as one atomic batch (plus one tx per V3 leg); failures are reported, never hidden."""
        state = Progress()
        try:
            with self._rpc_errors("execute"):
                return self._execute(plan, state)
        except VenueError as err:
            err.partial_report = state.report(plan, self.name)
            raise
        except TimeExhausted as exc:
            err2 = VenueUnavailable(
                f"no receipt in time; outcome unknown, check the chain ({exc})", venue=self.name, op="receipt"
            )
            err2.partial_report = state.report(plan, self.name)
            raise err2 from None

    def _execute(self, plan: TradePlan, state: Progress) -> ExecutionReport:
        self._sender.resync()
        pre = preflight(self._reader, plan, self.address, self.settings.min_notional, use_v3=self.settings.use_v3)
        state.failures.update(dict(pre.failures))
        if not pre.legs:
            return state.report(plan, self.name)
        native = self._native_price(pre.legs[0].quote)
        wait = (
            wait_for_gas(self.w3, self.settings.gas_wait, sleep=self._sleep, clock=self._clock)
            if self.settings.gas_wait
            else None
        )
        if wait is not None:
            state.notes.append(wait.note())
        fee_fields(self.w3, self.settings.fees)  # above the max-fee cap: VenueUnavailable, nothing sent
        gas = self.estimate_gas(pre.legs) if self.settings.estimate_gas else None
        if gas is not None:
            state.notes.append(gas.note())
        for segment in _segments(pre.legs):
            if segment[0].route.kind == "v2":
                self._run_batch(segment, native, state)
            else:
                self._run_v3(segment[0], native, state)
        self.last_execution = ExecutionDetails(
            pre.legs, dict(state.simulated), dict(state.guards), tuple(state.txs), gas, wait, native
        )
        used = sum(t.gas_used for t in state.txs)
        cost = sum((t.gas_cost_quote for t in state.txs), ZERO)
        state.notes.append(f"realised gas: {used:,} in {len(state.txs)} tx(s), {cost:.6f} {pre.legs[0].quote.symbol}")
        return state.report(plan, self.name)

    def _native_price(self, quote: Token) -> Decimal:
        try:
            return self._mid(self._reader.weth(), quote)
        except VenueMisconfigured:
            return ZERO

    def _run_batch(self, legs: tuple[LegPlan, ...], native: Decimal, state: Progress) -> None:
        ex = self._reader.executor
        self._approve(ex.address, legs, {leg.index: leg.amount_in for leg in legs}, native, state)
        deadline = deadline_after(self.w3, self.settings.deadline_seconds)
        bare = [SwapLeg(leg.route.path, leg.amount_in) for leg in legs]
        try:
            simulated = simulate_batch(ex, bare, sender=self.address, deadline=deadline)
        except OrderRejected as exc:
            state.fail(legs, f"batch simulation reverted, nothing sent: {exc}")
            return
        guarded = with_min_outs(bare, simulated, self.settings.slippage)
        for leg, sim, g in zip(legs, simulated, guarded, strict=True):
            state.simulated[leg.index], state.guards[leg.index] = sim, g.min_out
        call = batch_call(ex, guarded, deadline, "direct")
        receipt, tx_hash = self._send(call, legs, state)
        if receipt is None:
            return
        record = self._record("batch", tx_hash, receipt, native, state)
        if record.status != 1:
            state.fail(
                legs,
                f"batch {tx_hash} reverted on chain (status 0, block {receipt['blockNumber']}, "
                f"gas used {receipt['gasUsed']}): {self._replay(call, receipt)}",
            )
            return
        outs = leg_outputs(receipt, guarded, self.address)
        state.settle(
            [Executed(leg, leg.amount_in, out, tx_hash) for leg, out in zip(legs, outs, strict=True)],
            record.gas_cost_quote,
            gas_in_fills=self.settings.gas_in_fills,
            price_places=self.settings.price_places,
        )

    def _run_v3(self, leg: LegPlan, native: Decimal, state: Progress) -> None:
        router = self._reader.v3_router
        if router is None:
            raise RuntimeError("internal invariant broken: expected router is not None")
        tin, tout, fee = leg.token_in, leg.token_out, leg.route.v3_fee
        num, den = self.settings.slippage.as_integer_ratio()
        if leg.order.side.value == "sell":
            quoted = self._reader.v3_quote_out(tin, tout, fee, leg.amount_in) or 0
            guard, pay_max = quoted * (den - num) // den, leg.amount_in
        else:
            quoted = self._reader.v3_quote_in(tin, tout, fee, leg.target_units) or 0
            guard = pay_max = -(-quoted * (den + num) // den)
        if quoted <= 0:
            state.fail((leg,), f"V3 pool cannot fill {leg.describe()}")
            return
        state.simulated[leg.index], state.guards[leg.index] = quoted, guard
        self._approve(router.address, (leg,), {leg.index: pay_max}, native, state)
        deadline = deadline_after(self.w3, self.settings.deadline_seconds)
        if leg.order.side.value == "sell":
            call = router.functions.exactInputSingle(
                (tin.address, tout.address, fee, self.address, deadline, leg.amount_in, guard, 0)
            )
        else:
            call = router.functions.exactOutputSingle(
                (tin.address, tout.address, fee, self.address, deadline, leg.target_units, guard, 0)
            )
        receipt, tx_hash = self._send(call, (leg,), state)
        if receipt is None:
            return
        record = self._record("v3-swap", tx_hash, receipt, native, state)
        if record.status != 1:
            state.fail((leg,), f"V3 swap {tx_hash} reverted on chain (status 0): {self._replay(call, receipt)}")
            return
        paid = transfers(receipt, tin.address, sender=self.address)
        got = transfers(receipt, tout.address, recipient=self.address)
        state.settle(
            [Executed(leg, paid, got, tx_hash)],
            record.gas_cost_quote,
            gas_in_fills=self.settings.gas_in_fills,
            price_places=self.settings.price_places,
        )

    def _approve(
        self, spender: str, legs: tuple[LegPlan, ...], amounts: Mapping[int, int], native: Decimal, state: Progress
    ) -> None:
        """Raise the spender's allowance to what these legs pull (or the configured cap), never to unlimited."""
        needs: dict[str, int] = {}
        for leg in legs:
            needs[leg.token_in.address] = needs.get(leg.token_in.address, 0) + amounts[leg.index]
        for address, need in needs.items():
            token = self._reader.by_address(address)
            have = self._reader.allowance(token, self.address, spender)
            if have >= need:
                continue
            if self.settings.approvals == "off":
                raise VenueMisconfigured(
                    f"allowance of {token.symbol} for {spender} is {units_to_decimal(have, token.decimals)}, the batch "
                    f"needs {units_to_decimal(need, token.decimals)}; approvals are off",
                    venue=self.name,
                    op="approve",
                )
            cap = self.settings.allowance_caps.get(token.symbol)
            amount = max(need, decimal_to_units(cap, token.decimals)) if cap is not None else need
            call = self._reader.erc20(token).functions.approve(spender, amount)
            receipt, tx_hash = self._send(call, (), state, what=f"approve {token.symbol}")
            if receipt is None or self._record("approve", tx_hash, receipt, native, state).status != 1:
                raise OrderRejected(f"approval of {token.symbol} for {spender} failed", venue=self.name, op="approve")
            state.notes.append(f"approved {units_to_decimal(amount, token.decimals)} {token.symbol} for {spender}")

    def _send(
        self, call: ContractFunction, legs: tuple[LegPlan, ...], state: Progress, what: str = "batch"
    ) -> tuple[TxReceipt | None, str]:
        """Estimate, check the native balance covers gas, sign, send (private endpoint if set) and wait."""
        try:
            tx = self._sender.build(call)
        except OrderRejected as exc:
            if not legs:
                raise
            state.fail(legs, f"{what} would revert, nothing sent: {exc}")
            return None, ""
        worst = int(tx["gas"]) * int(tx["maxFeePerGas"]) + int(tx.get("value", 0))
        native = int(self.w3.eth.get_balance(self.address))
        if native < worst:
            raise InsufficientFunds(
                f"native balance {native} wei cannot cover the {what}'s gas (up to {worst} wei)",
                venue=self.name,
                op="send",
            )
        signed = self.__account.sign_transaction(tx)  # type: ignore[arg-type]
        self._sender.nonce += 1
        try:
            sent = self._tx_w3.eth.send_raw_transaction(signed.raw_transaction)
        except Exception:
            self._sender.resync()
            raise
        return self.w3.eth.wait_for_transaction_receipt(sent, timeout=self.settings.receipt_timeout), sent.to_0x_hex()

    def _record(self, kind: str, tx_hash: str, receipt: TxReceipt, native: Decimal, state: Progress) -> TxRecord:
        gas_used, price = int(receipt["gasUsed"]), int(receipt.get("effectiveGasPrice", 0))
        rec = TxRecord(kind, tx_hash, int(receipt["status"]), gas_used, price, gas_in_quote(gas_used, price, native))
        state.txs.append(rec)
        return rec

    def _replay(self, call: ContractFunction, receipt: TxReceipt) -> str:
        """Why a mined transaction reverted: the same call replayed on the state of its block."""
        abis = [self._reader.executor.abi] + ([self._reader.v3_router.abi] if self._reader.v3_router else [])
        try:
            call.call({"from": self.address}, block_identifier=int(receipt["blockNumber"]))
        except ContractLogicError as exc:
            return describe_revert(exc, abis)
        except Exception as exc:  # noqa: BLE001 - the reason is best effort; the failure itself is certain
            return f"reason unavailable ({type(exc).__name__})"
        return "reason unavailable (replay succeeds)"


def _segments(legs: tuple[LegPlan, ...]) -> list[tuple[LegPlan, ...]]:
    """Consecutive V2 legs form one batch; each V3 leg is its own transaction; plan order is kept."""
    out: list[list[LegPlan]] = []
    for leg in legs:
        if leg.route.kind == "v2" and out and out[-1][0].route.kind == "v2":
            out[-1].append(leg)
        else:
            out.append([leg])
    return [tuple(s) for s in out]
