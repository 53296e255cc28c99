"""What each path can honour: a strategy key a path cannot apply is refused at validation, naming the key."""

from __future__ import annotations

from typing import Literal

from trimtab.core.execution.guards import MissingMarket
from trimtab.core.strategy import Strategy
from trimtab.errors import ConfigError

PathKind = Literal["backtest", "execute", "serve"]
VenueKind = Literal["paper", "ccxt", "uniswap"]


def venue_kind(venue: str) -> VenueKind:
    if venue == "paper":
        return "paper"
    if venue == "uniswap":
        return "uniswap"
    if venue.startswith("ccxt:") and len(venue) > 5:
        return "ccxt"
    raise ConfigError("unknown venue (paper, ccxt:<exchange id>, uniswap)", field="venue")


def refuse_unsupported(
    strategy: Strategy, path: PathKind, venue: VenueKind = "paper", *, step_seconds: float | None = None
) -> None:
    """ConfigError naming the first strategy key that `path` on `venue` cannot honour; nothing is started."""
    policy = strategy.execution
    where = f"{path} on {venue}" if path != "backtest" else "a backtest"
    if strategy.cash_flow_first_s is not None and path != "backtest":
        raise ConfigError(
            f"{where} knows no future cash flows: it applies to backtests with --flows", field="cash_flow_first"
        )
    if strategy.approval is not None and path == "backtest":
        raise ConfigError("a backtest has nobody to approve a plan: approval applies to serve", field="approval")
    guards = policy.guards
    if guards is not None and guards.reference is not None:
        kind = guards.reference.kind
        if path == "backtest" and kind != "file":
            raise ConfigError(
                f"{where} has no live second price source: use guards.reference.file", field=f"guards.reference.{kind}"
            )
        if kind == "pool" and venue != "uniswap":
            raise ConfigError(f"{where} has no DEX pools to compare with", field="guards.reference.pool")
    if guards is not None and path == "backtest" and any(isinstance(g, MissingMarket) for g in guards.guards):
        raise ConfigError(
            "a backtest trades every priced asset: require_markets has nothing to check", field="guards.require_markets"
        )
    if policy.dex is not None and venue == "ccxt":
        raise ConfigError(f"{where}: dex settings apply to the uniswap venue only", field="dex")
    wait = policy.dex.gas_wait if policy.dex is not None else None
    if wait is not None and not wait.execute_at_deadline and venue == "uniswap":
        raise ConfigError(
            f"{where} sends at the gas-wait deadline: execute_at_deadline: false is not supported",
            field="dex.gas_wait.execute_at_deadline",
        )
    twap = policy.twap
    if twap is not None and path == "backtest" and step_seconds is not None and twap.horizon_s > step_seconds:
        raise ConfigError(
            f"a backtest fills at each step's close: a TWAP horizon of {twap.horizon_s:g} s is longer "
            f"than the {step_seconds:g} s step",
            field="execution.twap.horizon",
        )
