"""Run every benchmark part in its own process; write benchmarks/results.json and benchmarks/RESULTS.md.

    python benchmarks/run_all.py [--skip-vectorbt]

vectorbt is looked for in this interpreter first, then in $TRIMTAB_BENCH_VECTORBT_PYTHON, then in
/tmp/benchvenv/bin/python (a separate venv: vectorbt's pins must not touch the project's environment).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BENCH = HERE / "bench_backtest.py"
SEPARATE_VENV = Path("/tmp/benchvenv/bin/python")


def _part(python: str, *args: str, env: dict[str, str] | None = None, timeout: float = 1800) -> dict[str, Any]:
    proc = subprocess.run(
        [python, str(BENCH), *args],
        capture_output=True,
        text=True,
        timeout=timeout,  # noqa: S603
        env={**os.environ, **(env or {})},
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _vectorbt_python() -> tuple[str | None, str]:
    candidates = [sys.executable, os.environ.get("TRIMTAB_BENCH_VECTORBT_PYTHON", ""), str(SEPARATE_VENV)]
    reasons = []
    for py in filter(None, candidates):
        if not Path(py).exists():
            reasons.append(f"{py}: not found")
            continue
        probe = subprocess.run(
            [py, "-c", "import vectorbt, trimtab; print(vectorbt.__version__)"],  # noqa: S603
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0:
            return py, probe.stdout.strip()
        reasons.append(f"{py}: {probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else 'import failed'}")
    return None, "; ".join(reasons)


def _versions() -> dict[str, str]:
    import numba
    import numpy

    return {
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "numba": numba.__version__,
        "machine": platform.machine(),
        "cpus": str(os.cpu_count()),
        "platform": platform.platform(),
    }


def run(skip_vectorbt: bool) -> dict[str, Any]:
    py = sys.executable
    results: dict[str, Any] = {
        "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "env": _versions(),
        "load_average_at_start": os.getloadavg()[0],
    }
    with (
        tempfile.TemporaryDirectory() as cache
    ):  # JIT only (TRIMTAB_AOT=0): what compiling costs and what a cache hit costs
        jit = {"NUMBA_CACHE_DIR": cache, "TRIMTAB_AOT": "0"}
        results["compile_cold"] = _part(py, "compile", env=jit)
        results["compile_cache_hit"] = _part(py, "compile", env=jit)
    results["kernel"] = {name: _part(py, "kernel", name) for name in ("D1", "D2", "D3")}
    results["sweep_D1"] = _part(py, "sweep", "D1")
    results["sweep_D1_one_thread"] = _part(py, "sweep", "D1", env={"NUMBA_NUM_THREADS": "1"})
    results["sweep_10k_D2"] = _part(py, "sweep_large")
    results["memory_D3"] = _part(py, "memory", "D3")
    proc = subprocess.run([py, str(HERE / "bench_cli.py")], capture_output=True, text=True, check=False, timeout=3600)  # noqa: S603
    if proc.returncode != 0:
        raise RuntimeError(f"bench_cli.py failed:\n{proc.stderr[-3000:]}")
    results["cli"] = json.loads(proc.stdout)
    vbt_py, detail = (None, "skipped (--skip-vectorbt)") if skip_vectorbt else _vectorbt_python()
    if vbt_py is None:
        results["vectorbt"] = {"status": "unavailable", "reason": detail}
    else:
        results["vectorbt"] = {
            "status": "ok",
            "python": vbt_py,
            "version": detail,
            **{name: _part(vbt_py, "vectorbt", name) for name in ("D1", "D2")},
        }
    results["load_average_at_end"] = os.getloadavg()[0]
    results["targets"] = _targets(results)
    return results


def _target(value: float | None, limit: float) -> dict[str, Any]:
    return {"value": value, "limit": limit, "ok": None if value is None else value <= limit}


def _targets(r: dict[str, Any]) -> dict[str, Any]:
    k, s, cli = r["kernel"], r["sweep_D1"], r["cli"]
    out: dict[str, Any] = {}
    for name in ("D1", "D2", "D3"):
        out[f"kernel_{name}_totals_over_plain_loop"] = _target(k[name]["ratio_over_plain_median"]["totals"], 1.3)
        out[f"kernel_{name}_summarize_over_plain_loop"] = _target(k[name]["ratio_over_plain_median"]["summarize"], 1.3)
    for mode in ("threshold", "threshold_totals", "hybrid", "calendar"):
        out[f"sweep_D1_{mode}_over_prange_loop"] = _target(s["ratio_over_plain_prange_median"][mode], 1.3)
    out["sweep_10k_variants_D2_s"] = _target(r["sweep_10k_D2"]["seconds"], 30.0)
    out["first_backtest_after_install_s"] = _target(cli["first_backtest_D1"]["after_warm_up_median_s"], 2.0)
    out["backtest_D1_csv_warm_s"] = _target(cli["backtest_D1_csv"]["median_s"], 0.5)
    out["help_s"] = _target(cli["help"]["median_s"], 0.3)
    out["backtest_D3_csv_s"] = _target(cli["backtest_D3_csv"]["median_s"], 3.0)
    out["backtest_D3_parquet_s"] = _target(cli["backtest_D3_parquet"]["median_s"], 1.0)
    out["kernels_match_plain_loop_1e-9"] = _target(max(x["final_value"]["rel_diff"] for x in k.values()), 1e-9)
    out["D3_peak_memory_mb"] = _target(r["memory_D3"]["peak_rss_mb"], 1024)
    if r["vectorbt"]["status"] == "ok":
        speedup = r["vectorbt"]["D2"]["vectorbt"]["min_s"] / k["D2"]["timings"]["simulate_series"]["min_s"]
        out["D2_speedup_over_vectorbt"] = {"value": speedup, "limit": ">= 20", "ok": speedup >= 20}
    return out


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def render(r: dict[str, Any]) -> str:
    """RESULTS.md from results.json, so the two never disagree."""
    env, k, s, cli = r["env"], r["kernel"], r["sweep_D1"], r["cli"]
    lines = [
        "# Backtest benchmarks",
        "",
        f"Generated {r['generated']} by `make bench` (`python benchmarks/run_all.py`) on {env['cpus']} CPUs "
        f"({env['platform']}), Python {env['python']}, numpy {env['numpy']}, numba {env['numba']}. Raw figures: "
        "`results.json`, `results/cli.json`.",
        "",
        f"The machine was shared with other engineers' test runs (load average {r['load_average_at_start']:.1f} at the "
        f"start, {r['load_average_at_end']:.1f} at the end, on 2 cores): every figure is a **median** of "
        "repeated runs, "
        "contenders interleaved so they see the same load; absolute times on a quiet machine are lower, ratios are "
        "the figures to compare.",
        "",
        "Job: threshold rebalancing back to target (band_abs = 0.5/N, fee 0.1 %, no slippage, cash as quote) on",
        "synthetic correlated GBM closes with a fixed seed: D1 = 3,000 daily x 10, D2 = 43,800 hourly x 50,",
        "D3 = 100,000 x 200. The plain loop (in `bench_backtest.py`) is a scalar Numba loop with the same post-fee",
        "semantics that returns only the final value and the rebalance count. trimtab entries, all validated public",
        "calls: `summarize(risk=False)` (final value, counts, costs), `summarize` (+ mean tracking error and max",
        "drawdown), `simulate` (+ seven per-step series), `simulate(record=True)` (+ post-trade holdings per "
        "rebalance,",
        "same pass).",
        "",
        "## Kernel, warm (median; ratio to the plain loop in brackets)",
        "",
        "| dataset | plain loop | summarize(risk=False) | summarize | simulate | simulate(record) | rebalances "
        "| rel. diff |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, x in k.items():
        t, q = x["timings"], x["ratio_over_plain_median"]
        cells = [
            f"{_ms(t[m]['median_s'])} ({q[m]:.2f}x)"
            for m in ("totals", "summarize", "simulate_series", "simulate_record")
        ]
        lines.append(
            f"| {name} | {_ms(t['plain_numba']['median_s'])} | {' | '.join(cells)} | "
            f"{x['rebalances']['summarize']} | {x['final_value']['rel_diff']:.1e} |"
        )
    s1 = r["sweep_D1_one_thread"]
    lines += [
        "",
        "## Sweeps (100 variants on D1, `kernels.sweep`, numba.prange over variants; ratio to a prange loop of "
        "the plain loop)",
        "",
        "| sweep | 2 threads | ratio | 1 thread | ratio |",
        "|---|---|---|---|---|",
    ]
    for mode in ("threshold", "threshold_totals", "hybrid", "calendar"):
        lines.append(
            f"| {mode} | {_ms(s['timings'][mode]['median_s'])} | {s['ratio_over_plain_prange_median'][mode]:.2f}x | "
            f"{_ms(s1['timings'][mode]['median_s'])} | {s1['ratio_over_plain_prange_median'][mode]:.2f}x |"
        )
    lines.append(
        f"| plain prange loop (bands) | {_ms(s['timings']['plain_prange']['median_s'])} | 1 | "
        f"{_ms(s1['timings']['plain_prange']['median_s'])} | 1 |"
    )
    big = r["sweep_10k_D2"]
    c0, c1, mem = r["compile_cold"], r["compile_cache_hit"], r["memory_D3"]
    lines += [
        "",
        f"- 10,000 hybrid variants (100 bands x 100 calendars) on D2 in one `sweep` call: {big['seconds']:.1f} s on "
        f"{big['threads']} threads ({big['per_variant_ms']:.2f} ms per variant).",
        f"- Threshold sweep results equal the plain loop's (max rel. diff {s['max_rel_diff_vs_plain']:.1e}, same "
        f"rebalance counts: {s['rebalances_equal_plain']}).",
        f"- JIT first calls, empty cache: `simulate(record=True)` {c0['simulate_record_first_call_s']:.2f} s, "
        "`summarize` "
        f"{c0['summarize_first_call_s']:.2f} s, `sweep` {c0['sweep_first_call_s']:.2f} s (each compiles only "
        "its own entry); "
        f"second process (cache hit): {c1['simulate_record_first_call_s']:.2f} s / "
        f"{c1['summarize_first_call_s']:.2f} s / "
        f"{c1['sweep_first_call_s']:.2f} s.",
        f"- D3 `simulate(record=True)` peak RSS {mem['peak_rss_mb']:.0f} MB (prices alone {mem['prices_mb']:.0f} MB).",
        "",
        "## Processes (`benchmarks/bench_cli.py`, median of fresh processes)",
        "",
        f"Ahead-of-time kernels built (`make deps` runs `python -m trimtab.backtest.aot`): {cli['aot_built']}."
        + (
            f" These figures are from a later run of `bench_cli.py` alone ({r['cli_generated']})."
            if r.get("cli_generated")
            else ""
        ),
        "",
        "| job | median | min |",
        "|---|---|---|",
    ]
    jobs = {
        "help": "`trimtab --help`",
        "backtest_D1_csv": "`trimtab backtest`, D1 CSV (3,000 x 10)",
        "backtest_D1_csv_jit": "same, TRIMTAB_AOT=0 (Numba JIT, warm disk cache)",
        "backtest_D1_parquet": "`trimtab backtest`, D1 Parquet",
        "backtest_D3_csv": f"`trimtab backtest`, D3 CSV (100,000 x 200, {cli['csv_mb']['D3']} MB)",
        "backtest_D3_parquet": "`trimtab backtest`, D3 Parquet",
    }
    for key, label in jobs.items():
        lines.append(f"| {label} | {cli[key]['median_s']:.2f} s | {cli[key]['min_s']:.2f} s |")
    f = cli["first_backtest_D1"]
    lines += [
        "| first D1 backtest after install (fresh Numba cache + install-time warm-up) | "
        f"{f['after_warm_up_median_s']:.2f} s | |",
        "| first D1 backtest, empty cache, no warm-up, no AOT (the old first run) | "
        f"{f['empty_cache_no_aot_median_s']:.2f} s | |",
        "",
        "## Targets (issue 16)",
        "",
        "| target | value | limit | met |",
        "|---|---|---|---|",
    ]
    for name, t in r["targets"].items():
        value = "n/a" if t["value"] is None else f"{t['value']:.4g}"
        lines.append(f"| {name} | {value} | {t['limit']} | {t['ok']} |")
    vbt = r["vectorbt"]
    lines += [
        "",
        "## vectorbt",
        "",
        (
            f"vectorbt {vbt['version']} ran ({vbt['python']}): D1 {_ms(vbt['D1']['vectorbt']['median_s'])}, "
            f"D2 {_ms(vbt['D2']['vectorbt']['median_s'])} for `Portfolio.from_orders` on trimtab's rebalance mask."
            if vbt["status"] == "ok"
            else f"vectorbt was not run: {vbt.get('reason')}."
        ),
        "",
        *service_scale_section(HERE / "results" / "service_scale.json"),
        OTHER,
    ]
    return "\n".join(lines) + "\n"


def service_scale_section(path: Path) -> list[str]:
    """The table of `bench_service_scale.py` (run on its own: it takes about 15 minutes), if it has run."""
    if not path.exists():
        return []
    d = json.loads(path.read_text())
    lines = [
        "## Service scale (`benchmarks/bench_service_scale.py`, results/service_scale.json)",
        "",
        f"{d['sqlite']['portfolios']:,} paper portfolios on a 1-minute cycle; round 1 = every initial allocation "
        "(all trade), round 2 = ordinary checks of all of them. Target: each round under "
        f"{d['target_round_s']:.0f} s; on PostgreSQL, 2 workers at least 1.7x faster than 1. Load average "
        f"{d['load_average_start']:.1f} at the start, {d['load_average_end']:.1f} at the end, on "
        f"{d['machine']['cpus']} CPUs.",
        "",
        "| database | workers | start-up | round 1 | round 2 | speed-up (round 2) |",
        "|---|---|---|---|---|---|",
    ]
    s = d["sqlite"]
    lines.append(
        f"| SQLite | 1 | {s['startup_first_s']:.1f} s | {s['round1_initial_allocation_s']:.1f} s | "
        f"{s['round2_checks_s']:.1f} s | |"
    )
    for r in d["postgres"].get("runs", []):
        lines.append(
            f"| PostgreSQL | {r['workers']} | {r['startup_first_s']:.1f} s | {r['round1_initial_allocation_s']:.1f} s"
            f" | {r['round2_checks_s']:.1f} s | {r.get('round2_speedup_vs_1', 1.0):.2f}x |"
        )
    return [*lines, ""]


OTHER = """## Other benchmarks

- `bench_allocation.py` (results/allocation.json): per-call model cost on 20 assets x 365 rows.
- `bench_strategies.py` (results/strategies.json, docs/evidence.md): the evidence table on real data.
- `bench_routing.py` (results/routing.json): route + split a 20-leg rebalance over 200 markets.
- `bench_chain.py` (chain_results.json, docs/onchain.md): gas of a 4-leg rebalance, chain fixture set-up time.
- `bench_service.py` (results/service.json, docs/service.md): paper portfolios per round, status endpoint under load.
- `bench_service_scale.py` (results/service_scale.json, docs/service.md): 10,000 paper portfolios per round on
  SQLite, and on PostgreSQL with 1, 2 and 4 worker processes."""


def main() -> None:
    results = run(skip_vectorbt="--skip-vectorbt" in sys.argv)
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (HERE / "RESULTS.md").write_text(render(results))
    sys.stdout.write(json.dumps(results["targets"], indent=2) + "\n")


if __name__ == "__main__":
    main()
