"""End-to-end wall time of `trimtab backtest` on the bundled daily data (first and second process).

    python benchmarks/bench_cli.py      # writes benchmarks/results/cli.json
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TRIMTAB = Path(sys.executable).with_name("trimtab")
JOBS = {
    "backtest index-fund 2020-04-11..2024-06-30": ["backtest", "-s", "index-fund", "--start", "2020-04-11", "--json", "/dev/null"],
    "backtest bitcoin 2018-10-05..2024-06-30": ["backtest", "-s", "bitcoin", "--start", "2018-10-05", "--json", "/dev/null"],
    "sweep index-fund 100 bands": ["sweep", "-s", "index-fund", "--start", "2020-04-11", "--param", "trigger.band=0.005:0.10:100"],
}


def wall(args: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run([str(TRIMTAB), *args], check=True, capture_output=True)  # noqa: S603
    return time.perf_counter() - t0


def main() -> dict[str, dict[str, float]]:
    out = {}
    for name, args in JOBS.items():
        first = wall(args)
        again = min(wall(args) for _ in range(3))
        out[name] = {"first_process_s": round(first, 3), "second_process_s": round(again, 3)}
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "cli.json").write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    sys.stdout.write(json.dumps(main(), indent=2) + "\n")
