"""Yield positions as assets: lending / vault deposits whose value accrues by an index, not a market price.

An Aave v3 aToken balance is `scaled_balance * liquidity_index` (Aave v3 `AToken.balanceOf`, `rayMul`); an
ERC-4626 share is worth `convertToAssets(1)` = share price. Both are held here as *units* (scaled balance or
shares) times an *index* (liquidity index or share price) times the underlying's USD price.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from trimtab.core.base.types import ZERO
from trimtab.errors import ConfigError

SECONDS_PER_YEAR = 31_536_000  # Aave's SECONDS_PER_YEAR (365 days): rates compound per second
FloatArray = npt.NDArray[np.float64]
CASH = "wallet"  # protocol name of an idle (non-yielding) holding of a stablecoin


def apr_to_apy(apr: float, periods: int = SECONDS_PER_YEAR) -> float:
    """APY from an APR compounded `periods` times a year: (1 + APR/n)^n - 1.

    The formula Aave documents for its UI ("APY = (1 + APR / SECONDS_PER_YEAR) ^ SECONDS_PER_YEAR - 1",
    docs.aave.com, Developers > Guides > Rates); log1p/expm1 keep it exact for tiny per-second rates.
    """
    return math.expm1(periods * math.log1p(apr / periods))


def apy_to_apr(apy: float, periods: int = SECONDS_PER_YEAR) -> float:
    """Inverse of `apr_to_apy`: n * ((1 + APY)^(1/n) - 1)."""
    return periods * math.expm1(math.log1p(apy) / periods)


@dataclass(frozen=True, slots=True)
class YieldPosition:
    """One place money can sit: a reserve deposit (`aUSDC` on aave_v3) or idle cash (`protocol == "wallet"`).

    `risk_score` is user-given safety in [0, 1] (1 = safest); `reserve` names the rates-file row (its symbol).
    """

    name: str
    underlying: str
    protocol: str
    reserve: str = ""
    market: str = ""
    risk_score: float = 1.0

    @property
    def is_cash(self) -> bool:
        return self.protocol == CASH


def cash_position(symbol: str) -> YieldPosition:
    """Idle stablecoin in the wallet: index 1, APR 0, no deposit or withdraw gas."""
    return YieldPosition(name=symbol, underlying=symbol, protocol=CASH)


@dataclass(frozen=True, slots=True)
class ReserveState:
    """A reserve at one time: supply APR (fraction), index, size and utilisation, underlying price (USD)."""

    apr: float
    index: float
    supplied: float  # underlying units
    utilization: float
    price: float = 1.0

    @property
    def apy(self) -> float:
        return apr_to_apy(self.apr)

    @property
    def supplied_usd(self) -> float:
        return self.supplied * self.price

    @property
    def available(self) -> float:
        """Underlying units that can be withdrawn now: supplied minus borrowed (the protocol's withdrawal limit)."""
        return max(self.supplied * (1.0 - self.utilization), 0.0)


CASH_STATE = ReserveState(apr=0.0, index=1.0, supplied=math.inf, utilization=0.0)


@dataclass(frozen=True, eq=False)
class RatesTable:
    """Daily reserve states, one column per reserve (rates-file symbol), NaN before a reserve exists; read-only."""

    times: npt.NDArray[np.datetime64]
    reserves: tuple[str, ...]
    apr: FloatArray  # [T, R]
    index: FloatArray
    supplied: FloatArray
    utilization: FloatArray
    price: FloatArray
    source: str = ""

    def __post_init__(self) -> None:
        for a in (self.times, self.apr, self.index, self.supplied, self.utilization, self.price):
            a.flags.writeable = False

    def __len__(self) -> int:
        return len(self.times)

    def column(self, reserve: str) -> int:
        return self.reserves.index(reserve)

    def require(self, positions: tuple[YieldPosition, ...]) -> None:
        """ConfigError naming the first candidate whose reserve the file does not have."""
        for p in positions:
            if not p.is_cash and p.reserve not in self.reserves:
                raise ConfigError(
                    f"reserve {p.reserve} is not in the rates file (it has {', '.join(self.reserves)})",
                    source=self.source,
                    field="yield.candidates",
                )

    def state(self, t: int, reserve: str) -> ReserveState | None:
        """The reserve at row `t`, or None when it has no data there (not listed yet)."""
        j = self.column(reserve)
        if not math.isfinite(self.index[t, j]):
            return None
        return ReserveState(
            float(self.apr[t, j]),
            float(self.index[t, j]),
            float(self.supplied[t, j]),
            float(self.utilization[t, j]),
            float(self.price[t, j]),
        )

    def slice(self, lo: int, hi: int) -> RatesTable:
        return RatesTable(
            self.times[lo:hi].copy(),
            self.reserves,
            self.apr[lo:hi].copy(),
            self.index[lo:hi].copy(),
            self.supplied[lo:hi].copy(),
            self.utilization[lo:hi].copy(),
            self.price[lo:hi].copy(),
            self.source,
        )

    def trailing_apr(self, window: int) -> RatesTable:
        """The same table with each APR replaced by its mean over the last `window` rows (past rows only)."""
        if window <= 1:
            return self
        apr = np.asarray(self.apr)
        csum = np.nancumsum(np.nan_to_num(apr), axis=0)
        count = np.cumsum(np.isfinite(apr), axis=0)
        lag_sum = np.vstack([np.zeros((window, apr.shape[1])), csum[:-window]])
        lag_cnt = np.vstack([np.zeros((window, apr.shape[1])), count[:-window]])
        n = count - lag_cnt
        mean = np.where(np.isfinite(apr) & (n > 0), (csum - lag_sum) / np.maximum(n, 1), np.nan)
        return RatesTable(
            self.times.copy(),
            self.reserves,
            mean,
            self.index.copy(),
            self.supplied.copy(),
            self.utilization.copy(),
            self.price.copy(),
            self.source,
        )

    def common_rows(self, reserves: tuple[str, ...]) -> tuple[int, int]:
        """[lo, hi) of the longest leading-gap-free window where every named reserve has data."""
        cols = [self.column(r) for r in reserves]
        ok = np.all(np.isfinite(self.index[:, cols]), axis=1)
        idx = np.flatnonzero(ok)
        if idx.size == 0:
            return 0, 0
        lo = int(idx[0])
        gaps = np.flatnonzero(~ok[lo:])
        hi = lo + int(gaps[0]) if gaps.size else len(ok)
        return lo, hi


def units_for(amount: Decimal, index: Decimal) -> Decimal:
    """Units (scaled balance / shares) received for depositing `amount` underlying at `index`."""
    return amount / index if index > 0 else ZERO


def accrued(units: Decimal, index_from: Decimal, index_to: Decimal) -> Decimal:
    """Interest in underlying units earned by `units` while the index moved from `index_from` to `index_to`."""
    return units * (index_to - index_from)


def d(x: float) -> Decimal:
    """A float from data as the Decimal of its shortest repr (so 1.000154479 stays 1.000154479)."""
    return Decimal(repr(float(x)))
