"""Metrics of a backtest as a JSON-ready document (the keys `trimtab backtest --json` writes)."""

from __future__ import annotations

from typing import Any

import numpy as np

from trimtab.backtest.simulator import BacktestResult, FloatArray
from trimtab.core.base.flows import money_weighted_return, time_weighted_index
from trimtab.core.measures import metrics


def result_metrics(r: BacktestResult) -> dict[str, Any]:
    """Performance, risk and cost figures; turnover excludes the initial purchase, costs include it."""
    flows = r.extra.get("flows")
    m = metrics.summary(r.equity if flows is None else time_weighted_index(r.equity, flows), r.periods_per_year)
    years = max((len(r.equity) - 1) / r.periods_per_year, 1e-12)
    costs = {
        "total_fees": float(r.fee.sum()),
        "total_slippage": float(r.slippage.sum()),
        "total_gas": float(r.gas.sum()),
    }
    turnover = float(r.turnover[1:].sum())
    return {
        "strategy": r.strategy,
        "start": str(r.times[0].astype("datetime64[s]")),
        "end": str(r.times[-1].astype("datetime64[s]")),
        "steps": int(len(r.equity)),
        "periods_per_year": r.periods_per_year,
        "initial_value": float(r.equity[0] + r.fee[0] + r.slippage[0] + r.gas[0]),
        "final_value": float(r.equity[-1]),
        **m,
        "turnover": turnover,
        "turnover_annual": turnover / years,
        "n_rebalances": int(r.rebalanced[1:].sum()),
        **costs,
        "total_costs": sum(costs.values()),
        "tracking_error": float(np.mean(r.tracking_error)),
        "rebalance_times": [str(r.times[i].astype("datetime64[s]")) for i in np.flatnonzero(r.rebalanced)],
        "rebalance_reasons": [reason for _, reason in r.reasons],
        "path": r.path,
        **(flow_metrics(r, flows) if flows is not None else {}),
        **r.extra.get("tax", {}),
        **({"sleeves": r.extra["sleeves"]} if "sleeves" in r.extra else {}),  # backtest.sleeves
    }


def flow_metrics(r: BacktestResult, flows: FloatArray) -> dict[str, Any]:
    """With external flows: their sum, and the money-weighted return (annualised IRR) beside the time-weighted
    figures above (total_return, cagr, volatility... all come from the flow-free index)."""
    days = (r.times.astype("datetime64[s]").astype(np.int64) / 86_400.0).tolist()
    return {
        "net_flows": float(flows.sum()),
        "flows": int(np.count_nonzero(flows)),
        "money_weighted_return": money_weighted_return(days, r.equity.tolist(), flows.tolist()),
    }
