"""Allocation speed: one RiskParity call on 20 assets x 365 rows, and a 5-year weekly re-estimation loop.

Writes benchmarks/results/allocation.json. Run: .venv/bin/python benchmarks/bench_allocation.py
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import numpy as np

from trimtab.core.allocation.market_cap import MarketCapIndex
from trimtab.core.allocation.models import AllocationInput, InverseVolatility
from trimtab.core.allocation.optimizers import FractionalKelly, MinimumVariance, RiskParity
from trimtab.core.base.history import PriceHistory

N_ASSETS, YEARS, LOOKBACK = 20, 5, 365


def synthetic_history(rows: int, n: int, seed: int = 0) -> PriceHistory:
    """Correlated daily log-normal prices (one common factor), with market caps."""
    rng = np.random.default_rng(seed)
    factor = rng.normal(0, 0.03, size=(rows, 1))
    r = 0.6 * factor + rng.normal(0, 0.03, size=(rows, n)) * rng.uniform(0.5, 2.0, size=n)
    prices = 100 * np.exp(np.cumsum(r, axis=0))
    times = np.datetime64("2018-01-01", "ns") + np.arange(rows) * np.timedelta64(1, "D")
    caps = prices * rng.uniform(1e7, 1e9, size=n)
    return PriceHistory(times, tuple(f"A{j:02d}" for j in range(n)), prices, market_caps=caps)


def per_call_ms(model: object, inp: AllocationInput, repeats: int = 200) -> float:
    model.weights(inp)  # type: ignore[attr-defined]
    t0 = time.perf_counter()
    for _ in range(repeats):
        model.weights(inp)  # type: ignore[attr-defined]
    return (time.perf_counter() - t0) / repeats * 1e3


def weekly_loop_seconds(model: object, h: PriceHistory) -> tuple[float, int]:
    """5 years of weekly re-estimation after a one-year warm-up, each call on history.upto(t)."""
    t0 = time.perf_counter()
    calls = 0
    current: dict[str, float] = {}
    for t in range(LOOKBACK, len(h), 7):
        res = model.weights(AllocationInput(h.upto(t), h.assets, "USDC", current=current))  # type: ignore[attr-defined]
        current = res.weights
        calls += 1
    return time.perf_counter() - t0, calls


def main() -> None:
    h = synthetic_history(LOOKBACK + YEARS * 365 + 1, N_ASSETS)
    inp = AllocationInput(h.upto(LOOKBACK), h.assets, "USDC")
    models = {
        "RiskParity": RiskParity(lookback=LOOKBACK),
        "InverseVolatility": InverseVolatility(lookback=LOOKBACK),
        "MinimumVariance": MinimumVariance(lookback=LOOKBACK, max_weight=0.2),
        "FractionalKelly": FractionalKelly(lookback=LOOKBACK, max_weight=0.2),
        "MarketCapIndex": MarketCapIndex(top_n=10, max_weight=0.25, buffer_ranks=2, phase_in=3),
    }
    out: dict[str, object] = {"python": platform.python_version(), "assets": N_ASSETS, "rows": LOOKBACK + 1}
    for name, model in models.items():
        secs, calls = weekly_loop_seconds(model, h)
        out[name] = {
            "ms_per_call_20x365": round(per_call_ms(model, inp), 4),
            "weekly_5y_seconds": round(secs, 4),
            "calls": calls,
        }
    path = Path(__file__).parent / "results" / "allocation.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
