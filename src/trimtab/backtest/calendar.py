"""Calendar schedule over a price index: which steps are the first at or after each due time t0 + k * every.

Vectorised counterpart of `core.base.schedule.Every.due_between` for the fast path; durations are parsed by
`core.base.schedule.parse_every`, so the config, the step path and this module accept the same strings.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from trimtab.core.base.schedule import parse_every

BoolArray = npt.NDArray[np.bool_]
DurationKind = Literal["seconds", "months"]

_NS = np.int64(1_000_000_000)
_DAY = np.timedelta64(1, "D")


def parse_duration(text: str) -> tuple[DurationKind, int]:
    """`1d` -> ("seconds", 86400), `90m` -> ("seconds", 5400), `3M` -> ("months", 3); ValueError on bad input."""
    every = parse_every(text)
    if every.months:
        return "months", every.months
    return "seconds", every.seconds


def _due_counts_fixed(times: npt.NDArray[np.datetime64], seconds: int) -> npt.NDArray[np.int64]:
    """Number of due times t0 + k * every (k >= 1) at or before each time."""
    elapsed = (times - times[0]).astype(np.int64)
    counts: npt.NDArray[np.int64] = elapsed // (np.int64(seconds) * _NS)
    return counts


def _due_counts_months(times: npt.NDArray[np.datetime64], months: int) -> npt.NDArray[np.int64]:
    """Due counts for calendar months: same day of month and time of day as t0, clamped to the month end."""
    t0 = times[0]
    month0 = t0.astype("datetime64[M]")
    day0 = (t0.astype("datetime64[D]") - month0.astype("datetime64[D]")).astype(np.int64)  # 0-based day
    time_of_day = t0 - t0.astype("datetime64[D]").astype("datetime64[ns]")
    m = (times.astype("datetime64[M]") - month0).astype(np.int64)  # calendar months since t0's month
    start = (month0 + m).astype("datetime64[D]")
    days_in_month = ((month0 + m + 1).astype("datetime64[D]") - start) // _DAY
    due = (start + np.minimum(day0, days_in_month - 1) * _DAY).astype("datetime64[ns]") + time_of_day
    passed = np.where(due <= times, m, m - 1)  # calendar months whose due time has passed
    counts: npt.NDArray[np.int64] = passed // months
    return counts


def calendar_due(times: npt.NDArray[np.datetime64], every: str) -> BoolArray:
    """One flag per step: True at the first step at or after a due time t0 + k * every (k >= 1).

    t0 = times[0]; several due times inside one data gap fire once; step 0 is never marked (it always rebalances).
    """
    t = np.asarray(times).astype("datetime64[ns]")
    if t.ndim != 1:
        raise ValueError(f"times must be 1-D, got shape {t.shape}")
    kind, amount = parse_duration(every)
    if len(t) == 0:
        return np.zeros(0, dtype=np.bool_)
    if len(t) > 1 and not bool(np.all(t[1:] > t[:-1])):
        raise ValueError("times must be strictly increasing")
    counts = _due_counts_months(t, amount) if kind == "months" else _due_counts_fixed(t, amount)
    due = np.zeros(len(t), dtype=np.bool_)
    due[1:] = counts[1:] > counts[:-1]
    return due
