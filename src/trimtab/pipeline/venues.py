"""Opening the live venues a pipeline runs on (ccxt exchanges, Uniswap on a chain), with the strategy's settings."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from trimtab.core.strategy import Strategy
from trimtab.errors import ConfigError


def open_ccxt(
    exchange_id: str,
    *,
    url: str | None = None,
    credentials: str | None = None,
    field: str = "venue",
    lookup_grace_s: float | None = None,
) -> Any:
    """A CcxtVenue; keys from TRIMTAB_<EXCHANGE>_API_KEY/_API_SECRET or a credentials file; `url`: a local server."""
    import ccxt

    from trimtab.adapters.ccxt_venue import CcxtVenue
    from trimtab.adapters.ccxt_venue.urls import api_urls

    exchange_id = exchange_id.strip().lower()
    if not exchange_id:
        raise ConfigError("use paper, uniswap or ccxt:<exchange id> (e.g. ccxt:binance)", field=field)
    if exchange_id not in ccxt.exchanges:
        raise ConfigError(f"unknown ccxt exchange {exchange_id!r}", field=field)
    from trimtab.adapters.ccxt_venue.retry import RetryPolicy

    urls = api_urls(exchange_id, url, field=f"{field} url") if url else None
    retry = RetryPolicy(lookup_grace=lookup_grace_s) if lookup_grace_s is not None else None
    return CcxtVenue(
        exchange_id, credentials, api_urls=urls, client_config={"enableRateLimit": url is None}, retry=retry
    )


def dex_settings(strategy: Strategy, *, min_notional: Decimal = Decimal(1)) -> Any:
    """The DEX venue's knobs from the strategy's `dex:` block (defaults when it has none)."""
    from trimtab.adapters.dex import DexSettings
    from trimtab.adapters.dex.gas import GasWait
    from trimtab.chain.tx import GWEI

    d = strategy.execution.dex
    if d is None:
        return DexSettings(min_notional=min_notional)
    wait = None
    if d.gas_wait is not None:  # skip-at-deadline is not a chain option: refused at validation
        wait = GasWait(max_base_fee=int(d.gas_wait.cap_gwei * GWEI), timeout=d.gas_wait.deadline_s)
    return DexSettings(
        slippage=d.slippage,
        deadline_seconds=d.deadline_s,
        min_notional=min_notional,
        gas_wait=wait,
        private_rpc=d.private_rpc,
    )


def open_dex(
    strategy: Strategy,
    rpc: str | None,
    deployment: str | Path | None,
    key_file: str | Path | None,
    *,
    fields: tuple[str, str] = ("rpc", "deployment"),
) -> Any:
    """A DexVenue on `rpc` with the contracts of `deployment`, signing with the key from the environment or a file."""
    from trimtab.adapters.dex import DexVenue, load_deployment, load_signer

    if not rpc:
        raise ConfigError("the uniswap venue needs an RPC URL", field=fields[0])
    if deployment is None:
        raise ConfigError("the uniswap venue needs a deployment file (from `trimtab chain deploy`)", field=fields[1])
    return DexVenue(
        rpc,
        load_deployment(Path(deployment)),
        load_signer(Path(key_file) if key_file else None),
        dex_settings(strategy),
    )
