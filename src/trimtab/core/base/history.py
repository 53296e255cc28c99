"""Point-in-time price history: a read-only float64 matrix of closes, one column per asset."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

_SECONDS_PER_YEAR = 365.0 * 24 * 3600


def _readonly(a: FloatArray | None) -> FloatArray | None:
    if a is None:
        return None
    a = np.asarray(a, dtype=np.float64)
    if a.flags.writeable:
        a = a.copy()
        a.flags.writeable = False
    return a


@dataclass(frozen=True, eq=False)
class PriceHistory:
    """Closes (quote per unit) at sorted, unique UTC times; NaN marks a gap; rows never change.

    `market_caps` and `volumes` are optional matrices of the same shape (USD), NaN where unknown.
    """

    times: npt.NDArray[np.datetime64]
    assets: tuple[str, ...]
    prices: FloatArray
    market_caps: FloatArray | None = None
    volumes: FloatArray | None = None
    source: str = ""
    warmup: int = 0  # leading rows that models may read but a backtest does not trade on

    def __post_init__(self) -> None:
        times = np.asarray(self.times, dtype="datetime64[ns]")
        object.__setattr__(self, "times", times)
        object.__setattr__(self, "prices", _readonly(self.prices))
        object.__setattr__(self, "market_caps", _readonly(self.market_caps))
        object.__setattr__(self, "volumes", _readonly(self.volumes))
        t, n = self.prices.shape
        if len(times) != t or len(self.assets) != n:
            raise ValueError(
                f"history shape {self.prices.shape} does not match {len(times)} times x {len(self.assets)} assets"
            )
        if t > 1 and not bool(np.all(times[1:] > times[:-1])):
            raise ValueError("history times must be strictly increasing")
        if not 0 <= self.warmup < max(t, 1):
            raise ValueError(f"warmup {self.warmup} must leave at least one of {t} rows")

    def __len__(self) -> int:
        return len(self.times)

    def index_of(self, asset: str) -> int:
        return self.assets.index(asset)

    def upto(self, i: int) -> PriceHistory:
        """The history as it was known at row `i` (inclusive): no look-ahead by construction."""
        stop = i + 1
        return PriceHistory(
            times=self.times[:stop],
            assets=self.assets,
            prices=self.prices[:stop],
            market_caps=None if self.market_caps is None else self.market_caps[:stop],
            volumes=None if self.volumes is None else self.volumes[:stop],
            source=self.source,
        )

    def select(self, assets: tuple[str, ...]) -> PriceHistory:
        """Columns for `assets`, in that order."""
        idx = [self.index_of(a) for a in assets]
        return PriceHistory(
            times=self.times,
            assets=assets,
            prices=self.prices[:, idx],
            market_caps=None if self.market_caps is None else self.market_caps[:, idx],
            volumes=None if self.volumes is None else self.volumes[:, idx],
            source=self.source,
            warmup=self.warmup,
        )

    def after_warmup(self) -> PriceHistory:
        """The rows a backtest trades on (warm-up rows dropped)."""
        if not self.warmup:
            return self
        return PriceHistory(
            times=self.times[self.warmup :],
            assets=self.assets,
            prices=self.prices[self.warmup :],
            market_caps=None if self.market_caps is None else self.market_caps[self.warmup :],
            volumes=None if self.volumes is None else self.volumes[self.warmup :],
            source=self.source,
        )

    def between(self, start: np.datetime64 | None, end: np.datetime64 | None) -> PriceHistory:
        """Rows with start <= time <= end."""
        mask = np.ones(len(self.times), dtype=bool)
        if start is not None:
            mask &= self.times >= np.asarray(start).astype("datetime64[ns]")
        if end is not None:
            mask &= self.times <= np.asarray(end).astype("datetime64[ns]")
        return PriceHistory(
            times=self.times[mask],
            assets=self.assets,
            prices=self.prices[mask],
            market_caps=None if self.market_caps is None else self.market_caps[mask],
            volumes=None if self.volumes is None else self.volumes[mask],
            source=self.source,
        )

    def step_seconds(self) -> float:
        """Median spacing of the time index in seconds (1 day = 86400)."""
        if len(self.times) < 2:
            return 86400.0
        d = np.diff(self.times).astype("timedelta64[s]").astype(np.float64)
        return float(np.median(d))

    def periods_per_year(self) -> float:
        """Periods per 365-day year inferred from the median step (daily -> 365, hourly -> 8760)."""
        return _SECONDS_PER_YEAR / self.step_seconds()

    def latest(self) -> dict[str, float]:
        """Last known price per asset (NaN if the asset has no price at the last row)."""
        row = self.prices[-1]
        return {a: float(row[j]) for j, a in enumerate(self.assets)}
