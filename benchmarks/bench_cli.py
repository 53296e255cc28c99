"""End-to-end wall time of `trimtab` processes: --help, backtests of synthetic wide files (CSV, Parquet), and
the first backtest after an install (fresh Numba cache + the install-time warm-up) or with no warm-up at all.

    python benchmarks/bench_cli.py      # writes benchmarks/results/cli.json

Each job runs `repeat` times in a fresh process; medians are reported (the machine may be shared).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_backtest import make_prices, make_targets  # noqa: E402

BIN = Path(sys.executable).parent
TRIMTAB = BIN / "trimtab"


def write_inputs(name: str, out: Path) -> dict[str, Path]:
    """`name`.csv, `name`.parquet (timestamp + one column per asset) and a threshold strategy over them."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    prices = make_prices(name)
    t_len, n = prices.shape
    step = np.timedelta64(1, "D") if name == "D1" else np.timedelta64(1, "h")
    times = np.datetime64("2010-01-01T00:00:00", "s") + np.arange(t_len) * step
    cols = [f"A{i:03d}" for i in range(n)]
    table = pa.table(
        {
            "timestamp": pa.array(times.astype("datetime64[s]")),
            **{c: pa.array(prices[:, i]) for i, c in enumerate(cols)},
        }
    )
    paths = {"csv": out / f"{name}.csv", "parquet": out / f"{name}.parquet", "strategy": out / f"{name}.yaml"}
    pacsv.write_csv(table, paths["csv"])
    pq.write_table(table, paths["parquet"])
    weights = "\n".join(f"  {c}: {float(w)!r}" for c, w in zip(cols, make_targets(n), strict=True))
    paths["strategy"].write_text(
        f"name: synthetic-{name}\nquote: USD\ntargets:\n{weights}\ntrigger:\n  kind: threshold\n"
        f"  band: {0.5 / n}\nrebalance_to: target\ncosts:\n  fee_bps: 10\ninitial_value: 1000000\n"
    )
    return paths


def wall(args: list[str], env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True, env={**os.environ, **(env or {})})  # noqa: S603
    return time.perf_counter() - t0


def timed(args: list[str], repeat: int, env: dict[str, str] | None = None) -> dict[str, Any]:
    wall(args, env)  # page cache, Numba cache: the job as a user runs it the second time
    times = [wall(args, env) for _ in range(repeat)]
    return {"median_s": round(statistics.median(times), 3), "min_s": round(min(times), 3), "repeat": repeat}


def backtest_args(paths: dict[str, Path], fmt: str) -> list[str]:
    return [str(TRIMTAB), "backtest", "-s", str(paths["strategy"]), "--prices", str(paths[fmt]), "--json", os.devnull]


def first_after_install(paths: dict[str, Path], repeat: int) -> dict[str, Any]:
    """A fresh Numba cache directory, the install-time warm-up, then the first backtest process (timed)."""
    firsts, cold = [], []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as cache:
            env = {"NUMBA_CACHE_DIR": cache}
            subprocess.run(
                [sys.executable, "-m", "trimtab.backtest.warmup"],
                check=True,
                capture_output=True,  # noqa: S603
                env={**os.environ, **env},
            )
            firsts.append(wall(backtest_args(paths, "csv"), env))
        with tempfile.TemporaryDirectory() as cache:  # no warm-up and no AOT build: what a user paid before
            cold.append(wall(backtest_args(paths, "csv"), {"NUMBA_CACHE_DIR": cache, "TRIMTAB_AOT": "0"}))
    return {
        "after_warm_up_median_s": round(statistics.median(firsts), 3),
        "empty_cache_no_aot_median_s": round(statistics.median(cold), 3),
        "repeat": repeat,
    }


def main() -> dict[str, Any]:
    from trimtab.backtest import aot

    out: dict[str, Any] = {"aot_built": aot.load() is not None}
    with tempfile.TemporaryDirectory() as tmp:
        d1, d3 = write_inputs("D1", Path(tmp)), write_inputs("D3", Path(tmp))
        out["help"] = timed([str(TRIMTAB), "--help"], 7)
        out["backtest_D1_csv"] = timed(backtest_args(d1, "csv"), 7)
        out["backtest_D1_csv_jit"] = timed(backtest_args(d1, "csv"), 5, {"TRIMTAB_AOT": "0"})
        out["backtest_D1_parquet"] = timed(backtest_args(d1, "parquet"), 5)
        out["backtest_D3_csv"] = timed(backtest_args(d3, "csv"), 3)
        out["backtest_D3_parquet"] = timed(backtest_args(d3, "parquet"), 3)
        out["first_backtest_D1"] = first_after_install(d1, 3)
        out["csv_mb"] = {
            "D1": round(d1["csv"].stat().st_size / 2**20, 1),
            "D3": round(d3["csv"].stat().st_size / 2**20, 1),
        }
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "cli.json").write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    sys.stdout.write(json.dumps(main(), indent=2) + "\n")
