"""The backtest report: a self-contained HTML file with the result's figures, and readable PNG charts."""

from __future__ import annotations

import dataclasses
import html
import re
import struct
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from trimtab.adapters.bundled import bundled_daily
from trimtab.backtest import charts
from trimtab.backtest.report import (
    COINGECKO,
    MAX_TABLE_ROWS,
    attribution,
    default_benchmarks,
    describe_costs,
    describe_trigger,
    fmt_money,
    fmt_pct,
    fmt_ratio,
    render_html,
    write_pngs,
    write_report,
)
from trimtab.backtest.results import result_metrics
from trimtab.backtest.runner import backtest
from trimtab.backtest.simulator import BacktestResult
from trimtab.config import load_strategy
from trimtab.core.base.history import PriceHistory
from trimtab.core.strategy import Strategy

FIGURES = ("equity", "drawdown", "weights", "costs")
EXTERNAL = re.compile(r"""\b(?:src|href|xlink:href|action|poster|data)\s*=\s*["']?\s*(?:https?:)?//""", re.I)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def case() -> tuple[BacktestResult, PriceHistory, Strategy]:
    strat = load_strategy("index-fund")
    history = bundled_daily(list(strat.targets), "2023-01-01", "2024-06-30", quote=strat.quote)
    return backtest(strat, history), history, strat


@pytest.fixture(scope="module")
def benches(case: tuple[BacktestResult, PriceHistory, Strategy]) -> dict[str, BacktestResult]:
    return default_benchmarks(*case)


@pytest.fixture(scope="module")
def page(
    case: tuple[BacktestResult, PriceHistory, Strategy],
    benches: dict[str, BacktestResult],
    tmp_path_factory: pytest.TempPathFactory,
) -> str:
    dest = write_report(*case, tmp_path_factory.mktemp("report") / "sub" / "r.html", benchmarks=benches)
    return dest.read_text(encoding="utf-8")


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and data[12:16] == b"IHDR", f"{path} is not a PNG"
    w, h = struct.unpack(">II", data[16:24])
    return int(w), int(h)


def test_html_is_self_contained(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>")
    assert not EXTERNAL.findall(page), EXTERNAL.findall(page)[:5]
    assert "<script" not in page.lower()  # the log toggle is CSS only
    assert "@import" not in page and not re.search(r"url\(\s*['\"]?(?:https?:)?//", page)
    assert '<meta name="generator" content="trimtab">' in page


def test_each_figure_holds_an_inline_svg_and_ids_are_unique(page: str) -> None:
    for fig in FIGURES:
        m = re.search(rf'<figure id="{fig}">(.*?)</figure>', page, re.S)
        assert m, f"figure #{fig} missing"
        assert "<svg" in m.group(1)
    ids = Counter(re.findall(r'\bid="([^"]+)"', page))
    assert not [k for k, n in ids.items() if n > 1], "duplicate ids across the inline SVGs"
    refs = set(re.findall(r"url\(#([^)]+)\)", page)) | set(re.findall(r'href="#([^"]+)"', page))
    assert refs <= set(ids), f"dangling SVG references: {sorted(refs - set(ids))[:5]}"
    assert 'id="equity-logscale"' in page and page.count("<svg") == len(FIGURES) + 1  # linear + log equity


def test_metrics_of_strategy_and_benchmarks_are_shown(
    page: str, case: tuple[BacktestResult, PriceHistory, Strategy], benches: dict[str, BacktestResult]
) -> None:
    result, _, strat = case
    assert f"{strat.name}: backtest {str(result.times[0])[:10]} to {str(result.times[-1])[:10]}" in page
    for r in (result, *benches.values()):
        m = result_metrics(r)
        for text in (
            fmt_money(m["final_value"]),
            fmt_pct(m["cagr"]),
            fmt_ratio(m["sharpe"]),
            fmt_pct(m["max_drawdown"]),
            fmt_money(m["total_costs"]),
            fmt_pct(m["var_95"]),
            fmt_ratio(m["calmar"]),
        ):
            assert f"<td>{text}</td>" in page, text
    header = re.search(r'<table id="metrics".*?<thead>(.*?)</thead>', page, re.S)
    assert header and all(html.escape(label) in header.group(1) for label in (strat.name, *benches))


def test_one_row_per_rebalance_with_reason_and_cost(
    page: str, case: tuple[BacktestResult, PriceHistory, Strategy]
) -> None:
    result = case[0]
    rows = re.findall(r'<tr class="rebalance">(.*?)</tr>', page, re.S)
    assert len(rows) == int(result.rebalanced.sum()) == len(result.reasons)
    for row, (step, reason) in zip(rows, result.reasons, strict=True):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row)
        assert int(cells[0]) == step and cells[2] == html.escape(reason)
        assert cells[1] == str(result.times[step].astype("datetime64[D]"))
        assert cells[-1] == fmt_money(float(result.fee[step] + result.slippage[step] + result.gas[step]))


def test_default_benchmarks_are_buy_and_hold_and_monthly(
    case: tuple[BacktestResult, PriceHistory, Strategy], benches: dict[str, BacktestResult]
) -> None:
    result, history, _ = case
    bh, cal = benches["buy-and-hold"], benches["calendar 1M"]
    start = result.equity[0] + result.fee[0] + result.slippage[0] + result.gas[0]
    for b in (bh, cal):
        assert b.equity[0] + b.fee[0] + b.slippage[0] + b.gas[0] == pytest.approx(start)
        assert np.array_equal(b.times, history.times)
    assert bh.rebalance_steps.tolist() == [0]
    months = np.unique(history.times.astype("datetime64[M]")).size
    assert cal.rebalanced[1:].sum() == months - 1  # anchored on the first day: one rebalance per later month


def test_explicit_benchmarks_replace_the_defaults(case: tuple[BacktestResult, PriceHistory, Strategy]) -> None:
    result, history, strat = case
    mine = dataclasses.replace(result, strategy="mine")
    text = render_html(result, history, strat, {"my <bench>": mine})
    assert "my &lt;bench&gt;" in text and "buy-and-hold" not in text
    assert not render_html(result, history, strat, {}).count("calendar 1M")


def test_attribution_names_coingecko_or_the_source_file(
    case: tuple[BacktestResult, PriceHistory, Strategy], page: str
) -> None:
    history = case[1]
    assert attribution(history) == COINGECKO and COINGECKO in page
    other = dataclasses.replace(history, source="/data/exports/my prices.csv")
    assert attribution(other) == "Price data: my prices.csv"
    assert "Price data: my prices.csv" in render_html(case[0], other, case[2], {})
    assert attribution(dataclasses.replace(history, source="")) == "Price data: source not recorded"


def test_describe_strategy_parts(case: tuple[BacktestResult, PriceHistory, Strategy]) -> None:
    strat = case[2]
    assert describe_trigger(strat.trigger) == "every 1M or 5pp band"
    assert describe_costs(strat.costs) == "fee 10 bps, slippage 5 bps, gas 0 per trade"


def synthetic(t_len: int, n: int = 3, every: int = 1, hours: bool = True, seed: int = 0) -> BacktestResult:
    """A long result built directly (no simulation) to exercise downsampling and table elision."""
    rng = np.random.default_rng(seed)
    step = np.timedelta64(1, "h" if hours else "D")
    times = np.datetime64("2020-01-01T00:00", "ns") + np.arange(t_len) * step
    equity = 1e4 * np.exp(np.cumsum(rng.normal(0, 0.01, t_len)))
    w = rng.dirichlet(np.ones(n), t_len)
    reb = np.zeros(t_len, dtype=bool)
    reb[::every] = True
    cost = np.where(reb, 1.0, 0.0)
    assets = tuple(f"A{i}" for i in range(n))
    reasons = tuple((int(i), f"r{i}") for i in np.flatnonzero(reb))
    return BacktestResult(
        "synthetic",
        times,
        assets,
        np.full(n, 1 / n),
        equity,
        reb,
        np.where(reb, 0.01, 0.0),
        cost,
        cost / 2,
        cost * 0,
        np.zeros(t_len),
        w,
        reasons,
        "step",
        8760.0 if hours else 365.0,
    )


def test_long_series_are_downsampled_and_table_elided(case: tuple[BacktestResult, PriceHistory, Strategy]) -> None:
    strat = case[2]
    t_len = 3 * 8760  # three years hourly, rebalancing every step
    result = synthetic(t_len)
    history = PriceHistory(result.times, result.assets, np.ones((t_len, 3)), source="hourly.csv")
    text = render_html(result, history, strat, {"other": synthetic(t_len, seed=1)})
    assert len(text.encode()) < 2_000_000
    assert len(re.findall(r'<tr class="rebalance">', text)) == MAX_TABLE_ROWS
    assert f"{t_len - MAX_TABLE_ROWS:,} rebalances not shown" in text
    assert "VaR 95% (1 hour)" in text and "Price data: hourly.csv" in text
    assert re.search(r"<td class=\"text\">\d{4}-\d\d-\d\d \d\d:\d\d UTC</td>", text)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 9000), max_points=st.integers(4, 3000), seed=st.integers(0, 2**16), use_series=st.booleans())
def test_downsample_bounds_and_keeps_extremes(n: int, max_points: int, seed: int, use_series: bool) -> None:
    series = np.random.default_rng(seed).normal(size=n).cumsum() if use_series else None
    idx = charts.downsample(n, max_points, series)
    assert len(idx) <= max_points if n > max_points else len(idx) == n
    assert idx[0] == 0 and idx[-1] == n - 1 and np.all(np.diff(idx) > 0)
    if series is not None:
        assert int(np.argmax(series)) in idx and int(np.argmin(series)) in idx


def test_write_pngs_writes_valid_readable_pngs(
    case: tuple[BacktestResult, PriceHistory, Strategy], benches: dict[str, BacktestResult], tmp_path: Path
) -> None:
    paths = write_pngs(*case, tmp_path / "img", benches)
    assert [p.name for p in paths] == [f"{k}.png" for k in FIGURES]
    for p in paths:
        w, h = png_size(p)
        assert (w, h) == (1200, 600)
        assert 20_000 < p.stat().st_size < 1_000_000  # real content, not blank, not bloated
    two = write_pngs(*case, tmp_path, benches, prefix="x-", which=("weights", "equity"), log_equity=True)
    assert [p.name for p in two] == ["x-weights.png", "x-equity.png"]
    with pytest.raises(ValueError, match="unknown chart"):
        write_pngs(*case, tmp_path, benches, which=("pie",))


def test_cli_report_writes_html_and_pngs(tmp_path: Path) -> None:
    from trimtab.cli import app

    r = CliRunner().invoke(
        app,
        ["report", "-s", "index-fund", "--start", "2024-01-01", "--end", "2024-06-30", "--out", str(tmp_path), "--png"],
    )
    assert r.exit_code == 0, r.output
    page = (tmp_path / "index-fund.html").read_text()
    assert all(f'<figure id="{f}">' in page for f in FIGURES)
    assert sorted(p.name for p in tmp_path.glob("*.png")) == sorted(f"index-fund-{k}.png" for k in FIGURES)
    bad = CliRunner().invoke(
        app, ["report", "-s", "index-fund", "--start", "2031-01-01", "--out", str(tmp_path / "no")]
    )
    assert bad.exit_code == 2 and not (tmp_path / "no").exists()
    blocker = tmp_path / "file"
    blocker.write_text("")
    unwritable = CliRunner().invoke(
        app,
        ["report", "-s", "index-fund", "--start", "2024-05-01", "--end", "2024-06-30", "--out", str(blocker / "sub")],
    )
    assert unwritable.exit_code == 2 and "--out" in unwritable.output and "Traceback" not in unwritable.output
