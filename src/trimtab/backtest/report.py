"""Self-contained HTML report (and PNG charts) of a backtest against buy-and-hold and a monthly calendar.

The HTML has inline CSS and inline SVG charts and makes no network request of any kind, so it opens offline
and can be mailed as one file. The log-scale toggle on the equity chart is pure CSS (no script).
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from trimtab.backtest import charts
from trimtab.backtest.results import result_metrics
from trimtab.backtest.simulator import BacktestResult
from trimtab.core.base.history import PriceHistory
from trimtab.core.strategy import Strategy

COINGECKO = "Price and market-cap data provided by CoinGecko (coingecko.com)"
BUNDLED_FILE = "daily_prices_usd.csv.gz"
MAX_TABLE_ROWS = 2000  # rebalance rows beyond this are elided in the middle to keep the file small


def default_benchmarks(result: BacktestResult, history: PriceHistory, strategy: Strategy) -> dict[str, BacktestResult]:
    """Buy-and-hold and a monthly calendar variant of `strategy`, same history, costs and starting value."""
    from trimtab.backtest.runner import backtest
    from trimtab.core.base.schedule import parse_every
    from trimtab.core.triggers.rules import Calendar, Never, Trigger

    initial = float(result.equity[0] + result.fee[0] + result.slippage[0] + result.gas[0])
    variants: dict[str, Trigger] = {"buy-and-hold": Never(), "calendar 1M": Calendar(parse_every("1M"))}
    out: dict[str, BacktestResult] = {}
    for label, trigger in variants.items():
        twin = dataclasses.replace(strategy, name=label, trigger=trigger)
        out[label] = backtest(twin, history, initial_value=initial)
    return out


def attribution(history: PriceHistory) -> str:
    """The credit line the data requires: CoinGecko for the bundled file, else the source file's name."""
    name = Path(history.source).name if history.source else ""
    if name == BUNDLED_FILE:
        return COINGECKO
    return f"Price data: {name}" if name else "Price data: source not recorded"


def value_unit(history: PriceHistory) -> str:
    """'USD' for the bundled data; empty when the file's unit is unknown (prices are 'quote per unit')."""
    return "USD" if attribution(history) == COINGECKO else ""


# ---- number formatting (public so tests can look for the exact strings) ----


def fmt_money(v: float) -> str:
    return f"{v:,.2f}"


def fmt_pct(v: float, decimals: int = 2) -> str:
    return f"{v * 100:.{decimals}f}%"


def fmt_ratio(v: float) -> str:
    return f"{v:.2f}"


def period_word(periods_per_year: float) -> str:
    """'daily', 'hourly' or 'per period' for VaR labels (VaR/CVaR are per-period figures)."""
    if abs(periods_per_year - 365.0) < 1.0:
        return "1 day"
    if abs(periods_per_year - 8760.0) < 24.0:
        return "1 hour"
    return "1 period"


def metric_rows(ms: Sequence[Mapping[str, Any]]) -> list[tuple[str, list[str]]]:
    """(label, formatted value per backtest) for the metrics table, in reading order."""
    per = period_word(float(ms[0]["periods_per_year"]))
    spec: list[tuple[str, str, Any]] = [
        ("Final value", "final_value", fmt_money),
        ("Total return", "total_return", fmt_pct),
        ("CAGR", "cagr", fmt_pct),
        ("Volatility (annualised)", "volatility", fmt_pct),
        ("Sharpe", "sharpe", fmt_ratio),
        ("Sortino", "sortino", fmt_ratio),
        ("Max drawdown", "max_drawdown", fmt_pct),
        ("Calmar", "calmar", fmt_ratio),
        (f"VaR 95% ({per})", "var_95", fmt_pct),
        (f"CVaR 95% ({per})", "cvar_95", fmt_pct),
        ("Turnover (after the initial purchase)", "turnover", lambda v: f"{v:.2f}×"),
        ("Turnover per year", "turnover_annual", lambda v: f"{v:.2f}×"),
        ("Rebalances (after the initial purchase)", "n_rebalances", lambda v: f"{int(v):,}"),
        ("Fees", "total_fees", fmt_money),
        ("Slippage", "total_slippage", fmt_money),
        ("Gas", "total_gas", fmt_money),
        ("Total costs", "total_costs", fmt_money),
        ("Mean tracking error (pre-trade)", "tracking_error", fmt_pct),
    ]
    return [(label, [fn(m[key]) for m in ms]) for label, key, fn in spec]


def _time_text(t: np.datetime64, with_time: bool) -> str:
    s = str(t.astype("datetime64[m]" if with_time else "datetime64[D]"))
    return s.replace("T", " ") + (" UTC" if with_time else "")


def rebalance_rows(result: BacktestResult) -> list[tuple[int, str, str, float, float, float, float, float]]:
    """(step, time, reason, turnover, fee, slippage, gas, total cost) for each step that traded."""
    reasons = dict(result.reasons)
    steps = result.rebalance_steps
    with_time = bool(np.any(result.times.astype("datetime64[D]") != result.times))
    rows = []
    for i in steps:
        fee, slip, gas = float(result.fee[i]), float(result.slippage[i]), float(result.gas[i])
        rows.append(
            (
                int(i),
                _time_text(result.times[i], with_time),
                reasons.get(int(i), ""),
                float(result.turnover[i]),
                fee,
                slip,
                gas,
                fee + slip + gas,
            )
        )
    return rows


def _metrics_table(labels: Sequence[str], ms: Sequence[Mapping[str, Any]]) -> str:
    head = "".join(f'<th scope="col">{html.escape(x)}</th>' for x in labels)
    body = "".join(
        f'<tr><th scope="row">{html.escape(label)}</th>'
        + "".join(f"<td>{html.escape(v)}</td>" for v in values)
        + "</tr>"
        for label, values in metric_rows(ms)
    )
    return f'<table id="metrics" class="num"><thead><tr><th></th>{head}</tr></thead><tbody>{body}</tbody></table>'


def _rebalance_table(result: BacktestResult) -> str:
    rows = rebalance_rows(result)
    shown: list[Any] = list(rows)
    if len(rows) > MAX_TABLE_ROWS:
        half = MAX_TABLE_ROWS // 2
        shown = [*rows[:half], None, *rows[-half:]]
    cells = []
    for r in shown:
        if r is None:
            cells.append(
                f'<tr class="elided"><td colspan="8">… {len(rows) - MAX_TABLE_ROWS:,} rebalances not shown …</td></tr>'
            )
            continue
        step, when, reason, turnover, fee, slip, gas, total = r
        cells.append(
            f'<tr class="rebalance"><td>{step}</td><td class="text">{when}</td><td '
            f'class="reason">{html.escape(reason)}</td>'
            f"<td>{fmt_pct(turnover)}</td><td>{fmt_money(fee)}</td><td>{fmt_money(slip)}</td>"
            f"<td>{fmt_money(gas)}</td><td>{fmt_money(total)}</td></tr>"
        )
    text_cols = ("time", "reason")
    head = "".join(
        f'<th scope="col" class="{"text" if h in text_cols else "num"}">{h}</th>'
        for h in ("step", "time", "reason", "turnover", "fees", "slippage", "gas", "cost")
    )
    return f'<table id="rebalances" class="num"><thead><tr>{head}</tr></thead><tbody>{"".join(cells)}</tbody></table>'


def describe_trigger(trigger: Any) -> str:
    """A short human phrase for a trigger tree ('5pp band or every 1M'); the class name for unknown kinds."""
    kind = type(trigger).__name__
    if kind == "ThresholdBand":
        parts = [
            f"{trigger.band * 100:g}pp band" if trigger.band else "",
            f"{trigger.relative_band:.0%} relative band" if trigger.relative_band else "",
        ]
        return " or ".join(p for p in parts if p) or "band"
    if kind == "Calendar":
        return f"every {trigger.every.text}"
    if kind == "Never":
        return "never (buy and hold)"
    if kind in ("AnyOf", "AllOf"):
        joiner = " or " if kind == "AnyOf" else " and "
        return joiner.join(describe_trigger(t) for t in trigger.triggers)
    if kind == "Not":
        return f"not ({describe_trigger(trigger.trigger)})"
    return kind


def describe_costs(costs: Any) -> str:
    """'fee 10 bps, slippage 5 bps, gas 0 per trade' from a CostModel's parts; the class names otherwise."""
    words = []
    for part in getattr(costs, "parts", ()):
        kind = type(part).__name__
        if kind in ("Fee", "Slippage"):
            words.append(f"{kind.lower()} {float(part.bps):g} bps")
        elif kind == "Gas":
            words.append(f"gas {float(part.per_order):g} per trade")
        else:
            words.append(kind)
    return ", ".join(words) or type(costs).__name__


def _describe(strategy: Strategy) -> str:
    description = strategy.description
    targets = ", ".join(f"{a} {w:.0%}" for a, w in strategy.targets.items())
    model = " (targets from an allocation model)" if strategy.allocation is not None else ""
    parts = [
        html.escape(description),
        f"<b>Targets</b> {html.escape(targets)}{model}.",
        f"<b>Trigger</b> {html.escape(describe_trigger(strategy.trigger))}.",
        f"<b>Costs</b> {html.escape(describe_costs(strategy.costs))}.",
    ]
    return " ".join(p for p in parts if p)


def _figure(fig_id: str, caption: str, body: str) -> str:
    return f'<figure id="{fig_id}">{body}<figcaption>{html.escape(caption)}</figcaption></figure>'


def render_html(
    result: BacktestResult, history: PriceHistory, strategy: Strategy, benchmarks: Mapping[str, BacktestResult]
) -> str:
    """The complete report as one HTML string."""
    from trimtab import __version__

    lines = charts.lines_for(result, benchmarks)
    ms = [result_metrics(ln.result) for ln in lines]
    m = ms[0]
    start, end = m["start"][:10], m["end"][:10]
    title = f"{strategy.name}: backtest {start} to {end}"
    unit = value_unit(history)
    svg = {k: charts.svg_markup(charts.build(k, lines, charts.SVG_LOOK, unit=unit), k) for k in charts.CHARTS}
    svg_log = charts.svg_markup(charts.build("equity", lines, charts.SVG_LOOK, log=True, unit=unit), "equity-log")
    equity_body = (
        '<input type="checkbox" id="equity-logscale" class="toggle">'
        '<label for="equity-logscale">log scale</label>'
        f'<div class="scale-linear">{svg["equity"]}</div><div class="scale-log">{svg_log}</div>'
    )
    n_steps = len(result.equity)
    body = [
        f"<header><h1>{html.escape(title)}</h1>",
        f'<p class="lead">{_describe(strategy)}</p>',
        f'<p class="meta">{n_steps:,} steps ({period_word(result.periods_per_year)} each), starting value '
        f"{fmt_money(m['initial_value'])} {unit or '(price units)'}, {html.escape(result.path)} path. Values "
        "are net of fees, slippage "
        "and gas; trades execute at each step's close.</p></header>",
        "<section><h2>Metrics</h2>",
        _metrics_table([ln.label for ln in lines], ms),
        '<p class="note">Benchmarks use the same assets, targets, costs and starting value. Turnover is traded value '
        "over portfolio value, summed. Tracking error is the mean half-L1 distance of pre-trade weights from "
        "target.</p>"
        "</section>",
        "<section><h2>Charts</h2>",
        _figure(
            "equity",
            "Equity curves of the strategy and its benchmarks (tick 'log scale' to compare growth rates).",
            equity_body,
        ),
        _figure("drawdown", "Drawdown: loss from the running peak.", svg["drawdown"]),
        _figure("weights", "Post-trade weights of the strategy; triangles mark rebalances.", svg["weights"]),
        _figure("costs", "Costs by kind, and their running total.", svg["costs"]),
        "</section>",
        f"<section><h2>Rebalances ({len(result.rebalance_steps):,}, including the initial purchase)</h2>",
        _rebalance_table(result),
        "</section>",
        f'<footer><p class="attribution">{html.escape(attribution(history))}</p>'
        f"<p>Generated by trimtab {html.escape(__version__)}. Past performance does not predict future results.</p>"
        "</footer>",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="generator" content="trimtab">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>\n<body><main>"
        + "\n".join(body)
        + "</main></body></html>\n"
    )


def write_report(
    result: BacktestResult,
    history: PriceHistory,
    strategy: Strategy,
    dest: Path,
    *,
    benchmarks: dict[str, BacktestResult] | None = None,
) -> Path:
    """Write the HTML report to `dest` (parent directories created); benchmarks default to buy-and-hold + monthly."""
    if benchmarks is None:
        benchmarks = default_benchmarks(result, history, strategy)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(render_html(result, history, strategy, benchmarks), encoding="utf-8")
    return dest


def write_pngs(
    result: BacktestResult,
    history: PriceHistory,
    strategy: Strategy,
    out_dir: Path,
    benchmarks: dict[str, BacktestResult] | None = None,
    *,
    prefix: str = "",
    which: Sequence[str] = charts.CHARTS,
    log_equity: bool = False,
) -> list[Path]:
    """Write `{prefix}{chart}.png` (1200x600) for each chart in `which` into `out_dir`; returns the paths."""
    unknown = [w for w in which if w not in charts.CHARTS]
    if unknown:
        raise ValueError(f"unknown chart(s) {', '.join(unknown)}: use {', '.join(charts.CHARTS)}")
    if benchmarks is None:
        benchmarks = default_benchmarks(result, history, strategy)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = charts.lines_for(result, benchmarks)
    paths = []
    for kind in which:
        fig = charts.build(kind, lines, charts.PNG_LOOK, log=log_equity and kind == "equity", unit=value_unit(history))
        paths.append(charts.save_png(fig, out_dir / f"{prefix}{kind}.png"))
    return paths


_CSS = """
:root{--fg:#1d2430;--muted:#5b6472;--line:#d9dee6;--bg:#ffffff;--head:#f3f5f8;--accent:#1f4e9c}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);
  font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}
main{max-width:1100px;margin:0 auto;padding:24px 20px 48px}
h1{font-size:1.6em;margin:0 0 .3em;color:var(--accent)}
h2{font-size:1.2em;margin:1.6em 0 .6em;border-bottom:1px solid var(--line);padding-bottom:.2em}
.lead{margin:.2em 0}.meta,.note,figcaption,footer{color:var(--muted);font-size:.9em}
code{font-size:.85em;background:var(--head);padding:0 .25em;border-radius:3px}
table{border-collapse:collapse;width:100%;font-size:.9em}
th,td{padding:4px 8px;border-bottom:1px solid var(--line);text-align:right;white-space:nowrap}
thead th{background:var(--head);position:sticky;top:0}
th[scope=row],td.reason,.text{text-align:left}
th[scope=row]{font-weight:normal}
td.reason{white-space:normal}
#metrics td:nth-child(2){font-weight:600}
#rebalances{font-variant-numeric:tabular-nums}
tr.elided td{text-align:center;color:var(--muted)}
figure{margin:1.2em 0;padding:0}
figure svg{display:block;width:100%;height:auto}
figcaption{margin-top:.3em}
.toggle{margin:0 .3em 0 0}
label{font-size:.9em;color:var(--muted);cursor:pointer}
.scale-log{display:none}
.toggle:checked~.scale-linear{display:none}
.toggle:checked~.scale-log{display:block}
footer{margin-top:2em;border-top:1px solid var(--line);padding-top:.6em}
@media print{.toggle,label{display:none}}
"""
