"""Web3 connection to a JSON-RPC node plus the few anvil/evm test-control calls trimtab uses."""

from __future__ import annotations

from typing import Any

import requests
from web3 import Web3
from web3.providers.rpc import HTTPProvider

from trimtab.errors import VenueUnavailable


def connect(url: str, *, timeout: float = 30.0) -> Web3:
    """A Web3 on `url` with a proxy-free session and chain-id caching (EVM-RECIPE pitfall 13)."""
    session = requests.Session()
    session.trust_env = False
    provider = HTTPProvider(url, request_kwargs={"timeout": timeout}, session=session)
    provider.cache_allowed_requests = True
    w3 = Web3(provider)
    if not w3.is_connected():
        raise VenueUnavailable(f"no JSON-RPC node answering at {url}", venue="evm", op="connect")
    return w3


def rpc(w3: Web3, method: str, params: list[Any] | None = None) -> Any:
    """One raw JSON-RPC call; node errors become VenueUnavailable."""
    answer = w3.provider.make_request(method, params or [])  # type: ignore[arg-type]
    if "error" in answer:
        raise VenueUnavailable(f"{method}: {answer['error']}", venue="evm", op=method)
    return answer.get("result")


def snapshot(w3: Web3) -> str:
    """evm_snapshot: an id to revert to (single use, pitfall 10)."""
    return str(rpc(w3, "evm_snapshot"))


def revert_to(w3: Web3, snapshot_id: str) -> None:
    """evm_revert; consumes the id, so take a new snapshot afterwards."""
    if rpc(w3, "evm_revert", [snapshot_id]) is not True:
        raise VenueUnavailable(f"evm_revert({snapshot_id}) refused", venue="evm", op="evm_revert")


def set_automine(w3: Web3, enabled: bool) -> None:
    """Turn per-transaction mining on or off (off: transactions wait in the pool for mine())."""
    rpc(w3, "evm_setAutomine", [enabled])


def mine(w3: Web3, blocks: int = 1) -> None:
    """Mine `blocks` blocks now (anvil orders pending transactions by priority fee)."""
    rpc(w3, "anvil_mine", [hex(blocks)])
