"""Which strategies a Numba kernel can run, and running them: same semantics as the step path."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trimtab.backtest.calendar import calendar_due
from trimtab.backtest.kernels import simulate, weights_path
from trimtab.backtest.simulator import BacktestResult, require_strategy_assets
from trimtab.core.base.history import PriceHistory
from trimtab.core.costs.model import Fee, Gas, Slippage
from trimtab.core.strategy import Strategy, apply_cash_buffer
from trimtab.core.triggers.rules import AnyOf, Calendar, Never, ThresholdBand


@dataclass(frozen=True)
class KernelSpec:
    """The strategy as kernel parameters."""

    mode: str
    band_abs: float
    band_rel: float
    every: str | None
    fee: float
    slippage: float
    gas: float
    min_trade: float


def kernel_spec(strategy: Strategy) -> KernelSpec | None:
    """Kernel parameters when the trigger is threshold/calendar/hybrid/never and the costs are proportional
    (and no guard can block a step: guarded strategies take the step path, which applies them)."""
    if strategy.allocation is not None or strategy.execution.guards is not None:
        return None
    fee = slip = gas = 0.0
    for part in strategy.costs.parts:
        if isinstance(part, Fee):
            fee += float(part.bps) * 1e-4
        elif isinstance(part, Slippage):
            slip += float(part.bps) * 1e-4
        elif isinstance(part, Gas):
            gas += float(part.per_order)
        else:
            return None
    trig = strategy.trigger
    band: ThresholdBand | None = None
    cal: Calendar | None = None
    if isinstance(trig, ThresholdBand):
        mode, band = "threshold", trig
    elif isinstance(trig, Calendar):
        mode, cal = "calendar", trig
    elif isinstance(trig, Never):
        mode = "buy_and_hold"
    elif isinstance(trig, AnyOf) and len(trig.triggers) == 2:
        cals = [t for t in trig.triggers if isinstance(t, Calendar)]
        bands = [t for t in trig.triggers if isinstance(t, ThresholdBand)]
        if len(cals) != 1 or len(bands) != 1:
            return None
        mode, cal, band = "hybrid", cals[0], bands[0]
    else:
        return None
    return KernelSpec(
        mode,
        (band.band or 0.0) if band else 0.0,
        (band.relative_band or 0.0) if band else 0.0,
        cal.every.text if cal else None,
        fee,
        slip,
        gas,
        float(strategy.settings.min_trade),
    )


def _reason(
    spec: KernelSpec, step: int, due: bool, pre: np.ndarray, targets: np.ndarray, assets: tuple[str, ...]
) -> str:
    if step == 0:
        return "initial allocation"
    if due and spec.every:
        return f"calendar: every {spec.every} is due"
    j = int(np.argmax(np.abs(pre - targets)))
    return f"{assets[j]} drift {(pre[j] - targets[j]) * 100:+.2f}pp beyond band"


def fast_backtest(strategy: Strategy, history: PriceHistory, initial_value: float) -> BacktestResult:
    """Run a kernel-covered strategy; results match `step_backtest` to 1e-9 relative (parity test)."""
    spec = kernel_spec(strategy)
    if spec is None:
        raise ValueError(f"strategy {strategy.name} is not covered by a kernel")
    require_strategy_assets(strategy, history)
    targets_map = apply_cash_buffer(strategy.targets, strategy.quote, strategy.cash_buffer)
    targets = np.array([targets_map.get(a, 0.0) for a in history.assets])
    quote_idx = history.index_of(strategy.quote) if strategy.quote in history.assets else -1
    due = calendar_due(history.times, spec.every) if spec.every else np.zeros(len(history), dtype=bool)
    res = simulate(
        np.ascontiguousarray(history.prices),
        targets,
        quote_idx=quote_idx,
        fee=spec.fee,
        slippage=spec.slippage,
        gas=spec.gas,
        initial_value=initial_value,
        band_abs=spec.band_abs,
        band_rel=spec.band_rel,
        calendar_due=due,
        mode=spec.mode,
        rebalance_to=strategy.rebalance_to,
        min_trade=spec.min_trade,
        record=True,
    )
    if res.rebalance_steps is None or res.rebalance_holdings is None or res.rebalance_cash is None:
        raise RuntimeError(
            "internal invariant broken: the kernel returned no rebalance record though one was asked for"
        )
    weights = weights_path(history.prices, res.rebalance_steps, res.rebalance_holdings, res.rebalance_cash)
    reasons = []
    for k, step in enumerate(res.rebalance_steps):
        held = res.rebalance_holdings[k - 1] if k > 0 else np.zeros(len(targets))
        vals = held * history.prices[step]
        pre = vals / vals.sum() if vals.sum() > 0 else np.zeros(len(targets))
        reasons.append((int(step), _reason(spec, int(step), bool(due[step]), pre, targets, history.assets)))
    return BacktestResult(
        strategy.name,
        history.times,
        history.assets,
        targets,
        res.equity,
        res.rebalanced,
        res.turnover,
        res.fee,
        res.slippage,
        res.gas,
        res.tracking_error,
        weights,
        tuple(reasons),
        "fast",
        history.periods_per_year(),
    )
