"""What one DexVenue.execute() did: transactions, guards, gas, and the fills/failures gathered so far."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3.types import TxReceipt

from trimtab.adapters.dex.fills import Executed, fill_of, split_gas
from trimtab.adapters.dex.gas import GasComparison, GasWaitOutcome
from trimtab.adapters.dex.preflight import LegPlan
from trimtab.core.base.ports import ExecutionReport, LegFailure
from trimtab.core.base.types import ZERO, Fill, TradePlan

_TRANSFER = keccak(text="Transfer(address,address,uint256)")


@dataclass(frozen=True)
class TxRecord:
    kind: str  # approve | batch | v3-swap
    tx_hash: str
    status: int
    gas_used: int
    effective_gas_price: int
    gas_cost_quote: Decimal


@dataclass(frozen=True)
class ExecutionDetails:
    """Everything one execute() did on chain, for reports: legs, guards, transactions, gas."""

    legs: tuple[LegPlan, ...]
    simulated: Mapping[int, int]  # plan index -> simulated output
    guards: Mapping[int, int]  # plan index -> min output (V3 buys: max input)
    txs: tuple[TxRecord, ...]
    gas: GasComparison | None
    gas_wait: GasWaitOutcome | None
    native_price: Decimal

    @property
    def gas_used(self) -> int:
        return sum(t.gas_used for t in self.txs)

    @property
    def gas_cost_quote(self) -> Decimal:
        return sum((t.gas_cost_quote for t in self.txs), ZERO)


@dataclass
class Progress:
    """Mutable progress of one execute(): fills and failures by plan index, transactions, notes."""

    fills: dict[int, Fill] = field(default_factory=dict)
    failures: dict[int, LegFailure] = field(default_factory=dict)
    simulated: dict[int, int] = field(default_factory=dict)
    guards: dict[int, int] = field(default_factory=dict)
    txs: list[TxRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def fail(self, legs: tuple[LegPlan, ...], reason: str) -> None:
        for leg in legs:
            self.failures[leg.index] = LegFailure(leg.order, reason)

    def settle(self, done: list[Executed], gas_cost: Decimal, *, gas_in_fills: bool, price_places: int | None) -> None:
        weights = [e.paid if e.leg.token_in.address == e.leg.quote.address else e.received for e in done]
        shares = split_gas(gas_cost, weights) if gas_in_fills else [ZERO] * len(done)
        for ex, gas in zip(done, shares, strict=True):
            self.fills[ex.leg.index] = fill_of(ex, gas, price_places)

    def report(self, plan: TradePlan, venue: str) -> ExecutionReport:
        fills = tuple(self.fills[i] for i in sorted(self.fills))
        failures = tuple(self.failures[i] for i in sorted(self.failures))
        return ExecutionReport(fills, failures, venue=venue, notes=tuple(self.notes))


def transfers(receipt: TxReceipt, token: str, *, sender: str | None = None, recipient: str | None = None) -> int:
    """Sum of the token's Transfer amounts in the receipt from `sender` / to `recipient`."""

    def topic(addr: str) -> bytes:
        return bytes(12) + bytes.fromhex(to_checksum_address(addr)[2:])

    total = 0
    for log in receipt["logs"]:
        topics = log["topics"]
        if (
            len(topics) != 3
            or bytes(topics[0]) != _TRANSFER
            or to_checksum_address(log["address"]) != to_checksum_address(token)
        ):
            continue
        if sender is not None and bytes(topics[1]) != topic(sender):
            continue
        if recipient is not None and bytes(topics[2]) != topic(recipient):
            continue
        total += int.from_bytes(bytes(log["data"]), "big")
    return total
