"""The dashboard's read model: the equity curve beside buy-and-hold and the monthly-calendar variant, drawdown,
rolling correlations, the volatility regime now and costs as a share of the rebalancing benefit.

Served as GET /api/portfolios/{name}/analytics; the page itself is the static bundle in `STATIC_DIR`.
Price-based parts (calendar variant, correlations, regime) need the replayed price history; with live venue
prices they are `null`.
"""

from __future__ import annotations

import math
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from trimtab.core.base.flows import flow_adjusted
from trimtab.core.base.history import PriceHistory
from trimtab.core.measures import metrics
from trimtab.core.measures.estimators import log_returns, simple_returns
from trimtab.core.measures.regimes import VolatilityRegime, ffill, rolling_vol
from trimtab.core.triggers.adaptive import VolatilityAdaptive
from trimtab.errors import TrimtabError
from trimtab.service import reports
from trimtab.service.bootstrap import PortfolioRuntime, Services
from trimtab.service.marketdata import ReplaySource

STATIC_DIR = Path(__file__).parent / "static"
CHART_POINTS = 600  # points per chart series sent to the page (minima of the drawdown kept)
CORR_WINDOW = 30  # days behind each rolling correlation
# Crypto volatility bands (annualised): the volatility-adaptive preset's 40/55/75 % (equity-style 15/25/40 % would
# label crypto "extreme" nearly every day; see presets/volatility-adaptive.yaml).
CRYPTO_REGIME = VolatilityRegime(window=30, thresholds=(0.40, 0.55, 0.75))
FloatArray = npt.NDArray[np.float64]


def sample(n: int, keep_min: FloatArray | None = None, points: int = CHART_POINTS) -> npt.NDArray[np.intp]:
    """At most ~`points` sorted indices of [0, n): evenly spaced, the last one, and each bucket's minimum of
    `keep_min` (so drawdown troughs survive thinning)."""
    if n <= points:
        return np.arange(n)
    buckets = max(points // (2 if keep_min is not None else 1), 1)
    edges = np.linspace(0, n, buckets + 1).astype(np.intp)
    keep = [edges[:-1], np.array([n - 1])]
    if keep_min is not None:
        keep.append(
            np.array(
                [lo + int(np.argmin(keep_min[lo:hi])) for lo, hi in zip(edges[:-1], edges[1:], strict=True) if hi > lo]
            )
        )
    return np.unique(np.concatenate(keep)).astype(np.intp)


def _num(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def in_quote(history: PriceHistory, quote: str) -> PriceHistory:
    """Prices in units of `quote` (each row divided by the quote's own price), as the service values portfolios."""
    if quote not in history.assets:
        return history
    unit = history.prices[:, history.index_of(quote)]
    with np.errstate(divide="ignore", invalid="ignore"):
        prices = np.where(unit[:, None] > 0, history.prices / unit[:, None], np.nan)
    return PriceHistory(history.times, history.assets, prices, source=history.source)


def _replay(rt: PortfolioRuntime) -> tuple[PriceHistory, Any] | None:
    """(price history in the quote, row_at) of a replayed market; None for live prices."""
    if not isinstance(rt.market, ReplaySource):
        return None
    return in_quote(rt.market.history, rt.strategy.quote), rt.market.row_at


def calendar_variant(
    rt: PortfolioRuntime, history: PriceHistory, rows: list[int], start_value: float
) -> tuple[str, list[float]] | None:
    """The same targets and costs rebalanced on a monthly calendar over the same days (backtest fast path),
    read at each recorded check's price row and scaled to start at `start_value`; None if it cannot run."""
    from trimtab.backtest.compare import variants
    from trimtab.backtest.runner import backtest

    strategy = rt.strategy
    label = "calendar-monthly"
    variant = variants(strategy).get(label, strategy)  # the strategy already is the monthly calendar
    assets = tuple(sorted(strategy.targets))
    if not rows or not set(assets) <= set(history.assets) or start_value <= 0:
        return None
    first, last = rows[0], rows[-1]
    if last <= first:
        return label, [start_value] * len(rows)
    sub = history.select(assets).between(history.times[first], history.times[last])
    try:
        eq = backtest(variant, sub, initial_value=start_value).equity
    except (TrimtabError, ValueError):
        return None
    scale = start_value / float(eq[0]) if eq[0] > 0 else 1.0
    return label, [float(eq[r - first]) * scale for r in rows]


def correlations(rt: PortfolioRuntime, history: PriceHistory, first: int, last: int) -> dict[str, Any]:
    """Rolling `CORR_WINDOW`-day Pearson correlations of daily log returns (core.measures.metrics.rolling_correlation):
    the matrix now, each asset against the largest target, and the average pair, from `first` to `last` row."""
    targets = rt.strategy.targets
    risk = sorted((a for a in targets if a != rt.strategy.quote and a in history.assets), key=lambda a: -targets[a])
    doc: dict[str, Any] = {
        "window": CORR_WINDOW,
        "assets": risk,
        "matrix": None,
        "base": risk[0] if risk else None,
        "times": [],
        "against_base": {},
        "average": [],
    }
    if len(risk) < 2:
        return doc
    start = max(0, first - CORR_WINDOW)
    prices = np.column_stack([ffill(c) for c in history.select(tuple(risk)).prices[start : last + 1].T])
    rets = log_returns(prices)
    if len(rets) < CORR_WINDOW:
        return doc
    corr = metrics.rolling_correlation(np.nan_to_num(rets), CORR_WINDOW)
    times = history.times[start + 1 : last + 1]
    shown = max(0, first - start - 1)
    idx = shown + sample(len(times) - shown)
    iu = np.triu_indices(len(risk), 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # windows not full yet: all-NaN rows stay NaN
        average = np.nanmean(corr[:, iu[0], iu[1]], axis=1)
    doc.update(
        matrix=[[_num(v) for v in row] for row in corr[-1]],
        times=[_iso(t) for t in times[idx]],
        against_base={a: [_num(v) for v in corr[idx, 0, j]] for j, a in enumerate(risk) if j > 0},
        average=[_num(v) for v in average[idx]],
    )
    return doc


def volatility_regime(rt: PortfolioRuntime, history: PriceHistory, first: int, last: int) -> dict[str, Any]:
    """Annualised realised volatility of the target mix (rebalanced each day) over the regime window and its
    label now: the strategy's own bands for a volatility-adaptive trigger, else `CRYPTO_REGIME`."""
    trig = rt.strategy.trigger
    regime = trig.regime if isinstance(trig, VolatilityAdaptive) else CRYPTO_REGIME
    assets = tuple(a for a in rt.strategy.targets if a in history.assets)
    w = np.array([rt.strategy.targets[a] for a in assets])
    start = max(0, first - regime.window - 1)
    rp = np.nan_to_num(simple_returns(history.select(assets).prices[start : last + 1])) @ w
    index = np.concatenate(([1.0], np.cumprod(1.0 + rp)))
    vol = rolling_vol(index, regime.window, history.periods_per_year())
    now = float(vol[-1]) if len(vol) else math.nan
    label = "unknown"
    if math.isfinite(now):
        label = regime.names[int(np.searchsorted(np.asarray(regime.thresholds), now, side="right"))]
    times = history.times[start : last + 1]
    shown = min(max(0, first - start), len(times) - 1)
    idx = shown + sample(len(times) - shown)
    return {
        "label": label,
        "volatility": _num(now),
        "window": regime.window,
        "thresholds": list(regime.thresholds),
        "names": list(regime.names),
        "times": [_iso(t) for t in times[idx]],
        "series": [_num(v) for v in vol[idx]],
    }


def _iso(t: np.datetime64) -> str:
    return str(np.datetime_as_string(t.astype("datetime64[s]"), unit="s")) + "+00:00"


def benefit(traded: list[dict[str, Any]], value: float, bh_value: float) -> dict[str, Any]:
    """Costs after the initial allocation against the rebalancing benefit before those costs (value - buy-and-hold
    + costs); the share is undefined (None) while that benefit is not positive."""
    costs = sum(
        (
            (d.get("report") or {}).get("costs", {}).get("realised", {}).get("total", 0.0)
            for d in traded
            if d["kind"] != "initial"
        ),
        0.0,
    )
    net = value - bh_value
    gross = net + costs
    return {
        "costs": costs,
        "net_benefit": net,
        "gross_benefit": gross,
        "cost_share": costs / gross if gross > 0 else None,
    }


def analytics_doc(s: Services, rt: PortfolioRuntime, equity_points: int) -> dict[str, Any]:
    """Everything the dashboard's performance and cost panels draw, in one JSON document."""
    name = rt.name
    equity = s.store.equity_flows(name, equity_points)
    times: list[datetime] = [t for t, _, _, _ in equity]
    flows = [f for _, _, _, f in equity]
    raw = np.array([v for _, v, _, _ in equity], dtype=np.float64)
    raw_bh = np.array([b for _, _, b, _ in equity], dtype=np.float64)
    # returns, drawdowns and risk without the deposits and withdrawals (time-weighted; the twin got the same flows)
    values = np.array(flow_adjusted(raw.tolist(), flows), dtype=np.float64)
    bh = np.array(flow_adjusted(raw_bh.tolist(), flows), dtype=np.float64)
    ppy = reports.periods_per_year(rt.spec.every)
    replay = _replay(rt)
    cal: tuple[str, list[float]] | None = None
    extra: dict[str, Any] = {"correlations": None, "regime": None}
    if replay is not None and times:
        history, row_at = replay
        rows = [int(row_at(t)) for t in times]
        cal = calendar_variant(rt, history, rows, float(values[0]))
        extra = {
            "correlations": correlations(rt, history, rows[0], rows[-1]),
            "regime": volatility_regime(rt, history, rows[0], rows[-1]),
        }
    cal_values = np.array(cal[1], dtype=np.float64) if cal else None
    peak = np.maximum.accumulate(values) if len(values) else values
    with np.errstate(divide="ignore", invalid="ignore"):
        drawdown = np.where(peak > 0, values / peak - 1.0, 0.0)
    idx = sample(len(values), drawdown)
    points = [
        {
            "time": times[i].isoformat(),
            "value": _num(raw[i]),
            "buy_and_hold": _num(raw_bh[i]),
            "calendar": _num(cal_values[i]) if cal_values is not None else None,
            "drawdown": _num(drawdown[i]),
        }
        for i in idx
    ]

    def variant(label: str, series: FloatArray | None) -> dict[str, Any] | None:
        if series is None or len(series) == 0:
            return None
        ret = float(series[-1] / series[0] - 1) if series[0] > 0 else 0.0
        return {
            "label": label,
            "return": ret,
            "end_value": float(series[-1]),
            "metrics": reports.risk_metrics(series.tolist(), ppy),
        }

    traded = s.store.decisions(name, limit=10_000, traded_only=True, newest_first=False)
    return reports.json_doc(
        {
            "portfolio": name,
            "quote": rt.strategy.quote,
            "time": s.clock.now(),
            "points": len(values),
            "equity": points,
            "variants": {
                "strategy": variant(rt.strategy.name, values),
                "buy_and_hold": variant("buy-and-hold", bh),
                "calendar": variant(cal[0], cal_values) if cal else None,
            },
            "benefit": benefit(traded, float(raw[-1]), float(raw_bh[-1])) if len(values) else None,
            **extra,
        }
    )
