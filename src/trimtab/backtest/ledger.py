"""An in-memory ledger that keeps running balances, so a long replay reads balances in O(assets)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from trimtab.core.base.ledger import LedgerEntry
from trimtab.core.base.types import ZERO


class RunningLedger:
    """LedgerStore for backtests: append-only entries plus per-account running totals (exact Decimal)."""

    def __init__(self) -> None:
        self._entries: list[LedgerEntry] = []
        self._balances: dict[str, dict[str, Decimal]] = {}

    def append(self, entries: Sequence[LedgerEntry]) -> None:
        staged = {acct: dict(b) for acct, b in self._balances.items()}
        for e in entries:
            book = staged.setdefault(e.account, {})
            book[e.asset] = book.get(e.asset, ZERO) + e.amount
        self._balances = staged
        self._entries.extend(entries)

    def entries(self, account: str | None = None) -> list[LedgerEntry]:
        return [e for e in self._entries if account is None or e.account == account]

    def balances(self, account: str) -> dict[str, Decimal]:
        return dict(self._balances.get(account, {}))
