"""Bundled package data: paths, the cached daily loader, coverage, gas, CMC snapshots and the example portfolio."""

from __future__ import annotations

import csv
import gzip
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
import yaml

from trimtab.adapters.bundled import (
    CMC,
    COVERAGE,
    DAILY,
    EXAMPLE_PORTFOLIO,
    bundled_daily,
    bundled_daily_with_report,
    bundled_path,
    cached_raw,
    cmc_snapshots,
    coverage,
)
from trimtab.adapters.pricefile import read_price_file
from trimtab.errors import DataError
from trimtab.shipped import GAS_FILE, gas_series

INDEX_FUND = {"BTC": 0.40, "ETH": 0.25, "SOL": 0.10, "BNB": 0.10, "XRP": 0.05, "USDC": 0.10}


@pytest.mark.parametrize("name", [DAILY, COVERAGE, GAS_FILE, CMC, EXAMPLE_PORTFOLIO, "README.md"])
def test_shipped_files_exist(name: str) -> None:
    path = bundled_path(name)
    assert path.is_file() and path.stat().st_size > 0


def test_unknown_bundled_file_is_a_data_error() -> None:
    with pytest.raises(DataError, match="not shipped"):
        bundled_path("nope.csv")


def test_readme_keeps_attribution_and_sources() -> None:
    text = bundled_path("README.md").read_text()
    for line in (
        "provided by CoinGecko",
        "Source: Etherscan.io",
        "Source: CoinMarketCap",
        "Market data: Binance",
        "dylanroman03/Genetic-Algoritms-Cryptos-",
        "cagatayozbek/ethereum-gas-price-prediction",
    ):
        assert line in text


def test_bundled_daily_fills_btc_missing_days_by_default_and_reports_them() -> None:
    h, report = bundled_daily_with_report(["btc", "eth"], start="2017-06-01", end="2017-06-30")
    assert h.assets == ("BTC", "ETH", "USD") and len(h) == 30 and not np.isnan(h.prices).any()
    assert {str(g.first_missing.astype("datetime64[D]")) for g in report.filled} == {"2017-06-06", "2017-06-08"}
    with pytest.raises(DataError, match="2017-06-06"):
        bundled_daily(["BTC"], start="2017-06-01", end="2017-06-30", forward_fill=0)


def test_bundled_daily_matches_the_file_read_directly() -> None:
    h = bundled_daily(["SOL", "usdc"], start="2024-06-01", quote="USDC")
    with gzip.open(bundled_path(DAILY), "rt", newline="") as f:
        want = {r["asset"]: float(r["price_usd"]) for r in csv.DictReader(f) if r["date"] == "2024-06-30"}
    assert h.times[-1] == np.datetime64("2024-06-30", "ns")
    assert h.latest() == {"SOL": want["sol"], "USDC": want["usdc"]}


def test_coverage_agrees_with_the_loaded_series() -> None:
    cov = coverage()
    assert len(cov) == 44 + 1 and cov["BTC"] == (date(2013, 4, 28), date(2024, 6, 30))  # + WBTC, priced as BTC
    first, last = cov["SOL"]
    h = bundled_daily(["SOL"], start=first.isoformat(), end=last.isoformat())
    assert h.times[0] == np.datetime64(first, "ns") and h.times[-1] == np.datetime64(last, "ns")
    with pytest.raises(DataError, match=first.isoformat()):
        bundled_daily(["SOL"], start="2020-01-01", end=last.isoformat())


def test_the_shipped_gas_series_is_one_row_per_day_with_zeros_as_gaps() -> None:
    gas = gas_series()
    steps = np.diff(gas.times).astype("timedelta64[D]").astype(int)
    assert (steps == 1).all() and gas.times[0] == np.datetime64("2015-07-30", "ns")
    assert gas.times[-1] == np.datetime64("2024-06-30", "ns")
    assert len(gas.gwei) == len(gas.native_price) == len(gas.times)
    assert np.nanmin(gas.gwei) > 0 and np.isnan(gas.gwei[0]) and np.isnan(gas.native_price[0])  # the file says 0
    assert int(np.isnan(gas.gwei).sum()) == 8  # the eight zero days of 2015, gaps rather than free gas
    assert np.nanmax(gas.gwei) > 500  # the real 2016-12-08 spike is kept
    assert not gas.times.flags.writeable and gas_series() is gas


def test_cmc_snapshots_table() -> None:
    df = cmc_snapshots()
    assert df["snapshot_date"].nunique() == 54 and (df["symbol"] == df["symbol"].str.upper()).all()
    assert {"name", "market_cap_usd", "price_usd"} <= set(df.columns)


def test_npz_cache_round_trips_and_survives_corruption(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIMTAB_CACHE_DIR", str(tmp_path))
    path = bundled_path(CMC)
    first = cached_raw(path)
    files = list(tmp_path.glob("*.npz"))
    assert len(files) == 1
    again = cached_raw(path)
    direct = read_price_file(path)
    for raw in (first, again):
        assert raw.history.assets == direct.history.assets and raw.rows_read == direct.rows_read
        assert raw.duplicates_dropped == direct.duplicates_dropped == 1
        np.testing.assert_array_equal(raw.history.times, direct.history.times)
        np.testing.assert_array_equal(raw.history.prices, direct.history.prices)
        assert raw.history.market_caps is not None and direct.history.market_caps is not None
        np.testing.assert_array_equal(raw.history.market_caps, direct.history.market_caps)
    files[0].write_bytes(b"corrupt")
    rebuilt = cached_raw(path)
    np.testing.assert_array_equal(rebuilt.history.prices, direct.history.prices)


def test_second_process_loads_daily_from_cache_without_pandas(tmp_path: Path) -> None:
    code = (
        "import sys; from trimtab.adapters.bundled import bundled_daily; "
        "h = bundled_daily(['BTC', 'ETH'], start='2024-01-01'); "
        "print(len(h), 'pandas' in sys.modules)"
    )
    env = {"TRIMTAB_CACHE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    first = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    second = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert first.stdout.split() == ["182", "True"]
    assert second.stdout.split() == ["182", "False"]


def test_example_portfolio_is_about_100k_and_off_the_index_fund_targets() -> None:
    data = yaml.safe_load(bundled_path(EXAMPLE_PORTFOLIO).read_text())
    holdings = data["holdings"]
    assert set(holdings) == set(INDEX_FUND) and all(isinstance(q, str) for q in holdings.values())
    h = bundled_daily(list(holdings), start="2024-06-30", end="2024-06-30")
    last = h.latest()
    values = {a: float(Decimal(q)) * last[a] for a, q in holdings.items()}
    total = sum(values.values())
    assert 95_000 < total < 105_000
    weights = {a: v / total for a, v in values.items()}
    outside = {a for a, w in weights.items() if abs(w - INDEX_FUND[a]) > 0.05}
    assert outside == {"BTC", "SOL"} and weights["BTC"] > INDEX_FUND["BTC"]
