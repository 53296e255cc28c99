"""The sweep's trade-off as a picture: every grid point's total cost against its tracking error, frontier drawn."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from trimtab.backtest.charts import _RC, STRATEGY_COLOR, save_png

MAX_LABELS = 12  # frontier points labelled with their parameters; the rest stay unlabelled dots


def point_label(params: dict[str, Any]) -> str:
    """`trigger.band=0.05, trigger.every=1M`: a grid point's parameters, shortest form."""
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


def frontier_figure(rows: Sequence[dict[str, Any]], front: Sequence[int], title: str, unit: str = "") -> Figure:
    """All points grey, the non-dominated ones joined in the strategy colour and labelled (cheapest first)."""
    x = np.array([r["total_costs"] for r in rows], dtype=float)
    y = np.array([r["tracking_error"] for r in rows], dtype=float)
    with rc_context(_RC | {"font.size": 10}):
        fig = Figure(figsize=(10, 6), dpi=100, layout="constrained")
        ax = fig.subplots()
        ax.scatter(x, y, s=12, color="#9a9a9a", alpha=0.6, lw=0, label=f"grid points ({len(rows)})")
        fx, fy = x[list(front)], y[list(front)]
        ax.plot(fx, fy, "-o", color=STRATEGY_COLOR, ms=5, lw=1.5, label=f"frontier ({len(front)})")
        step = max(1, -(-len(front) // MAX_LABELS))
        for i in list(front)[::step]:
            ax.annotate(
                point_label(rows[i]["params"]),
                (x[i], y[i]),
                xytext=(6, 4),
                textcoords="offset points",
                fontsize=8,
                color="#333333",
            )
        ax.set_xlabel(f"total costs{f' ({unit})' if unit else ''}")
        ax.set_ylabel("tracking error (mean half L1 distance to target)")
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
        ax.set_title(title, loc="left")
        ax.legend(loc="upper right")
    return fig


def save_frontier_chart(
    rows: Sequence[dict[str, Any]], front: Sequence[int], dest: Path, title: str, unit: str = ""
) -> Path:
    """PNG unless `dest` ends in .svg."""
    fig = frontier_figure(rows, front, title, unit)
    if dest.suffix.lower() == ".svg":
        with rc_context(_RC):
            fig.savefig(dest, format="svg", metadata={"Date": None})
        return dest
    return save_png(fig, dest)
