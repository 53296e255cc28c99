"""Backtest speed benchmarks: trimtab's kernels vs a plain Numba loop (and a prange loop over bands) vs vectorbt
on synthetic GBM datasets.

Each part runs in its own process (so memory and compile figures are clean) and prints one JSON object;
`run_all.py` drives the parts and writes benchmarks/results.json.

    python benchmarks/bench_backtest.py kernel D2      # warm timings, trimtab vs plain loop, agreement
    python benchmarks/bench_backtest.py sweep D1       # 100 bands / calendars / hybrid rules vs a prange loop
    python benchmarks/bench_backtest.py sweep_large    # 10,000 hybrid variants on D2
    python benchmarks/bench_backtest.py memory D3      # peak memory of one threshold backtest
    python benchmarks/bench_backtest.py compile        # import + first-call time (cold or cache hit)
    python benchmarks/bench_backtest.py vectorbt D2    # needs vectorbt importable
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
from numba import njit, prange

DATASETS = {  # name: (steps, assets, periods per year)
    "D1": (3_000, 10, 365.0),
    "D2": (43_800, 50, 8_760.0),
    "D3": (100_000, 200, 8_760.0),
}
SEED = 20240601
FEE = 0.001
V0 = 1_000_000.0
DUST = 1e-9


def make_prices(name: str) -> np.ndarray:
    """Correlated GBM closes (one-factor model, correlation 0.5, annual vols 40-120 %, zero median drift), fixed seed.

    Generated in row chunks so the only large array is the [T, N] result.
    """
    t_len, n, ppy = DATASETS[name]
    rng = np.random.default_rng(SEED)
    vol = np.linspace(0.4, 1.2, n) / np.sqrt(ppy)
    rho = 0.5
    out = np.empty((t_len, n))
    level = np.log(rng.uniform(1.0, 1000.0, n))
    chunk = 10_000
    for start in range(0, t_len, chunk):
        rows = min(chunk, t_len - start)
        shocks = np.sqrt(rho) * rng.standard_normal((rows, 1)) + np.sqrt(1 - rho) * rng.standard_normal((rows, n))
        log_ret = shocks * vol
        log_ret[0] += level
        out[start : start + rows] = np.cumsum(log_ret, axis=0)
        level = out[start + rows - 1].copy()
        out[start : start + rows] = np.exp(out[start : start + rows])
    return out


def make_targets(n: int) -> np.ndarray:
    """Weights linear from 2 down to 1, normalised."""
    w: np.ndarray = np.linspace(2.0, 1.0, n)
    return w / w.sum()  # type: ignore[no-any-return]


def band_for(n: int) -> float:
    return 0.5 / n


@njit(cache=True)
def plain_threshold_loop(
    prices: np.ndarray, targets: np.ndarray, fee: float, v0: float, band: float, dust: float
) -> tuple[float, int]:
    """The simplest loop with the same semantics (cash quote, fee only, absolute band, rebalance to target)."""
    t_len, n = prices.shape
    h = np.zeros(n)
    cash = v0
    value = v0
    rebalances = 0
    for t in range(t_len):
        value = cash
        for i in range(n):
            value += h[i] * prices[t, i]
        fire = t == 0
        for i in range(n):
            if abs(h[i] * prices[t, i] / value - targets[i]) > band + 1e-12:
                fire = True
        if not fire:
            continue
        vp = value
        for _ in range(100):
            cost = 0.0
            for i in range(n):
                x = abs(targets[i] * vp - h[i] * prices[t, i])
                if x > dust * value:
                    cost += fee * x
            nxt = value - cost
            done = abs(nxt - vp) <= 1e-13 * value
            vp = nxt
            if done:
                break
        held = 0.0
        for i in range(n):
            if abs(targets[i] * vp - h[i] * prices[t, i]) > dust * value:
                h[i] = targets[i] * vp / prices[t, i]
            held += h[i] * prices[t, i]
        cash = vp - held
        value = vp
        rebalances += 1
    return value, rebalances


def _summary(times: list[float]) -> dict[str, float]:
    return {"min_s": min(times), "median_s": statistics.median(times), "repeat": len(times)}


def _timeit(fn: Callable[[], Any], repeat: int) -> dict[str, float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return _summary(times)


def _kw(prices: np.ndarray) -> dict[str, Any]:
    n = prices.shape[1]
    return {"fee": FEE, "initial_value": V0, "band_abs": band_for(n)}


@njit(cache=True, parallel=True)
def plain_band_sweep(
    prices: np.ndarray, targets: np.ndarray, fee: float, v0: float, bands: np.ndarray, dust: float
) -> tuple[np.ndarray, np.ndarray]:
    """The plain loop once per band, numba.prange over bands: the floor for a band sweep."""
    k = bands.shape[0]
    final, reb = np.empty(k), np.empty(k, np.int64)
    for j in prange(k):
        final[j], reb[j] = plain_threshold_loop(prices, targets, fee, v0, bands[j], dust)
    return final, reb


def _interleaved(fns: dict[str, Callable[[], Any]], repeat: int) -> dict[str, dict[str, float]]:
    """Each function once per round, rounds repeated: every contender sees the same machine load."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeat):
        for k, fn in fns.items():
            times[k].append(_timeit(fn, 1)["min_s"])
    return {k: _summary(v) for k, v in times.items()}


def part_kernel(name: str) -> dict[str, Any]:
    from trimtab.backtest.kernels import simulate, summarize

    prices = make_prices(name)
    targets = make_targets(prices.shape[1])
    kw = _kw(prices)
    band = kw["band_abs"]
    fns = {
        "totals": lambda: summarize(prices, targets, risk=False, **kw),
        "summarize": lambda: summarize(prices, targets, **kw),
        "plain_numba": lambda: plain_threshold_loop(prices, targets, FEE, V0, band, DUST),
        "simulate_series": lambda: simulate(prices, targets, **kw),
        "simulate_record": lambda: simulate(prices, targets, record=True, **kw),
    }
    for fn in fns.values():
        fn()  # warm (compile or cache load)
    t = _interleaved(fns, 5 if name == "D3" else 31)
    summ = summarize(prices, targets, **kw)
    full = simulate(prices, targets, record=True, **kw)
    plain_value, plain_reb = plain_threshold_loop(prices, targets, FEE, V0, band, DUST)
    plain_med = t["plain_numba"]["median_s"]
    return {
        "dataset": name,
        "steps": prices.shape[0],
        "assets": prices.shape[1],
        "band_abs": band,
        "timings": t,
        "ratio_over_plain_median": {k: v["median_s"] / plain_med for k, v in t.items() if k != "plain_numba"},
        "final_value": {
            "summarize": summ.final_value,
            "simulate": float(full.equity[-1]),
            "plain_numba": plain_value,
            "rel_diff": max(abs(summ.final_value - plain_value), abs(float(full.equity[-1]) - plain_value))
            / plain_value,
        },
        "rebalances": {
            "summarize": summ.rebalances,
            "simulate": int(full.rebalanced.sum()),
            "plain_numba": int(plain_reb),
        },
    }


def part_sweep(name: str, k: int = 100) -> dict[str, Any]:
    """100 bands (threshold), 100 calendars x band (hybrid) and 100 calendar periods, each against the prange loop."""
    from trimtab.backtest.kernels import sweep

    prices = make_prices(name)
    t_len, n = prices.shape
    targets = make_targets(n)
    bands = np.linspace(0.002, 0.1, k)
    periods = np.arange(1, k + 1)
    cals = (np.arange(t_len)[None, :] % periods[:, None]) == 0  # every 1..k steps
    idx = np.arange(k)
    fns = {
        "threshold": lambda: sweep(prices, targets, bands, fee=FEE, initial_value=V0),
        "threshold_totals": lambda: sweep(prices, targets, bands, fee=FEE, initial_value=V0, risk=False),
        "hybrid": lambda: sweep(
            prices, targets, bands, fee=FEE, initial_value=V0, mode="hybrid", calendar_due=cals, calendar_index=idx
        ),
        "calendar": lambda: sweep(
            prices,
            targets,
            np.zeros(k),
            fee=FEE,
            initial_value=V0,
            mode="calendar",
            calendar_due=cals,
            calendar_index=idx,
        ),
        "plain_prange": lambda: plain_band_sweep(prices, targets, FEE, V0, bands, DUST),
    }
    t0 = time.perf_counter()
    fns["threshold"]()
    first = time.perf_counter() - t0
    for fn in fns.values():
        fn()
    t = _interleaved(fns, 15)
    res = sweep(prices, targets, bands, fee=FEE, initial_value=V0)
    plain = plain_band_sweep(prices, targets, FEE, V0, bands, DUST)
    best = int(np.argmax(res.final_value))
    plain_med = t["plain_prange"]["median_s"]
    return {
        "dataset": name,
        "bands": k,
        "first_call_s": first,
        "timings": t,
        "threads": _threads(),
        "ratio_over_plain_prange_median": {m: t[m]["median_s"] / plain_med for m in fns if m != "plain_prange"},
        "max_rel_diff_vs_plain": float(np.max(np.abs(res.final_value - plain[0]) / plain[0])),
        "rebalances_equal_plain": bool(np.array_equal(res.rebalances, plain[1])),
        "best_band": float(bands[best]),
        "best_final_value": float(res.final_value[best]),
    }


def part_sweep_large(name: str = "D2") -> dict[str, Any]:
    """10,000 variants (100 bands x 100 calendar periods, hybrid) on D2 in one `sweep` call, both cores."""
    from trimtab.backtest.kernels import sweep

    prices = make_prices(name)
    t_len, n = prices.shape
    targets = make_targets(n)
    bands = np.repeat(np.linspace(0.002, 0.1, 100), 100)
    periods = np.arange(1, 101) * 24  # every 1..100 days of hourly steps
    cals = (np.arange(t_len)[None, :] % periods[:, None]) == 0
    idx = np.tile(np.arange(100), 100)
    sweep(
        prices, targets, bands[:2], fee=FEE, initial_value=V0, mode="hybrid", calendar_due=cals, calendar_index=idx[:2]
    )  # compile or cache load
    t0 = time.perf_counter()
    res = sweep(prices, targets, bands, fee=FEE, initial_value=V0, mode="hybrid", calendar_due=cals, calendar_index=idx)
    elapsed = time.perf_counter() - t0
    return {
        "dataset": name,
        "variants": int(len(bands)),
        "seconds": elapsed,
        "threads": _threads(),
        "per_variant_ms": elapsed / len(bands) * 1e3,
        "best_final_value": float(res.final_value.max()),
    }


def _threads() -> int:
    import numba

    return int(numba.get_num_threads())


def part_memory(name: str) -> dict[str, Any]:
    from trimtab.backtest.kernels import simulate

    rss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    prices = make_prices(name)
    targets = make_targets(prices.shape[1])
    rss_data = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tracemalloc.start()
    t0 = time.perf_counter()
    out = simulate(prices, targets, record=True, **_kw(prices))
    elapsed = time.perf_counter() - t0
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "dataset": name,
        "prices_mb": prices.nbytes / 2**20,
        "peak_rss_mb": rss_peak,
        "rss_after_imports_mb": rss_start,
        "rss_after_data_mb": rss_data,
        "kernel_traced_peak_mb": traced_peak / 2**20,
        "first_call_s": elapsed,
        "final_value": float(out.equity[-1]),
    }


def part_compile() -> dict[str, Any]:
    """First call of each JIT kernel in this process (TRIMTAB_AOT=0 is set by the driver): compile or cache load."""
    t0 = time.perf_counter()
    from trimtab.backtest.kernels import simulate, summarize, sweep, uses_aot

    t_import = time.perf_counter() - t0
    prices = make_prices("D1")[:50]
    targets = make_targets(prices.shape[1])
    out: dict[str, Any] = {
        "import_s": t_import,
        "aot": uses_aot(),
        "numba_cache_dir": os.environ.get("NUMBA_CACHE_DIR", ""),
    }
    for name, fn in (
        ("simulate_record", lambda: simulate(prices, targets, fee=FEE, band_abs=0.05, record=True)),
        ("summarize", lambda: summarize(prices, targets, fee=FEE, band_abs=0.05)),
        ("sweep", lambda: sweep(prices, targets, np.array([0.01, 0.02]), fee=FEE)),
    ):
        t1 = time.perf_counter()
        fn()
        out[f"{name}_first_call_s"] = time.perf_counter() - t1
    return out


def part_vectorbt(name: str) -> dict[str, Any]:
    """vectorbt `Portfolio.from_orders` with targetpercent orders on the steps where trimtab's trigger fired.

    The rebalance mask is computed by trimtab and not timed: this is generous to vectorbt, which only
    executes the orders (sells first via call_seq='auto', shared cash, fee on traded value).
    """
    import pandas as pd
    import vectorbt as vbt

    from trimtab.backtest.kernels import simulate

    prices = make_prices(name)
    targets = make_targets(prices.shape[1])
    out = simulate(prices, targets, **_kw(prices))
    mask = out.rebalanced
    size = np.where(mask[:, None], targets[None, :], np.nan)
    index = pd.date_range("2020-01-01", periods=len(prices), freq="h" if name != "D1" else "D")
    close = pd.DataFrame(prices, index=index)
    size_df = pd.DataFrame(size, index=index)

    def job() -> float:
        pf = vbt.Portfolio.from_orders(
            close,
            size_df,
            size_type="targetpercent",
            fees=FEE,
            init_cash=V0,
            cash_sharing=True,
            group_by=True,
            call_seq="auto",
            freq=index.freq,
        )
        return float(np.asarray(pf.value())[-1])

    t0 = time.perf_counter()
    job()
    first = time.perf_counter() - t0
    repeat = 2 if name == "D3" else 3
    value = job()
    trimtab_value = float(out.equity[-1])
    return {
        "dataset": name,
        "vectorbt_version": vbt.__version__,
        "first_call_s": first,
        "vectorbt": _timeit(job, repeat),
        "final_value": {
            "vectorbt": value,
            "trimtab": trimtab_value,
            "rel_diff": abs(value - trimtab_value) / trimtab_value,
        },
        "rebalances": int(mask.sum()),
    }


def main(argv: list[str]) -> None:
    part = argv[0]
    if part == "kernel":
        result = part_kernel(argv[1])
    elif part == "sweep":
        result = part_sweep(argv[1])
    elif part == "sweep_large":
        result = part_sweep_large()
    elif part == "memory":
        result = part_memory(argv[1])
    elif part == "compile":
        result = part_compile()
    elif part == "vectorbt":
        result = part_vectorbt(argv[1])
    else:
        raise SystemExit(f"unknown part {part!r}")
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
