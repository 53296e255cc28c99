"""Price file loading: every shipped format, quote handling, gaps, windows and one-line errors for bad files."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trimtab.adapters.bundled import bundled_path
from trimtab.adapters.pricefile import (
    RawPrices,
    check_history,
    load_prices,
    load_prices_with_report,
    read_price_file,
)
from trimtab.core.base.history import PriceHistory
from trimtab.errors import ConfigError, DataError

DATA = Path(__file__).parents[1] / "data"
SPOT = DATA / "hourly_spot_subset.csv.gz"
PERP = DATA / "hourly_perp_subset.csv.gz"


def _rows(path: Path) -> list[dict[str, str]]:
    """The file read independently with the csv module, to cross-check the pandas reader."""
    with gzip.open(path, "rt", newline="") as f:
        return list(csv.DictReader(f))


def _day(s: str) -> np.datetime64:
    return np.datetime64(s, "ns")


# --- every shipped format loads ------------------------------------------------------------------


def test_daily_long_file_loads_uppercase_assets_with_usd_at_one() -> None:
    path = bundled_path("daily_prices_usd.csv.gz")
    h = load_prices(path, assets=["btc", "Eth"], start="2020-01-01", end="2020-12-31")
    assert h.assets == ("BTC", "ETH", "USD")
    assert len(h) == 366 and h.times[0] == _day("2020-01-01") and h.times[-1] == _day("2020-12-31")
    assert not np.isnan(h.prices).any() and (h.prices[:, 2] == 1.0).all()
    want = {(r["asset"], r["date"]): r for r in _rows(path) if r["date"] == "2020-07-01"}
    i = int(np.flatnonzero(h.times == _day("2020-07-01"))[0])
    assert h.prices[i, 0] == float(want[("btc", "2020-07-01")]["price_usd"])
    assert h.market_caps is not None and h.market_caps[i, 1] == float(want[("eth", "2020-07-01")]["market_cap_usd"])
    assert np.isnan(h.market_caps[:, 2]).all()  # the synthetic quote has no market cap
    assert h.periods_per_year() == pytest.approx(365.0)


def test_hourly_spot_subset_strips_pair_quote_and_reindexes_the_maintenance_hour() -> None:
    h, report = load_prices_with_report(SPOT, assets=["btc", "eth", "sol"], quote="USDT", forward_fill=1)
    assert h.assets == ("BTC", "ETH", "SOL", "USDT")
    assert report.pair_quote == "USDT" and report.quote_added == "USDT"
    assert len(h) == 22 * 24 and report.grid_rows_added == 1  # 2023-03-20T00 .. 2023-04-10T23, 13:00 put back
    assert {(g.asset, g.first_missing, g.rows) for g in report.filled} == {
        (a, _day("2023-03-24T13:00"), 1) for a in ("BTC", "ETH", "SOL")
    }
    i = int(np.flatnonzero(h.times == _day("2023-03-24T13:00"))[0])
    assert (h.prices[i] == h.prices[i - 1]).all()  # filled with the 12:00 close, no look-ahead
    closes = {r["timestamp_utc"]: float(r["close"]) for r in _rows(SPOT) if r["pair"] == "SOLUSDT"}
    assert h.prices[i + 1, 2] == closes["2023-03-24T14:00:00Z"]
    assert h.periods_per_year() == pytest.approx(8760.0)


def test_hourly_spot_gap_without_forward_fill_names_asset_and_hour() -> None:
    with pytest.raises(DataError) as e:
        load_prices(SPOT, assets=["BTC", "ETH"], quote="USDT")
    msg = str(e.value)
    assert str(SPOT) in msg and "BTC" in msg and "2023-03-24T13:00" in msg and e.value.field == "BTC"


def test_hourly_gap_outside_the_window_is_not_an_error() -> None:
    h = load_prices(SPOT, assets=["BTC"], quote="USDT", start="2023-03-25")
    assert h.times[0] == _day("2023-03-25") and not np.isnan(h.prices).any()


def test_hourly_perp_subset_loads_and_converts_base_volume_to_quote() -> None:
    h, report = load_prices_with_report(PERP, assets=["ETH", "BTC"], quote="USDT")
    assert h.assets == ("ETH", "BTC", "USDT") and len(h) == 22 * 24
    assert report.filled == () and report.grid_rows_added == 0
    row = next(r for r in _rows(PERP) if r["pair"] == "BTCUSDT" and r["timestamp_utc"] == "2023-03-24T13:00:00Z")
    i = int(np.flatnonzero(h.times == _day("2023-03-24T13:00"))[0])
    assert h.volumes is not None
    assert h.volumes[i, 1] == pytest.approx(float(row["volume"]) * float(row["close"]))


def test_cmc_snapshots_keep_the_largest_market_cap_of_a_repeated_symbol() -> None:
    path = bundled_path("cmc_monthly_top200_snapshots.csv.gz")
    rows = _rows(path)
    seen: dict[tuple[str, str], list[dict[str, str]]] = {}
    for r in rows:
        seen.setdefault((r["snapshot_date"], r["symbol"].upper()), []).append(r)
    dups = {k: v for k, v in seen.items() if len(v) > 1}
    assert dups, "the shipped snapshot file repeats a symbol on one date"
    (day, sym), group = next(iter(dups.items()))
    best = max(group, key=lambda r: float(r["market_cap_usd"]))
    h, report = load_prices_with_report(path, assets=["BTC", "ETH", sym], start=day, end=day, require_complete=False)
    assert report.duplicates_dropped == sum(len(v) - 1 for v in dups.values())
    assert len(h) == 1 and h.prices[0, 2] == float(best["price_usd"])
    full = load_prices(path, assets=["BTC", "ETH"])
    assert len(full) == len({r["snapshot_date"] for r in rows}) and full.market_caps is not None


def test_wide_csv_and_parquet_load_the_same_history(tmp_path: Path) -> None:
    times = pd.date_range("2024-01-01", periods=5, freq="D")
    frame = pd.DataFrame({"date": times, "btc": [1.0, 2, 3, 4, 5], "Eth": [10.0, 11, 12, 13, 14]})
    frame.to_csv(tmp_path / "wide.csv", index=False)
    frame.set_index("date").to_parquet(tmp_path / "wide.parquet")
    a = load_prices(tmp_path / "wide.csv")
    b = load_prices(tmp_path / "wide.parquet")
    assert a.assets == b.assets == ("BTC", "ETH", "USD")
    np.testing.assert_array_equal(a.prices, b.prices)
    np.testing.assert_array_equal(a.times, times.to_numpy().astype("datetime64[ns]"))
    assert a.prices[:, 1].tolist() == [10.0, 11, 12, 13, 14]


def test_long_parquet_with_symbol_and_timestamp_columns(tmp_path: Path) -> None:
    df = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(
                ["2024-01-01T00:00Z", "2024-01-01T00:00Z", "2024-01-01T01:00Z", "2024-01-01T01:00Z"]
            ),
            "symbol": ["sol", "usdc", "sol", "usdc"],
            "close": [100.0, 1.0, 101.0, 0.99],
        }
    )
    df.to_parquet(tmp_path / "long.parquet")
    h = load_prices(tmp_path / "long.parquet", quote="usdc")
    assert h.assets == ("SOL", "USDC") and h.prices[:, 1].tolist() == [1.0, 0.99]  # file's quote prices are kept


def test_quote_in_the_file_keeps_real_depeg_prices() -> None:
    path = bundled_path("daily_prices_usd.csv.gz")
    h, report = load_prices_with_report(path, assets=["BTC"], quote="USDC", start="2023-03-10", end="2023-03-14")
    assert h.assets == ("BTC", "USDC") and report.quote_added is None
    assert h.prices[:, 1].min() < 0.97  # SVB depeg 2023-03-12, as in the file
    usd = load_prices(path, assets=["BTC"], quote="USD", start="2023-03-10", end="2023-03-14")
    assert (usd.prices[:, 1] == 1.0).all()


# --- windows, gaps and completeness ---------------------------------------------------------------


def test_daily_btc_missing_day_is_a_gap_unless_forward_filled() -> None:
    path = bundled_path("daily_prices_usd.csv.gz")
    with pytest.raises(DataError, match="2017-06-06") as e:
        load_prices(path, assets=["BTC", "ETH"], start="2017-06-01", end="2017-06-30")
    assert e.value.field == "BTC"
    h, report = load_prices_with_report(
        path, assets=["BTC", "ETH"], start="2017-06-01", end="2017-06-30", forward_fill=1
    )
    assert [(g.asset, str(g.first_missing.astype("datetime64[D]"))) for g in report.filled] == [
        ("BTC", "2017-06-06"),
        ("BTC", "2017-06-08"),
    ]
    i = int(np.flatnonzero(h.times == _day("2017-06-06"))[0])
    assert h.prices[i, 0] == h.prices[i - 1, 0] and h.prices[i, 1] != h.prices[i - 1, 1]
    assert len(h) == 30


def test_missing_btc_row_alone_is_reindexed_on_the_daily_grid() -> None:
    path = bundled_path("daily_prices_usd.csv.gz")
    h, report = load_prices_with_report(path, assets=["btc"], start="2017-06-01", end="2017-06-30", forward_fill=1)
    assert len(h) == 30 and report.grid_rows_added == 2


def test_hourly_date_only_end_includes_the_whole_day() -> None:
    h = load_prices(SPOT, assets=["ETH"], quote="USDT", start="2023-04-01", end="2023-04-02")
    assert h.times[0] == _day("2023-04-01T00:00") and h.times[-1] == _day("2023-04-02T23:00") and len(h) == 48
    h2 = load_prices(SPOT, assets=["ETH"], quote="USDT", start="2023-04-01T05:00", end="2023-04-01T07:00:00Z")
    assert len(h2) == 3


def test_late_listing_needs_a_later_start_or_require_complete_false() -> None:
    path = bundled_path("daily_prices_usd.csv.gz")
    with pytest.raises(DataError) as e:
        load_prices(path, assets=["BTC", "SOL"], start="2020-01-01", end="2020-12-31")
    assert e.value.field == "SOL" and "2020-04-11" in str(e.value) and "--start" in str(e.value)
    h, report = load_prices_with_report(
        path, assets=["BTC", "SOL"], start="2020-01-01", end="2020-12-31", require_complete=False
    )
    first = int(np.flatnonzero(~np.isnan(h.prices[:, 1]))[0])
    assert h.times[first] == _day("2020-04-11") and np.isnan(h.prices[:first, 1]).all()
    assert not np.isnan(h.prices[first:]).any() and report.late_starts == (("SOL", _day("2020-04-11")),)


def test_series_ending_before_the_window_end_is_named() -> None:
    path = bundled_path("daily_prices_usd.csv.gz")
    with pytest.raises(DataError, match="--end 2021-10-17") as e:
        load_prices(path, assets=["BTC", "LUNA"], start="2021-10-01", end="2021-12-31")
    assert e.value.field == "LUNA"
    _, report = load_prices_with_report(
        path, assets=["BTC", "LUNA"], start="2021-10-01", end="2021-12-31", require_complete=False
    )
    assert report.early_ends == (("LUNA", _day("2021-10-17")),)


def test_window_reaching_past_the_data_is_named_at_either_end() -> None:
    with pytest.raises(DataError, match="after the window start 2023-03-01") as e:
        load_prices(PERP, assets=["BTC"], quote="USDT", start="2023-03-01")
    assert e.value.field == "BTC" and "--start 2023-03-20" in str(e.value)
    with pytest.raises(DataError, match="--end 2023-04-10T23:00"):
        load_prices(PERP, assets=["BTC"], quote="USDT", end="2023-05-01")
    h, report = load_prices_with_report(
        PERP, assets=["BTC"], quote="USDT", start="2023-03-01", end="2023-05-01", require_complete=False
    )
    assert len(h) == 22 * 24 and report.late_starts and report.early_ends
    assert len(load_prices(PERP, assets=["BTC"], quote="USDT", end="2023-04-10")) == 22 * 24  # within one step


def test_whole_daily_universe_loads_for_index_strategies() -> None:
    path = bundled_path("daily_prices_usd.csv.gz")
    h, report = load_prices_with_report(
        path, start="2022-10-01", end="2023-11-30", forward_fill=4, require_complete=False
    )
    assert len(h.assets) == 45 and h.assets[-1] == "USD" and len(h) == 426
    assert dict(report.late_starts)["SUI"] == _day("2023-05-03")
    assert dict(report.early_ends)["LUNA"] == _day("2021-10-17") and np.isnan(h.prices[:, h.index_of("LUNA")]).all()
    assert any(line.startswith("PYUSD: forward-filled 4") for line in report.lines())
    assert not np.isnan(h.prices[:, h.index_of("BTC")]).any()


def test_empty_window_is_an_error_naming_the_bound_never_none() -> None:
    with pytest.raises(DataError, match="no rows after 2030-01-01; the file covers") as after:
        load_prices(SPOT, assets=["BTC"], quote="USDT", start="2030-01-01")
    with pytest.raises(DataError, match="no rows up to 2001-01-01; the file covers") as before:
        load_prices(SPOT, assets=["BTC"], quote="USDT", end="2001-01-01")
    with pytest.raises(DataError, match="2024-01-02 is after the end 2024-01-01") as backwards:
        load_prices(SPOT, assets=["BTC"], quote="USDT", start="2024-01-02", end="2024-01-01")
    assert not any("None" in str(e.value) for e in (after, before, backwards))


@pytest.mark.parametrize("bad", [{"start": "yesterday"}, {"forward_fill": -1}, {"assets": [" "]}])
def test_bad_arguments_are_config_errors(bad: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        load_prices(PERP, quote="USDT", **bad)  # type: ignore[arg-type]


# --- bad files: one line naming file, field and row or timestamp ----------------------------------

BAD_FILES = [
    # (file name, content, field, fragment of the message)
    ("nodate.csv", "asset,price\nbtc,1\n", "time", "no time column"),
    ("noprice.csv", "date,asset,volume\n2024-01-01,btc,1\n", "price", "no price column"),
    ("wide_text_time.csv", "when,btc\nmonday,1\n", "time", "no time column"),
    ("bad_time.csv", "date,asset,price\n2024-01-01,btc,1\nsoon,btc,2\n", "date", "line 3"),
    ("dup_long.csv", "date,asset,price\n2024-01-01,btc,1\n2024-01-02,btc,2\n2024-01-02,BTC,3\n", "date", "2024-01-02"),
    ("dup_wide.csv", "date,btc\n2024-01-01,1\n2024-01-01,2\n", "date", "line 3"),
    ("unsorted.csv", "date,btc\n2024-01-02,1\n2024-01-01,2\n2024-01-03,2\n", "date", "not sorted"),
    ("nan_long.csv", "date,asset,price\n2024-01-01,btc,1\n2024-01-02,btc,\n", "price", "line 3"),
    ("text_price.csv", "date,asset,price\n2024-01-01,btc,1\n2024-01-02,btc,abc\n", "price", "line 3"),
    ("zero.csv", "date,asset,price\n2024-01-01,btc,1\n2024-01-02,btc,0\n", "BTC", "2024-01-02"),
    ("negative.csv", "date,btc\n2024-01-01,1\n2024-01-02,-5\n", "BTC", "2024-01-02"),
    (
        "gap_wide.csv",
        "date,btc,eth\n2024-01-01,1,1\n2024-01-02,,1\n2024-01-03,,1\n2024-01-04,2,1\n",
        "BTC",
        "2024-01-02",
    ),
    (
        "same_coin_twice.csv",
        "snapshot_date,name,symbol,price_usd,market_cap_usd\n2024-01-01,Bitcoin,BTC,1,5\n2024-01-01,Bitcoin,BTC,1,5\n",
        "snapshot_date",
        "line 3",
    ),
    ("same_symbol.csv", "date,btc,BTC\n2024-01-01,1,1\n", "BTC", "two columns"),
    ("empty.csv", "", None, "empty"),
    ("header_only.csv", "date,asset,price\n", None, "no data rows"),
]


@pytest.mark.parametrize(("name", "content", "field", "fragment"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_file_gives_one_line_data_error(
    tmp_path: Path, name: str, content: str, field: str | None, fragment: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(DataError) as e:
        load_prices(path)
    msg = str(e.value)
    assert "\n" not in msg and str(path) in msg and fragment in msg
    assert e.value.field == field


def test_missing_assets_are_listed_with_what_the_file_has() -> None:
    with pytest.raises(DataError) as e:
        load_prices(SPOT, assets=["BTC", "doge", "ADA"], quote="USDT")
    msg = str(e.value)
    assert "DOGE, ADA not in the file" in msg and "BTC, ETH, SOL" in msg and e.value.field == "assets"


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("gone.csv", None, "file not found"),
        ("prices.xlsx", b"PK\x03\x04junk", "unsupported format"),
        ("broken.csv.gz", b"\x1f\x8b\x08\x00garbage", "unreadable file"),
        ("broken.parquet", b"not parquet at all", "unreadable file"),
    ],
)
def test_unreadable_files(tmp_path: Path, name: str, content: bytes | None, fragment: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError, match=fragment) as e:
        load_prices(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_pair_suffixes_and_separators_map_to_the_base_asset(tmp_path: Path) -> None:
    path = tmp_path / "pairs.csv"
    path.write_text("time,pair,close\n2024-01-01,ETH/USDC,3000\n2024-01-01,BNBBUSD,300\n2024-01-01,xrp-usd,0.5\n")
    h = load_prices(path)
    assert h.assets == ("BNB", "ETH", "XRP", "USD") and h.prices[0].tolist() == [300.0, 3000.0, 0.5, 1.0]


def test_raw_reader_keeps_gaps_as_nan() -> None:
    raw = read_price_file(SPOT)
    assert raw.history.assets == ("BTC", "ETH", "SOL") and raw.rows_read == 3 * 527
    assert not (raw.history.times == _day("2023-03-24T13:00")).any()


# --- property: forward filling never invents data ---------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(
    mask=st.lists(st.lists(st.booleans(), min_size=2, max_size=2), min_size=3, max_size=40),
    k=st.integers(0, 4),
    complete=st.booleans(),
)
def test_forward_fill_only_copies_the_previous_close(mask: list[list[bool]], k: int, complete: bool) -> None:
    n = len(mask)
    prices = np.arange(1.0, 2 * n + 1).reshape(n, 2)
    prices[np.array(mask)] = np.nan
    raw = RawPrices(
        PriceHistory(times=np.arange(n).astype("datetime64[D]"), assets=("A", "B"), prices=prices, source="mem"),
        rows_read=n,
    )
    try:
        h, report = check_history(raw, assets=["a", "b"], forward_fill=k, require_complete=complete)
    except DataError as e:
        assert e.field in {"A", "B", "assets"} and e.source == "mem"
        return
    assert h.assets == ("A", "B", "USD") and all(1 <= g.rows <= k for g in report.filled)
    if complete:
        assert not np.isnan(h.prices).any()
    rows = h.times.astype("datetime64[D]").astype(np.int64)
    for out_i, r in enumerate(rows):
        for j in range(2):
            got, orig = h.prices[out_i, j], prices[r, j]
            if not np.isnan(orig):
                assert got == orig
            elif not np.isnan(got):
                before = prices[:r, j][~np.isnan(prices[:r, j])]
                assert got == before[-1]  # the previous close, never a later one
