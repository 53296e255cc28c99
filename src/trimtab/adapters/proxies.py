"""Assets the bundled data prices by proxy: WBTC as BTC (a 1:1 wrapped token; the CoinGecko file has no WBTC series).

A proxied column copies its source's closes; its market caps and volumes are unknown (NaN), so market-cap models
never mistake it for a second BTC. Only an explicit request loads it: the whole file stays the 44 real series.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np

from trimtab.core.base.history import PriceHistory
from trimtab.core.base.types import asset_symbol

PROXIES: Final = {"WBTC": "BTC"}


def proxied_request(assets: Sequence[str] | None, available: Sequence[str]) -> tuple[list[str] | None, dict[str, str]]:
    """The assets to read (each proxied asset the data lacks replaced by its source) and proxy -> source used."""
    if assets is None:
        return None, {}
    names = [asset_symbol(a) for a in assets]
    used = {a: PROXIES[a] for a in names if a in PROXIES and a not in available}
    read = list(dict.fromkeys(PROXIES.get(a, a) if a in used else a for a in names))
    return read, used


def with_proxies(history: PriceHistory, used: dict[str, str], requested: Sequence[str]) -> PriceHistory:
    """`history` with each proxy's column copied from its source, columns in the requested order (quote last)."""
    if not used:
        return history
    wanted = [a for a in dict.fromkeys(asset_symbol(a) for a in requested) if a in used or a in history.assets]
    source_only = {s for s in used.values() if s not in wanted}  # read for a proxy, not asked for
    order = [*wanted, *(a for a in history.assets if a not in wanted and a not in source_only)]
    cols = [history.index_of(used.get(a, a)) for a in order]

    def pick(m: np.ndarray | None, copy_market: bool) -> np.ndarray | None:
        if m is None:
            return None
        out = np.array(m[:, cols], dtype=np.float64)
        if copy_market:
            return out
        for j, a in enumerate(order):
            if a in used:
                out[:, j] = np.nan
        return out

    return PriceHistory(
        times=history.times,
        assets=tuple(order),
        prices=pick(history.prices, True),  # type: ignore[arg-type]
        market_caps=pick(history.market_caps, False),
        volumes=pick(history.volumes, False),
        source=history.source,
        warmup=history.warmup,
    )
