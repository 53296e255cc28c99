"""The price store and equity marks on SQLite and PostgreSQL: idempotent appends, point-in-time daily history."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from trimtab.adapters.storage import SqlLedgerStore
from trimtab.adapters.storage.price_store import Bar, EquityMarks, PriceStore, daily_grid
from trimtab.errors import LedgerError
from trimtab.service.protection import DrawdownState

D0 = datetime(2024, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.slow])])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return str(tmp_path / "p.db") if request.param == "sqlite" else str(request.getfixturevalue("pg_url"))


@pytest.fixture
def ledger(url: str) -> Any:
    store = SqlLedgerStore(url)
    yield store
    store.close()


def daily(asset: str, closes: list[str], start: datetime = D0, source: str = "venue") -> list[Bar]:
    return [Bar(asset, start + DAY * i, Decimal(c), Decimal("1000.5"), source) for i, c in enumerate(closes)]


def test_append_is_idempotent_and_exact(ledger: SqlLedgerStore) -> None:
    prices = PriceStore(ledger.engine)
    assert prices.append("USDT", daily("BTC", ["42000.123456789012345678", "43000", "44000"])) == 3
    assert prices.append("USDT", daily("BTC", ["1", "2", "3", "45000"])) == 1  # only the new day is added
    assert prices.count("BTC", "USDT") == 4 and prices.count() == 4
    first = prices.bars("BTC", "USDT", D0, D0)[0]
    assert first.close == Decimal("42000.123456789012345678") and first.time == D0  # unchanged, exact, aware
    latest = prices.latest("BTC", "USDT")
    assert latest is not None and latest.close == Decimal(45000) and latest.time == D0 + 3 * DAY
    assert prices.latest("ETH", "USDT") is None and prices.latest("BTC", "USDC") is None
    with pytest.raises(LedgerError, match="BTC"):
        prices.append("USDT", [Bar("BTC", D0 + 9 * DAY, Decimal(0))])


def test_history_is_point_in_time_on_a_daily_grid(ledger: SqlLedgerStore) -> None:
    prices = PriceStore(ledger.engine)
    prices.append("USDT", daily("BTC", [str(100 + i) for i in range(10)]))
    prices.append("USDT", daily("ETH", ["10", "11", "12"], start=D0 + 5 * DAY))
    tick = D0 + 9 * DAY + timedelta(hours=13)
    prices.append("USDT", [Bar("BTC", tick, Decimal("120.5"), source="ticker")])
    h = prices.history(["BTC", "ETH", "USDT"], "USDT", until=D0 + 7 * DAY + timedelta(hours=5), rows=5)
    assert h.assets == ("BTC", "ETH", "USDT") and len(h) == 5
    assert h.times[-1] == np.datetime64("2024-01-08T00:00", "ns") and h.step_seconds() == 86_400
    assert list(h.prices[:, 0]) == [103.0, 104.0, 105.0, 106.0, 107.0]  # nothing after `until`
    assert math.isnan(h.prices[0, 1]) and list(h.prices[2:, 1]) == [10.0, 11.0, 12.0]  # ETH not listed yet: a gap
    assert list(h.prices[:, 2]) == [1.0] * 5 and h.volumes is not None and h.volumes[-1, 0] == 1000.5
    # a grid day takes the last bar at or before it; the intraday ticker shows up from the next day on
    later = prices.history(["BTC"], "USDT", until=tick + DAY, since=D0 + 8 * DAY)
    assert list(later.prices[:, 0]) == [108.0, 109.0, 120.5]
    stale = prices.history(["ETH"], "USDT", until=D0 + 12 * DAY, rows=4)  # ETH's last bar is day 7: too old
    assert math.isnan(stale.prices[-1, 0]) and stale.prices[0, 0] != stale.prices[0, 0]


def test_daily_grid_bounds() -> None:
    assert daily_grid(D0 + timedelta(hours=3), rows=2) == [D0 - DAY, D0]
    assert daily_grid(D0 + 2 * DAY, since=D0 + timedelta(hours=1)) == [D0 + DAY, D0 + 2 * DAY]
    with pytest.raises(ValueError):
        daily_grid(D0, rows=0)


def test_equity_marks_and_drawdown_state_survive_a_restart(url: str) -> None:
    first = SqlLedgerStore(url)
    state = DrawdownState(EquityMarks(first.engine), "alpha")
    assert state.peak is None and state.update(D0, Decimal(100)) == 0
    assert state.update(D0 + DAY, Decimal(120)) == 0
    assert state.update(D0 + 2 * DAY, Decimal(90)) == Decimal("0.25")
    assert EquityMarks(first.engine).record("alpha", D0 + 2 * DAY, Decimal(1)) is False  # same time: kept once
    first.close()
    again = SqlLedgerStore(url)  # a new process: a new engine and store object on the same database
    marks = EquityMarks(again.engine)
    restarted = DrawdownState(marks, "alpha")
    assert restarted.peak == Decimal(120) and restarted.drawdown(Decimal(96)) == Decimal("0.2")
    assert [v for _, v in marks.path("alpha")] == [Decimal(100), Decimal(120), Decimal(90)]
    assert DrawdownState(marks, "beta").peak is None
    again.close()
