"""`trimtab replay` benchmarks -> benchmarks/results/replay.json.

1. Daily: one paper portfolio (default preset bitcoin) checked every day over 4 years of bundled data
   (2020-01-01..2023-12-31), through the real service (scheduler, SQLite, journal, alerts) on the simulated clock.
   Target: under 10 s on 2 cores. Timed both as the `replay()` call and as the whole CLI process.
2. Hourly: risk-parity (default) on 1 year x 10 assets of Binance spot hourly closes (2022), through the backtest's
   step path (one engine cycle per hour) and through `replay` with check_every 1h. Target: under 60 s.
   Data: /work/shared/data/hourly_ohlcv_binance_spot.csv.gz if present, else tests/data/hourly_spot_subset.csv.gz.

    python benchmarks/bench_replay.py [--daily-preset bitcoin] [--hourly-preset risk-parity] [--skip-hourly-replay]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED_HOURLY = Path("/work/shared/data/hourly_ohlcv_binance_spot.csv.gz")
SUBSET_HOURLY = ROOT / "tests" / "data" / "hourly_spot_subset.csv.gz"


def _settings(directory: Path, preset: str, every: str) -> Any:
    from trimtab.service.settings import load_settings

    path = directory / f"{preset}-{every}.yaml"
    path.write_text(yaml.safe_dump({"portfolios": [{"name": "p", "strategy": preset, "check_every": every}]}))
    return path, load_settings(path)


def _replay(settings: Any, history: Any, start: str, end: datetime) -> tuple[float, float, Any]:
    """Wall and CPU seconds of one replay (CPU time is the steadier figure on a shared machine)."""
    from trimtab.service.replay import replay

    t0, c0 = time.perf_counter(), time.process_time()
    result = replay(settings, {"p": history}, datetime.fromisoformat(start).replace(tzinfo=UTC), end)
    return time.perf_counter() - t0, time.process_time() - c0, result.portfolios["p"]


def _end(history: Any) -> datetime:
    from trimtab.backtest.simulator import to_datetime

    return to_datetime(history.times[-1])


def bench_daily(preset: str, start: str, end: str) -> dict[str, Any]:
    from trimtab.cli.backtest import load_history
    from trimtab.config import load_strategy

    with tempfile.TemporaryDirectory() as tmp:
        cfg, settings = _settings(Path(tmp), preset, "1d")
        history = load_history(load_strategy(preset), None, start, end, None)
        seconds, cpu, p = _replay(settings, history, start, _end(history))
        t0 = time.perf_counter()
        cli = [
            str(Path(sys.executable).parent / "trimtab"),
            "replay",
            "--config",
            str(cfg),
            "--from",
            start,
            "--to",
            end,
            "--json",
            str(Path(tmp) / "out.json"),
        ]
        proc = subprocess.run(cli, capture_output=True, text=True, check=False)  # noqa: S603
        cli_seconds = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-2000:])
    return {
        "preset": preset,
        "start": start,
        "end": end,
        "rows": len(history),
        "cycles": p.n_checks,
        "rebalances": p.n_rebalances,
        "final_value": p.final_value,
        "replay_seconds": round(seconds, 3),
        "replay_cpu_seconds": round(cpu, 3),
        "ms_per_cycle": round(1000 * seconds / max(p.n_checks, 1), 3),
        "cli_seconds": round(cli_seconds, 3),
        "target_seconds": 10.0,
    }


def bench_hourly(preset: str, start: str, end: str, with_replay: bool) -> dict[str, Any]:
    from trimtab.backtest.runner import backtest
    from trimtab.cli.backtest import load_history
    from trimtab.config import load_strategy

    data = SHARED_HOURLY if SHARED_HOURLY.exists() else SUBSET_HOURLY
    strategy = load_strategy(preset)
    history = load_history(
        strategy, str(data), start if data == SHARED_HOURLY else None, end if data == SHARED_HOURLY else None, 12
    )  # exchange maintenance hours (gaps up to 12 h, reported)
    t0, c0 = time.perf_counter(), time.process_time()
    bt = backtest(load_strategy(preset), history, path="step")
    step_seconds, step_cpu = time.perf_counter() - t0, time.process_time() - c0
    doc: dict[str, Any] = {
        "preset": preset,
        "data": data.name,
        "rows": len(history) - history.warmup,
        "warmup_rows": history.warmup,
        "assets": len(history.assets),
        "step_path_seconds": round(step_seconds, 3),
        "step_path_cpu_seconds": round(step_cpu, 3),
        "step_rebalances": int(bt.rebalanced.sum()),
        "step_final_value": float(bt.equity[-1]),
        "target_seconds": 60.0,
    }
    if with_replay:
        with tempfile.TemporaryDirectory() as tmp:
            _, settings = _settings(Path(tmp), preset, "1h")
            first = str(history.times[history.warmup])[:19]
            seconds, cpu, p = _replay(settings, history, first, _end(history))
        doc.update(
            replay_seconds=round(seconds, 3),
            replay_cpu_seconds=round(cpu, 3),
            replay_cycles=p.n_checks,
            replay_rebalances=p.n_rebalances,
            replay_final_value=p.final_value,
            replay_rel_diff=p.final_value / float(bt.equity[-1]) - 1,
            replay_ms_per_cycle=round(1000 * seconds / max(p.n_checks, 1), 3),
        )
    return doc


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--daily-preset", default="bitcoin")
    ap.add_argument("--hourly-preset", default="risk-parity")
    ap.add_argument("--skip-hourly-replay", action="store_true")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "replay.json")
    args = ap.parse_args()
    doc = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_average": os.getloadavg(),
        },
        "daily": bench_daily(args.daily_preset, "2020-01-01", "2023-12-31"),
        "hourly": bench_hourly(args.hourly_preset, "2022-01-01", "2022-12-31", not args.skip_hourly_replay),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps(doc))  # noqa: T201


if __name__ == "__main__":
    main()
