"""`backtest(strategy, history)`: the fast kernel path when one covers the strategy, else the step path."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Literal

import numpy as np

from trimtab.backtest.fastpath import fast_backtest, kernel_spec
from trimtab.backtest.simulator import BacktestResult, step_backtest
from trimtab.backtest.sleeves import sleeve_backtest
from trimtab.backtest.tax import TaxRates
from trimtab.core.base.history import PriceHistory
from trimtab.core.sleeves import SleeveSplit
from trimtab.core.strategy import Strategy
from trimtab.errors import ConfigError
from trimtab.pipeline import refuse_unsupported

Path = Literal["auto", "fast", "step"]


def backtest(
    strategy: Strategy,
    history: PriceHistory,
    *,
    initial_value: float | None = None,
    path: Path = "auto",
    progress: Callable[[int], None] | None = None,
    flows: Sequence[tuple[datetime, Decimal]] = (),
    tax: TaxRates | None = None,
) -> BacktestResult:
    """Replay `strategy` over `history` from `initial_value` in cash (default: the strategy file's initial_value).

    `history.warmup` leading rows are visible to models and triggers (step path) but not traded on. External
    `flows` (date, quote amount) run on the step path: the kernels model a closed portfolio.
    """
    value = float(initial_value if initial_value is not None else strategy.initial_value)
    step = (
        float(np.median(np.diff(history.times).astype("timedelta64[s]").astype(np.int64))) if len(history) > 1 else None
    )
    refuse_unsupported(strategy, "backtest", step_seconds=step)
    if strategy.cash_flow_first_s is not None and not flows:
        raise ConfigError("waits for known cash flows: give them with --flows", field="cash_flow_first")
    if flows and path == "fast":
        raise ConfigError("the fast kernels model a portfolio without external flows: use the step path", field="flows")
    if tax is not None and path == "fast":
        raise ConfigError("tax lots need each fill: the step path keeps them, the kernels do not", field="tax")
    if strategy.tax is not None and path == "fast":
        raise ConfigError("a tax: block prices each sell from its lots: the step path keeps them", field="tax")
    if tax is None and strategy.tax is not None:  # the strategy's own rates and lot method report its taxes
        p = strategy.tax
        tax = TaxRates(p.short_rate, p.long_rate, p.method, p.holding_days)
    if path == "fast" or (path == "auto" and not flows and tax is None and kernel_spec(strategy) is not None):
        return fast_backtest(strategy, history.after_warmup(), value)  # kernel triggers read no history
    if isinstance(strategy.trigger, SleeveSplit):  # the step path with each sleeve's decisions in extra["sleeves"]
        return sleeve_backtest(strategy, history, value, progress=progress, start=history.warmup, flows=flows, tax=tax)
    return step_backtest(strategy, history, value, progress=progress, start=history.warmup, flows=flows, tax=tax)
