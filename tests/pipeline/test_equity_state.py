"""Drawdown protection's equity path and a model's period weights are stored: a fresh process per day (a one-shot
`execute`, or a restarted service) on a SQLite file sees the same state, and so the same targets, as one in-memory
backtest run (without the stored period weights it re-estimated mid-period and differed on 2022-04-24)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np

from trimtab.adapters.bundled import bundled_daily
from trimtab.adapters.paper import PaperVenue
from trimtab.adapters.storage import SqlLedgerStore
from trimtab.adapters.storage.price_store import EquityMarks
from trimtab.backtest.ledger import RunningLedger
from trimtab.config import load_strategy
from trimtab.core.base.ledger import deposit_entries
from trimtab.core.base.portfolio import PortfolioState
from trimtab.core.base.snapshot import MarketSnapshot
from trimtab.core.strategy import Schedule
from trimtab.pipeline import Pipeline

STRATEGY = """
name: protected
quote: USDC
targets: {BTC: 0.6, USDC: 0.4}
allocation: {model: static, overlays: [{overlay: drawdown_protection, limit: 0.1, cut_fraction: 0.5}]}
trigger: {kind: threshold, band: 0.02}
"""


def _targets(tmp_path: Path, *, fresh_each_day: bool) -> list[float]:
    spec = tmp_path / "s.yaml"
    spec.write_text(STRATEGY)
    history = bundled_daily(["BTC", "USDC"], start="2022-03-01", end="2022-07-31")
    ledger = (
        SqlLedgerStore(str(tmp_path / ("fresh.sqlite" if fresh_each_day else "mem.sqlite")))
        if fresh_each_day
        else RunningLedger()
    )
    first = datetime.fromtimestamp(int(history.times[0].astype("datetime64[s]").astype(np.int64)), UTC)
    ledger.append(deposit_entries({"USDC": Decimal("10000")}, account="a", time=first, ref="open"))
    strategy = load_strategy(spec)
    schedule = Schedule()
    out = []
    for i in range(len(history)):
        now = datetime.fromtimestamp(int(history.times[i].astype("datetime64[s]").astype(np.int64)), UTC)
        snap = MarketSnapshot.from_history(history, i, now, "USDC")
        if fresh_each_day:  # a new process: a new strategy object, the marks from the database
            strategy = load_strategy(spec)
            marks = EquityMarks(ledger.engine)  # type: ignore[union-attr]
        venue = PaperVenue(ledger.balances("a"), strategy.costs, snap.prices)
        pipeline = Pipeline(strategy, venue, equity=marks if fresh_each_day else None, equity_key="a")
        result = pipeline.run_cycle(snap, ledger, account="a", schedule=schedule, initial=(i == 0))
        schedule = schedule.advance(now)
        out.append(result.decision.targets["BTC"])
    return out


def test_stored_equity_gives_the_same_protection_as_one_backtest_run(tmp_path: Path) -> None:
    in_memory = _targets(tmp_path, fresh_each_day=False)
    restarted = _targets(tmp_path, fresh_each_day=True)
    assert min(in_memory) < 0.6 * 0.75, "the 2022 fall must trip the protection, or this test checks nothing"
    np.testing.assert_allclose(restarted, in_memory, rtol=1e-9)
    marks = EquityMarks(SqlLedgerStore(str(tmp_path / "fresh.sqlite")).engine).path("a")
    assert len(marks) == len(in_memory)


def test_without_stored_marks_a_fresh_process_forgets_the_drawdown(tmp_path: Path) -> None:
    """The failure the store prevents: a new strategy object per day starts with no equity path."""
    spec = tmp_path / "s.yaml"
    spec.write_text(STRATEGY)
    strategy = load_strategy(spec)
    history = bundled_daily(["BTC", "USDC"], start="2022-03-01", end="2022-07-31")
    now = datetime(2022, 7, 31, tzinfo=UTC)
    snap = MarketSnapshot.from_history(history, len(history) - 1, now, "USDC")
    state = PortfolioState.of({"BTC": Decimal("0.1")}, snap.prices, "USDC")
    assert strategy.target_weights(snap, state)["BTC"] == 0.6  # inactive: "no equity path yet"
