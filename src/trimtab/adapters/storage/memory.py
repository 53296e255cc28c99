"""LedgerStore in memory (backtests, tests): the same validation, atomicity and journal as SqlLedgerStore."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from trimtab.adapters.storage import records as rec
from trimtab.core.base.ledger import LedgerEntry, deposit_entries
from trimtab.errors import LedgerError


class InMemoryLedgerStore:
    """Append-only list of entries plus a rebalance journal, guarded by one lock; nothing persists."""

    def __init__(self, entries: Iterable[LedgerEntry] = ()) -> None:
        self._lock = threading.Lock()
        self._entries: list[LedgerEntry] = []
        self._accounts: dict[str, datetime] = {}
        self._rebalances: dict[str, rec.RebalanceRecord] = {}
        self.append(list(entries))

    def __repr__(self) -> str:
        return f"InMemoryLedgerStore({len(self._entries)} entries)"

    # -- ledger ---------------------------------------------------------------------------------

    def append(self, entries: Sequence[LedgerEntry]) -> None:
        """Validate every entry first, then add them all: all or none."""
        checked = [rec.checked_entry(e) for e in entries]
        with self._lock:
            self._commit(checked)

    def entries(self, account: str | None = None) -> list[LedgerEntry]:
        """Entries in append order, optionally of one account."""
        with self._lock:
            return [e for e in self._entries if account is None or e.account == account]

    def balances(self, account: str) -> dict[str, Decimal]:
        """Per-asset sums of the account's entries, exact (assets in order of first appearance)."""
        per_asset: dict[str, list[Decimal]] = {}
        for e in self.entries(account):
            per_asset.setdefault(e.asset, []).append(e.amount)
        return {asset: rec.exact_sum(amounts) for asset, amounts in per_asset.items()}

    def accounts(self) -> list[str]:
        """Known account names, sorted."""
        with self._lock:
            return sorted(self._accounts)

    def open_account(
        self, account: str, holdings: Mapping[str, Decimal], *, time: datetime, ref: str = "opening"
    ) -> None:
        """Register a new account with its opening balances as deposit entries; LedgerError if it already exists."""
        name = rec.account_name(account)
        checked = [rec.checked_entry(e) for e in deposit_entries(dict(holdings), account=name, time=time, ref=ref)]
        with self._lock:
            if name in self._accounts:
                raise LedgerError(f"account {name!r} already exists")
            self._accounts[name] = datetime.now(UTC)
            self._commit(checked)

    # -- rebalance journal ----------------------------------------------------------------------

    def start_rebalance(self, account: str, plan_json: str, reason: str, *, now: datetime | None = None) -> str:
        """Journal a planned rebalance before any order leaves; returns its id."""
        record = rec.RebalanceRecord(
            id=uuid.uuid4().hex,
            account=rec.account_name(account),
            created_at=rec.utc_time(now or datetime.now(UTC), "now"),
            status=rec.RebalanceStatus.PLANNED,
            reason=rec.text_field(reason, "reason", 10_000, required=False),
            plan_json=rec.json_text(plan_json, "plan_json"),
        )
        with self._lock:
            self._accounts.setdefault(record.account, datetime.now(UTC))
            self._rebalances[record.id] = record
        return record.id

    def mark_executing(self, rebalance_id: str) -> None:
        """planned -> executing, just before orders are sent."""
        with self._lock:
            record = self._open(rebalance_id, "mark executing")
            if record.status is not rec.RebalanceStatus.PLANNED:
                raise LedgerError(
                    f"cannot mark executing rebalance {rebalance_id}: it is already {record.status.value}"
                )
            self._rebalances[rebalance_id] = replace(record, status=rec.RebalanceStatus.EXECUTING)

    def finish_rebalance(
        self,
        rebalance_id: str,
        status: str,
        report_json: str,
        entries: Sequence[LedgerEntry] = (),
        *,
        now: datetime | None = None,
    ) -> None:
        """Set the final status and append the rebalance's entries together: recorded whole or not at all."""
        final, report, finished_at = rec.finish_args(status, report_json, now)
        with self._lock:
            record = self._open(rebalance_id, "finish")
            checked = rec.stamped([rec.checked_entry(e) for e in entries], rebalance_id, record.account)
            self._rebalances[rebalance_id] = replace(record, status=final, report_json=report, finished_at=finished_at)
            self._commit(checked)

    def rebalance(self, rebalance_id: str) -> rec.RebalanceRecord:
        """One journal row; LedgerError if unknown."""
        with self._lock:
            if rebalance_id not in self._rebalances:
                raise LedgerError(f"unknown rebalance {rebalance_id!r}")
            return self._rebalances[rebalance_id]

    def rebalances(self, account: str | None = None) -> list[rec.RebalanceRecord]:
        """Journal rows, oldest first, optionally of one account."""
        with self._lock:
            rows = [r for r in self._rebalances.values() if account is None or r.account == account]
        return sorted(rows, key=lambda r: (r.created_at, r.id))

    # -- internals (caller holds the lock) ------------------------------------------------------

    def _commit(self, checked: list[LedgerEntry]) -> None:
        for e in checked:
            self._accounts.setdefault(e.account, datetime.now(UTC))
        self._entries.extend(checked)

    def _open(self, rebalance_id: str, action: str) -> rec.RebalanceRecord:
        record = self._rebalances.get(rebalance_id)
        if record is None:
            raise LedgerError(f"cannot {action}: unknown rebalance {rebalance_id!r}")
        if record.status.final:
            raise LedgerError(f"cannot {action} rebalance {rebalance_id}: it is already {record.status.value}")
        return record
