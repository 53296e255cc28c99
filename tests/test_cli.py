"""The CLI end to end on the bundled real data: status, plan JSON, paper execute into a real SQLite ledger."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trimtab.adapters.storage import SqlLedgerStore
from trimtab.cli import app

runner = CliRunner()
ORDER_KEYS = {"asset", "side", "quantity", "price", "notional", "est_fee", "est_slippage", "est_gas"}


def run(*args: str, input: str | None = None):
    return runner.invoke(app, list(args), input=input)


def holdings(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "h.yaml"
    p.write_text(text)
    return p


def test_status_on_bundled_example_shows_breaches() -> None:
    r = run("status", "--portfolio", "example", "--strategy", "index-fund")
    assert r.exit_code == 0, r.output
    assert "BTC" in r.output and "REBALANCE" in r.output and "to trigger" in r.output


def test_plan_json_has_documented_shape_and_consistent_totals(tmp_path: Path) -> None:
    dest = tmp_path / "plan.json"
    r = run("plan", "-s", "index-fund", "-p", "example", "--json", str(dest))
    assert r.exit_code == 0, r.output
    doc = json.loads(dest.read_text())
    assert doc["trades_needed"] is True
    assert doc["orders"] and all(ORDER_KEYS <= set(o) for o in doc["orders"])
    sides = [o["side"] for o in doc["orders"]]
    assert sides == sorted(sides, key=lambda s: s == "buy"), "sells first"
    total = sum(Decimal(o["est_fee"]) + Decimal(o["est_slippage"]) + Decimal(o["est_gas"]) for o in doc["orders"])
    assert total == Decimal(doc["total_est_cost"])
    assert set(doc["residual_drift"]) >= {"BTC", "ETH", "SOL", "BNB", "XRP", "USDC"}
    assert all(abs(d) <= 0.05 for d in doc["residual_drift"].values())


def test_execute_records_whole_rebalance_and_ledger_matches_plan(tmp_path: Path) -> None:
    ledger = tmp_path / "l.sqlite"
    plan_doc = json.loads(run("plan", "-s", "index-fund", "-p", "example", "--json", "-").stdout)
    assert plan_doc["orders"], "the example portfolio needs a rebalance"
    r = run("execute", "-s", "index-fund", "-p", "example", "--ledger", str(ledger), "--yes")
    assert r.exit_code == 0, r.output
    assert "after" in r.output
    store = SqlLedgerStore(ledger)
    bal = store.balances("example")
    start = {
        "BTC": Decimal("0.79"),
        "ETH": Decimal("7.4"),
        "SOL": Decimal("28.5"),
        "BNB": Decimal("15.8"),
        "XRP": Decimal("12700"),
        "USDC": Decimal("8000"),
    }
    for o in plan_doc["orders"]:
        sign = 1 if o["side"] == "buy" else -1
        assert bal[o["asset"]] == start[o["asset"]] + sign * Decimal(o["quantity"])
    fees = sum(-e.amount for e in store.entries("example") if e.kind == "fee")
    # plan.json shows each estimate on 1e-8 (the venue's precision); the paper venue charges exactly that estimate
    assert abs(fees - sum(Decimal(o["est_fee"]) for o in plan_doc["orders"])) <= Decimal("1e-8") * len(
        plan_doc["orders"]
    )
    # a second execute finds the portfolio on target: nothing to do, ledger unchanged
    n = len(store.entries("example"))
    r2 = run("execute", "-s", "index-fund", "-p", "example", "--ledger", str(ledger), "--yes")
    assert r2.exit_code == 0 and "nothing to do" in r2.output
    assert len(SqlLedgerStore(ledger).entries("example")) == n
    shown = run("ledger", "--ledger", str(ledger))
    assert shown.exit_code == 0 and "example" in shown.output and "fee" in shown.output


def test_execute_declined_writes_nothing(tmp_path: Path) -> None:
    ledger = tmp_path / "l.sqlite"
    r = run("execute", "-s", "index-fund", "--ledger", str(ledger), input="n\n")
    assert r.exit_code == 1 and "aborted" in r.output
    assert SqlLedgerStore(ledger).entries() == []


@pytest.mark.parametrize(
    ("holdings_text", "prices_text", "needle"),
    [
        ("holdings: {BTC: '-1', USDC: '100'}\n", None, "holdings.BTC: quantity must be >= 0"),
        ("holdings: {BTC: 'abc'}\n", None, "holdings.BTC: expected a number"),
        (
            "holdings: {BTC: '1', USDC: '100'}\n",
            "asset,price\nETH,3000\nSOL,100\nBNB,500\nXRP,0.5\n",
            "no price for BTC",
        ),
        (
            "holdings: {BTC: '1'}\n",
            "asset,price\nBTC,nan\nETH,3000\nSOL,100\nBNB,500\nXRP,0.5\n",
            "price must be a positive number",
        ),
        (
            "holdings: {BTC: '1'}\n",
            "asset,price\nBTC,0\nETH,3000\nSOL,100\nBNB,500\nXRP,0.5\n",
            "price must be a positive number",
        ),
        ("holdings: {BTC: '1'}\n", "asset,price\nBTC,60000\nETH,3000\nSOL,100\nBNB,500\n", "no price for XRP"),
        ("holdings: {BTC: '1', WAT: '5'}\n", None, "WAT"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(
    tmp_path: Path, holdings_text: str, prices_text: str | None, needle: str
) -> None:
    hp = holdings(tmp_path, holdings_text)
    args = ["execute", "-s", "index-fund", "-p", str(hp), "--ledger", str(tmp_path / "l.sqlite"), "--yes"]
    if prices_text is not None:
        pp = tmp_path / "prices.csv"
        pp.write_text(prices_text)
        args += ["--prices", str(pp)]
    r = run(*args)
    assert r.exit_code == 2, r.output
    line = r.stderr.strip()
    assert line.startswith("error: ") and "\n" not in line and needle in line
    assert not (tmp_path / "l.sqlite").exists() or SqlLedgerStore(tmp_path / "l.sqlite").entries() == []


def test_unknown_preset_on_status_exits_2() -> None:
    r = run("status", "-s", "moonshot")
    assert r.exit_code == 2 and "moonshot: no such file or preset" in r.stderr


def test_rules_file_lot_step_applies(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  '*': {amount_step: '0.01', min_notional: 10}\n  XRP: {amount_step: '1'}\n")
    r = run("plan", "-s", "index-fund", "--rules", str(rules), "--json", "-")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["orders"] and any(o["asset"] == "XRP" for o in doc["orders"])
    for o in doc["orders"]:
        step = Decimal("1") if o["asset"] == "XRP" else Decimal("0.01")
        assert Decimal(o["quantity"]) % step == 0


def test_presets_command_lists_all() -> None:
    r = run("presets")
    assert r.exit_code == 0
    for name in ("stablecoin-vault", "index-fund", "bitcoin", "ethereum", "custom"):
        assert name in r.output


def test_status_of_a_model_strategy_shows_the_model_targets() -> None:
    r = run("status", "-s", "risk-parity", "--portfolio", "example")
    assert r.exit_code == 0, r.output
    rows = [line for line in r.stdout.splitlines() if line.startswith("│ DOGE")]
    assert rows and "0.00%" in rows[0].split("│")[4] and "0.00%" not in rows[0].split("│")[5]  # DOGE: unheld, targeted


def test_model_strategy_refuses_a_latest_prices_table(tmp_path: Path) -> None:
    pp = tmp_path / "prices.csv"
    pp.write_text("asset,price\nBTC,60000\nETH,3000\n")
    r = run("status", "-s", "risk-parity", "--prices", str(pp))
    assert r.exit_code == 2 and "needs a price history" in r.stderr
