"""Matplotlib figures of backtest results (equity, drawdown, weights, costs) as inline SVG or PNG files.

Figures are built on `matplotlib.figure.Figure` directly (no pyplot, no global backend state), so report
generation is thread-safe and works headless. Long series are downsampled for plotting only.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from matplotlib import colormaps, rc_context
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, PercentFormatter

from trimtab.backtest.simulator import BacktestResult
from trimtab.core.measures.metrics import drawdown_series

MAX_POINTS = 2000
STRATEGY_COLOR = "#1f4e9c"
BENCH_COLORS = ("#7f7f7f", "#e07b00", "#2a9d5c", "#9b3fb5", "#c0392b")
_RC: dict[Any, Any] = {
    "svg.fonttype": "none",
    "svg.hashsalt": "trimtab",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.frameon": False,
    "font.family": ["DejaVu Sans", "sans-serif"],
}


@dataclass(frozen=True)
class Look:
    """Size and type scale of one rendering: the HTML report and the PNG files differ."""

    width: float = 11.0  # inches
    height: float = 4.4
    font: float = 10.0
    dpi: float = 100.0


SVG_LOOK = Look()
PNG_LOOK = Look(width=12.0, height=6.0, font=13.0, dpi=100.0)


@dataclass(frozen=True)
class Line:
    """One backtest to plot, with its legend label and colour; the main strategy is drawn heavier."""

    label: str
    result: BacktestResult
    color: str
    main: bool = False


def lines_for(result: BacktestResult, benchmarks: Mapping[str, BacktestResult]) -> list[Line]:
    """The strategy first, then each benchmark in a fixed palette."""
    out = [Line(result.strategy, result, STRATEGY_COLOR, main=True)]
    for k, (name, b) in enumerate(benchmarks.items()):
        out.append(Line(name, b, BENCH_COLORS[k % len(BENCH_COLORS)]))
    return out


def downsample(
    n: int, max_points: int = MAX_POINTS, series: npt.NDArray[np.float64] | None = None
) -> npt.NDArray[np.intp]:
    """At most `max_points` (>= 4) sorted row indices: all rows when n <= max_points, else the first row of evenly
    spaced buckets plus the last row and, when `series` is given, each bucket's min and max (peaks survive)."""
    if n <= max_points:
        return np.arange(n)
    buckets = max((max_points - 1) // (3 if series is not None else 1), 1)
    edges = np.linspace(0, n, buckets + 1).astype(np.intp)
    keep = [edges[:-1], np.array([n - 1])]
    if series is not None:
        s = np.asarray(series, dtype=np.float64)
        keep += [
            np.array([lo + int(np.argmin(s[lo:hi])), lo + int(np.argmax(s[lo:hi]))])
            for lo, hi in zip(edges[:-1], edges[1:], strict=True)
            if hi > lo
        ]
    return np.unique(np.concatenate(keep))


def thin(steps: npt.NDArray[np.intp], n: int, slots: int = 600) -> npt.NDArray[np.intp]:
    """The first of `steps` in each of `slots` equal slices of [0, n): markers closer than a slice look the same."""
    if steps.size <= slots:
        return steps
    _, first = np.unique(steps * slots // max(n, 1), return_index=True)
    return steps[first]


def _figure(
    look: Look, ncols: int = 1, width_ratios: Sequence[float] | None = None, legend_right: float = 0.0
) -> tuple[Figure, Any]:
    """A figure with fixed margins in inches (scaled with the font): constrained layout costs ~40 % of render time."""
    em = look.font / 72.0  # one font size in inches
    fig = Figure(figsize=(look.width, look.height), dpi=look.dpi)
    fig.subplots_adjust(
        left=5.2 * em / look.width,
        right=1.0 - (1.5 * em + legend_right * em) / look.width,
        bottom=2.6 * em / look.height,
        top=1.0 - 3.0 * em / look.height,
        wspace=0.22,
    )
    axes = fig.subplots(1, ncols, gridspec_kw={"width_ratios": width_ratios} if width_ratios else None)
    return fig, axes


def _date_axis(ax: Any) -> None:
    locator = AutoDateLocator(minticks=4, maxticks=10)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]


def _money(x: float, _pos: int = 0) -> str:
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"{x / div:.3g}{suffix}"
    return f"{x:.3g}"


def equity_figure(lines: Sequence[Line], look: Look = SVG_LOOK, log: bool = False, unit: str = "") -> Figure:
    """Portfolio value over time, strategy vs benchmarks, net of all costs; the legend gives final values."""
    fig, ax = _figure(look)
    for ln in reversed(lines):  # strategy drawn last, on top
        r = ln.result
        idx = downsample(len(r.equity), series=r.equity)
        ax.plot(
            r.times[idx],
            r.equity[idx],
            color=ln.color,
            lw=2.0 if ln.main else 1.3,
            label=f"{ln.label} (final {_money(float(r.equity[-1]))})",
            alpha=1.0 if ln.main else 0.9,
            zorder=3 if ln.main else 2,
        )
    if unit:
        ax.set_ylabel(unit, fontsize=look.font)
    if log:
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(_money))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda x, p: ""))
    ax.set_title("Portfolio value, net of costs" + (" (log scale)" if log else ""), loc="left", fontsize=look.font + 2)
    _date_axis(ax)
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles[::-1], labels[::-1], loc="upper left", fontsize=look.font)
    ax.tick_params(labelsize=look.font)
    return fig


def drawdown_figure(lines: Sequence[Line], look: Look = SVG_LOOK) -> Figure:
    """Loss from the running peak; the strategy filled, benchmarks as lines."""
    fig, ax = _figure(look)
    for ln in lines:
        r = ln.result
        dd = -drawdown_series(r.equity)
        idx = downsample(len(dd), series=dd)
        if ln.main:
            ax.fill_between(r.times[idx], dd[idx], 0.0, color=ln.color, alpha=0.35, lw=0, label=ln.label, zorder=1)
            ax.plot(r.times[idx], dd[idx], color=ln.color, lw=1.0, zorder=3)
        else:
            ax.plot(r.times[idx], dd[idx], color=ln.color, lw=1.2, label=ln.label, zorder=2)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_title("Drawdown from the running peak", loc="left", fontsize=look.font + 2)
    _date_axis(ax)
    ax.legend(loc="lower left", fontsize=look.font)
    ax.tick_params(labelsize=look.font)
    return fig


def weight_columns(result: BacktestResult) -> tuple[list[str], npt.NDArray[np.float64]]:
    """Asset labels and post-trade weights [T, K], with a 'cash' column when value sits outside the assets."""
    w = np.clip(np.nan_to_num(result.weights), 0.0, None)
    labels = list(result.assets)
    cash = 1.0 - w.sum(axis=1)
    if np.max(np.abs(cash)) > 1e-6:
        w = np.column_stack([w, np.clip(cash, 0.0, None)])
        labels.append("cash")
    return labels, w


def weights_figure(result: BacktestResult, look: Look = SVG_LOOK) -> Figure:
    """Stacked post-trade weights over time; ticks along the top mark the rebalances."""
    labels, w = weight_columns(result)
    fig, ax = _figure(look, legend_right=max(len(x) for x in labels) * 0.62 + 9.0)
    reb = result.rebalance_steps
    idx = downsample(len(w))
    if reb.size <= MAX_POINTS // 4:
        idx = np.union1d(idx, reb)  # keep the post-trade rows exactly
    targets = dict(zip(result.assets, np.asarray(result.targets, dtype=float), strict=False))
    legend = [f"{a} ({targets[a]:.0%})" if a in targets and targets[a] > 0 else a for a in labels]
    colors = _palette(len(labels))
    ax.stackplot(result.times[idx], w[idx].T, labels=legend, colors=colors, alpha=0.9, lw=0)
    if reb.size:
        shown = thin(reb, len(w))
        ax.plot(
            result.times[shown],
            np.full(shown.size, 1.015),
            linestyle="none",
            marker="v",
            ms=4 if look.font < 12 else 5,
            color="#222222",
            clip_on=False,
            label=f"rebalance ({reb.size:,})",
        )
    ax.set_ylim(0.0, 1.0)
    ax.set_xlim(result.times[0], result.times[-1])
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_title("Post-trade weights (legend: asset and target)", loc="left", fontsize=look.font + 2, pad=16)
    ax.grid(False)
    _date_axis(ax)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=look.font, reverse=True)
    ax.tick_params(labelsize=look.font)
    return fig


def _palette(n: int) -> list[Any]:
    """tab10 (tab20 beyond ten series): distinct, colour-blind-friendlier than the default cycle."""
    cm = colormaps["tab20" if n > 10 else "tab10"]
    return [cm(i % cm.N) for i in range(n)]


def costs_figure(lines: Sequence[Line], look: Look = SVG_LOOK, unit: str = "") -> Figure:
    """Left: total fees, slippage and gas per backtest; right: cumulative total cost over time."""
    fig, (bars, cum) = _figure(look, 2, width_ratios=(1.0, 1.6))
    kinds = ("fee", "slippage", "gas")
    x = np.arange(len(kinds))
    width = 0.8 / max(len(lines), 1)
    for k, ln in enumerate(lines):
        totals = [float(np.sum(getattr(ln.result, kind))) for kind in kinds]
        bc = bars.bar(x + (k - (len(lines) - 1) / 2) * width, totals, width, color=ln.color, label=ln.label)
        bars.bar_label(bc, labels=[_money(v) if v > 0 else "" for v in totals], fontsize=look.font - 2, padding=2)
        r = ln.result
        total = np.cumsum(r.fee + r.slippage + r.gas)
        idx = downsample(len(total))
        cum.plot(
            r.times[idx], total[idx], color=ln.color, lw=2.0 if ln.main else 1.3, label=ln.label, drawstyle="steps-post"
        )
    bars.set_xticks(x, ["fees", "slippage", "gas"])
    bars.yaxis.set_major_formatter(FuncFormatter(_money))
    bars.set_title("Costs by kind", loc="left", fontsize=look.font + 2)
    bars.margins(y=0.1)
    if unit:
        bars.set_ylabel(unit, fontsize=look.font)
    bars.grid(axis="x", visible=False)
    cum.yaxis.set_major_formatter(FuncFormatter(_money))
    cum.set_title("Cumulative costs (fees + slippage + gas)", loc="left", fontsize=look.font + 2)
    _date_axis(cum)
    cum.legend(loc="upper left", fontsize=look.font)
    for ax in (bars, cum):
        ax.tick_params(labelsize=look.font)
    return fig


_ID = re.compile(r'(\bid="|url\(#|href="#)([^"()]+)')
_STRIP = (
    re.compile(r"<\?xml.*?\?>\s*", re.S),
    re.compile(r"<!DOCTYPE.*?>\s*", re.S),
    re.compile(r"<metadata>.*?</metadata>\s*", re.S),
)


def svg_markup(fig: Figure, prefix: str) -> str:
    """The figure as an inline <svg> element: no XML prolog, DOCTYPE or metadata, ids prefixed to stay unique."""
    buf = io.StringIO()
    with rc_context(_RC):
        fig.savefig(buf, format="svg")
    text = buf.getvalue()
    for pat in _STRIP:
        text = pat.sub("", text)
    text = _ID.sub(lambda m: f"{m.group(1)}{prefix}-{m.group(2)}", text)
    return text.replace("<svg ", f'<svg role="img" aria-label="{prefix} chart" ', 1)


def save_png(fig: Figure, dest: Path) -> Path:
    """Write the figure as a PNG (at the figure's dpi) without timestamps in the metadata."""
    with rc_context(_RC):
        fig.savefig(dest, format="png", metadata={"Software": None})
    return dest


def build(kind: str, lines: Sequence[Line], look: Look, log: bool = False, unit: str = "") -> Figure:
    """The named chart (equity, drawdown, weights, costs) under the shared style."""
    with rc_context(_RC | {"font.size": look.font}):
        if kind == "equity":
            return equity_figure(lines, look, log=log, unit=unit)
        if kind == "drawdown":
            return drawdown_figure(lines, look)
        if kind == "weights":
            return weights_figure(lines[0].result, look)
        if kind == "costs":
            return costs_figure(lines, look, unit=unit)
    raise ValueError(f"unknown chart {kind!r}: use equity, drawdown, weights or costs")


CHARTS = ("equity", "drawdown", "weights", "costs")
