"""Gas price series for cost models: the bundled Etherscan daily history as a core GasPriceSeries."""

from __future__ import annotations

import functools

import numpy as np

from trimtab.adapters.bundled import gas_daily
from trimtab.core.costmodels import GasPriceSeries


@functools.lru_cache(maxsize=1)
def bundled_gas_series() -> GasPriceSeries:
    """Daily average gas price (gwei) and ETH/USD, 2015-07-30 .. 2024-06-30; zeros (pre-market days) become gaps."""
    g = gas_daily()
    gwei = np.where(g.avg_gas_price_gwei > 0, g.avg_gas_price_gwei, np.nan)
    eth = np.where(g.eth_price_usd > 0, g.eth_price_usd, np.nan)
    return GasPriceSeries(g.dates, gwei, eth)
