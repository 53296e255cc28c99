"""What a yield portfolio sees in the service: reserve states and gas at service time, and its positions priced.

Rates come from a rates file (default: the shipped Aave v3 history), the row at or before the clock's time, as
`trimtab backtest --rates` reads them; on a chain venue the index is the vault's own share price. Gas is the
bundled Etherscan daily series, as in the backtest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from trimtab.core.base.snapshot import MarketSnapshot
from trimtab.core.yield_check import YieldSetup, with_cash
from trimtab.core.yields.positions import RatesTable, ReserveState, d
from trimtab.errors import ConfigError, DataError
from trimtab.service.marketdata import Clock
from trimtab.service.settings import PortfolioSpec, ServiceSettings

if TYPE_CHECKING:
    from trimtab.config import StrategySpec

PRICE_QUANTUM = Decimal("1e-18")
MAX_RATES_AGE = timedelta(days=3)  # a rates row older than this at service time is stale: no decision on it


@dataclass
class YieldFeed:
    """Reserve states for `setup`'s positions at the clock's time; `index` overrides indices (chain share prices)."""

    setup: YieldSetup
    rates: RatesTable
    gas: npt.NDArray[np.float64]  # USD per gas unit on each rates row
    clock: Clock
    index: Callable[[], Mapping[str, Decimal]] | None = None
    max_age: timedelta = MAX_RATES_AGE

    def __post_init__(self) -> None:
        self.seen = self.rates.trailing_apr(self.setup.apy_window)
        self._times = self.rates.times.astype("datetime64[us]")
        self._last: tuple[datetime, Any] | None = None  # the states of the last `now`: one chain read per cycle

    def row(self, now: datetime) -> int:
        """The last rates row at or before `now`; DataError when `now` is before the file or beyond `max_age`."""
        stamp = np.datetime64(now.astimezone(UTC).replace(tzinfo=None), "us")
        i = int(np.searchsorted(self._times, stamp, side="right")) - 1
        first, last = str(self.rates.times[0])[:10], str(self.rates.times[-1])[:10]
        if i < 0:
            raise DataError(f"no rates before {now:%Y-%m-%d} (the file starts {first})", source=self.rates.source)
        age = stamp - self._times[i]
        if age > np.timedelta64(int(self.max_age.total_seconds()), "s"):
            raise DataError(
                f"rates are stale: the last row is {str(self._times[i])[:10]} (file ends {last}), "
                f"{age.astype('timedelta64[D]').astype(int)} days before {now:%Y-%m-%d}",
                source=self.rates.source,
            )
        return i

    def states(self, now: datetime) -> tuple[dict[str, ReserveState | None], dict[str, ReserveState | None], float]:
        """(states to value at, states the rule compares (trailing APRs), USD per gas unit) at `now`."""
        if self._last is not None and self._last[0] == now:
            return self._last[1]  # type: ignore[no-any-return]
        i = self.row(now)
        chain = dict(self.index()) if self.index is not None else None

        def at(table: RatesTable) -> dict[str, ReserveState | None]:
            raw: dict[str, ReserveState | None] = {}
            for p in self.setup.positions:
                if p.is_cash:
                    continue
                s = table.state(i, p.reserve)
                if s is not None and chain is not None:
                    if p.name not in chain:
                        raise DataError(f"the venue has no share price for {p.name}", source="chain")
                    s = ReserveState(s.apr, float(chain[p.name]), s.supplied, s.utilization, s.price)
                raw[p.name] = s
            return with_cash(self.setup.positions, raw)

        states = at(self.rates)
        out = states, (at(self.seen) if self.seen is not self.rates else states), float(self.gas[i])
        self._last = (now, out)
        return out

    def prices(self, now: datetime) -> dict[str, Decimal]:
        """USD per unit of every position (index * underlying price) and of each underlying coin."""
        states, _, _ = self.states(now)
        out: dict[str, Decimal] = {}
        for p in self.setup.positions:
            s = states.get(p.name)
            if s is None:
                continue
            out[p.name] = d(s.index) * d(s.price)
            out.setdefault(p.underlying, d(s.price))
        return out


class YieldMarket:
    """The feed as the service's MarketData: positions and coins priced in the quote at the clock's time."""

    def __init__(self, feed: YieldFeed) -> None:
        self.feed = feed
        self.clock = feed.clock

    def snapshot(self, assets: Sequence[str], quote: str) -> MarketSnapshot:
        now = self.clock.now()
        usd = self.feed.prices(now)
        q = usd.get(quote, Decimal(1))
        missing = [a for a in assets if a != quote and a not in usd]
        if missing:
            raise DataError(
                f"no rate or price for {', '.join(missing)} at {now:%Y-%m-%d}", source=self.feed.rates.source
            )
        prices = {a: (p / q).quantize(PRICE_QUANTUM) for a, p in usd.items()}
        prices[quote] = Decimal(1)
        return MarketSnapshot(time=now, prices=prices)


def refuse_yield(spec: PortfolioSpec, base: StrategySpec) -> None:
    """One line naming the setting a yield portfolio (or a priced one) cannot use; nothing is started."""
    name = f"portfolios.{spec.name}"
    if base.yield_ is None:
        if spec.rates is not None:
            raise ConfigError("only for a strategy with a yield: block", source=spec.strategy, field=f"{name}.rates")
        return
    if spec.venue.startswith("ccxt:"):
        raise ConfigError(
            "an exchange account holds no lending positions: yield portfolios run on paper or uniswap (the chain's "
            "vaults)",
            source=spec.strategy,
            field="yield",
        )
    for key in ("paper_state", "dex", "holdings"):
        if getattr(spec, key) is not None:
            raise ConfigError(
                "not used by a yield portfolio (it starts in cash and fills its planned legs)", field=f"{name}.{key}"
            )


def yield_feed(
    settings: ServiceSettings, spec: PortfolioSpec, base: StrategySpec, venue: Any, clock: Clock
) -> YieldFeed:
    """Rates (the portfolio's file or the shipped one), gas per row, and the chain's share prices when on chain."""
    from trimtab.adapters.rates import load_rates
    from trimtab.backtest.yield_backtest import usd_per_gas

    ys = base.yield_
    if ys is None:
        raise RuntimeError("internal invariant broken: expected a yield strategy")
    table = load_rates(settings.path(spec.rates) if spec.rates else None)
    table.require(ys.positions())
    setup = base.yield_setup(spec.initial_value, name=spec.name).canonical()
    index = getattr(venue, "share_prices", None)
    return YieldFeed(setup, table, usd_per_gas(table), clock, index=index)
