"""Drawdown protection state that survives restarts: the equity path lives in `equity_marks`, not in memory."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from trimtab.adapters.storage.price_store import EquityMarks


@dataclass
class DrawdownState:
    """Peak and drawdown of one portfolio's equity; a new process on the same database sees the same peak."""

    marks: EquityMarks
    key: str
    _peak: Decimal | None = field(default=None, init=False, repr=False)
    _loaded: bool = field(default=False, init=False, repr=False)

    @property
    def peak(self) -> Decimal | None:
        if not self._loaded:
            self._peak, self._loaded = self.marks.peak(self.key), True
        return self._peak

    def update(self, time: datetime, value: Decimal) -> Decimal:
        """Record the equity at `time` and return the drawdown from the peak so far (0 at a new high)."""
        peak = self.peak
        self.marks.record(self.key, time, value)
        self._peak = value if peak is None or value > peak else peak
        return self.drawdown(value)

    def drawdown(self, value: Decimal) -> Decimal:
        """1 - value / peak (0 with no peak yet or a zero peak)."""
        peak = self.peak
        if peak is None or peak <= 0 or value >= peak:
            return Decimal(0)
        return 1 - value / peak
