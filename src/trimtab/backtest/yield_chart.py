"""Where the money sat over time (stacked shares per position) above the candidates' APYs, as PNG or SVG."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from trimtab.backtest.charts import _RC, _date_axis, _palette, save_png
from trimtab.backtest.simulator import BacktestResult


def yield_figure(result: BacktestResult, width: float = 12.0, height: float = 7.0) -> Figure:
    """Top: share of value per position (migrations marked); bottom: each reserve's supply APY."""
    names = list(result.assets)
    apy = np.asarray(result.extra["apy"], dtype=float)
    colors = _palette(len(names))
    with rc_context(_RC):
        fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
        top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(1, 1))
        w = np.clip(np.nan_to_num(result.weights), 0.0, None)
        top.stackplot(result.times, w.T, labels=names, colors=colors, alpha=0.9, lw=0)
        moves = result.rebalance_steps
        if moves.size:
            top.plot(
                result.times[moves],
                np.full(moves.size, 1.02),
                linestyle="none",
                marker="v",
                ms=4,
                color="#222222",
                clip_on=False,
                label=f"migration ({moves.size})",
            )
        top.set_ylim(0.0, 1.0)
        top.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        top.set_title(f"{result.strategy}: where the money sat", loc="left")
        top.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
        for j, name in enumerate(names):
            if np.isfinite(apy[:, j]).any() and np.nanmax(np.abs(apy[:, j])) > 0:
                bottom.plot(result.times, apy[:, j], color=colors[j], lw=1.2, label=f"{name} supply APY")
        finite = apy[np.isfinite(apy)]
        if finite.size:
            bottom.set_ylim(0.0, min(float(np.nanpercentile(finite, 99.5)) * 1.2 + 1e-4, float(finite.max()) + 1e-4))
        bottom.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
        bottom.set_title("Supply APY (clipped at the 99.5th percentile)", loc="left")
        bottom.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
        bottom.set_xlim(result.times[0], result.times[-1])
        _date_axis(bottom)
    return fig


def save_yield_chart(result: BacktestResult, dest: Path) -> Path:
    """PNG unless `dest` ends in .svg."""
    fig = yield_figure(result)
    if dest.suffix.lower() == ".svg":
        with rc_context(_RC):
            fig.savefig(dest, format="svg", metadata={"Date": None})
        return dest
    return save_png(fig, dest)
