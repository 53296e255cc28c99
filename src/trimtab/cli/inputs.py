"""What the portfolio commands read, all checked before anything is written: strategy, holdings, prices, rules."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trimtab.cli.app import (
    DEFAULT_FORWARD_FILL,
)
from trimtab.errors import ConfigError, DataError

if TYPE_CHECKING:  # imported where used, so `trimtab --help` loads no config, pydantic or numpy
    from trimtab.core.base.history import PriceHistory
    from trimtab.core.base.snapshot import MarketSnapshot
    from trimtab.core.strategy import Decision, Strategy


def portfolio_path(portfolio: str) -> Path:
    if portfolio == "example":
        from trimtab.adapters.bundled import bundled_path

        return bundled_path("example-portfolio.yaml")
    p = Path(portfolio)
    if not p.is_file():
        raise ConfigError("no such file (use a holdings file or 'example')", source=portfolio)
    return p


def load_inputs(
    strategy: str, portfolio: str, prices: str | None, forward_fill: int | None = None
) -> tuple[Strategy, dict[str, Decimal], MarketSnapshot]:
    """Strategy, holdings and a validated snapshot; every check happens here, before anything is written."""
    from trimtab.adapters.files import load_holdings, load_latest_prices
    from trimtab.config import load_strategy
    from trimtab.core.base.snapshot import MarketSnapshot
    from trimtab.core.costs.parts import bind_market, market_bound

    strat = load_strategy(strategy)
    holdings = load_holdings(portfolio_path(portfolio))
    if not any(holdings.values()):
        raise ConfigError("every quantity is 0: nothing to value or rebalance", source=portfolio, field="holdings")
    assets = sorted({*strat.targets, *holdings})
    history = history_for(strat, prices, holdings, forward_fill)
    when, px = load_latest_prices(
        prices, assets, strat.quote, DEFAULT_FORWARD_FILL if forward_fill is None else forward_fill
    )
    if history is not None:  # a model may pick any universe asset priced at the last row
        last = MarketSnapshot.from_history(history, len(history) - 1, when, strat.quote).prices
        px = {**last, **px}
    snap = MarketSnapshot(time=when, prices=px, history=history)
    snap.require([a for a in assets if a != strat.quote], source=prices or "bundled prices")
    if market_bound(strat.costs):  # gas of the day, impact calibrated on past volumes
        strat = dataclasses.replace(strat, costs=bind_market(strat.costs, when, history))
    return strat, holdings, snap


def require_priced(spec: Any, prices: str | None) -> None:
    """Every asset the strategy names (targets, universe) has a price in `prices` or the bundled data."""
    from trimtab.adapters.bundled import coverage
    from trimtab.adapters.files import is_latest_price_table, load_latest_prices
    from trimtab.adapters.pricefile import read_price_file

    sleeves = getattr(spec, "sleeves", None) or {}  # config.sleeves: each sleeve's targets
    named = [*(spec.targets or {}), *(spec.universe or []), *(a for s in sleeves.values() for a in s.targets)]
    if not named:
        return
    if prices is None:
        have, where = set(coverage()), "the bundled data"
    elif is_latest_price_table(prices):
        have, where = set(load_latest_prices(prices, [], spec.quote)[1]), prices
    else:
        have, where = set(read_price_file(prices).history.assets), prices
    missing = [a for a in dict.fromkeys(named) if a not in have and a != spec.quote]
    if missing:
        field = "targets" if missing[0] in (spec.targets or {}) else "universe"
        field = next((f"sleeves.{n}.targets" for n, s in sleeves.items() if missing[0] in s.targets), field)
        hint = "; pass --prices with a file that has it" if prices is None else ""
        raise DataError(f"no price for {', '.join(missing)} in {where}{hint}", field=f"{field}.{missing[0]}")


def history_for(
    strat: Strategy, prices: str | None, holdings: dict[str, Decimal], forward_fill: int | None = None
) -> PriceHistory | None:
    """Past prices for models and history-reading triggers (bundled data or a price-history file), else None."""
    from trimtab.adapters.files import is_latest_price_table

    if prices is not None and is_latest_price_table(prices):
        if strat.allocation is not None:
            raise DataError("an allocation model needs a price history, not a latest-prices table", source=prices)
        return None
    from trimtab.cli.backtest import WARMUP_DAYS, load_history

    start = None
    if prices is None and strat.window.start is None:  # the recent past, not 2015: old gaps (USDT's) cannot matter
        from datetime import timedelta

        from trimtab.adapters.bundled import coverage

        start = str(max(last for _, last in coverage().values()) - timedelta(days=2 * WARMUP_DAYS))
    return load_history(
        strat, prices, start, None, forward_fill, extra=tuple(a for a in holdings if a != strat.quote), complete=False
    )


def decide_on(
    strat: Strategy, holdings: dict[str, Decimal], snap: MarketSnapshot, rules: Path | None, force: bool
) -> Decision:
    from trimtab.adapters.files import load_rules
    from trimtab.engine import decide

    rules_for = load_rules(rules)
    return decide(strat, snap, holdings, rules=rules_for, initial=force)
