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
PANDAS_NA = ("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>",
             "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null")
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

            meta = pq.read_schema(p).pandas_metadata or {}
            if any(not isinstance(c, dict) for c in meta.get("index_columns", [])):
                return None  # a stored pandas index: pandas puts it first, leave the file to pandas
            table = pq.read_table(p)
        elif name.endswith((".csv", ".csv.gz", ".gz")):
            import pyarrow.csv as pacsv

            opts = pacsv.ConvertOptions(null_values=list(PANDAS_NA), strings_can_be_null=False,
                                        quoted_strings_can_be_null=True)
            table = pacsv.read_csv(p, convert_options=opts)
        else:
            return None
    except (pa.ArrowException, OSError, ValueError):
        return None
    names = list(table.column_names)
    lowered = [str(c).strip().lower() for c in names]
    if (table.num_rows == 0 or len(names) < 2 or len(set(names)) != len(names) or "" in lowered
            or any(m in lowered for m in long_markers)):
        return None
    times = _times(table.column(0), pa)
    if times is None:
        return None
    cols = {c: table.column(c) for c in names[1:]}
    if not all(pa.types.is_integer(a.type) or pa.types.is_floating(a.type) or pa.types.is_null(a.type)
               for a in cols.values()):
        return None

    def numbers(c: Any) -> np.ndarray:
        a = cols[c]
        if pa.types.is_null(a.type):
            return np.full(len(a), np.nan)
        out: np.ndarray = a.to_numpy()  # integers with nulls come back as float64 with NaN
        return out.astype(np.float64, copy=False)

    return names[0], times, names[1:], numbers, table.num_rows


def _times(col: Any, pa: Any) -> np.ndarray | None:
    """UTC datetime64[ns] of a timestamp (naive = UTC) or date column without nulls; None for anything else."""
    if col.null_count:
        return None
    if pa.types.is_timestamp(col.type) or pa.types.is_date32(col.type):
        return col.to_numpy().astype("datetime64[ns]")  # type: ignore[no-any-return]  # UTC values, tz or not
    return None
