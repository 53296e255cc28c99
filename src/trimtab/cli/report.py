"""`trimtab report`: backtest a strategy and write the self-contained HTML report (and PNG charts)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from trimtab.cli.app import FillOpt, InitialValueOpt, StrategyArg, app, guarded, out, output_dir
from trimtab.cli.backtest import EndOpt, HistPricesOpt, StartOpt, load_history
from trimtab.errors import ConfigError


@app.command("report")
@guarded
def report_cmd(
    strategy: StrategyArg,
    prices: HistPricesOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    out_dir: Annotated[
        Path, typer.Option("--out", parser=output_dir, help="Directory for <strategy>.html (and PNGs).")
    ] = Path("out"),
    png: Annotated[
        bool, typer.Option("--png", help="Also write <strategy>-{equity,drawdown,weights,costs}.png.")
    ] = False,
    initial_value: InitialValueOpt = None,
    forward_fill: FillOpt = None,
) -> None:
    """Backtest a strategy against buy-and-hold and monthly rebalancing; write an offline HTML report."""
    from trimtab.backtest.report import default_benchmarks, write_pngs, write_report
    from trimtab.backtest.runner import backtest
    from trimtab.config import load_strategy

    strat = load_strategy(strategy)
    history = load_history(strat, prices, start, end, forward_fill)
    result = backtest(strat, history, initial_value=initial_value)
    benchmarks = default_benchmarks(result, history, strat)
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", strat.name).strip("-.") or "strategy"
    try:
        dest = write_report(result, history, strat, out_dir / f"{stem}.html", benchmarks=benchmarks)
        out.print(f"report written to {dest}")
        if png:
            for p in write_pngs(result, history, strat, out_dir, benchmarks, prefix=f"{stem}-"):
                out.print(f"chart written to {p}")
    except OSError as e:
        raise ConfigError(f"cannot write the report: {e.strerror or e}", source=str(out_dir), field="--out") from None
