"""Execution policy of a strategy: guards, slicing, DEX settings and the opening deposit, as typed values.

A strategy file's `guards:`, `execution:` and `dex:` blocks build into an ExecutionPolicy; the one pipeline
(trimtab.pipeline) reads it on every path, so a backtest, `trimtab execute` and `trimtab serve` apply the same
breakers and slicing (or refuse a key at validation when a path cannot honour it).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from trimtab.core.execution.guards import Guard, PriceDisagreement, TurnoverLimit
from trimtab.core.execution.slicing import GasWait, TwapSettings

ReferenceKind = Literal["ccxt", "file", "pool"]


@dataclass(frozen=True, slots=True)
class ReferenceSource:
    """The independent second price source `price_tolerance` compares against."""

    kind: ReferenceKind
    target: str = ""  # ccxt: exchange id; file: path of a price file; pool: unused (the DEX pools themselves)
    url: str | None = None  # ccxt: API URL override (a local exchange server)


@dataclass(frozen=True, slots=True)
class GuardPolicy:
    """Circuit breakers and the outside inputs they need."""

    guards: tuple[Guard, ...]
    balance_tolerance: float = 1e-6
    reference: ReferenceSource | None = None

    @property
    def needs_reference(self) -> bool:
        return any(isinstance(g, PriceDisagreement) for g in self.guards)

    @property
    def needs_daily_turnover(self) -> bool:
        return any(isinstance(g, TurnoverLimit) and g.per_day is not None for g in self.guards)

    def names(self) -> tuple[str, ...]:
        return tuple(g.name for g in self.guards)


@dataclass(frozen=True, slots=True)
class DexPolicy:
    """On-chain execution knobs a user sets: slippage tolerance, deadline, private RPC and the gas wait."""

    slippage: Decimal = Decimal("0.005")
    deadline_s: int = 60
    private_rpc: str | None = None
    gas_wait: GasWait | None = None


@dataclass(frozen=True, slots=True)
class ExecutionPolicy:
    """How plans leave: guards first, then TWAP slicing, then the venue (DEX knobs for on-chain venues)."""

    guards: GuardPolicy | None = None
    twap: TwapSettings | None = None
    dex: DexPolicy | None = None

    def keys(self) -> tuple[str, ...]:
        """The strategy-file keys this policy came from (for refusals that name the key)."""
        out = [f"guards.{n}" for n in (self.guards.names() if self.guards else ())]
        if self.twap is not None:
            out.append("execution.twap")
        if self.dex is not None:
            out.append("dex")
        return tuple(out)


@dataclass(frozen=True, slots=True)
class BacktestWindow:
    """Default window for `trimtab backtest` (the command's --start / --end win); ISO dates."""

    start: str | None = None
    end: str | None = None
