"""`trimtab replay`: dry-run a service configuration over price history on a simulated clock (no sleeping)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from trimtab.cli.app import FillOpt, app, guarded, input_file, out, output_file
from trimtab.cli.backtest import HistPricesOpt, load_history
from trimtab.errors import ConfigError


def _date(text: str | None, name: str) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text[:10]).replace(tzinfo=UTC)
    except ValueError:
        raise ConfigError(f"{text!r} is not a date (YYYY-MM-DD)", field=name) from None


@app.command("replay")
@guarded
def replay_cmd(
    config: Annotated[Path, typer.Option("--config", "-c", parser=input_file, help="service.yaml")],
    prices: HistPricesOpt = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="First date (YYYY-MM-DD); default market_data.start.")
    ] = None,
    to: Annotated[
        str | None, typer.Option("--to", help="Last date (YYYY-MM-DD), inclusive; default: end of data.")
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", parser=output_file, help="Write the result as JSON ('-' for stdout).")
    ] = None,
    forward_fill: FillOpt = None,
    db: Annotated[
        Path | None, typer.Option("--db", parser=output_file, help="Keep the service database in this new SQLite file.")
    ] = None,
) -> None:
    """Run the real service (scheduler, journal, database, paper venue, alerts) over history, as fast as it goes."""
    import numpy as np
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from trimtab.service.replay import portfolio_strategies, replay
    from trimtab.service.settings import load_settings

    settings = load_settings(config)
    start = _date(from_, "from") or datetime.combine(settings.market_data.start, datetime.min.time(), tzinfo=UTC)
    last_day = _date(to, "to")
    if last_day is not None and last_day < start:
        raise ConfigError(f"--to {last_day:%Y-%m-%d} is before --from {start:%Y-%m-%d}", field="to")
    histories = {
        name: load_history(strat, prices, start.strftime("%Y-%m-%d"), to, forward_fill)
        for name, strat in portfolio_strategies(settings).items()
    }
    last = max(np.datetime64(h.times[-1], "s") for h in histories.values())
    end = datetime.fromtimestamp(int(last.astype(np.int64)), tz=UTC)
    days = max((end - start).total_seconds() / 86400, 1.0)
    with Progress(
        TextColumn("replay"),
        BarColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=out,
        transient=True,
        disable=not out.is_terminal,
    ) as bar:
        task = bar.add_task("", total=days)
        result = replay(
            settings,
            histories,
            start,
            end,
            db_path=db,
            progress=lambda t: bar.update(
                task, completed=(t - start).total_seconds() / 86400, description=f"{t:%Y-%m-%d %H:%M}"
            ),
        )
    doc = result.doc()
    if db is None:
        doc.pop("database")
    if json_out is not None and str(json_out) == "-":
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return
    t = Table(
        title=f"replay of {config.name}: {result.start:%Y-%m-%d} to {result.end:%Y-%m-%d}, {result.cycles} cycles",
        title_justify="left",
    )
    for col in ("portfolio", "strategy", "checks", "rebal.", "final value", "costs", "last rebalance"):
        t.add_column(col, justify="left" if col in ("portfolio", "strategy") else "right")
    for name, p in result.portfolios.items():
        lastr = p.rebalance_times[-1].strftime("%Y-%m-%d %H:%M") if p.rebalance_times else "-"
        t.add_row(
            name,
            p.strategy,
            str(p.n_checks),
            str(p.n_rebalances),
            f"{p.final_value:,.2f}",
            f"{p.total_costs:,.2f}",
            lastr,
        )
    out.print(t)
    if db is not None:
        out.print(f"service database kept in {db}")
    if json_out is not None:
        json_out.write_text(json.dumps(doc, indent=2))
        out.print(f"result written to {json_out}")
