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
    proc = subprocess.run([python, str(BENCH), *args], capture_output=True, text=True, timeout=timeout,  # noqa: S603
                          env={**os.environ, **(env or {})}, check=False)
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
        probe = subprocess.run([py, "-c", "import vectorbt, trimtab; print(vectorbt.__version__)"],  # noqa: S603
                               capture_output=True, text=True, check=False)
        if probe.returncode == 0:
            return py, probe.stdout.strip()
        reasons.append(f"{py}: {probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else 'import failed'}")
    return None, "; ".join(reasons)


def _versions() -> dict[str, str]:
    import numba
    import numpy

    return {"python": platform.python_version(), "numpy": numpy.__version__, "numba": numba.__version__,
            "machine": platform.machine(), "cpus": str(os.cpu_count()), "platform": platform.platform()}


def run(skip_vectorbt: bool) -> dict[str, Any]:
    py = sys.executable
    results: dict[str, Any] = {"generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "env": _versions()}
    with tempfile.TemporaryDirectory() as cache:
        results["compile_cold"] = _part(py, "compile", env={"NUMBA_CACHE_DIR": cache})
        results["compile_cache_hit"] = _part(py, "compile", env={"NUMBA_CACHE_DIR": cache})
    results["kernel"] = {name: _part(py, "kernel", name) for name in ("D1", "D2", "D3")}
    results["sweep_D1"] = _part(py, "sweep", "D1")
    results["memory_D3"] = _part(py, "memory", "D3")
    vbt_py, detail = (None, "skipped (--skip-vectorbt)") if skip_vectorbt else _vectorbt_python()
    if vbt_py is None:
        results["vectorbt"] = {"status": "unavailable", "reason": detail}
    else:
        results["vectorbt"] = {"status": "ok", "python": vbt_py, "version": detail,
                               **{name: _part(vbt_py, "vectorbt", name) for name in ("D1", "D2")}}
    results["targets"] = _targets(results)
    return results


def _targets(r: dict[str, Any]) -> dict[str, Any]:
    d2 = r["kernel"]["D2"]
    out: dict[str, Any] = {
        "D2_within_2x_of_plain_numba": {"value": d2["ratio_trimtab_over_plain"], "ok": d2["ratio_trimtab_over_plain"] <= 2.0},
        "D1_100_band_sweep_under_0.5s": {"value": r["sweep_D1"]["warm"]["min_s"], "ok": r["sweep_D1"]["warm"]["min_s"] < 0.5},
        "D3_peak_memory_under_1GB": {"value": r["memory_D3"]["peak_rss_mb"], "ok": r["memory_D3"]["peak_rss_mb"] < 1024},
        "trimtab_matches_plain_loop_1e-9": {
            "value": max(k["final_value"]["rel_diff"] for k in r["kernel"].values()),
            "ok": all(k["final_value"]["rel_diff"] <= 1e-9 for k in r["kernel"].values())},
    }
    if r["vectorbt"]["status"] == "ok":
        speedup = r["vectorbt"]["D2"]["vectorbt"]["min_s"] / d2["trimtab"]["min_s"]
        out["D2_20x_faster_than_vectorbt"] = {"value": speedup, "ok": speedup >= 20}
        diff = max(r["vectorbt"][n]["final_value"]["rel_diff"] for n in ("D1", "D2"))
        out["vectorbt_final_value_within_1e-3"] = {"value": diff, "ok": diff <= 1e-3}
    else:
        out["D2_20x_faster_than_vectorbt"] = {"value": None, "ok": None, "reason": r["vectorbt"]["reason"]}
    return out


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def render(r: dict[str, Any]) -> str:
    """RESULTS.md from results.json, so the two never disagree."""
    env = r["env"]
    lines = [
        "# Backtest benchmarks",
        "",
        f"Generated {r['generated']} by `python benchmarks/run_all.py` on {env['cpus']} CPUs ({env['platform']}), "
        f"Python {env['python']}, numpy {env['numpy']}, numba {env['numba']}. Raw figures: `results.json`.",
        "",
        "Job: threshold rebalancing back to target (band_abs = 0.5/N, fee 0.1 %, no slippage, cash as quote) on",
        "synthetic correlated GBM closes with a fixed seed: D1 = 3,000 daily x 10, D2 = 43,800 hourly x 50,",
        "D3 = 100,000 x 200. Timings are warm (after a compile or cache-load call), best of the repeats; trimtab and",
        "the plain loop are timed interleaved so both see the same machine load.",
        "",
        "| dataset | trimtab `run_policy` | plain Numba loop | ratio | vectorbt `from_orders` | rebalances | final value rel. diff (plain / vectorbt) |",
        "|---|---|---|---|---|---|---|",
    ]
    vbt = r["vectorbt"]
    for name, k in r["kernel"].items():
        has_vbt = vbt["status"] == "ok" and name in vbt
        v = _ms(vbt[name]["vectorbt"]["min_s"]) if has_vbt else "not run"
        vd = f"{vbt[name]['final_value']['rel_diff']:.1e}" if has_vbt else "-"
        lines.append(f"| {name} | {_ms(k['trimtab']['min_s'])} | {_ms(k['plain_numba']['min_s'])} | "
                     f"{k['ratio_trimtab_over_plain']:.2f}x | {v} | {k['rebalances']['trimtab']} | "
                     f"{k['final_value']['rel_diff']:.1e} / {vd} |")
    s, mem, c0, c1 = r["sweep_D1"], r["memory_D3"], r["compile_cold"], r["compile_cache_hit"]
    lines += [
        "",
        f"- 100-band sweep on D1 (`sweep_bands`, numba.prange on {s['threads']} threads): {_ms(s['warm']['min_s'])} warm.",
        f"- D3 threshold backtest peak RSS: {mem['peak_rss_mb']:.0f} MB for the whole process "
        f"(prices alone {mem['prices_mb']:.0f} MB; {mem['rss_after_imports_mb']:.0f} MB after imports).",
        f"- Cold compile (empty cache): import {c0['import_s']:.2f} s, first `run_policy` {c0['run_policy_first_call_s']:.2f} s, "
        f"first `sweep_bands` {c0['sweep_first_call_s']:.2f} s.",
        f"- Second process (disk cache hit): import {c1['import_s']:.2f} s, first `run_policy` "
        f"{c1['run_policy_first_call_s']:.2f} s, first `sweep_bands` {c1['sweep_first_call_s']:.2f} s.",
        "",
        "The kernel does more per step than the plain loop (tracking error, seven per-step output series, hybrid/",
        "calendar/band-edge branches); with 10 assets (D1) that fixed per-step work dominates, from 50 assets on it",
        "is within 2x. The import figures exclude numba itself (imported by the benchmark module first); a cache-hit",
        "first call still pays numba's one-off JIT start-up, not a compile.",
        "",
        "## Targets",
        "",
        "| target | value | met |",
        "|---|---|---|",
    ]
    for name, t in r["targets"].items():
        value = "n/a" if t["value"] is None else f"{t['value']:.4g}"
        lines.append(f"| {name} | {value} | {t['ok'] if t['ok'] is not None else t.get('reason', 'n/a')} |")
    lines += [
        "",
        "## How vectorbt is compared",
        "",
        "vectorbt runs in a separate venv (`python3.11 -m venv /tmp/benchvenv; pip install vectorbt; pip install -e .`)"
        " so its pins never touch the project environment." if vbt["status"] == "ok" else
        f"vectorbt was unavailable: {vbt.get('reason')}.",
        "It gets `Portfolio.from_orders(size_type='targetpercent', cash_sharing=True, group_by=True, call_seq='auto',"
        " fees=0.001)` with target weights on exactly the steps where trimtab's trigger fired (mask computed by",
        "trimtab, not timed: generous to vectorbt, which has no built-in drift trigger for `from_orders`). The timed",
        "job is `from_orders` plus `pf.value()`. Final values differ by ~1e-4 because vectorbt sizes orders on the",
        "pre-fee value and partially fills the last buy when fees leave cash short, while trimtab solves",
        "V' = V - C(V') so post-trade weights land exactly on target; the documented tolerance is 1e-3.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    results = run(skip_vectorbt="--skip-vectorbt" in sys.argv)
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (HERE / "RESULTS.md").write_text(render(results))
    print(json.dumps(results["targets"], indent=2))


if __name__ == "__main__":
    main()
