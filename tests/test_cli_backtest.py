"""The backtest CLI on real bundled data and on user files: JSON keys, equity CSV, errors with file and field."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from trimtab.cli import app

runner = CliRunner()
KEYS = {
    "final_value",
    "total_return",
    "cagr",
    "volatility",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown",
    "var_95",
    "cvar_95",
    "turnover",
    "n_rebalances",
    "total_fees",
    "total_slippage",
    "total_gas",
    "total_costs",
    "tracking_error",
    "rebalance_times",
}


def test_backtest_json_has_every_documented_metric(tmp_path: Path) -> None:
    dest, eq = tmp_path / "m.json", tmp_path / "eq.csv"
    r = runner.invoke(
        app,
        [
            "backtest",
            "-s",
            "bitcoin",
            "--start",
            "2021-01-01",
            "--end",
            "2022-12-31",
            "--json",
            str(dest),
            "--equity-csv",
            str(eq),
        ],
    )
    assert r.exit_code == 0, r.output
    m = json.loads(dest.read_text())
    assert KEYS <= set(m)
    assert m["periods_per_year"] == 365.0 and m["n_rebalances"] == len(m["rebalance_times"]) - 1
    assert abs(m["total_costs"] - (m["total_fees"] + m["total_slippage"] + m["total_gas"])) < 1e-9
    curve = pd.read_csv(eq)
    assert len(curve) == m["steps"] and abs(curve["equity"].iloc[-1] - m["final_value"]) < 1e-6


def test_backtest_reads_a_wide_user_file_with_quote_at_par(tmp_path: Path) -> None:
    prices = tmp_path / "wide.csv"
    prices.write_text("date,BTC,ETH\n2024-01-01,40000,2000\n2024-01-02,44000,2100\n2024-01-03,41000,2300\n")
    strat = tmp_path / "s.yaml"
    strat.write_text(
        "name: s\nquote: USD\ntargets: {BTC: 0.5, ETH: 0.5}\ntrigger: {kind: threshold, band: 0.01}\n"
        "costs: {fee_bps: 10, slippage_bps: 0}\nconstraints: {min_trade_usd: 0}\ninitial_value: 1000\n"
    )
    r = runner.invoke(app, ["backtest", "-s", str(strat), "--prices", str(prices), "--json", "-"])
    assert r.exit_code == 0, r.output
    m = json.loads(r.stdout)
    assert m["steps"] == 3 and m["n_rebalances"] == 2


@pytest.mark.parametrize(
    ("csv", "needle"),
    [
        ("date,BTC\n2024-01-01,40000\n2024-01-02,41000\n", "ETH"),  # strategy asset missing from the file
        ("date,BTC,ETH\n2024-01-01,40000,2000\n2024-01-01,41000,2100\n", "2024-01-01"),  # duplicated timestamp
        ("date,BTC,ETH\n2024-01-02,40000,2000\n2024-01-01,41000,2100\n", "2024-01-01"),  # unsorted
        (
            "date,BTC,ETH\n2024-01-01,40000,2000\n"
            + "".join(f"2024-01-0{d},,2100\n" for d in range(2, 6))
            + "2024-01-06,41000,2100\n",
            "BTC",
        ),  # a gap longer than the default forward fill (3 rows)
        ("date,BTC,ETH\n2024-01-01,40000,2000\n2024-01-02,-5,2100\n", "BTC"),  # negative price
    ],
)
def test_bad_price_files_exit_2_naming_file_and_column(tmp_path: Path, csv: str, needle: str) -> None:
    prices = tmp_path / "p.csv"
    prices.write_text(csv)
    strat = tmp_path / "s.yaml"
    strat.write_text("name: s\nquote: USD\ntargets: {BTC: 0.5, ETH: 0.5}\ntrigger: {kind: threshold, band: 0.05}\n")
    r = runner.invoke(app, ["backtest", "-s", str(strat), "--prices", str(prices)])
    assert r.exit_code == 2, r.output
    line = r.stderr.strip()
    assert "\n" not in line and str(prices) in line and needle in line


def test_compare_writes_report_and_covers_regimes(tmp_path: Path) -> None:
    report, doc = tmp_path / "r.html", tmp_path / "c.json"
    r = runner.invoke(
        app, ["compare", "-s", "ethereum", "--start", "2020-01-01", "--json", str(doc), "--report", str(report)]
    )
    assert r.exit_code == 0, r.output
    data = json.loads(doc.read_text())
    assert {"ethereum", "buy-and-hold", "calendar-monthly", "threshold-7%"} <= set(data["metrics"])
    assert set(data["regime_days"]) == {"bull", "bear", "sideways", "high_vol"}
    assert sum(data["regime_days"].values()) > 1000
    assert report.stat().st_size > 10_000


def test_sweep_cli_writes_rows_and_frontier(tmp_path: Path) -> None:
    dest = tmp_path / "sw.json"
    r = runner.invoke(
        app,
        [
            "sweep",
            "-s",
            "bitcoin",
            "--start",
            "2021-01-01",
            "--param",
            "trigger.band=0.02:0.2:10",
            "--param",
            "trigger.every=1w,1M",
            "--json",
            str(dest),
        ],
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(dest.read_text())
    assert len(doc["rows"]) == 20 and doc["frontier"]
    assert all(set(row["params"]) == {"trigger.band", "trigger.every"} for row in doc["rows"])


def test_model_strategies_warm_up_before_the_start() -> None:
    from trimtab.backtest.runner import backtest
    from trimtab.cli.backtest import load_history
    from trimtab.config import load_strategy

    s = load_strategy("risk-parity")
    h = load_history(s, None, "2021-01-01", "2021-06-30", None)
    assert h.warmup > 300 and str(h.times[h.warmup])[:10] == "2021-01-01"
    warm = backtest(s, h)
    cold = backtest(s, h.after_warmup())
    assert str(warm.times[0])[:10] == str(cold.times[0])[:10] == "2021-01-01"
    first = lambda r: " ".join(next(iter(r.extra.get("allocation_notes", {}).values()), ()))  # noqa: E731
    assert "too little history" in first(cold)
    assert "too little history" not in first(warm)


def test_compare_a_model_preset_with_warm_up(tmp_path: Path) -> None:
    doc = tmp_path / "c.json"
    r = runner.invoke(
        app, ["compare", "-s", "risk-parity", "--start", "2022-01-01", "--end", "2023-06-30", "--json", str(doc)]
    )
    assert r.exit_code == 0, r.output
    data = json.loads(doc.read_text())
    steps = data["metrics"]["risk-parity"]["steps"]
    assert data["metrics"]["risk-parity"]["start"].startswith("2022-01-01")
    assert sum(data["regime_days"].values()) == steps - 1  # warm-up rows are not labelled in the report
