"""Data files shipped inside the package that configuration needs, read with the stdlib once per process.

Below both config and the adapters, so the strategy's `gwei: bundled` gas and the yield backtests read the same
Etherscan series the same way: zero and blank cells are gaps (NaN), never a free transaction."""

from __future__ import annotations

import csv
import functools
import math
from importlib import resources
from pathlib import Path

import numpy as np

from trimtab.core.costs.parts import GasPriceSeries

GAS_FILE = "eth_gas_daily.csv"  # Etherscan daily average gas price (gwei) and ETH/USD, 2015-07-30 .. 2024-06-30


def shipped_path(name: str) -> Path:
    """A data file inside the installed package."""
    return Path(str(resources.files("trimtab").joinpath("data", name)))


def _number(cell: str) -> float:
    value = float(cell) if cell.strip() else math.nan
    return value if value > 0 else math.nan  # 0 means Etherscan had no figure that day


@functools.lru_cache(maxsize=1)
def gas_series() -> GasPriceSeries:
    """One row per UTC day: gas price (gwei) and ETH price (USD); arrays read-only (shared by every caller)."""
    days: list[str] = []
    gwei: list[float] = []
    eth: list[float] = []
    with shipped_path(GAS_FILE).open(newline="") as f:
        for r in csv.DictReader(f):
            days.append(r["date"])
            gwei.append(_number(r["avg_gas_price_gwei"]))
            eth.append(_number(r["eth_price_usd"]))
    arrays = [np.array(days, dtype="datetime64[ns]"), np.array(gwei), np.array(eth)]
    for a in arrays:
        a.flags.writeable = False
    return GasPriceSeries(*arrays)
