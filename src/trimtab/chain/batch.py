"""Ordered, atomic swap batches through BatchExecutor: simulate once, guard each leg, sign, send, confirm.

Legs are simulated together in one eth_call, because independent quotes do not compose when legs share
a pool (EVM-RECIPE pitfall 2); each leg's minOut = simulated output * (1 - slippage tolerance).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Final, Literal

from eth_account.datastructures import SignedTransaction
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError
from web3.types import TxReceipt

from trimtab.chain.revert import describe_revert
from trimtab.chain.tx import Sender, confirm, send_signed
from trimtab.errors import OrderRejected, PlanError

Mode = Literal["direct", "router"]
VENUE: Final = "uniswap-v2"
_FUNCTION: Final = {"direct": "executeDirect", "router": "executeViaRouter"}
_TRANSFER_TOPIC: Final = keccak(text="Transfer(address,address,uint256)")


@dataclass(frozen=True)
class SwapLeg:
    """One exact-input swap along `path` (token addresses), receiving at least `min_out`."""

    path: tuple[str, ...]
    amount_in: int
    min_out: int = 0

    def __post_init__(self) -> None:
        if len(self.path) < 2:
            raise PlanError(f"swap path needs at least 2 tokens, got {len(self.path)}")
        if self.amount_in <= 0 or self.min_out < 0:
            raise PlanError(f"bad leg amounts: amount_in={self.amount_in}, min_out={self.min_out}")

    def as_abi(self) -> tuple[list[str], int, int]:
        return [to_checksum_address(t) for t in self.path], self.amount_in, self.min_out


@dataclass(frozen=True)
class BatchOutcome:
    """A mined, successful batch: what each leg received (from Transfer logs) and what it cost."""

    tx_hash: str
    block_number: int
    gas_used: int
    effective_gas_price: int
    amounts_out: tuple[int, ...]


def deadline_after(w3: Web3, seconds: int = 600) -> int:
    """Latest block timestamp + `seconds` (chain time, not wall time)."""
    return int(w3.eth.get_block("latest")["timestamp"]) + seconds


def batch_call(executor: Contract, legs: Sequence[SwapLeg], deadline: int, mode: Mode = "direct") -> ContractFunction:
    """The executeDirect / executeViaRouter call for these legs."""
    if not legs:
        raise PlanError("empty swap batch")
    fn = executor.get_function_by_name(_FUNCTION[mode])
    call: ContractFunction = fn([leg.as_abi() for leg in legs], deadline)
    return call


def simulate_batch(
    executor: Contract, legs: Sequence[SwapLeg], *, sender: str, deadline: int, mode: Mode = "direct"
) -> tuple[int, ...]:
    """Each leg's output when the whole ordered batch runs now (one eth_call); revert -> OrderRejected."""
    try:
        out = batch_call(executor, legs, deadline, mode).call({"from": sender}, block_identifier="latest")
    except ContractLogicError as exc:
        raise OrderRejected(
            f"batch simulation reverted: {describe_revert(exc, [executor.abi])}", venue=VENUE, op="simulate"
        ) from None
    return tuple(int(x) for x in out)


def with_min_outs(legs: Sequence[SwapLeg], simulated: Sequence[int], slippage: Decimal) -> tuple[SwapLeg, ...]:
    """Legs with min_out = floor(simulated * (1 - slippage)), in exact integer arithmetic."""
    if not Decimal(0) <= slippage < Decimal(1):
        raise PlanError(f"slippage tolerance must be in [0, 1), got {slippage}")
    if len(simulated) != len(legs):
        raise PlanError(f"{len(simulated)} simulated outputs for {len(legs)} legs")
    num, den = slippage.as_integer_ratio()
    return tuple(replace(leg, min_out=out * (den - num) // den) for leg, out in zip(legs, simulated, strict=True))


def guard_batch(
    executor: Contract, legs: Sequence[SwapLeg], *, sender: str, deadline: int, slippage: Decimal, mode: Mode = "direct"
) -> tuple[SwapLeg, ...]:
    """Simulate the batch unguarded, then set each leg's minimum output from the simulation."""
    bare = [replace(leg, min_out=0) for leg in legs]
    return with_min_outs(legs, simulate_batch(executor, bare, sender=sender, deadline=deadline, mode=mode), slippage)


def sign_batch(
    sender: Sender,
    executor: Contract,
    legs: Sequence[SwapLeg],
    *,
    deadline: int,
    mode: Mode = "direct",
    gas: int | None = None,
    priority_fee: int | None = None,
) -> SignedTransaction:
    """Signed batch transaction (not yet sent); an estimate that reverts raises OrderRejected."""
    return sender.sign(batch_call(executor, legs, deadline, mode), gas=gas, priority_fee=priority_fee)


def leg_outputs(receipt: TxReceipt, legs: Sequence[SwapLeg], owner: str) -> tuple[int, ...]:
    """Each leg's received amount: the ordered ERC20 Transfer logs of the leg's last token to `owner`."""
    owner_topic = bytes(12) + bytes.fromhex(to_checksum_address(owner)[2:])
    paid = [
        (to_checksum_address(log["address"]), int.from_bytes(bytes(log["data"]), "big"))
        for log in receipt["logs"]
        if len(log["topics"]) == 3
        and bytes(log["topics"][0]) == _TRANSFER_TOPIC
        and bytes(log["topics"][2]) == owner_topic
    ]
    if len(paid) != len(legs):
        raise OrderRejected(f"expected {len(legs)} payouts to the owner, found {len(paid)}", venue=VENUE, op="receipt")
    for i, ((token, _), leg) in enumerate(zip(paid, legs, strict=True)):
        if token != to_checksum_address(leg.path[-1]):
            raise OrderRejected(f"leg {i} paid out {token}, expected {leg.path[-1]}", venue=VENUE, op="receipt")
    return tuple(amount for _, amount in paid)


def settle(w3: Web3, tx_hash: bytes, legs: Sequence[SwapLeg], owner: str, *, timeout: float = 120.0) -> BatchOutcome:
    """Wait for a sent batch; status 0 raises OrderRejected, success returns each leg's received amount."""
    receipt = confirm(w3, HexBytes(tx_hash), what="batch", timeout=timeout, venue=VENUE)
    return BatchOutcome(
        tx_hash=HexBytes(tx_hash).to_0x_hex(),
        block_number=int(receipt["blockNumber"]),
        gas_used=int(receipt["gasUsed"]),
        effective_gas_price=int(receipt.get("effectiveGasPrice", 0)),
        amounts_out=leg_outputs(receipt, legs, owner),
    )


def execute_batch(
    sender: Sender,
    executor: Contract,
    legs: Sequence[SwapLeg],
    *,
    deadline: int,
    mode: Mode = "direct",
    gas: int | None = None,
    timeout: float = 120.0,
) -> BatchOutcome:
    """Sign, send and settle one batch for the sender (who must be the executor's owner)."""
    signed = sign_batch(sender, executor, legs, deadline=deadline, mode=mode, gas=gas)
    try:
        tx_hash = send_signed(sender.w3, signed)
    except Exception:
        sender.resync()
        raise
    return settle(sender.w3, tx_hash, legs, sender.address, timeout=timeout)
