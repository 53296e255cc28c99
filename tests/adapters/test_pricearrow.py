"""The Arrow reader of wide price files gives exactly what the pandas reader gives, or declines the file."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from trimtab.adapters import pricefile
from trimtab.adapters.pricearrow import read_wide_arrow
from trimtab.adapters.pricesmall import read_small_csv
from trimtab.errors import DataError

WIDE = {
    "dates": "date,BTC,eth\n2024-01-01,100,10.5\n2024-01-02,101.5,\n2024-01-03,NA,11\n",
    "utc_z": "timestamp,BTC,ETH\n2024-01-01T00:00:00Z,1,2\n2024-01-01T01:00:00Z,1.5,2.5\n",
    "offsets": "time,BTC\n2024-01-01 02:00:00+02:00,1\n2024-01-01 03:00:00+02:00,2\n",
    "naive_ms": "time,BTC\n2024-01-01 00:00:00.250,1\n2024-01-01 00:00:01.250,2\n",
    "empty_column": "date,BTC,ETH\n2024-01-01,1,\n2024-01-02,2,\n",
    "na_strings": "date,BTC\n2024-01-01,null\n2024-01-02,NaN\n2024-01-03,3\n",
}


def _pandas(path: Path) -> pricefile.RawPrices:
    return pricefile._wide(pricefile._read_frame(path), str(path), path)


def _same(a: pricefile.RawPrices, b: pricefile.RawPrices) -> None:
    assert a.history.assets == b.history.assets and a.rows_read == b.rows_read
    np.testing.assert_array_equal(a.history.times, b.history.times)
    np.testing.assert_array_equal(a.history.prices, b.history.prices)


@pytest.mark.parametrize("name", sorted(WIDE))
@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".parquet"])
def test_arrow_reads_wide_files_exactly_like_pandas(tmp_path: Path, name: str, suffix: str) -> None:
    text = WIDE[name]
    path = tmp_path / f"p{suffix}"
    if suffix == ".csv":
        path.write_text(text)
    elif suffix == ".csv.gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        import pandas as pd

        (tmp_path / "src.csv").write_text(text)
        df = pd.read_csv(tmp_path / "src.csv")
        df[df.columns[0]] = pd.to_datetime(df[df.columns[0]], utc=True, format="ISO8601")
        df.to_parquet(path, index=False)
    assert read_wide_arrow(path, pricefile.ASSET_COLUMNS) is not None, "the plain file took the Arrow path"
    small = read_small_csv(path, pricefile.ASSET_COLUMNS)
    assert (small is not None) == (suffix == ".csv" and name not in ("utc_z", "offsets")), (
        "small reader: plain CSVs only"
    )
    _same(pricefile.read_price_file(path), _pandas(path))
    if small is not None:  # and the Arrow reader alone gives the same
        _same(pricefile._wide_checked(str(path), path, *read_wide_arrow(path, pricefile.ASSET_COLUMNS)), _pandas(path))  # type: ignore[misc]


@pytest.mark.parametrize(
    "text",
    [
        "date,BTC\n2024-01-01,1\n2024-01-02,abc\n",  # not a number
        "date,BTC,BTC\n2024-01-01,1,2\n",  # duplicate header (pandas renames it)
        "date,,ETH\n2024-01-01,1,2\n",  # empty header
        "date,BTC\n2024-01-01,1\nnot a date,2\n",  # bad timestamp
        "date,asset,price\n2024-01-01,BTC,1\n",  # long layout
        "date,BTC\n",  # no rows
        "date,BTC\n2024-01-01,1,2\n",  # ragged
        "date,BTC\n2024-01-01,1_000\n",  # Python's float() would take it, pandas would not
    ],
)
def test_arrow_declines_anything_unusual_and_pandas_keeps_its_messages(tmp_path: Path, text: str) -> None:
    path = tmp_path / "p.csv"
    path.write_text(text)
    assert read_wide_arrow(path, pricefile.ASSET_COLUMNS) is None
    assert read_small_csv(path, pricefile.ASSET_COLUMNS) is None
    try:
        expected: object = (
            pricefile._wide(pricefile._read_frame(path), str(path), path) if "asset" not in text else None
        )
    except DataError as e:
        expected = str(e)
    if isinstance(expected, str):
        with pytest.raises(DataError) as err:
            pricefile.read_price_file(path)
        assert str(err.value) == expected


def test_checks_after_parsing_are_shared(tmp_path: Path) -> None:
    """Unsorted rows in a file Arrow reads: the same message as the pandas path."""
    path = tmp_path / "p.csv"
    path.write_text("date,BTC\n2024-01-02,1\n2024-01-01,2\n")
    assert read_wide_arrow(path, pricefile.ASSET_COLUMNS) is not None
    with pytest.raises(DataError) as fast:
        pricefile.read_price_file(path)
    with pytest.raises(DataError) as slow:
        _pandas(path)
    assert str(fast.value) == str(slow.value) and "not sorted" in str(fast.value)


def test_plain_files_are_read_without_importing_pandas(tmp_path: Path) -> None:
    import subprocess
    import sys

    import pandas as pd

    (tmp_path / "p.csv").write_text(WIDE["dates"])
    pd.read_csv(tmp_path / "p.csv", parse_dates=["date"]).to_parquet(tmp_path / "p.parquet", index=False)
    code = (
        "import sys; from trimtab.adapters.pricefile import read_price_file; "
        f"[read_price_file(f) for f in ({str(tmp_path / 'p.csv')!r}, {str(tmp_path / 'p.parquet')!r})]; "
        "print(sorted(m for m in ('pandas', 'pyarrow.dataset') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "text",
    [
        "date,BTC\n2024-01-01,1\n2024-01-02T00:00:00,2\n",  # two time formats in one column
        "date,BTC\n2024-02-30,1\n",  # not a date
        "date,BTC\n2024-01-01, 1\n",  # padded number
        "date,BTC\n2024-01-01,inf\n",
        "\ufeffdate,BTC\n2024-01-01,1\n",  # byte-order mark
    ],
)
def test_the_small_reader_leaves_anything_ambiguous_to_the_others(tmp_path: Path, text: str) -> None:
    path = tmp_path / "p.csv"
    path.write_text(text, encoding="utf-8")
    assert read_small_csv(path, pricefile.ASSET_COLUMNS) is None
