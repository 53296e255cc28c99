"""Acceptance: the bitcoin-sleeves preset on bundled data, each sleeve rebalancing on its own schedule."""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import pytest
from typer.testing import CliRunner

from trimtab.backtest.runner import backtest
from trimtab.backtest.simulator import BacktestResult
from trimtab.cli import app
from trimtab.cli.backtest import load_history
from trimtab.config import load_strategy
from trimtab.core.base.history import PriceHistory

START, END = date(2021, 1, 1), date(2024, 6, 30)  # the preset's backtest: window
SLEEVES = {
    "native": ("BTC", "USDT"),
    "wrapped": ("WBTC", "ETH"),
    "derivatives": ("SOL",),  # and USDC, the quote: it moves with every sleeve's trades
    "infrastructure": ("BNB", "XRP"),
}


def _months(first: date, last: date) -> list[date]:
    """The 1st of each month after `first` (the anchor is a 1st) up to `last`."""
    out, y, m = [], first.year, first.month
    while True:
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        if date(y, m, first.day) > last:
            return out
        out.append(date(y, m, first.day))


def _every(first: date, last: date, days: int) -> list[date]:
    return [first + timedelta(days=k * days) for k in range(1, (last - first).days // days + 1)]


EXPECTED = {
    "native": _months(START, END),
    "wrapped": _every(START, END, 7),
    "derivatives": _every(START, END, 1),
    "infrastructure": _every(START, END, 14),
}


@pytest.fixture(scope="module")
def run() -> tuple[BacktestResult, PriceHistory]:
    strategy = load_strategy("bitcoin-sleeves")
    history = load_history(strategy, None, None, None, None)
    return backtest(strategy, history), history


def _iso(days: list[date]) -> list[str]:
    return [d.isoformat() for d in days]


def test_each_sleeve_fires_on_its_own_schedule(run: tuple[BacktestResult, PriceHistory]) -> None:
    result, _ = run
    assert result.path == "step" and str(result.times[0])[:10] == START.isoformat()
    report = {s["name"]: s for s in result.extra["sleeves"]["sleeves"]}
    assert list(report) == list(SLEEVES)
    for name, want in EXPECTED.items():
        assert report[name]["fired_times"] == _iso(want), name
        assert set(report[name]["rebalance_times"]) <= set(report[name]["fired_times"])
    # monthly and bi-weekly sleeves always have something to trade; a quiet week or day may leave the others below
    # min_trade_usd (a firing with nothing worth trading is no rebalance)
    assert report["native"]["rebalance_times"] == _iso(EXPECTED["native"])
    assert report["infrastructure"]["rebalance_times"] == _iso(EXPECTED["infrastructure"])
    assert report["wrapped"]["n_rebalances"] >= 0.95 * len(EXPECTED["wrapped"])
    assert report["derivatives"]["n_rebalances"] >= 0.95 * len(EXPECTED["derivatives"])


def test_a_sleeve_trades_only_when_it_or_the_split_fired(run: tuple[BacktestResult, PriceHistory]) -> None:
    """Quantities recomputed from post-trade weights, equity and prices: an asset's holding changes only on days
    its sleeve's own schedule fired, or the split's band did."""
    result, history = run
    doc = result.extra["sleeves"]
    split_days = set(doc["split"]["rebalance_times"])
    assert 0 < len(split_days) < 40
    fired = {name: set(_iso(days)) for name, days in EXPECTED.items()}
    cols = {a: result.assets.index(a) for assets in SLEEVES.values() for a in assets}
    prices = np.asarray(history.prices)[history.warmup :]
    qty = {a: result.weights[:, j] * result.equity / prices[:, history.index_of(a)] for a, j in cols.items()}
    days = [str(t)[:10] for t in result.times]
    for k in range(1, len(days)):
        for name, assets in SLEEVES.items():
            moved = any(abs(qty[a][k] - qty[a][k - 1]) > 1e-9 * max(qty[a][k], qty[a][k - 1]) for a in assets)
            if moved:
                assert days[k] in fired[name] or days[k] in split_days, (name, days[k])


def test_reasons_name_each_fired_sleeve(run: tuple[BacktestResult, PriceHistory]) -> None:
    result, _ = run
    reasons = {str(result.times[k])[:10]: why for k, why in result.reasons}
    assert reasons["2021-02-01"].startswith("sleeve native: calendar: every 1M is due")
    assert "sleeve wrapped: calendar: every 1w is due" in reasons["2021-01-08"]
    assert "sleeve infrastructure: calendar: every 2w is due" in reasons["2021-01-15"]
    split_day = result.extra["sleeves"]["split"]["rebalance_times"][0]
    assert reasons[split_day].startswith("split: ")


def test_the_cli_prints_the_sleeve_table_and_writes_it_as_json() -> None:
    res = CliRunner().invoke(app, ["backtest", "-s", "bitcoin-sleeves", "--json", "-"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert [s["name"] for s in doc["sleeves"]["sleeves"]] == list(SLEEVES)
    assert doc["sleeves"]["sleeves"][0]["trigger"] == "calendar 1M" and doc["sleeves"]["split"]["trigger"] == "band 5pp"
    table = CliRunner().invoke(app, ["backtest", "-s", "bitcoin-sleeves", "--end", "2021-06-30"])
    assert table.exit_code == 0, table.output
    assert "Sleeves:" in table.stdout and "calendar 1w" in table.stdout and "split" in table.stdout
