"""Protocols the core needs from the outside world; adapters implement them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol, runtime_checkable

from trimtab.core.base.ledger import LedgerEntry
from trimtab.core.base.types import Fill, MarketRules, PlannedOrder, TradePlan


@dataclass(frozen=True, slots=True)
class LegFailure:
    """An order that did not (fully) fill, and why; what did fill is in the report's fills."""

    order: PlannedOrder
    reason: str
    filled_quantity: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class ExecutionReport:
    """What a venue did with a plan: fills for what traded, failures for what did not."""

    fills: tuple[Fill, ...]
    failures: tuple[LegFailure, ...] = ()
    venue: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def complete(self) -> bool:
        return not self.failures


class Venue(Protocol):
    """Somewhere orders are filled: paper, a ccxt exchange, a DEX."""

    name: str

    def balances(self) -> dict[str, Decimal]: ...

    def rules(self, asset: str, quote: str) -> MarketRules: ...

    def execute(self, plan: TradePlan) -> ExecutionReport: ...


class LedgerStore(Protocol):
    """Append-only storage of ledger entries; `append` is atomic (all entries or none)."""

    def append(self, entries: Sequence[LedgerEntry]) -> None: ...

    def entries(self, account: str | None = None) -> list[LedgerEntry]: ...

    def balances(self, account: str) -> dict[str, Decimal]: ...


@runtime_checkable
class Closable(Protocol):
    """A venue holding a connection or session to release when the caller is done."""

    def close(self) -> None: ...


@runtime_checkable
class PoolPriced(Protocol):
    """A venue that prices assets itself from its pools (an on-chain DEX): a second source or live prices."""

    def mid_prices(self, assets: list[str] | tuple[str, ...], quote: str) -> dict[str, Decimal]: ...


@runtime_checkable
class Fundable(Protocol):
    """A simulated exchange that keeps its own balances and is funded once when its account opens."""

    def fund(self, holdings: Mapping[str, Decimal]) -> object: ...


@runtime_checkable
class AtomicVenue(Protocol):
    """A venue that executes a whole plan as one atomic batch (one transaction): wrappers must not split it."""

    atomic_batches: bool
