"""Durations (`30s`, `1d`, `720h`, `2w`, calendar months `1M`) and anchored schedules t0 + k * every."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PATTERN = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w|M|y)\s*$")


@dataclass(frozen=True, slots=True)
class Every:
    """A period: a fixed number of seconds, or a number of calendar months (`1M`, `3M`, `1y`)."""

    seconds: int = 0
    months: int = 0
    text: str = ""

    def after(self, anchor: datetime, k: int) -> datetime:
        """The k-th due time after `anchor`; months keep the day of month, clamped to the month end."""
        if self.months:
            total = anchor.month - 1 + k * self.months
            year, month = anchor.year + total // 12, total % 12 + 1
            day = min(anchor.day, calendar.monthrange(year, month)[1])
            return anchor.replace(year=year, month=month, day=day)
        return anchor + timedelta(seconds=self.seconds * k)

    def approx_seconds(self) -> float:
        return self.seconds if not self.months else self.months * 30.436875 * 86400

    def due_between(self, anchor: datetime, previous: datetime, now: datetime) -> bool:
        """True when some due time anchor + k*every (k >= 1) lies in (previous, now]."""
        if now <= anchor:
            return False
        k = max(1, int((previous - anchor).total_seconds() // self.approx_seconds()) - 1)
        while (t := self.after(anchor, k)) <= previous:
            k += 1
        return t <= now


def parse_every(text: str) -> Every:
    """Parse `30s`, `90m`, `12h`, `1d`, `30d`, `720h`, `1w`, `2w`, `1M`, `3M`, `1y`; ValueError otherwise."""
    m = _PATTERN.match(str(text))
    if not m or int(m.group(1)) <= 0:
        raise ValueError(f"invalid duration {text!r}: use a positive number and a unit s, m, h, d, w, M (months) or y")
    n, unit = int(m.group(1)), m.group(2)
    if unit == "M":
        return Every(months=n, text=str(text).strip())
    if unit == "y":
        return Every(months=12 * n, text=str(text).strip())
    return Every(seconds=n * _UNITS[unit], text=str(text).strip())
