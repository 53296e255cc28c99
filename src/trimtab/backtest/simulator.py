"""Backtests: the same Strategy objects as live, replayed over real history through engine.run_cycle.

Semantics (README "Backtest semantics"): at each step the trigger is checked on pre-trade weights at
that step's close and trades execute at that close; step 0 is the initial purchase from cash and pays
costs; post-trade weights equal the targets exactly after costs (planner fixed point). Strategies whose
trigger and costs a Numba kernel covers (threshold, calendar, hybrid, buy-and-hold with proportional
costs) take the fast path, which a parity test holds to the step path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from trimtab.backtest.ledger import RunningLedger
from trimtab.core.history import PriceHistory
from trimtab.core.ledger import deposit_entries
from trimtab.core.snapshot import MarketSnapshot
from trimtab.core.strategy import Schedule, Strategy
from trimtab.errors import ConfigError

FloatArray = npt.NDArray[np.float64]
ACCOUNT = "backtest"


@dataclass(frozen=True, eq=False)
class BacktestResult:
    """Per-step paths of one backtest; metrics are derived, never stored."""

    strategy: str
    times: npt.NDArray[np.datetime64]
    assets: tuple[str, ...]
    targets: FloatArray
    equity: FloatArray
    rebalanced: npt.NDArray[np.bool_]
    turnover: FloatArray
    fee: FloatArray
    slippage: FloatArray
    gas: FloatArray
    tracking_error: FloatArray
    weights: FloatArray  # post-trade weights [T, N]
    reasons: tuple[tuple[int, str], ...] = ()
    path: str = "step"
    periods_per_year: float = 365.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rebalance_steps(self) -> npt.NDArray[np.intp]:
        return np.flatnonzero(self.rebalanced)


def to_datetime(t: np.datetime64) -> datetime:
    """A numpy UTC timestamp as an aware datetime."""
    return datetime.fromtimestamp(int(t.astype("datetime64[s]").astype(np.int64)), tz=UTC)


def _initial_deposit(history: PriceHistory, quote: str, value: float) -> Decimal:
    """Quote units bought with `value` (USD) at step 0: the quote column's price, or par if it has none."""
    if quote in history.assets:
        return Decimal(repr(value)) / Decimal(repr(float(history.prices[0, history.index_of(quote)])))
    return Decimal(repr(value))


def check_history(strategy: Strategy, history: PriceHistory, source: str = "prices") -> None:
    """The history must price every targeted asset (bad input stops before any simulation)."""
    missing = [a for a in strategy.targets if a not in history.assets and a != strategy.quote]
    if missing:
        raise ConfigError(f"strategy assets missing from the price data: {', '.join(missing)} (have: {', '.join(history.assets)})",
                          source=source, field="targets")
    if len(history) < 2:
        raise ConfigError("need at least two price rows to backtest", source=source)


def step_backtest(strategy: Strategy, history: PriceHistory, initial_value: float,
                  progress: Callable[[int], None] | None = None) -> BacktestResult:
    """The general path: one engine.run_cycle per step against a paper venue and a running ledger."""
    from trimtab.adapters.paper import PaperVenue
    from trimtab.engine import run_cycle

    check_history(strategy, history)
    ledger = RunningLedger()
    start = to_datetime(history.times[0])
    ledger.append(deposit_entries({strategy.quote: _initial_deposit(history, strategy.quote, initial_value)},
                                  account=ACCOUNT, time=start, ref="initial"))
    venue = PaperVenue(ledger.balances(ACCOUNT), strategy.costs)
    n, t_len = len(history.assets), len(history)
    out = {k: np.zeros(t_len) for k in ("equity", "turnover", "fee", "slippage", "gas", "te")}
    weights = np.zeros((t_len, n))
    rebalanced = np.zeros(t_len, dtype=bool)
    reasons: list[tuple[int, str]] = []
    schedule = Schedule()
    targets_arr = np.zeros(n)
    for i in range(t_len):
        now = to_datetime(history.times[i])
        snap = MarketSnapshot.from_history(history, i, now, strategy.quote)
        venue.set_prices(snap.prices)
        result = run_cycle(strategy, snap, venue, ledger, account=ACCOUNT, schedule=schedule, initial=(i == 0))
        schedule = schedule.advance(now)
        d = result.decision
        targets_arr = np.array([d.targets.get(a, 0.0) for a in history.assets])
        pre = np.array([d.weights.get(a, 0.0) for a in history.assets])
        out["te"][i] = 0.5 * float(np.abs(pre - targets_arr).sum())
        bal = ledger.balances(ACCOUNT)
        row = history.prices[i]  # values in the history's unit (USD), like the kernels
        unit = float(row[history.index_of(strategy.quote)]) if strategy.quote in history.assets else 1.0
        values = np.array([float(bal.get(a, Decimal(0))) * row[j] for j, a in enumerate(history.assets)])
        cash = float(bal.get(strategy.quote, Decimal(0))) if strategy.quote not in history.assets else 0.0
        total = float(values.sum()) + cash
        out["equity"][i] = total
        weights[i] = values / total if total > 0 else 0.0
        if result.report and result.report.fills:
            rebalanced[i] = True
            reasons.append((i, d.reason))
            for f in result.report.fills:  # quote units -> the history's unit
                out["fee"][i] += float(f.fee) * unit
                out["slippage"][i] += float(f.slippage) * unit
                out["gas"][i] += float(f.gas) * unit
                out["turnover"][i] += float(f.quantity * snap.prices[f.asset]) * unit
            pre_value = total + out["fee"][i] + out["slippage"][i] + out["gas"][i]  # value falls by exactly the costs
            out["turnover"][i] /= pre_value or 1.0
        if progress:
            progress(i)
    return BacktestResult(strategy.name, history.times, history.assets, targets_arr, out["equity"], rebalanced,
                          out["turnover"], out["fee"], out["slippage"], out["gas"], out["te"], weights,
                          tuple(reasons), "step", history.periods_per_year())
