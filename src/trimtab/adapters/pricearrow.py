"""Arrow reader for plain wide price files: multi-threaded CSV parsing and Parquet without pandas.

It only takes files it can type cleanly (unique non-empty headers, a first column of timestamps or dates
without gaps, every other column numeric) and returns None for anything else, so the pandas reader, with
its checks and messages, handles every unusual file exactly as before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

# pandas' default NA strings (pandas._libs.parsers.STR_NA_VALUES): the same cells become NaN on both paths
PANDAS_NA = (
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "<NA>",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "None",
    "n/a",
    "nan",
    "null",
)
_NUMERIC = {
    "double": "f8",
    "float": "f4",
    "int64": "i8",
    "int32": "i4",
    "int16": "i2",
    "int8": "i1",
    "uint64": "u8",
    "uint32": "u4",
    "uint16": "u2",
    "uint8": "u1",
}  # Arrow type -> buffer dtype
WideColumns = tuple[Any, np.ndarray, list[Any], Callable[[Any], np.ndarray], int]


def read_wide_arrow(p: Path, long_markers: Sequence[str]) -> WideColumns | None:
    """(time column, UTC datetime64[ns] times, price columns, column -> float64 values, rows) or None.

    None also when the file has a column named like `long_markers` (a long file: the pandas reader's job).
    """
    name = p.name.lower()
    if not p.is_file():
        return None
    import pyarrow as pa

    try:
        if name.endswith((".parquet", ".pq")):
            import pyarrow.parquet as pq

            pf = pq.ParquetFile(p)  # not read_table: its dataset layer imports pandas
            meta = pf.schema_arrow.pandas_metadata or {}
            if any(not isinstance(c, dict) for c in meta.get("index_columns", [])):
                return None  # a stored pandas index: pandas puts it first, leave the file to pandas
            table = pf.read(use_threads=True)
        elif name.endswith((".csv", ".csv.gz", ".gz")):
            import pyarrow.csv as pacsv

            opts = pacsv.ConvertOptions(
                null_values=list(PANDAS_NA), strings_can_be_null=False, quoted_strings_can_be_null=True
            )
            table = pacsv.read_csv(p, convert_options=opts)
        else:
            return None
    except (pa.ArrowException, OSError, ValueError):
        return None
    names = list(table.column_names)
    lowered = [str(c).strip().lower() for c in names]
    if (
        table.num_rows == 0
        or len(names) < 2
        or len(set(names)) != len(names)
        or "" in lowered
        or any(m in lowered for m in long_markers)
    ):
        return None
    times = _times(table.column(0), pa)
    if times is None:
        return None
    cols = {c: table.column(c) for c in names[1:]}
    if not all(str(a.type) in _NUMERIC or pa.types.is_null(a.type) for a in cols.values()):
        return None

    def numbers(c: Any) -> np.ndarray:
        a = cols[c]
        if pa.types.is_null(a.type):
            return np.full(len(a), np.nan)
        return _values(a, np.dtype(_NUMERIC[str(a.type)]), nulls=np.nan)

    return names[0], times, names[1:], numbers, table.num_rows


def _values(col: Any, dtype: np.dtype, nulls: float | None) -> np.ndarray:
    """float64 values of a fixed-width column straight from its Arrow buffers, nulls as `nulls`.

    (Array.to_numpy imports pandas for some types: 0.5 s this reader exists to avoid.)
    """
    parts = []
    for ch in col.chunks:
        validity, data = ch.buffers()[:2]
        v = np.frombuffer(data, dtype=dtype, count=ch.offset + len(ch))[ch.offset :]
        v = v.astype(np.float64, copy=bool(ch.null_count))  # a view of Arrow's buffer unless NaN must go in
        if ch.null_count:
            bits = np.unpackbits(np.frombuffer(validity, np.uint8), bitorder="little")
            v[~bits[ch.offset : ch.offset + len(ch)].astype(bool)] = nulls
        parts.append(v)
    return np.concatenate(parts) if parts else np.empty(0)


def _times(col: Any, pa: Any) -> np.ndarray | None:
    """UTC datetime64[ns] of a timestamp (naive = UTC) or date column without nulls; None for anything else."""
    if col.null_count:
        return None
    raw: np.dtype[Any]
    if pa.types.is_timestamp(col.type):  # UTC values, tz or not
        unit, raw = col.type.unit, np.dtype(np.int64)
    elif pa.types.is_date32(col.type):
        unit, raw = "D", np.dtype(np.int32)
    else:
        return None
    ints = (
        np.concatenate(
            [np.frombuffer(c.buffers()[1], dtype=raw, count=c.offset + len(c))[c.offset :] for c in col.chunks]
        )
        if col.num_chunks
        else np.empty(0, np.int64)
    )
    return ints.astype(f"datetime64[{unit}]").astype("datetime64[ns]")
