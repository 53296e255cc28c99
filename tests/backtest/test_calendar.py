"""calendar_due: due steps on daily, hourly and monthly indexes, with gaps; parse_duration errors."""

from __future__ import annotations

import calendar as cal
from datetime import datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trimtab.backtest.calendar import calendar_due, parse_duration


def _times(*stamps: str) -> np.ndarray:
    return np.array(stamps, dtype="datetime64[ns]")


def _due_steps(times: np.ndarray, every: str) -> list[int]:
    return np.flatnonzero(calendar_due(times, every)).tolist()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1d", ("seconds", 86400)),
        ("30d", ("seconds", 30 * 86400)),
        ("720h", ("seconds", 720 * 3600)),
        ("1w", ("seconds", 7 * 86400)),
        ("2w", ("seconds", 14 * 86400)),
        ("12h", ("seconds", 12 * 3600)),
        ("90m", ("seconds", 90 * 60)),
        ("1M", ("months", 1)),
        ("3M", ("months", 3)),
    ],
)
def test_parse_duration_accepts_the_documented_units(text: str, expected: tuple[str, int]) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "d", "0d", "-1d", "1x", "1.5d", "one day", "1 dd"])
def test_parse_duration_rejects_bad_input_naming_it(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


def test_daily_index_every_two_days_with_a_gap_fires_once_for_several_due_times() -> None:
    days = np.datetime64("2024-01-01", "D") + np.array([0, 1, 2, 3, 4, 9, 10, 11, 12])
    times = days.astype("datetime64[ns]")
    # due days: 2, 4, 6, 8, 10, 12 -> steps at day 2, day 4, day 9 (covers 6 and 8), day 10, day 12
    assert _due_steps(times, "2d") == [2, 4, 5, 6, 8]


def test_step_zero_is_never_marked_and_one_step_is_fine() -> None:
    assert calendar_due(_times("2024-01-01"), "1d").tolist() == [False]
    assert calendar_due(np.array([], dtype="datetime64[ns]"), "1d").tolist() == []


def test_hourly_index_every_twelve_hours_and_ninety_minutes() -> None:
    times = (np.datetime64("2024-03-01T05:00") + np.arange(48) * np.timedelta64(1, "h")).astype("datetime64[ns]")
    assert _due_steps(times, "12h") == [12, 24, 36]
    # 90 min anchored at 05:00: due 06:30, 08:00, 09:30, ... -> first hourly step at or after each
    steps = _due_steps(times, "90m")
    assert steps[:4] == [2, 3, 5, 6]
    assert len(steps) == 31  # due times 1..31 up to 05:00 + 47h = 52:00 (31 * 1.5h = 46.5h)


def test_monthly_keeps_day_of_month_clamped_to_month_end() -> None:
    days = np.arange(np.datetime64("2024-01-31"), np.datetime64("2024-06-02"))
    times = (days + np.timedelta64(8, "h")).astype("datetime64[ns]")
    due_days = [str(d) for d in days[calendar_due(times, "1M")]]
    assert due_days == ["2024-02-29", "2024-03-31", "2024-04-30", "2024-05-31"]
    assert [str(d) for d in days[calendar_due(times, "3M")]] == ["2024-04-30"]


def test_monthly_due_time_respects_time_of_day() -> None:
    times = _times("2024-01-15T12:00", "2024-02-15T11:00", "2024-02-15T12:00", "2024-03-15T13:00")
    assert calendar_due(times, "1M").tolist() == [False, False, True, True]


def test_monthly_gap_over_several_due_months_fires_once() -> None:
    times = _times("2023-01-10", "2023-01-20", "2023-06-01", "2023-06-10", "2023-06-11")
    assert calendar_due(times, "1M").tolist() == [False, False, True, True, False]


def test_unsorted_times_are_rejected() -> None:
    with pytest.raises(ValueError, match="increasing"):
        calendar_due(_times("2024-01-02", "2024-01-01"), "1d")


def _add_months(t: datetime, k: int) -> datetime:
    total = t.month - 1 + k
    year, month = t.year + total // 12, total % 12 + 1
    return t.replace(year=year, month=month, day=min(t.day, cal.monthrange(year, month)[1]))


def _brute_force(times: list[datetime], amount: int, unit: str) -> list[bool]:
    """Walk due times t0 + k * every one by one; a step is due when some due time lies in (previous, now]."""
    out = [False]
    k = 1
    for prev, now in zip(times, times[1:], strict=False):
        fired = False
        while True:
            due = (
                _add_months(times[0], k * amount)
                if unit == "M"
                else times[0] + k * timedelta(seconds=amount * {"m": 60, "h": 3600, "d": 86400, "w": 604800}[unit])
            )
            if due > now:
                break
            fired = fired or due > prev
            k += 1
        out.append(fired)
    return out


@settings(max_examples=150, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2019, 1, 1), max_value=datetime(2025, 1, 1)),
    gaps=st.lists(st.sampled_from([60, 1800, 3600, 86400, 3 * 86400, 40 * 86400]), min_size=0, max_size=80),
    amount=st.integers(1, 4),
    unit=st.sampled_from(["m", "h", "d", "w", "M"]),
)
def test_matches_a_brute_force_walk_over_due_times(start: datetime, gaps: list[int], amount: int, unit: str) -> None:
    start = start.replace(microsecond=0)
    times = [start]
    for g in gaps:
        times.append(times[-1] + timedelta(seconds=g))
    arr = np.array(times, dtype="datetime64[ns]")
    assert calendar_due(arr, f"{amount}{unit}").tolist() == _brute_force(times, amount, unit)
