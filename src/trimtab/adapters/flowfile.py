"""A file of external cash flows for a backtest: CSV with `date,amount` (amount in the strategy's quote asset,
positive for a deposit, negative for a withdrawal). Bad rows get one line naming the file, line and column."""

from __future__ import annotations

import csv
import math
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from trimtab.errors import DataError

COLUMNS = ("date", "amount")


def _date(raw: str, line: int, src: str) -> datetime:
    try:
        d = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise DataError(f"line {line}: date: not a date {raw!r} (YYYY-MM-DD)", source=src) from None
    return d.replace(tzinfo=UTC) if d.tzinfo is None else d.astimezone(UTC)


def _amount(raw: str, line: int, src: str) -> Decimal:
    try:
        x = Decimal(raw.strip())
    except InvalidOperation:
        raise DataError(f"line {line}: amount: not a number {raw!r}", source=src) from None
    if not x.is_finite() or not math.isfinite(float(x)):
        raise DataError(f"line {line}: amount: must be a finite number, got {raw}", source=src)
    if x == 0:
        raise DataError(f"line {line}: amount: a flow of 0 is not a flow", source=src)
    return x


def load_flows(path: str | Path) -> list[tuple[datetime, Decimal]]:
    """Flows sorted by date (several on one date add up); DataError on any bad row, nothing half-read."""
    src = str(path)
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise DataError(f"cannot read: {e.strerror}", source=src) from None
    rows = csv.DictReader(text.splitlines())
    names = [c.strip().lower() for c in rows.fieldnames or []]
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise DataError(f"missing column {missing[0]} (needs {', '.join(COLUMNS)})", source=src)
    rows.fieldnames = names
    total: dict[datetime, Decimal] = {}
    for line, row in enumerate(rows, start=2):
        when = _date(row.get("date") or "", line, src)
        total[when] = total.get(when, Decimal(0)) + _amount(row.get("amount") or "", line, src)
    if not total:
        raise DataError("no flows in the file", source=src)
    return sorted(total.items())
