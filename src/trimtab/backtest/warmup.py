"""Compile the fast-path JIT kernels into Numba's on-disk cache ahead of use (`make deps` runs it after
installing, next to the ahead-of-time build in `aot`, which commands prefer; the JIT is the fallback).

Each call signature is its own cache entry, so the warm-up calls the kernels exactly as the commands do:
`trimtab backtest` passes read-only prices (PriceHistory freezes its matrix), library callers usually writable
ones. `--all` also compiles the summary and sweep kernels (benchmarks, notebooks).

    python -m trimtab.backtest.warmup [--all]
"""

from __future__ import annotations

import sys
import time

import numpy as np


def _prices(readonly: bool) -> np.ndarray:
    p = np.array([[1.0, 2.0], [1.1, 1.9], [1.2, 2.1]])
    p.flags.writeable = not readonly
    return p


def warm(everything: bool = False) -> dict[str, float]:
    """Seconds spent per kernel (a cache load when it was already compiled)."""
    from trimtab.backtest import kernels
    from trimtab.backtest.kernels import simulate, summarize, sweep

    kernels._aot_module = None  # the JIT kernels themselves, also when an ahead-of-time build exists (fallback)
    targets = np.array([0.5, 0.5])
    spent: dict[str, float] = {}

    def timed(name: str, fn: object) -> None:
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        spent[name] = round(time.perf_counter() - t0, 3)

    for readonly in (True, False):
        p = _prices(readonly)
        tag = "[read-only prices]" if readonly else ""
        timed(f"run_policy{tag}", lambda p=p: simulate(p, targets, band_abs=0.05, record=True))
        timed(f"weights_path{tag}", lambda p=p: simulate(p, targets, band_abs=0.05, record=True).weights(p))
    if everything:
        timed("summarize", lambda: summarize(_prices(False), targets, band_abs=0.05))
        timed("totals", lambda: summarize(_prices(False), targets, band_abs=0.05, risk=False))
        timed("sweep_policies", lambda: sweep(_prices(False), targets, np.array([0.01, 0.05])))
    return spent


def main(argv: list[str]) -> None:
    spent = warm(everything="--all" in argv)
    sys.stdout.write("numba cache warm: " + ", ".join(f"{k} {v:.2f}s" for k, v in spent.items()) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
