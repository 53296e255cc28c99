"""Ahead-of-time compiled copies of the two kernels a backtest command uses (`run_policy`, `weights_path`).

A command that finds them runs without importing Numba or loading its cache (about 0.6 s per process).
They are built at install (`python -m trimtab.backtest.aot`, needs a C compiler; without one the JIT path
runs as before). The module name carries a hash of loops.py, the numpy and Python versions and the CPU, so a
build made from other sources or for another machine is never loaded. TRIMTAB_AOT=0 turns them off.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import platform
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
PREFIX = "_kernels_aot_"


def _cpu() -> str:
    """The CPU model and feature flags (the build targets the host CPU: another CPU must not load it)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.machine() + platform.processor()
    keep = [line for line in info.split("\n\n", 1)[0].splitlines() if line.startswith(("model name", "flags"))]
    return platform.machine() + "|".join(keep)


def module_name() -> str:
    """`_kernels_aot_<hash>`: changes whenever the loop source, numpy, Python or the CPU changes."""
    import numpy

    digest = hashlib.sha256((HERE / "loops.py").read_bytes())
    digest.update(f"{numpy.__version__}|{sys.version}|{_cpu()}".encode())
    return PREFIX + digest.hexdigest()[:16]


def load() -> ModuleType | None:
    """The compiled module for the current sources, or None (not built, stale, or TRIMTAB_AOT=0)."""
    if os.environ.get("TRIMTAB_AOT", "1").strip() == "0":
        return None
    try:
        return importlib.import_module(f"trimtab.backtest.{module_name()}")
    except ImportError:
        return None


def build(output_dir: Path = HERE) -> Path:
    """Compile `run_policy` and `weights_path` with their one signature each (C-contiguous arrays); old
    builds in `output_dir` are removed. Returns the path of the extension module."""
    import warnings

    from trimtab.backtest import loops

    nt: Any = importlib.import_module("numba.types")  # untyped library: Any, not a dozen ignores
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pycc is pending deprecation; it is the one AOT path Numba has
        pycc: Any = importlib.import_module("numba.pycc")

    name = module_name()
    for old in output_dir.glob(f"{PREFIX}*"):
        old.unlink()
    cc = pycc.CC(name)
    cc.output_dir = str(output_dir)
    cc.target_cpu = "host"  # built on the machine that runs it
    cc.verbose = False
    f1, f2 = nt.Array(nt.float64, 1, "C"), nt.Array(nt.float64, 2, "C")
    b1, i1 = nt.Array(nt.boolean, 1, "C"), nt.Array(nt.int64, 1, "C")
    f, i = nt.float64, nt.int64
    ret = nt.Tuple((f1, b1, f1, f1, f1, f1, f1, f1, f, i, i1, f2, f1, i))
    cc.export("run_policy", ret(f2, f1, i, f, f, f, f, f, f, b1, i, i, f, f, i))(loops.run_policy.py_func)
    cc.export("weights_path", f2(f2, i1, f2, f1))(loops.weights_path.py_func)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cc.compile()
    return next(output_dir.glob(f"{name}*"))


def main() -> None:
    try:
        path = build()
    except Exception as e:  # noqa: BLE001 - no compiler, no distutils...: the JIT path stays, say why
        sys.stdout.write(f"ahead-of-time kernels not built ({type(e).__name__}: {e}); the Numba JIT path is used\n")
        return
    sys.stdout.write(f"ahead-of-time kernels: {path}\n")


if __name__ == "__main__":
    main()
