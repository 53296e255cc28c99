"""Backtest commands: backtest (one strategy over history) and compare; the inputs every history command shares."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.console import Console

from trimtab.cli.app import (
    DEFAULT_FORWARD_FILL,
    RUN,
    FillOpt,
    InitialValueOpt,
    StrategyArg,
    app,
    guarded,
    maybe_file,
    out,
    output_file,
)

if TYPE_CHECKING:  # imported where used: `trimtab --help` and other commands never load them
    from rich.progress import Progress

    from trimtab.core.base.history import PriceHistory
    from trimtab.core.strategy import Strategy

HistPricesOpt = Annotated[
    str | None,
    typer.Option(
        "--prices",
        parser=maybe_file,
        help="Price history: CSV, CSV.gz or Parquet, wide or long; default: bundled daily data.",
    ),
]
StartOpt = Annotated[str | None, typer.Option("--start", help="First date (YYYY-MM-DD).")]
EndOpt = Annotated[str | None, typer.Option("--end", help="Last date (YYYY-MM-DD).")]
RatesOpt = Annotated[
    str | None,
    typer.Option(
        "--rates", parser=maybe_file, help="Yield strategies: reserve rates CSV (default: the shipped Aave v3 file)."
    ),
]
ChartOpt = Annotated[
    Path | None,
    typer.Option(
        "--chart", parser=output_file, help="Yield strategies: where the money sat vs the APYs (PNG, or .svg)."
    ),
]


def load_history(
    strategy: Strategy,
    prices: str | None,
    start: str | None,
    end: str | None,
    forward_fill: int | None,
    extra: tuple[str, ...] = (),
    *,
    complete: bool | None = None,
) -> PriceHistory:
    """The strategy's universe (and the quote) from a price file or the bundled data; every repair is printed.

    Static strategies need complete prices. Allocation models accept late listings and series that end (NaN;
    they leave such assets out); a model that picks its assets from the data (a market-cap index without a
    universe) loads every asset with its market caps, filling gaps of up to 5 rows by default. `start`/`end`
    default to the strategy file's `backtest:` block.
    """
    import dataclasses

    import numpy as np

    from trimtab.adapters.pricefile import load_prices_with_report
    from trimtab.core.costs.parts import market_bound

    start = start if start is not None else strategy.window.start
    end = end if end is not None else strategy.window.end
    model = strategy.allocation is not None
    requested_start = start
    # models estimate from the past (a year of warm-up); calibrated costs need their window (two months)
    warmup_days = WARMUP_DAYS if model else COST_WARMUP_DAYS if market_bound(strategy.costs) else 0
    if warmup_days and start is not None:
        start = str(np.datetime64(str(start)[:10], "D") - np.timedelta64(warmup_days, "D"))
    assets: list[str] | None = None if strategy.universe_from_data else [*strategy.universe, *extra]
    ff_default = 5 if assets is None else DEFAULT_FORWARD_FILL
    ff = ff_default if forward_fill is None else forward_fill
    need_complete = (not model) if complete is None else complete

    def load(first: str | None, whole: bool, scan: bool = False) -> tuple[PriceHistory, Any]:
        if prices is None:
            from trimtab.adapters.bundled import bundled_daily_with_report

            return bundled_daily_with_report(
                assets=assets,
                start=first,
                end=end,
                quote=strategy.quote,
                forward_fill=10_000 if scan else ff,
                require_complete=whole,
            )
        return load_prices_with_report(
            prices,
            assets=assets,
            quote=strategy.quote,
            start=first,
            end=end,
            forward_fill=10_000 if scan else ff,
            require_complete=whole,
        )

    if start is None and need_complete:  # no window given: start on the first date every asset has a price
        history, rep = load(None, False, scan=True)  # gaps before that date do not matter
        if not rep.late_starts:
            if rep.early_ends or any(g.rows > ff for g in rep.filled):  # the complete load says what is wrong
                history, rep = load(None, True)
            # else: the scan filled only what forward_fill allows: it is the complete load, without a re-read
        else:
            last, first = max(rep.late_starts, key=lambda x: x[1])
            start = str(first)[:10]
            history, rep = load(start, True)
            err_console.print(
                f"note: window starts {start}, the first date every asset has a price ({last} lists "
                "last); --start to choose",
                highlight=False,
                soft_wrap=True,
            )
    else:
        history, rep = load(start, need_complete)
    _print_repairs(rep)
    if warmup_days and requested_start is not None:
        warm = int(np.searchsorted(history.times, np.datetime64(str(requested_start)[:10], "ns")))
        if 0 < warm < len(history):
            history = dataclasses.replace(history, warmup=warm)
    return history


def _print_repairs(rep: Any) -> None:
    """Data repairs: one summary line by default (`trimtab --verbose` lists each one)."""
    if RUN.verbose:
        for line in rep.lines():
            err_console.print(f"note: {line}", highlight=False)
    elif (summary := rep.summary()) is not None:
        err_console.print(f"note: {summary} (--verbose lists them)", highlight=False, soft_wrap=True)


err_console = Console(stderr=True)
WARMUP_DAYS = 400
COST_WARMUP_DAYS = 60


def progress_bar(total: int, label: str) -> Progress:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=out,
        transient=True,
        disable=not out.is_terminal,
    )


@app.command("backtest")
@guarded
def backtest_cmd(
    strategy: StrategyArg,
    prices: HistPricesOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", parser=output_file, help="Write metrics as JSON ('-' for stdout).")
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", parser=output_file, help="Write a self-contained HTML report.")
    ] = None,
    equity_csv: Annotated[
        Path | None, typer.Option("--equity-csv", parser=output_file, help="Write the equity curve and costs per step.")
    ] = None,
    initial_value: InitialValueOpt = None,
    path: Annotated[Literal["auto", "fast", "step"], typer.Option("--path", help="auto | fast | step")] = "auto",
    forward_fill: FillOpt = None,
    rates: RatesOpt = None,
    chart: ChartOpt = None,
    flows: Annotated[
        str | None,
        typer.Option(
            "--flows",
            parser=maybe_file,
            help="External cash flows: CSV date,amount in the quote (+ deposit, - withdrawal); runs the step path.",
        ),
    ] = None,
    tax_rates: Annotated[
        str | None,
        typer.Option(
            "--tax-rates",
            help="SHORT,LONG rates on realised gains (e.g. 0.3,0.15): tax lots, gains and after-tax values.",
        ),
    ] = None,
    tax_method: Annotated[
        Literal["fifo", "lifo", "hifo"], typer.Option("--tax-method", help="Lots sold first: fifo | lifo | hifo.")
    ] = "fifo",
    holding_days: Annotated[
        int, typer.Option("--holding-days", min=1, max=3650, help="Held longer than this: long term.")
    ] = 365,
) -> None:
    """Replay a strategy over real history, net of fees, slippage and gas."""
    import sys

    from trimtab.cli.yield_cmd import yield_backtest, yield_spec_for

    if ys := yield_spec_for(
        strategy,
        rates,
        chart,
        {
            "--report": report,
            "--prices": prices,
            "--forward-fill": forward_fill,
            "--flows": flows,
            "--tax-rates": tax_rates,
        },
    ):
        return yield_backtest(ys, rates, start, end, json_out, equity_csv, chart, initial_value)

    from trimtab.adapters.flowfile import load_flows
    from trimtab.backtest.results import result_metrics
    from trimtab.backtest.runner import backtest
    from trimtab.cli.tables import metrics_table
    from trimtab.config import load_strategy

    strat = load_strategy(strategy)
    cash_flows = load_flows(flows) if flows is not None else []
    tax = tax_setting(tax_rates, tax_method, holding_days) if tax_rates is not None else None
    history = load_history(strat, prices, start, end, forward_fill)
    with progress_bar(len(history), f"backtest {strat.name}") as bar:
        task = bar.add_task("steps", total=len(history))
        result = backtest(
            strat,
            history,
            initial_value=initial_value,
            path=path,
            progress=lambda i: bar.update(task, completed=i + 1),
            flows=cash_flows,
            tax=tax,
        )
    m = result_metrics(result)
    if json_out is not None and str(json_out) == "-":
        sys.stdout.write(json.dumps(m, indent=2) + "\n")
    else:
        out.print(
            metrics_table(
                [m | {"strategy": strat.name}], f"{strat.name}: {m['start'][:10]} to {m['end'][:10]} ({m['path']} path)"
            )
        )
        if "sleeves" in m:  # a sleeve strategy: each sleeve's decisions and drift (backtest.sleeves)
            from trimtab.cli.sleeve_table import sleeve_table

            out.print(sleeve_table(m["sleeves"]))
        if "net_flows" in m:
            out.print(
                f"{m['flows']} external flow(s), net {m['net_flows']:,.2f}: returns above are time-weighted "
                f"(flows are not returns); money-weighted return {m['money_weighted_return'] * 100:.2f}% a year"
            )
        if "tax_paid" in m:
            out.print(
                f"realised gains ({m['tax_method']}): short-term {m['realised_gain_short']:,.2f}, long-term "
                f"{m['realised_gain_long']:,.2f}, tax {m['tax_paid']:,.2f} {strat.quote}; after tax "
                f"{m['after_tax_final_value']:,.2f}, {m['after_tax_liquidation_value']:,.2f} if sold at the end"
            )
        if json_out is not None:
            json_out.write_text(json.dumps(m, indent=2))
            out.print(f"metrics written to {json_out}")
    if equity_csv is not None:
        write_equity_csv(result, equity_csv)
    if report is not None:
        from trimtab.backtest.report import write_report

        write_report(result, history, strat, report)
        out.print(f"report written to {report}")


def tax_setting(rates: str, method: str, holding_days: int) -> Any:
    """`--tax-rates SHORT,LONG` as TaxRates; ConfigError naming the option for anything else."""
    from trimtab.backtest.tax import TaxRates
    from trimtab.core.base.lots import LotMethod
    from trimtab.errors import ConfigError

    parts = rates.split(",")
    try:
        short, long_ = (float(p) for p in parts) if len(parts) == 2 else (float("nan"), float("nan"))
    except ValueError:
        short = long_ = float("nan")
    if not (0.0 <= short <= 1.0 and 0.0 <= long_ <= 1.0):
        raise ConfigError(f"two rates in [0, 1] as SHORT,LONG (e.g. 0.3,0.15), got {rates!r}", field="--tax-rates")
    return TaxRates(short, long_, LotMethod(method), holding_days)


def write_equity_csv(result: Any, dest: Path) -> None:
    import pandas as pd

    df = pd.DataFrame(
        {
            "time": result.times,
            "equity": result.equity,
            "rebalanced": result.rebalanced,
            "fee": result.fee,
            "slippage": result.slippage,
            "gas": result.gas,
            "turnover": result.turnover,
            "tracking_error": result.tracking_error,
            **({"flow": result.extra["flows"]} if "flows" in result.extra else {}),
        }
    )
    df.to_csv(dest, index=False)


@app.command("compare")
@guarded
def compare_cmd(
    strategy: StrategyArg,
    prices: HistPricesOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", parser=output_file, help="Write the comparison as JSON.")
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", parser=output_file, help="Write the strategy's HTML report.")
    ] = None,
    forward_fill: FillOpt = None,
    rates: RatesOpt = None,
    chart: ChartOpt = None,
) -> None:
    """The strategy against buy-and-hold, monthly calendar, threshold and hybrid, overall and by regime.

    A yield strategy is compared with best-on-day-one, a static split and the hindsight-best reserve."""
    from rich.table import Table

    from trimtab.backtest.compare import REGIMES, compare, same_as
    from trimtab.cli.tables import metrics_table
    from trimtab.cli.yield_cmd import yield_compare, yield_spec_for
    from trimtab.config import load_strategy
    from trimtab.core.measures.regimes import MarketRegime

    if ys := yield_spec_for(
        strategy, rates, chart, {"--report": report, "--prices": prices, "--forward-fill": forward_fill}
    ):
        return yield_compare(ys, rates, start, end, json_out, chart)

    strat = load_strategy(strategy)
    history = load_history(strat, prices, start, end, forward_fill)
    btc = history.select(("BTC",)) if "BTC" in history.assets else _btc_like(history)
    cmp = compare(strat, history, btc)
    alias = same_as(strat)

    def shown(name: str) -> str:
        return f"{name} (= {alias})" if name == strat.name and alias else name

    rows = [m | {"strategy": shown(name)} for name, m in cmp.metrics.items()]
    span = f"{rows[0]['start'][:10]} to {rows[0]['end'][:10]}"
    out.print(metrics_table(rows, f"{strat.name} vs alternatives, {span}"))
    t = Table(title="Annualised return by market regime (BTC 90d return / 30d vol; see docs)", title_justify="left")
    t.add_column("strategy")
    for reg in REGIMES:
        t.add_column(f"{reg} ({cmp.regime_days[reg]}d)", justify="right")
    for name, by in cmp.by_regime.items():
        t.add_row(shown(name), *[("—" if v != v else f"{v * 100:+.1f}%") for v in (by[r] for r in REGIMES)])
    out.print(t)
    if not any(cmp.regime_days.values()):
        out.print(
            f"regimes: none labelled: a label needs {MarketRegime().lookback} days of BTC history before the day, and "
            f"this window has {len(cmp.labels)}; use a longer window (--start earlier)"
        )
    if json_out is not None:
        doc = {"metrics": cmp.metrics, "by_regime": cmp.by_regime, "regime_days": cmp.regime_days, "same_as": alias}
        json_out.write_text(json.dumps(doc, indent=2, default=str))
        out.print(f"comparison written to {json_out}")
    if report is not None:
        from trimtab.backtest.report import write_report

        write_report(
            cmp.results[strat.name],
            history,
            strat,
            report,
            benchmarks={k: v for k, v in cmp.results.items() if k != strat.name},
        )
        out.print(f"report written to {report.resolve()}")


def _btc_like(history: PriceHistory) -> PriceHistory:
    """BTC from the bundled data on the same dates, for regime labels when the strategy does not hold BTC."""
    from trimtab.adapters.bundled import bundled_daily

    start, end = history.times[0], history.times[-1]
    btc = bundled_daily(["BTC"], start=str(start)[:10], end=str(end)[:10])
    return btc.select(("BTC",))
