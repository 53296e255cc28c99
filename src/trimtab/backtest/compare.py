"""A strategy against its simple alternatives, overall and split by market regime.

Variants: the strategy as written, buy-and-hold (no rebalance after the initial purchase), a monthly
calendar, its band as a pure threshold, and the hybrid of both. Regimes label each step from BTC's
trailing 90-day return and 30-day annualised volatility (core/regimes.MarketRegime): high_vol when
vol >= 80%, else bull when the 90-day return >= +15%, bear when <= -15%, else sideways.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from trimtab.backtest.results import result_metrics
from trimtab.backtest.runner import backtest
from trimtab.backtest.simulator import BacktestResult
from trimtab.core.base.history import PriceHistory
from trimtab.core.base.schedule import parse_every
from trimtab.core.measures.regimes import Market, MarketRegime
from trimtab.core.strategy import Strategy
from trimtab.core.triggers.rules import AnyOf, Calendar, Never, ThresholdBand

REGIMES = tuple(m.value for m in Market)  # bull, bear, sideways, high_vol


def _alternatives(strategy: Strategy) -> dict[str, Any]:
    """Buy-and-hold, monthly calendar, the strategy's band as a threshold, and the hybrid of both: name -> trigger."""
    band = strategy.settings.band or 0.05
    thr = ThresholdBand(band=band, relative_band=strategy.settings.relative_band)
    monthly = Calendar(parse_every("1M"))
    return {
        "buy-and-hold": Never(),
        "calendar-monthly": monthly,
        f"threshold-{band:.0%}": thr,
        f"hybrid-{band:.0%}-monthly": AnyOf((monthly, thr)),
    }


def same_as(strategy: Strategy) -> str | None:
    """The alternative the strategy already is (its row stands for both), or None."""
    return next((name for name, trig in _alternatives(strategy).items() if trig == strategy.trigger), None)


def variants(strategy: Strategy) -> dict[str, Strategy]:
    """The strategy and its alternatives, identical but for the trigger (one run when they coincide)."""
    band = strategy.settings.band or 0.05
    settings = dataclasses.replace(strategy.settings, band=band, relative_band=strategy.settings.relative_band)
    out = {strategy.name: strategy}
    for name, trig in _alternatives(strategy).items():
        if trig != strategy.trigger:
            out[name] = dataclasses.replace(strategy, name=name, trigger=trig, settings=settings)
    return out


@dataclass(frozen=True)
class Comparison:
    """Metrics per variant, annualised log-growth per variant and regime, and the regime of each step."""

    results: dict[str, BacktestResult]
    metrics: dict[str, dict[str, Any]]
    by_regime: dict[str, dict[str, float]]
    regime_days: dict[str, int]
    labels: np.ndarray


def regime_returns(equity: np.ndarray, labels: np.ndarray, periods_per_year: float) -> dict[str, float]:
    """Annualised return earned during the steps of each regime: exp(mean log-return * ppy) - 1."""
    logret = np.diff(np.log(equity))
    lab = labels[1:]
    out = {}
    for regime in REGIMES:
        mask = lab == regime
        out[regime] = float(np.expm1(logret[mask].mean() * periods_per_year)) if mask.any() else float("nan")
    return out


def compare(
    strategy: Strategy,
    history: PriceHistory,
    btc: PriceHistory,
    *,
    initial_value: float | None = None,
    regime: MarketRegime = MarketRegime(high_vol=0.80),
) -> Comparison:
    """Run every variant on the same history; `btc` (same times) gives the regime labels."""
    labels = regime.labels(btc)[history.warmup :]  # warm-up rows inform the trailing windows, are not reported
    results = {name: backtest(s, history, initial_value=initial_value) for name, s in variants(strategy).items()}
    metrics = {name: result_metrics(r) for name, r in results.items()}
    by_regime = {name: regime_returns(r.equity, labels, r.periods_per_year) for name, r in results.items()}
    days = {reg: int((labels[1:] == reg).sum()) for reg in REGIMES}
    return Comparison(results, metrics, by_regime, days, labels)
