"""`trimtab tax-report` on a ledger written by real `trimtab execute` runs, checked against an independent FIFO
recomputation from the ledger rows in this test."""

from __future__ import annotations

import csv
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

from typer.testing import CliRunner

from trimtab.adapters.bundled import bundled_daily
from trimtab.adapters.storage import SqlLedgerStore
from trimtab.cli import app

runner = CliRunner()


def _ledger(tmp_path: Path) -> Path:
    ledger = tmp_path / "l.sqlite"
    for strategy in ("index-fund", "bitcoin"):  # the second run sells most of what the first bought
        r = runner.invoke(app, ["execute", "-s", strategy, "--ledger", str(ledger), "--account", "me", "--yes"])
        assert r.exit_code == 0, r.output
    return ledger


def _independent_fifo(ledger: Path) -> dict[str, Decimal]:
    """Gain per asset by FIFO, written apart from trimtab.core.base.lots: queues of [units, cost] per asset."""
    entries = SqlLedgerStore(str(ledger)).entries("me")
    queues: dict[str, list[list[Decimal]]] = defaultdict(list)
    for e in entries:
        if e.kind == "deposit" and e.asset != "USDC":  # opening lots at the bundled close of the deposit day
            h = bundled_daily([e.asset], end=f"{e.time:%Y-%m-%d}", require_complete=False)
            queues[e.asset].append([e.amount, e.amount * Decimal(repr(float(h.prices[-1, 0])))])
    refs: dict[str, list] = defaultdict(list)
    for e in entries:
        if e.kind in ("trade", "fee", "gas"):
            refs[e.ref].append(e)
    gains: dict[str, Decimal] = defaultdict(Decimal)
    for group in sorted(refs.values(), key=lambda g: g[0].time):
        base = next(e for e in group if e.kind == "trade" and e.asset != "USDC")
        cash = next(e for e in group if e.kind == "trade" and e.asset == "USDC").amount
        fees = -sum((e.amount for e in group if e.kind != "trade" and e.asset == "USDC"), Decimal(0))
        if base.amount > 0:
            queues[base.asset].append([base.amount, -cash + fees])
            continue
        left, proceeds, basis = -base.amount, cash - fees, Decimal(0)
        while left > 0:
            units, cost = queues[base.asset][0]
            take = min(units, left)
            part = cost * take / units
            basis += part
            queues[base.asset][0] = [units - take, cost - part]
            if queues[base.asset][0][0] == 0:
                queues[base.asset].pop(0)
            left -= take
        gains[base.asset] += proceeds - basis
    return gains


def test_the_tax_report_matches_an_independent_fifo_recomputation(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path)
    year = SqlLedgerStore(str(ledger)).entries("me")[-1].time.year
    out = tmp_path / "disposals.csv"
    r = runner.invoke(app, ["tax-report", "--ledger", str(ledger), "--year", str(year), "--csv", str(out)])
    assert r.exit_code == 0, r.output
    with out.open() as f:
        rows = list(csv.DictReader(f))
    assert rows and set(rows[0]) == {
        "date",
        "asset",
        "quantity",
        "proceeds",
        "basis",
        "gain",
        "term",
        "acquired",
        "lot",
    }
    reported: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        reported[row["asset"]] += Decimal(row["gain"])
        assert Decimal(row["proceeds"]) - Decimal(row["basis"]) == Decimal(row["gain"])
    expected = _independent_fifo(ledger)
    assert set(reported) == {a for a, g in expected.items()}
    for asset, gain in expected.items():
        assert abs(reported[asset] - gain) <= Decimal("0.01") * (1 + sum(1 for r in rows if r["asset"] == asset))
    assert "short-term gain" in r.output


def test_hifo_reports_no_more_gain_than_fifo(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path)
    year = SqlLedgerStore(str(ledger)).entries("me")[-1].time.year
    totals = {}
    for method in ("fifo", "hifo"):
        out = tmp_path / f"{method}.csv"
        r = runner.invoke(
            app, ["tax-report", "--ledger", str(ledger), "--year", str(year), "--method", method, "--csv", str(out)]
        )
        assert r.exit_code == 0, r.output
        with out.open() as f:
            totals[method] = sum((Decimal(row["gain"]) for row in csv.DictReader(f)), Decimal(0))
    assert totals["hifo"] <= totals["fifo"] + Decimal("0.01")
