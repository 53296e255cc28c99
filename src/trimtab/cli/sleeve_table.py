"""The per-sleeve table `trimtab backtest` prints for a sleeve strategy (from backtest.sleeves' report)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.table import Table


def _pp(x: float) -> str:
    return f"{x * 100:.2f}pp"


def _dates(times: Sequence[str]) -> str:
    if not times:
        return "—"
    return f"{times[0]} … {times[-1]}" if len(times) > 1 else times[0]


COLUMNS = ("sleeve", "weight", "final", "trigger", "fired", "rebal.", "first … last", "drift in", "split drift")


def sleeve_table(doc: Mapping[str, Any]) -> Table:
    """One row per sleeve (its own trigger's firings, the days its assets traded, drift inside and in the split)."""
    t = Table(title="Sleeves: each trigger checked inside its sleeve, a band on the split", title_justify="left")
    for col in COLUMNS:
        t.add_column(col, justify="left" if col in ("sleeve", "trigger", "first … last") else "right")
    for s in doc["sleeves"]:
        t.add_row(
            s["name"],
            f"{s['weight'] * 100:.1f}%",
            f"{s['final_share'] * 100:.1f}%",
            s["trigger"],
            str(s["n_fired"]),
            str(s["n_rebalances"]),
            _dates(s["rebalance_times"]),
            f"{_pp(s['drift_inside_mean'])} / {_pp(s['drift_inside_max'])}",
            f"{_pp(s['share_drift_mean'])} / {_pp(s['share_drift_max'])}",
        )
    split = doc["split"]
    t.add_row("split", "", "", split["trigger"], "", str(split["n_rebalances"]), _dates(split["rebalance_times"]))
    t.caption = (
        "fired: the sleeve's own trigger fired; rebal.: of those, days its assets traded; drift in: mean / max of "
        "max |w - w*| inside the sleeve (pre-trade); split drift: of |share - weight|; split: whole rebalances"
    )
    return t
