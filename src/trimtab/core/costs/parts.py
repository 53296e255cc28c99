"""Cost-model parts beyond the linear defaults: tiered fees, half-spread, square-root impact and gas.

Each part plugs into `CostModel` (core/costs/model.py) through the ImpactPart / FeePart / GasPart protocols and
composes with `+`. Parts also expose float fast paths (`impact_f`, `fee_f`, `gas_f`) that the router
(core/costs/pricing.py) uses, so a route search does not pay for Decimal arithmetic on every probe.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from trimtab.core.base.history import PriceHistory
from trimtab.core.base.types import ZERO, Side
from trimtab.core.costs.model import BPS, CostModel
from trimtab.errors import DataError

GWEI = Decimal("1e-9")


def _d(x: float) -> Decimal:
    return Decimal(repr(float(x)))


class _Part:
    def __add__(self, other: object) -> CostModel:
        return CostModel((self,)) + other


# -- fees ----------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class FeeTier:
    """From `min_volume` (30-day traded volume, quote units) upward, these maker/taker rates apply."""

    min_volume: Decimal
    maker_bps: Decimal
    taker_bps: Decimal


@dataclass(frozen=True, slots=True)
class TieredFee(_Part):
    """Maker/taker fee picked from a volume-tier schedule (as exchanges publish them) for the account's volume.

    Market orders pay the taker rate; `maker=True` prices passive (limit) execution instead.
    """

    tiers: tuple[FeeTier, ...]
    volume_30d: Decimal = ZERO
    maker: bool = False

    def __post_init__(self) -> None:
        if not self.tiers:
            raise ValueError("fee schedule needs at least one tier")
        mins = [t.min_volume for t in self.tiers]
        if mins != sorted(mins) or len(set(mins)) != len(mins):
            raise ValueError("fee tiers must have strictly increasing min_volume")
        if any(t.maker_bps < 0 or t.taker_bps < 0 for t in self.tiers):
            raise ValueError("fee rates must be >= 0")

    @property
    def bps(self) -> Decimal:
        """The rate that applies at `volume_30d` (the first tier applies below its own minimum too)."""
        tier = self.tiers[0]
        for t in self.tiers:
            if self.volume_30d >= t.min_volume:
                tier = t
        return tier.maker_bps if self.maker else tier.taker_bps

    def fee(self, asset: str, side: Side, exec_notional: Decimal) -> Decimal:
        return exec_notional * self.bps * BPS

    def fee_f(self, asset: str, side: Side, exec_notional: float) -> float:
        return exec_notional * float(self.bps) * 1e-4


# -- spread and impact ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class HalfSpread(_Part):
    """Crossing a quoted spread costs half of it against mid, whatever the size (`per_asset` overrides)."""

    spread_bps: Decimal
    per_asset: Mapping[str, Decimal] = field(default_factory=lambda: MappingProxyType({}))

    def _bps(self, asset: str) -> Decimal:
        return self.per_asset.get(asset, self.spread_bps)

    def impact(self, asset: str, side: Side, quantity: Decimal, mid: Decimal) -> Decimal:
        return self._bps(asset) * BPS / 2

    def impact_f(self, asset: str, side: Side, quantity: float, mid: float) -> float:
        return float(self._bps(asset)) * 0.5e-4


@dataclass(frozen=True, slots=True)
class SqrtImpact(_Part):
    """Square-root market impact: move = Y * sigma * sqrt(Q / V_daily).

    sigma is the daily return volatility, Q the order's notional and V_daily the average daily traded
    notional (both in quote units, so the ratio equals the share-of-volume ratio). The law is the
    empirical result of Almgren, Thum, Hauptmann, Li (2005) "Direct estimation of equity market impact"
    and Toth et al. (2011) "Anomalous price impact and the critical nature of liquidity in financial
    markets"; Y is of order one (0.5..1 in those studies), default 0.8.
    """

    volatility: Mapping[str, float]
    daily_volume: Mapping[str, float]
    y: float = 0.8
    default_volatility: float | None = None
    default_daily_volume: float | None = None

    def __post_init__(self) -> None:
        if not self.y >= 0:
            raise ValueError("impact coefficient Y must be >= 0")

    def _params(self, asset: str) -> tuple[float, float]:
        sigma = self.volatility.get(asset, self.default_volatility)
        volume = self.daily_volume.get(asset, self.default_daily_volume)
        if sigma is None or not math.isfinite(sigma) or sigma < 0:
            raise DataError("no usable daily volatility for square-root impact", field=f"costs.volatility.{asset}")
        if volume is None or not math.isfinite(volume) or volume <= 0:
            raise DataError("no usable daily volume for square-root impact", field=f"costs.daily_volume.{asset}")
        return sigma, volume

    def impact_f(self, asset: str, side: Side, quantity: float, mid: float) -> float:
        if quantity <= 0:
            return 0.0
        sigma, volume = self._params(asset)
        return self.y * sigma * math.sqrt(quantity * mid / volume)

    def impact(self, asset: str, side: Side, quantity: Decimal, mid: Decimal) -> Decimal:
        return _d(self.impact_f(asset, side, float(quantity), float(mid)))

    def impact_for(self, asset: str) -> Callable[[str, Side, float, float], float]:
        """`impact_f` for one asset with Y * sigma / sqrt(V) computed once (route search calls it often)."""
        sigma, volume = self._params(asset)
        k = self.y * sigma / math.sqrt(volume)
        return lambda _a, _s, q, mid: k * math.sqrt(q * mid) if q > 0 else 0.0


def calibrate_sqrt_impact(history: PriceHistory, window: int = 30, y: float = 0.8) -> SqrtImpact:
    """Daily sigma and mean daily volume per asset from the last `window` rows of a history with volumes.

    Per-period figures are scaled to a day with the history's periods per day (hourly rows: 24).
    """
    if history.volumes is None:
        raise DataError("price history has no volumes to calibrate impact from", source=history.source)
    per_day = history.periods_per_year() / 365.0
    prices = history.prices[-(window + 1) :]
    vols = history.volumes[-window:]
    sigma: dict[str, float] = {}
    volume: dict[str, float] = {}
    for j, asset in enumerate(history.assets):
        p = prices[:, j]
        r = np.diff(np.log(p[np.isfinite(p) & (p > 0)]))
        v = vols[:, j]
        v = v[np.isfinite(v) & (v > 0)]
        if len(r) >= 2 and len(v):
            sigma[asset] = float(np.std(r, ddof=1) * math.sqrt(per_day))
            volume[asset] = float(np.mean(v) * per_day)
    return SqrtImpact(MappingProxyType(sigma), MappingProxyType(volume), y)


@dataclass(frozen=True, eq=False)
class CalibratedSqrtImpact(_Part):
    """Square-root impact re-calibrated at every decision from the trailing `window` rows of the point-in-time
    history (daily sigma from returns, daily notional volume from the volumes column): see `calibrate_sqrt_impact`."""

    window: int = 30
    y: float = 0.8
    current: SqrtImpact | None = field(default=None, repr=False)

    def calibrated(self, history: PriceHistory) -> CalibratedSqrtImpact:
        """This part calibrated on `history` (rows up to the decision time only)."""
        return replace(self, current=calibrate_sqrt_impact(history, self.window, self.y))

    def _model(self) -> SqrtImpact:
        if self.current is None:
            raise DataError(
                "square-root impact calibrates from a price history with volumes; none was given",
                field="costs.sqrt_impact.calibrate_window",
            )
        return self.current

    def impact_f(self, asset: str, side: Side, quantity: float, mid: float) -> float:
        return self._model().impact_f(asset, side, quantity, mid)

    def impact(self, asset: str, side: Side, quantity: Decimal, mid: Decimal) -> Decimal:
        return self._model().impact(asset, side, quantity, mid)


# -- gas -----------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class GasPriceSeries:
    """Observed gas prices (gwei) and native-token prices (quote units) over time, read as-of (no look-ahead)."""

    times: npt.NDArray[np.datetime64]
    gwei: npt.NDArray[np.float64]
    native_price: npt.NDArray[np.float64]

    def __post_init__(self) -> None:
        t = np.asarray(self.times, dtype="datetime64[ns]")
        if not (len(t) == len(self.gwei) == len(self.native_price)) or len(t) == 0:
            raise ValueError("gas series needs equal, non-empty times, gwei and native_price arrays")
        if len(t) > 1 and not bool(np.all(t[1:] > t[:-1])):
            raise ValueError("gas series times must be strictly increasing")
        object.__setattr__(self, "times", t)

    def at(self, when: datetime | np.datetime64) -> tuple[float, float]:
        """(gwei, native price) of the last usable observation at or before `when`."""
        t = (
            np.datetime64(when.replace(tzinfo=None), "ns")
            if isinstance(when, datetime)
            else np.asarray(when).astype("datetime64[ns]")
        )
        i = int(np.searchsorted(self.times, t, side="right")) - 1
        gwei = native = math.nan
        while i >= 0 and not (math.isfinite(gwei) and gwei > 0 and math.isfinite(native) and native > 0):
            g, n = float(self.gwei[i]), float(self.native_price[i])
            if math.isfinite(g) and g > 0 and not (math.isfinite(gwei) and gwei > 0):
                gwei = g
            if math.isfinite(n) and n > 0 and not (math.isfinite(native) and native > 0):
                native = n
            i -= 1
        if not (math.isfinite(gwei) and math.isfinite(native)):
            raise DataError(f"no gas price observed at or before {t}", field="gas_price")
        return gwei, native


@dataclass(frozen=True, slots=True)
class GasCost(_Part):
    """Per-order network cost: gas units x gas price (gwei) x native-token price (quote per native token)."""

    gas_units: int
    gas_price_gwei: Decimal
    native_price: Decimal
    series: GasPriceSeries | None = field(default=None, repr=False, compare=False)  # `at(time)` re-prices from it

    def __post_init__(self) -> None:
        if self.gas_units < 0 or self.gas_price_gwei < 0 or self.native_price < 0:
            raise ValueError("gas units, gas price and native price must be >= 0")

    def gas(self, asset: str, side: Side) -> Decimal:
        return self.gas_units * self.gas_price_gwei * GWEI * self.native_price

    def gas_f(self, asset: str, side: Side) -> float:
        return float(self.gas(asset, side))

    def at(self, when: datetime | np.datetime64) -> GasCost:
        """This part priced at the series' gas and native price at `when` (unchanged without a series)."""
        if self.series is None:
            return self
        gwei, native = self.series.at(when)
        return replace(self, gas_price_gwei=_d(gwei), native_price=_d(native))

    @classmethod
    def from_series(cls, series: GasPriceSeries, gas_units: int, when: datetime | None = None) -> GasCost:
        """A gas part fed by a time series; priced at `when` (default: the last observation)."""
        part = cls(gas_units, ZERO, ZERO, series)
        return part.at(when if when is not None else series.times[-1])


def bind_time(model: CostModel, when: datetime) -> CostModel:
    """The model with every time-dependent part (one with `at(time)`) priced at `when`: for backtests."""
    return CostModel(tuple(p.at(when) if hasattr(p, "at") else p for p in model.parts))


def market_bound(model: CostModel) -> bool:
    """Whether any part depends on the time or the price history of a decision."""
    return any(hasattr(p, "at") or hasattr(p, "calibrated") for p in model.parts)


def bind_market(model: CostModel, when: datetime, history: PriceHistory | None) -> CostModel:
    """Time-dependent parts priced at `when` and history-calibrated parts fitted on `history` (point-in-time)."""
    parts = []
    for p in model.parts:
        if hasattr(p, "at"):
            p = p.at(when)
        if hasattr(p, "calibrated") and history is not None:
            p = p.calibrated(history)
        parts.append(p)
    return CostModel(tuple(parts))
