"""The strategy file's `costs:` and `guards:` blocks: which cost model prices trades, which breakers stop them.

costs.model picks the price part (the rest compose on top with `+`):
  linear       fee + fixed slippage_bps (the default; the original three keys keep working)
  book         fee + order-book walk against `books` (beyond the depth: error, or `beyond_book_penalty_bps`)
  sqrt_impact  fee + half of `spread_bps` + Y*sigma*sqrt(Q/V_daily) from `sqrt_impact`
  amm          constant-product `pools` (their LP fee is in the price; fee_bps only when set explicitly)
Gas is `gas_usd_per_trade` (flat) or a `gas:` block (units x gwei x native price; gwei may be `bundled`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from trimtab.config.base import Model
from trimtab.core.base.schedule import parse_every
from trimtab.core.base.types import asset_symbol, canonical_keys
from trimtab.core.costs.amm import AmmPool, AmmSlippage
from trimtab.core.costs.model import CostModel, Fee, Gas, Slippage
from trimtab.core.costs.orderbook import OrderBook
from trimtab.core.costs.parts import (
    CalibratedSqrtImpact,
    FeeTier,
    GasCost,
    HalfSpread,
    SqrtImpact,
    TieredFee,
)
from trimtab.core.execution.guards import (
    BalanceChanged,
    CostTolerance,
    Guard,
    MissingMarket,
    PriceDisagreement,
    StablecoinPeg,
    StalePrice,
    TurnoverLimit,
)
from trimtab.core.execution.slicing import GasWait, TwapSettings
from trimtab.core.policy import DexPolicy, GuardPolicy, ReferenceSource
from trimtab.shipped import gas_series

Bps = Annotated[float, Field(ge=0, le=1000)]
Positive = Annotated[float, Field(gt=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]


def _d(x: float) -> Decimal:
    return Decimal(repr(float(x)))


def _fixed_span(v: str) -> str:
    """A duration of fixed length (seconds to weeks): calendar months have no fixed length to slice or wait."""
    if parse_every(v).months:
        raise ValueError("use seconds, minutes, hours, days or weeks")
    return v


def _upper_keys(v: Any) -> Any:
    return canonical_keys(v, "this block") if isinstance(v, dict) else v


class FeeTierSpec(Model):
    min_volume_usd: Annotated[float, Field(ge=0)]
    maker_bps: Bps
    taker_bps: Bps


class SqrtImpactSpec(Model):
    """Square-root impact: daily sigma and daily volume (USD) per asset, or defaults for all."""

    y: Annotated[float, Field(ge=0, le=5)] = 0.8
    volatility: dict[str, Annotated[float, Field(ge=0, le=5)]] = Field(default_factory=dict)
    daily_volume_usd: dict[str, Positive] = Field(default_factory=dict)
    default_volatility: Annotated[float, Field(ge=0, le=5)] | None = None
    default_daily_volume_usd: Positive | None = None
    calibrate_window: Annotated[int, Field(ge=2, le=1000)] | None = None  # fit sigma and volume on past rows instead

    @field_validator("volatility", "daily_volume_usd", mode="before")
    @classmethod
    def _keys(cls, v: Any) -> Any:
        return _upper_keys(v)


class BookSpec(Model):
    bids: list[tuple[Positive, Positive]] = Field(min_length=1)
    asks: list[tuple[Positive, Positive]] = Field(min_length=1)

    def build(self) -> OrderBook:
        try:
            return OrderBook.of(list(self.bids), list(self.asks))
        except ValueError as e:
            raise ValueError(str(e)) from None


class PoolSpec(Model):
    reserve_base: Positive
    reserve_quote: Positive
    fee: Annotated[float, Field(ge=0, lt=1)] = 0.003


class GasSpec(Model):
    """Per-order gas: units x gas price (gwei, or `bundled` for the Etherscan daily series) x native price."""

    units: Annotated[int, Field(ge=0)]
    gwei: Annotated[float, Field(ge=0)] | Literal["bundled"] = "bundled"
    native_price_usd: Positive | None = None  # required unless gwei is `bundled` (the series carries ETH/USD)
    at: datetime | None = None  # price the bundled series at this time (default: its last day)

    @model_validator(mode="after")
    def _native(self) -> GasSpec:
        if self.gwei != "bundled" and self.native_price_usd is None:
            raise ValueError("native_price_usd is needed with a fixed gwei")
        return self

    def build(self) -> GasCost:
        if self.gwei == "bundled":
            return GasCost.from_series(gas_series(), self.units, self.at)
        return GasCost(self.units, _d(self.gwei), _d(self.native_price_usd or 0))


class CostsSpec(Model):
    model: Literal["linear", "book", "sqrt_impact", "amm"] = "linear"
    fee_bps: Bps = 10.0
    slippage_bps: Bps = 5.0
    gas_usd_per_trade: Annotated[float, Field(ge=0)] = 0.0
    fee_tiers: list[FeeTierSpec] | None = None
    volume_30d_usd: Annotated[float, Field(ge=0)] = 0.0
    spread_bps: Bps = 0.0
    sqrt_impact: SqrtImpactSpec | None = None
    books: dict[str, BookSpec] = Field(default_factory=dict)
    beyond_book_penalty_bps: Bps | None = None
    pools: dict[str, PoolSpec] = Field(default_factory=dict)
    gas: GasSpec | None = None

    @field_validator("books", "pools", mode="before")
    @classmethod
    def _keys(cls, v: Any) -> Any:
        return _upper_keys(v)

    @model_validator(mode="after")
    def _fits_model(self) -> CostsSpec:
        if self.model == "book" and not self.books:
            raise ValueError("model book needs books: {ASSET: {bids: [[price, qty], ...], asks: [...]}}")
        if self.model == "sqrt_impact" and self.sqrt_impact is None:
            raise ValueError("model sqrt_impact needs a sqrt_impact block (y, volatility, daily_volume_usd)")
        if self.model == "amm" and not self.pools:
            raise ValueError("model amm needs pools: {ASSET: {reserve_base, reserve_quote, fee}}")
        if self.gas is not None and "gas_usd_per_trade" in self.model_fields_set:
            raise ValueError("use either gas_usd_per_trade or a gas block, not both")
        tiers = [t.min_volume_usd for t in self.fee_tiers or []]
        if tiers != sorted(set(tiers)):
            raise ValueError("fee_tiers: min_volume_usd must increase strictly")
        for name, book in self.books.items():
            try:
                book.build()
            except ValueError as e:
                raise ValueError(f"books.{name}: {e}") from None
        return self

    def _fee(self) -> object | None:
        if self.fee_tiers:
            return TieredFee(
                tuple(FeeTier(_d(t.min_volume_usd), _d(t.maker_bps), _d(t.taker_bps)) for t in self.fee_tiers),
                _d(self.volume_30d_usd),
            )
        if self.model == "amm" and "fee_bps" not in self.model_fields_set:
            return None
        return Fee(_d(self.fee_bps))

    def _price_part(self) -> object | None:
        if self.model == "book":
            return _book_part(self)
        if self.model == "sqrt_impact":
            s = self.sqrt_impact
            if s is None:
                raise RuntimeError("internal invariant broken: expected s is not None")
            if s.calibrate_window is not None:
                return CalibratedSqrtImpact(s.calibrate_window, s.y)
            return SqrtImpact(
                dict(s.volatility), dict(s.daily_volume_usd), s.y, s.default_volatility, s.default_daily_volume_usd
            )
        if self.model == "amm":
            return AmmSlippage(
                {a: AmmPool(_d(p.reserve_base), _d(p.reserve_quote), _d(p.fee)) for a, p in self.pools.items()}
            )
        return Slippage(_d(self.slippage_bps))

    def build(self) -> CostModel:
        parts: list[object] = [p for p in (self._fee(), self._price_part()) if p is not None]
        if self.spread_bps and self.model != "linear":
            parts.append(HalfSpread(_d(self.spread_bps)))
        parts.append(self.gas.build() if self.gas is not None else Gas(_d(self.gas_usd_per_trade)))
        return CostModel(tuple(parts))


def _book_part(spec: CostsSpec) -> object:
    from trimtab.core.costs.orderbook import BookSlippage

    penalty = _d(spec.beyond_book_penalty_bps) if spec.beyond_book_penalty_bps is not None else None
    return BookSlippage({a: b.build() for a, b in spec.books.items()}, penalty)


class ReferenceSpec(Model):
    """The second, independent price source `price_tolerance` checks against: another ccxt exchange, a price
    file (its last row at or before the decision time), or the DEX pools (for a plan priced elsewhere)."""

    ccxt: str | None = None  # exchange id, e.g. kraken
    url: str | None = None  # ccxt API URL override (a local exchange server)
    file: str | None = None
    pool: bool = False

    @model_validator(mode="after")
    def _one(self) -> ReferenceSpec:
        chosen = [k for k in ("ccxt", "file") if getattr(self, k)] + (["pool"] if self.pool else [])
        if len(chosen) != 1:
            raise ValueError("set exactly one of ccxt, file or pool")
        if self.url is not None and self.ccxt is None:
            raise ValueError("url goes with ccxt")
        return self

    def build(self) -> ReferenceSource:
        if self.ccxt:
            return ReferenceSource("ccxt", self.ccxt.strip().lower(), self.url)
        if self.file:
            return ReferenceSource("file", self.file)
        return ReferenceSource("pool")


GUARD_KEYS = {
    "stale_price": "max_price_age",
    "price_disagreement": "price_tolerance",
    "stablecoin_peg": "stablecoin_peg_tolerance",
    "missing_market": "require_markets",
    "balance_changed": "balance_tolerance",
    "turnover_limit": "max_turnover_per_rebalance / max_turnover_per_day",
    "cost_tolerance": "cost_tolerance",
}


class GuardsSpec(Model):
    """Circuit breakers; each key switches one on (absent = off)."""

    max_price_age: str | None = None  # a duration: 90m, 1h, 1d
    price_tolerance: Fraction | None = None  # vs the `reference` price source (required with it)
    reference: ReferenceSpec | None = None
    stablecoin_peg_tolerance: Fraction | None = None
    stablecoins: list[str] | None = None
    require_markets: bool = False
    balance_tolerance: Fraction | None = None  # balances changed since the plan (relative)
    max_turnover_per_rebalance: Annotated[float, Field(gt=0)] | None = None
    max_turnover_per_day: Annotated[float, Field(gt=0)] | None = None
    cost_tolerance: Fraction | None = None  # max estimated cost as a fraction of the portfolio

    @field_validator("max_price_age")
    @classmethod
    def _age(cls, v: str | None) -> str | None:
        if v is not None:
            every = parse_every(v)
            if every.months:
                raise ValueError("max_price_age must be in minutes, hours, days or weeks")
        return v

    @model_validator(mode="after")
    def _reference(self) -> GuardsSpec:
        if self.price_tolerance is not None and self.reference is None:
            raise ValueError(
                "price_tolerance needs guards.reference: a second price source (ccxt: <exchange>, "
                "file: <prices>, or pool: true)"
            )
        return self

    def policy(self) -> GuardPolicy | None:
        guards = self.build()
        if not guards:
            return None
        tol = self.balance_tolerance if self.balance_tolerance is not None else 1e-6
        return GuardPolicy(guards, tol, self.reference.build() if self.reference is not None else None)

    def build(self) -> tuple[Guard, ...]:
        out: list[Guard] = []
        if self.max_price_age is not None:
            out.append(StalePrice(parse_every(self.max_price_age).seconds))
        if self.price_tolerance is not None:
            out.append(PriceDisagreement(self.price_tolerance))
        if self.stablecoin_peg_tolerance is not None:
            stables = tuple(asset_symbol(s) for s in self.stablecoins) if self.stablecoins else None
            out.append(
                StablecoinPeg(self.stablecoin_peg_tolerance, stables)
                if stables
                else StablecoinPeg(self.stablecoin_peg_tolerance)
            )
        if self.require_markets:
            out.append(MissingMarket())
        if self.balance_tolerance is not None:
            out.append(BalanceChanged(self.balance_tolerance))
        if self.max_turnover_per_rebalance is not None or self.max_turnover_per_day is not None:
            out.append(TurnoverLimit(self.max_turnover_per_rebalance, self.max_turnover_per_day))
        if self.cost_tolerance is not None:
            out.append(CostTolerance(self.cost_tolerance))
        return tuple(out)


class TwapSpec(Model):
    """Send each order as child orders over `horizon`, one batch every `interval`, each at most `max_child_usd`."""

    horizon: str
    interval: str
    max_child_usd: Positive | None = None

    @field_validator("horizon", "interval")
    @classmethod
    def _duration(cls, v: str) -> str:
        return _fixed_span(v)

    @model_validator(mode="after")
    def _fits(self) -> TwapSpec:
        if parse_every(self.interval).seconds > parse_every(self.horizon).seconds:
            raise ValueError("interval must not exceed horizon")
        return self

    def build(self) -> TwapSettings:
        cap = _d(self.max_child_usd) if self.max_child_usd is not None else None
        return TwapSettings(float(parse_every(self.horizon).seconds), float(parse_every(self.interval).seconds), cap)


class ExecutionSpec(Model):
    """How plans are sent: `twap:` slices every order in time (live venues; backtests fill at the step's close)."""

    twap: TwapSpec | None = None


class GasWaitSpec(Model):
    """Wait for the base fee to fall to `max_base_fee_gwei`, at most `deadline` (then send anyway, or skip)."""

    max_base_fee_gwei: Positive
    deadline: str = "1h"
    execute_at_deadline: bool = True

    @field_validator("deadline")
    @classmethod
    def _duration(cls, v: str) -> str:
        return _fixed_span(v)

    def build(self) -> GasWait:
        return GasWait(self.max_base_fee_gwei, float(parse_every(self.deadline).seconds), self.execute_at_deadline)


class DexSpec(Model):
    """On-chain execution: slippage tolerance per leg, transaction deadline, a private RPC, the gas wait."""

    slippage: Annotated[float, Field(ge=0, lt=0.5)] = 0.005
    deadline: str = "1m"
    private_rpc: str | None = None
    gas_wait: GasWaitSpec | None = None

    @field_validator("deadline")
    @classmethod
    def _deadline(cls, v: str) -> str:
        return _fixed_span(v)

    @field_validator("private_rpc")
    @classmethod
    def _rpc(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return v

    def build(self) -> DexPolicy:
        return DexPolicy(
            _d(self.slippage),
            int(parse_every(self.deadline).seconds),
            self.private_rpc,
            self.gas_wait.build() if self.gas_wait is not None else None,
        )
