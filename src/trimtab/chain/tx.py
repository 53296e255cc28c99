"""Local signing, EIP-1559 fees under a cap, and receipt checks (status 0 is a failure, never success).

Transactions are signed in-process and sent with eth_sendRawTransaction, the same path as production.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account.datastructures import SignedTransaction
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractConstructor, ContractFunction
from web3.exceptions import ContractLogicError
from web3.types import TxParams, TxReceipt, Wei

from trimtab.chain.artifacts import Artifact
from trimtab.chain.revert import describe_revert
from trimtab.errors import OrderRejected, VenueUnavailable

GWEI = 10**9
GAS_HEADROOM_PCT = 125  # gas limit = estimate * 1.25; only gas used is paid


@dataclass(frozen=True)
class FeePolicy:
    """EIP-1559: maxFee = min(cap, multiplier * baseFee + tip); refuse to send when baseFee + tip > cap."""

    max_fee_cap: int = 200 * GWEI
    priority_fee: int | None = None  # wei; None = the node's eth_maxPriorityFeePerGas
    base_fee_multiplier: int = 2


def fee_fields(w3: Web3, policy: FeePolicy) -> dict[str, int]:
    """maxFeePerGas / maxPriorityFeePerGas for the next block; VenueUnavailable when gas is above the cap."""
    base = int(w3.eth.get_block("latest").get("baseFeePerGas", 0))
    tip = policy.priority_fee if policy.priority_fee is not None else int(w3.eth.max_priority_fee)
    if base + tip > policy.max_fee_cap:
        raise VenueUnavailable(
            f"base fee {base} + tip {tip} wei exceeds the max-fee cap {policy.max_fee_cap} wei", venue="evm", op="fees"
        )
    return {
        "maxFeePerGas": min(policy.max_fee_cap, base * policy.base_fee_multiplier + tip),
        "maxPriorityFeePerGas": tip,
    }


def send_signed(w3: Web3, signed: SignedTransaction) -> HexBytes:
    """Broadcast a signed transaction; returns its hash."""
    return w3.eth.send_raw_transaction(signed.raw_transaction)


def confirm(w3: Web3, tx_hash: HexBytes, *, what: str, timeout: float = 120.0, venue: str = "evm") -> TxReceipt:
    """Wait for the receipt; a status-0 (reverted) receipt raises OrderRejected instead of counting as done."""
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout)
    if receipt["status"] != 1:
        raise OrderRejected(
            f"transaction {tx_hash.to_0x_hex()} reverted on chain "
            f"(status 0, block {receipt['blockNumber']}, gas used {receipt['gasUsed']})",
            venue=venue,
            op=what,
        )
    return receipt


Call = ContractFunction | ContractConstructor


class Sender:
    """Builds, signs locally, sends and confirms calls for one account, keeping a local nonce counter."""

    def __init__(
        self,
        w3: Web3,
        account: LocalAccount,
        fees: FeePolicy | None = None,
        *,
        cache_fees: bool = False,
        venue: str = "evm",
    ) -> None:
        self.w3 = w3
        self.venue = venue
        self.account = account
        self.fees = fees or FeePolicy()
        self.chain_id = w3.eth.chain_id
        self.nonce = int(w3.eth.get_transaction_count(account.address, "pending"))
        self._cached = fee_fields(w3, self.fees) if cache_fees else None

    @property
    def address(self) -> ChecksumAddress:
        return self.account.address

    def resync(self) -> None:
        """Re-read the pending nonce (after a snapshot revert or another sender used the account)."""
        self.nonce = int(self.w3.eth.get_transaction_count(self.account.address, "pending"))

    def build(self, call: Call, *, gas: int | None = None, value: int = 0, priority_fee: int | None = None) -> TxParams:
        """Transaction fields for `call` at the next local nonce; gas estimated (revert -> OrderRejected)."""
        fees = dict(self._cached) if self._cached else fee_fields(self.w3, self.fees)
        if priority_fee is not None:
            fees["maxPriorityFeePerGas"] = priority_fee
            fees["maxFeePerGas"] = min(self.fees.max_fee_cap, max(fees["maxFeePerGas"], 2 * priority_fee))
        tx: dict[str, Any] = {"from": self.account.address, "chainId": self.chain_id, "nonce": self.nonce}
        tx.update(value=value, **fees)
        try:
            if gas is None:  # estimate + headroom: state (timestamp, other txs) may differ when mined
                gas = call.estimate_gas({"from": self.account.address, "value": Wei(value)}) * GAS_HEADROOM_PCT // 100
            tx["gas"] = gas
            return call.build_transaction(tx)  # type: ignore[arg-type]
        except ContractLogicError as exc:
            abi = getattr(call, "contract_abi", None) or getattr(call, "abi", [])
            msg = f"{_name(call)} would revert: {describe_revert(exc, [abi])}"
            raise OrderRejected(msg, venue=self.venue, op="estimate") from None

    def sign(
        self, call: Call, *, gas: int | None = None, value: int = 0, priority_fee: int | None = None
    ) -> SignedTransaction:
        """Build and sign without sending; consumes one nonce."""
        signed = self.account.sign_transaction(self.build(call, gas=gas, value=value, priority_fee=priority_fee))  # type: ignore[arg-type]
        self.nonce += 1
        return signed

    def transact(self, call: Call, *, gas: int | None = None, value: int = 0, what: str = "") -> TxReceipt:
        """Sign, send and confirm one call; raises OrderRejected if it reverts."""
        signed = self.sign(call, gas=gas, value=value)
        try:
            tx_hash = send_signed(self.w3, signed)
        except Exception:
            self.resync()  # the nonce was not used on chain
            raise
        return confirm(self.w3, tx_hash, what=what or _name(call), venue=self.venue)

    def deploy(self, artifact: Artifact, *args: object) -> Contract:
        """Deploy `artifact` with constructor `args`; returns the contract at its new address."""
        factory = self.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        receipt = self.transact(factory.constructor(*args), what=f"deploy {artifact.name}")
        address = receipt["contractAddress"]
        if address is None:
            raise OrderRejected(f"{artifact.name}: no contract address in receipt", venue=self.venue, op="deploy")
        return self.w3.eth.contract(address=address, abi=artifact.abi)


def _name(call: Call) -> str:
    return str(getattr(call, "fn_name", None) or "constructor")
