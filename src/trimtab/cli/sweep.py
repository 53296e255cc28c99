"""`trimtab sweep`: a grid of parameter values backtested, and the tracking-error vs cost frontier."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from trimtab.cli.app import FillOpt, StrategyArg, app, guarded, out, output_file, sweep_param
from trimtab.cli.backtest import EndOpt, HistPricesOpt, StartOpt, load_history, progress_bar

MAX_SWEEP_POINTS = 100_000  # a bigger grid needs --max-points: each point is a whole backtest


@app.command("sweep")
@guarded
def sweep_cmd(
    strategy: StrategyArg,
    param: Annotated[
        list[str], typer.Option("--param", parser=sweep_param, help="PATH=start:stop:count or PATH=a,b,c (repeatable).")
    ],
    prices: HistPricesOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", parser=output_file, help="Write all rows and the frontier as JSON.")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, max=4096, help="Local processes (default: all cores; 1 = in-process)."),
    ] = None,
    dask_scheduler: Annotated[
        str | None, typer.Option("--dask-scheduler", help="Run on a Dask cluster at ADDRESS.")
    ] = None,
    forward_fill: FillOpt = None,
    png: Annotated[
        Path | None,
        typer.Option(
            "--png", parser=output_file, help="Write the cost vs tracking-error chart, frontier drawn (PNG, or .svg)."
        ),
    ] = None,
    max_points: Annotated[
        int,
        typer.Option(
            "--max-points", min=1, max=100_000_000, help="Refuse a larger grid (each point is a whole backtest)."
        ),
    ] = MAX_SWEEP_POINTS,
) -> None:
    """Backtest a grid of parameter values; print the tracking-error vs cost frontier."""
    from trimtab.backtest.sweep import frontier, grid, grid_size, parse_param, run_sweep
    from trimtab.backtest.sweep_chart import point_label, save_frontier_chart
    from trimtab.cli.tables import metrics_table
    from trimtab.config import load_strategy_spec
    from trimtab.errors import ConfigError

    spec = load_strategy_spec(strategy)
    params = [parse_param(p) for p in param]
    size = grid_size(params)
    if size > max_points:
        dims = " x ".join(str(len(v)) for _, v in params)
        raise ConfigError(
            f"{size:,} points ({dims}) is over the limit of {max_points:,}: each one is a whole "
            "backtest; use fewer values or raise --max-points",
            field="--param",
        )
    points = grid(params)
    strat = spec.build()
    history = load_history(strat, prices, start, end, forward_fill)
    base = spec.model_dump(mode="json", exclude_none=True)
    with progress_bar(len(points), f"sweep {len(points)} points") as bar:
        task = bar.add_task("points", total=len(points))
        rows = run_sweep(
            base,
            points,
            history,
            source=strategy,
            workers=workers,
            scheduler=dask_scheduler,
            progress=lambda n: bar.update(task, completed=n),
        )
    front = frontier(rows)
    shown = [rows[i] | {"strategy": point_label(rows[i]["params"])} for i in front]
    title = f"Frontier: {len(front)} of {len(rows)} points (lowest tracking error for the cost)"
    out.print(metrics_table(shown, title, first="strategy"))
    if png is not None:
        chart = save_frontier_chart(rows, front, png, f"{strat.name}: {title}", unit=strat.quote)
        out.print(f"chart written to {chart}")
    if json_out is not None:
        json_out.write_text(json.dumps({"rows": rows, "frontier": front}, indent=2, default=str))
        out.print(f"{len(rows)} rows written to {json_out}")
