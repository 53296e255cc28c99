"""Parameter sweeps: a grid of strategy variants backtested in parallel (local processes or a Dask cluster).

`--param trigger.band=0.005:0.10:100` is 100 evenly spaced values from 0.005 to 0.10 inclusive;
`--param trigger.every=7d,14d,30d` is a list. The grid is the cartesian product. Each row keeps the
parameters and the backtest metrics; the frontier is the set of rows no other row beats on both
tracking error and total costs.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

import numpy as np

from trimtab.backtest.fastpath import kernel_spec
from trimtab.backtest.results import result_metrics
from trimtab.backtest.runner import backtest
from trimtab.config import StrategySpec, parse_strategy
from trimtab.core.base.history import PriceHistory
from trimtab.errors import ConfigError

Params = dict[str, Any]
ROW_KEYS = (
    "final_value",
    "cagr",
    "volatility",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown",
    "var_95",
    "cvar_95",
    "turnover",
    "n_rebalances",
    "total_fees",
    "total_slippage",
    "total_gas",
    "total_costs",
    "tracking_error",
)


def _scalar(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_param(text: str) -> tuple[str, list[Any]]:
    """`path=start:stop:count` (inclusive linspace) or `path=a,b,c`; ConfigError naming the parameter otherwise."""
    if "=" not in text:
        raise ConfigError("expected PATH=start:stop:count or PATH=a,b,c", field=f"--param {text}")
    path, spec = (s.strip() for s in text.split("=", 1))
    if ":" in spec:
        parts = spec.split(":")
        try:
            start, stop, count = float(parts[0]), float(parts[1]), int(parts[2])
        except (ValueError, IndexError):
            raise ConfigError("range must be start:stop:count, e.g. 0.005:0.10:100", field=f"--param {path}") from None
        if count < 1:
            raise ConfigError("count must be >= 1", field=f"--param {path}")
        return path, [float(v) for v in np.linspace(start, stop, count)]
    values = [_scalar(v.strip()) for v in spec.split(",") if v.strip()]
    if not values:
        raise ConfigError("no values", field=f"--param {path}")
    return path, values


def grid_size(params: Sequence[tuple[str, list[Any]]]) -> int:
    """How many points the grid has, before building it."""
    return math.prod(len(v) for _, v in params)


def grid(params: Sequence[tuple[str, list[Any]]]) -> list[Params]:
    """Cartesian product of the parameter values, one dict per combination."""
    names = [p for p, _ in params]
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*(v for _, v in params))]


def apply_params(base: dict[str, Any], params: Params, source: str) -> StrategySpec:
    """The base strategy document with dotted paths replaced, validated like a strategy file."""
    doc = _deep_copy(base)
    for path, value in params.items():
        node = doc
        keys = path.split(".")
        for k in keys[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                raise ConfigError("is not a mapping", source=source, field=path)
        node[keys[-1]] = value
    return parse_strategy(doc, f"{source} [{', '.join(f'{k}={v}' for k, v in params.items())}]")


def _deep_copy(d: Any) -> Any:
    return {k: _deep_copy(v) for k, v in d.items()} if isinstance(d, dict) else d


def run_one(base: dict[str, Any], params: Params, history: PriceHistory, source: str) -> dict[str, Any]:
    """One grid point: build, backtest, keep the parameters and the headline metrics."""
    strategy = apply_params(base, params, source).build()
    m = result_metrics(backtest(strategy, history))
    return {"params": params, **{k: m[k] for k in ROW_KEYS}, "path": m["path"]}


def _run_chunk(base: dict[str, Any], chunk: list[Params], history: PriceHistory, source: str) -> list[dict[str, Any]]:
    return [run_one(base, p, history, source) for p in chunk]


def _chunks(items: list[Params], n: int, most: int = 256) -> list[list[Params]]:
    """At least `n` chunks of at most `most` points (progress moves every chunk)."""
    size = max(1, min(most, -(-len(items) // n)))
    return [items[i : i + size] for i in range(0, len(items), size)]


def run_sweep(
    base: dict[str, Any],
    points: list[Params],
    history: PriceHistory,
    *,
    source: str = "strategy",
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """Every grid point's row, in grid order: in-process (workers=1), local processes, or a Dask scheduler."""
    first = apply_params(base, points[0], source).build() if points else None  # fail fast on a bad parameter
    n_workers = workers or os.cpu_count() or 1
    if workers is None and first is not None and kernel_spec(first) is not None:
        n_workers = 1  # a kernel run takes milliseconds: processes would cost more than they save
    chunks = _chunks(points, 4 * n_workers) if scheduler or n_workers > 1 else [points]
    done = 0
    results: list[list[dict[str, Any]]] = [[] for _ in chunks]

    def collect(i: int, rows: list[dict[str, Any]]) -> None:
        nonlocal done
        results[i] = rows
        done += len(rows)
        if progress:
            progress(done)

    if scheduler:
        from distributed import Client
        from distributed import as_completed as dask_completed

        with Client(scheduler, timeout="10s") as client:  # type: ignore[no-untyped-call]
            hist = client.scatter(history, broadcast=True)
            futures = {client.submit(_run_chunk, base, c, hist, source, pure=False): i for i, c in enumerate(chunks)}
            for fut in dask_completed(futures):  # type: ignore[no-untyped-call]
                collect(futures[fut], fut.result())
    elif n_workers == 1:
        for i, c in enumerate(chunks):
            for p in c:
                results[i].append(run_one(base, p, history, source))
                done += 1
                if progress:
                    progress(done)
    else:
        with ProcessPoolExecutor(max_workers=n_workers) as pool:
            futs = {pool.submit(_run_chunk, base, c, history, source): i for i, c in enumerate(chunks)}
            for f in as_completed(futs):
                collect(futs[f], f.result())
    return [row for rows in results for row in rows]


def frontier(rows: Iterable[dict[str, Any]], x: str = "total_costs", y: str = "tracking_error") -> list[int]:
    """Indices of the rows not dominated on (x, y), cheapest first; of rows with identical (x, y) only the first.

    One pass in x order keeping the rows that lower the best y so far: O(n log n)."""
    pts = [(r[x], r[y]) for r in rows]
    keep, best = [], math.inf
    for i in sorted(range(len(pts)), key=lambda i: (pts[i][0], pts[i][1], i)):
        if pts[i][1] < best:
            keep.append(i)
            best = pts[i][1]
    return keep
