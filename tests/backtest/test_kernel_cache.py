"""Numba's on-disk cache: the install-time warm-up compiles what a backtest uses, and later processes load it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.ci import require

from trimtab.backtest import aot

# One fast-path backtest the way `trimtab backtest` runs it (a PriceHistory, so read-only prices), then numba's
# own account of it: per kernel, the signatures loaded from the cache and the ones compiled in this process.
PROBE = """
import json
import numpy as np
from trimtab.backtest import loops
from trimtab.backtest.runner import backtest
from trimtab.config import load_strategy
from trimtab.core.base.history import PriceHistory

rng = np.random.default_rng(1)
times = np.datetime64("2024-01-01", "ns") + np.arange(200) * np.timedelta64(1, "D")
prices = np.column_stack([np.exp(np.cumsum(rng.normal(0, 0.03, 200))) * 40_000, np.ones(200)])
history = PriceHistory(times=times, assets=("BTC", "USDC"), prices=prices)
result = backtest(load_strategy("bitcoin"), history)
assert result.path == "fast"
stats = {name: getattr(loops, name).stats for name in ("run_policy", "weights_path", "summarize", "totals",
"sweep_policies")}
print(json.dumps({k: [sum(s.cache_hits.values()), sum(s.cache_misses.values())] for k, s in stats.items()}))
"""


def _run(args: list[str], cache: Path, aot: str = "0") -> str:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "TRIMTAB_AOT": aot}
    proc = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, check=False, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.strip().splitlines()[-1]


@pytest.mark.slow
def test_warm_up_fills_a_fresh_cache_and_later_processes_only_load_it(tmp_path: Path) -> None:
    cache = tmp_path / "numba"
    assert "run_policy" in _run(["-m", "trimtab.backtest.warmup"], cache)
    assert any(cache.rglob("*.nbi")) and any(cache.rglob("*.nbc"))
    for _ in range(2):  # every later process: loaded, never compiled again
        stats = json.loads(_run(["-c", PROBE], cache))
        assert stats["run_policy"] == stats["weights_path"] == [1, 0], stats
        # and only the kernel the call uses was touched: no sweep or summary kernel loaded or compiled
        assert stats["summarize"] == stats["totals"] == stats["sweep_policies"] == [0, 0], stats


def test_with_the_ahead_of_time_build_a_backtest_never_imports_numba(tmp_path: Path) -> None:
    require(aot.load() is not None, "ahead-of-time kernels not built: python -m trimtab.backtest.aot")
    probe = PROBE.split("stats = ")[0].replace("from trimtab.backtest import loops\n", "")
    probe += "import sys; print(json.dumps(sorted(m for m in ('numba', 'llvmlite') if m in sys.modules)))"
    assert _run(["-c", probe], tmp_path / "numba", aot="1") == "[]"
