"""A newcomer's first hour: sensible defaults, nothing accepted silently, output people expect."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from trimtab.cli import app

runner = CliRunner()


def _wide_csv(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    path.write_text("date,BTC,ETH\n" + "".join(f"{d},{b},{e}\n" for d, b, e in rows))
    return path


def test_a_preset_backtests_without_start_from_the_first_date_every_asset_is_priced(tmp_path: Path) -> None:
    out = tmp_path / "m.json"
    result = runner.invoke(app, ["backtest", "-s", "stablecoin-vault", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "window starts 2018-10-05, the first date every asset has a price (USDC lists last)" in result.output
    assert json.loads(out.read_text())["start"].startswith("2018-10-05")


def test_the_default_window_of_a_price_file_starts_when_its_last_asset_lists(tmp_path: Path) -> None:
    prices = _wide_csv(
        tmp_path / "p.csv",
        [(f"2024-01-{d:02d}", str(40_000 + d), "" if d < 6 else str(2_000 + d)) for d in range(1, 29)],
    )
    (tmp_path / "s.yaml").write_text(
        "name: s\nquote: USD\ntargets: {BTC: 0.5, ETH: 0.5}\ntrigger: {kind: threshold, band: 0.05}\n"
    )
    out = tmp_path / "m.json"
    result = runner.invoke(
        app, ["backtest", "-s", str(tmp_path / "s.yaml"), "--prices", str(prices), "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "window starts 2024-01-06" in result.output and "(ETH lists last)" in result.output
    assert json.loads(out.read_text())["start"].startswith("2024-01-06")
    early = runner.invoke(
        app, ["backtest", "-s", str(tmp_path / "s.yaml"), "--prices", str(prices), "--start", "2024-01-02"]
    )
    assert early.exit_code == 2 and "use --start 2024-01-06 or later" in early.output


def _static(tmp_path: Path) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text("name: s\nquote: USD\ntargets: {BTC: 0.5, ETH: 0.5}\ntrigger: {kind: threshold, band: 0.05}\n")
    return path


def _holdings(tmp_path: Path) -> Path:
    path = tmp_path / "h.yaml"
    path.write_text("holdings: {BTC: 1, ETH: 10}\n")
    return path


def test_an_old_gap_is_filled_the_same_way_in_every_command(tmp_path: Path) -> None:
    days = [(f"2024-01-{d:02d}", str(40_000 + d), "" if d in (10, 11) else str(2_000 + d)) for d in range(1, 29)]
    prices, strategy, holdings = _wide_csv(tmp_path / "p.csv", days), _static(tmp_path), _holdings(tmp_path)
    for cmd in (["status"], ["plan"], ["execute", "--ledger", str(tmp_path / "l.sqlite"), "--yes"]):
        result = runner.invoke(app, [*cmd, "-s", str(strategy), "-p", str(holdings), "--prices", str(prices)])
        assert result.exit_code == 0, (cmd, result.output)
        strict = runner.invoke(
            app, [*cmd, "-s", str(strategy), "-p", str(holdings), "--prices", str(prices), "--forward-fill", "0"]
        )
        assert strict.exit_code == 2 and "ETH" in strict.output and "2024-01-10" in strict.output, strict.output
    for cmd in (["backtest"], ["report", "--out", str(tmp_path / "out")]):  # the same default (3) as above
        result = runner.invoke(app, [*cmd, "-s", str(strategy), "--prices", str(prices)])
        assert result.exit_code == 0 and "forward-filled 2 missing cell(s)" in result.output, (cmd, result.output)


def test_a_missing_price_on_the_last_row_is_refused_not_replaced_by_yesterdays(tmp_path: Path) -> None:
    days = [(f"2024-01-{d:02d}", str(40_000 + d), "" if d == 28 else str(2_000 + d)) for d in range(1, 29)]
    prices = _wide_csv(tmp_path / "p.csv", days)
    result = runner.invoke(
        app, ["plan", "-s", str(_static(tmp_path)), "-p", str(_holdings(tmp_path)), "--prices", str(prices)]
    )
    assert result.exit_code == 2
    assert "ETH" in result.output and "no price on the last row (2024-01-28)" in result.output, result.output


def test_an_asset_listed_twice_in_a_latest_prices_file_is_refused(tmp_path: Path) -> None:
    prices = tmp_path / "latest.csv"
    prices.write_text("asset,price\nBTC,40000\nETH,2000\nbtc,41000\n")
    result = runner.invoke(
        app, ["status", "-s", str(_static(tmp_path)), "-p", str(_holdings(tmp_path)), "--prices", str(prices)]
    )
    assert result.exit_code == 2 and "listed twice" in result.output and "BTC" in result.output, result.output


def test_validate_refuses_an_asset_with_no_price_anywhere(tmp_path: Path) -> None:
    strategy = tmp_path / "foo.yaml"
    strategy.write_text("name: x\nquote: USD\ntargets: {FOO: 0.5, BTC: 0.5}\ntrigger: {kind: threshold, band: 0.05}\n")
    result = runner.invoke(app, ["validate", str(strategy)])
    assert result.exit_code == 2 and "targets.FOO: no price for FOO in the bundled data" in result.output
    prices = tmp_path / "p.csv"
    prices.write_text("date,BTC,FOO\n2024-01-01,40000,1.5\n2024-01-02,41000,1.6\n")
    assert runner.invoke(app, ["validate", str(strategy), "--prices", str(prices)]).exit_code == 0
    latest = tmp_path / "latest.csv"
    latest.write_text("asset,price\nBTC,40000\n")
    refused = runner.invoke(app, ["validate", str(strategy), "--prices", str(latest)])
    assert refused.exit_code == 2 and "no price for FOO in" in refused.output and "latest.csv" in refused.output


def test_all_zero_holdings_are_refused_not_shown_as_a_table_of_rebalances(tmp_path: Path) -> None:
    holdings = tmp_path / "zero.yaml"
    holdings.write_text("holdings: {BTC: 0, USDC: 0}\n")
    for cmd in ("status", "plan"):
        result = runner.invoke(app, [cmd, "-s", "bitcoin", "-p", str(holdings)])
        assert result.exit_code == 2 and "holdings: every quantity is 0" in result.output, result.output
        assert "REBALANCE" not in result.output


def test_sweep_refuses_a_huge_grid_before_running_and_draws_its_frontier(tmp_path: Path) -> None:
    huge = runner.invoke(
        app,
        [
            "sweep",
            "-s",
            "bitcoin",
            "--param",
            "trigger.band=0.01:0.2:1000",
            "--param",
            "constraints.min_trade_usd=1:100:1000",
        ],
    )
    assert huge.exit_code == 2 and "1,000,000 points (1000 x 1000) is over the limit of 100,000" in huge.output
    png, doc = tmp_path / "frontier.png", tmp_path / "sweep.json"
    result = runner.invoke(
        app,
        [
            "sweep",
            "-s",
            "bitcoin",
            "--start",
            "2021-01-01",
            "--end",
            "2022-12-31",
            "--param",
            "trigger.band=0.02,0.03,0.2,0.3",
            "--param",
            "trigger.every=1w,1M",
            "--png",
            str(png),
            "--json",
            str(doc),
            "--workers",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    rows, front = json.loads(doc.read_text())["rows"], json.loads(doc.read_text())["frontier"]
    seen = [(rows[i]["total_costs"], rows[i]["tracking_error"]) for i in front]
    assert len(seen) == len(set(seen)), "a frontier row repeated"


def test_compare_names_the_hybrid_row_even_when_the_strategy_is_that_hybrid(tmp_path: Path) -> None:
    doc = tmp_path / "cmp.json"
    result = runner.invoke(app, ["compare", "-s", "index-fund", "--start", "2022-01-01", "--json", str(doc)])
    assert result.exit_code == 0, result.output
    assert "index-fund (= hybrid-5%-monthly)" in result.output
    assert json.loads(doc.read_text())["same_as"] == "hybrid-5%-monthly"
    bitcoin = runner.invoke(app, ["compare", "-s", "bitcoin", "--start", "2022-01-01"])  # bi-weekly: its own row
    assert bitcoin.exit_code == 0 and "hybrid-7%-monthly" in bitcoin.output and "(= " not in bitcoin.output
    threshold = tmp_path / "t.yaml"
    threshold.write_text(
        "name: t\nquote: USDC\ntargets: {BTC: 0.7, USDC: 0.3}\ntrigger: {kind: threshold, band: 0.07}\n"
    )
    other = runner.invoke(app, ["compare", "-s", str(threshold), "--start", "2022-01-01"])
    assert other.exit_code == 0 and "hybrid-7%-monthly" in other.output and "t (= threshold-7%)" in other.output


def test_compare_says_why_the_regime_table_is_empty_on_a_short_window() -> None:
    result = runner.invoke(app, ["compare", "-s", "bitcoin", "--start", "2024-05-01"])
    assert result.exit_code == 0, result.output
    assert "regimes: none labelled: a label needs 90 days of BTC history" in result.output
    assert "this window has 61" in result.output
    long = runner.invoke(app, ["compare", "-s", "bitcoin", "--start", "2023-01-01"])
    assert long.exit_code == 0 and "none labelled" not in long.output


def test_plan_json_amounts_sit_on_the_venue_precision(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text('rules: {BTC: {price_tick: "0.01"}, "*": {price_tick: "0.0001"}}\n')
    result = runner.invoke(app, ["plan", "-s", "index-fund", "--json", "-", "--rules", str(rules)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["orders"], doc

    def places(text: str) -> int:
        return len(text.split(".")[1]) if "." in text else 0

    assert places(doc["portfolio_value"]) <= 8 and places(doc["total_est_cost"]) <= 8
    for o in doc["orders"]:
        assert places(o["price"]) <= (2 if o["asset"] == "BTC" else 4), o
        assert all(places(o[k]) <= 8 and "E" not in o[k] for k in ("notional", "est_fee", "est_slippage", "est_gas"))
