"""Seed prices come from the real daily data; bad files give a DataError naming the file."""

from __future__ import annotations

import gzip
from decimal import Decimal
from pathlib import Path

import pytest

from tests.chain.support import price_file, require
from trimtab.chain.seed import load_seed_prices
from trimtab.errors import DataError

HEADER = "date,asset,price_usd,market_cap_usd,volume_usd,source\n"


def _write(path: Path, rows: list[str]) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(HEADER + "".join(r + "\n" for r in rows))
    return path


def test_real_file_gives_2023_11_30_prices() -> None:
    path = price_file()
    require(path is not None, "daily_prices_usd.csv.gz not found")
    assert path is not None
    seed = load_seed_prices(path)
    assert seed.date == "2023-11-30"
    assert set(seed.usd) == {"WBTC", "WETH", "LINK", "USDC"}
    assert Decimal("0.98") < seed.usd["USDC"] < Decimal("1.02")


def test_falls_back_to_latest_common_date(tmp_path: Path) -> None:
    rows = ["2020-01-01,btc,7000,,,x", "2020-01-01,eth,130,,,x", "2020-01-02,btc,7100,,,x"]
    seed = load_seed_prices(_write(tmp_path / "p.csv.gz", rows), on="2023-11-30", assets=("btc", "eth"))
    assert seed.date == "2020-01-01"
    assert seed.usd == {"WBTC": Decimal(7000), "WETH": Decimal(130)}


@pytest.mark.parametrize(
    ("rows", "field"),
    [
        (["2020-01-01,btc,abc,,,x", "2020-01-01,eth,1,,,x"], "price_usd"),
        (["2020-01-01,btc,0,,,x", "2020-01-01,eth,1,,,x"], "price_usd"),
        (["2020-01-01,btc,1,,,x"], "asset"),
    ],
)
def test_bad_rows_name_the_file_and_field(tmp_path: Path, rows: list[str], field: str) -> None:
    path = _write(tmp_path / "bad.csv.gz", rows)
    with pytest.raises(DataError) as info:
        load_seed_prices(path, assets=("btc", "eth"))
    assert info.value.source == str(path) and info.value.field == field


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        load_seed_prices(tmp_path / "nope.csv.gz")
