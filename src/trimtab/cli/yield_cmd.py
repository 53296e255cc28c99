"""`trimtab backtest` / `compare` for a strategy with a `yield:` block: rates from `--rates`, gas from Etherscan."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.table import Table

from trimtab.cli.app import out
from trimtab.config import StrategySpec, load_strategy_spec
from trimtab.core.yields.positions import RatesTable
from trimtab.errors import ConfigError

if TYPE_CHECKING:
    from trimtab.backtest.simulator import BacktestResult
    from trimtab.core.yield_check import YieldSetup


def yield_spec_for(
    strategy: str, rates: str | None, chart: Path | None = None, price_options: dict[str, object] | None = None
) -> StrategySpec | None:
    """The strategy's spec when it has a `yield:` block. `--rates` / `--chart` on any other strategy, or a
    price-history option on a yield strategy, is an error rather than silently ignored."""
    spec = load_strategy_spec(strategy)
    if spec.yield_ is None:
        for name, value in (("--rates", rates), ("--chart", chart)):
            if value is not None:
                raise ConfigError("only for a strategy with a yield: block (e.g. -s stablecoin-yield)", field=name)
        return None
    for name, option in (price_options or {}).items():
        if option is not None:
            raise ConfigError(
                "not used by a yield strategy (rates come from --rates; --chart draws the allocation)", field=name
            )
    return spec


def prepare(
    spec: StrategySpec, rates: str | None, start: str | None, end: str | None, initial_value: float | None
) -> tuple[YieldSetup, RatesTable, Any]:
    """Setup, the rates windowed to the rows where every candidate has data, and USD per gas on each row."""
    from trimtab.adapters.rates import load_rates
    from trimtab.backtest.yield_backtest import usd_per_gas
    from trimtab.cli.backtest import err_console

    ys = spec.yield_
    if ys is None:
        raise RuntimeError("internal invariant broken: expected ys is not None")
    window = spec.backtest
    table = load_rates(
        rates, start=start or (window.start if window else None), end=end or (window.end if window else None)
    )
    positions = ys.positions()
    table.require(positions)
    lo, hi = table.common_rows(tuple(p.reserve for p in positions))
    if hi - lo < 2:
        raise ConfigError(
            "fewer than two days where every candidate has rates", source=table.source, field="yield.candidates"
        )
    if lo > 0 or hi < len(table):
        err_console.print(
            f"note: rates from {str(table.times[lo])[:10]} to {str(table.times[hi - 1])[:10]}, "
            "the days every candidate has data"
        )
        table = table.slice(lo, hi)
    value = initial_value if initial_value is not None else spec.initial_value
    setup = spec.yield_setup(value)
    return setup, table, usd_per_gas(table)


def _table(rows: list[dict[str, Any]], title: str) -> Table:
    t = Table(title=title, title_justify="left")
    cols = [
        ("strategy", "strategy"),
        ("final_value", "final value"),
        ("cagr", "CAGR"),
        ("yield_earned", "yield earned"),
        ("total_gas", "gas"),
        ("total_fees", "fees"),
        ("total_slippage", "slippage"),
        ("total_costs", "costs"),
        ("migrations", "migrations"),
        ("max_drawdown", "max DD"),
    ]
    for _, label in cols:
        t.add_column(label, justify="left" if label == "strategy" else "right")
    for r in rows:
        t.add_row(
            *[
                (f"{r[k] * 100:.2f}%" if k in ("cagr", "max_drawdown") else f"{r[k]:,.2f}")
                if isinstance(r.get(k), float)
                else str(r.get(k))
                for k, _ in cols
            ]
        )
    return t


def yield_backtest(
    spec: StrategySpec,
    rates: str | None,
    start: str | None,
    end: str | None,
    json_out: Path | None,
    equity_csv: Path | None,
    chart: Path | None,
    initial_value: float | None,
) -> None:
    import sys

    from trimtab.backtest.yield_backtest import run_yield, yield_metrics

    setup, table, gas = prepare(spec, rates, start, end, initial_value)
    result = run_yield(setup, table, gas)
    m = yield_metrics(result)
    if json_out is not None and str(json_out) == "-":
        sys.stdout.write(json.dumps(m, indent=2) + "\n")
    else:
        out.print(
            _table(
                [m | {"strategy": setup.name}],
                f"{setup.name}: {m['start'][:10]} to {m['end'][:10]} (rates: {table.source})",
            )
        )
        for x in m["migration_log"][:20]:
            out.print(f"{x['time']} {x['reason']}", soft_wrap=True)
        if len(m["migration_log"]) > 20:
            out.print(f"... and {len(m['migration_log']) - 20} more moves (--json for all)")
        if json_out is not None:
            json_out.write_text(json.dumps(m, indent=2))
            out.print(f"metrics written to {json_out}")
    if equity_csv is not None:
        _equity_csv(result, equity_csv)
    if chart is not None:
        from trimtab.backtest.yield_chart import save_yield_chart

        save_yield_chart(result, chart)
        out.print(f"chart written to {chart}")


def _equity_csv(result: BacktestResult, dest: Path) -> None:
    import pandas as pd

    cols = {
        "time": result.times,
        "equity": result.equity,
        "interest": result.extra["interest"],
        "migrated": result.rebalanced,
        "fee": result.fee,
        "slippage": result.slippage,
        "gas": result.gas,
    }
    for j, name in enumerate(result.assets):
        cols[f"weight_{name}"] = result.weights[:, j]
        cols[f"apy_{name}"] = result.extra["apy"][:, j]
    pd.DataFrame(cols).to_csv(dest, index=False)


def yield_compare(
    spec: StrategySpec, rates: str | None, start: str | None, end: str | None, json_out: Path | None, chart: Path | None
) -> None:
    from trimtab.backtest.yield_backtest import alternatives, run_yield, yield_metrics

    setup, table, gas = prepare(spec, rates, start, end, None)
    results = {setup.name: run_yield(setup, table, gas), **alternatives(setup, table, gas)}
    metrics = {name: yield_metrics(r) for name, r in results.items()}
    rows = [m | {"strategy": name} for name, m in metrics.items()]
    span = f"{str(table.times[0])[:10]} to {str(table.times[-1])[:10]}"
    out.print(_table(rows, f"{setup.name} vs alternatives, {span}, net of gas, fees and slippage"))
    if json_out is not None:
        doc = {name: {k: v for k, v in m.items() if k != "rebalance_reasons"} for name, m in metrics.items()}
        json_out.write_text(json.dumps(doc, indent=2, default=_plain))
        out.print(f"comparison written to {json_out}")
    if chart is not None:
        from trimtab.backtest.yield_chart import save_yield_chart

        save_yield_chart(results[setup.name], chart)
        out.print(f"chart written to {chart}")


def _plain(v: Any) -> Any:
    return v.tolist() if isinstance(v, np.ndarray) else str(v)
