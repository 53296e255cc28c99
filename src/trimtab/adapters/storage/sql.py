"""LedgerStore on SQLAlchemy 2 (SQLite file or PostgreSQL): append-only entries and the rebalance journal."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, Row, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from trimtab.adapters.storage import records as rec
from trimtab.adapters.storage.batch import after_commit, in_batch, read_on, write_on
from trimtab.adapters.storage.database import make_engine, normalize_url, upgrade
from trimtab.adapters.storage.schema import accounts, ledger_entries, rebalances
from trimtab.core.base.ledger import LedgerEntry, deposit_entries
from trimtab.errors import LedgerError
from trimtab.scrub import scrub


class SqlLedgerStore:
    """Ledger in a SQL database, created and migrated on open; every write is one transaction."""

    def __init__(self, url: str | os.PathLike[str]) -> None:
        self.url = normalize_url(url)
        self._engine = make_engine(self.url)
        upgrade(self._engine)
        self._known: set[str] = set()  # accounts seen committed: their ensure-exists INSERT is skipped

    def __repr__(self) -> str:
        return f"SqlLedgerStore({self.url!r})"

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (health checks, read-only reporting queries)."""
        return self._engine

    def close(self) -> None:
        """Release pooled connections (the store can still be used; it reconnects)."""
        self._engine.dispose()

    def __enter__(self) -> SqlLedgerStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- ledger ---------------------------------------------------------------------------------

    def append(self, entries: Sequence[LedgerEntry]) -> None:
        """Write all entries in one transaction: all of them or, on any error, none."""
        if not entries:
            return
        with self._write() as conn:
            self._insert_entries(conn, entries)

    def entries(self, account: str | None = None) -> list[LedgerEntry]:
        """Entries in append order, optionally of one account."""
        query = select(ledger_entries).order_by(ledger_entries.c.id)
        if account is not None:
            query = query.where(ledger_entries.c.account == account)
        with self._read() as conn:
            return [_entry(row) for row in conn.execute(query)]

    def balances(self, account: str) -> dict[str, Decimal]:
        """Per-asset sums of the account's entries, exact (assets in order of first appearance)."""
        with self._read() as conn:
            return account_balances(conn, account)

    def has_account(self, account: str) -> bool:
        with self._read() as conn:
            found = conn.scalar(select(accounts.c.name).where(accounts.c.name == account)) is not None
        if found and not in_batch(self._engine):  # read inside a batch: maybe not committed yet
            self._known.add(account)
        return found

    def accounts(self) -> list[str]:
        """Known account names, sorted."""
        with self._read() as conn:
            names = list(conn.scalars(select(accounts.c.name).order_by(accounts.c.name)))
        if not in_batch(self._engine):
            self._known.update(names)
        return names

    def open_account(
        self, account: str, holdings: Mapping[str, Decimal], *, time: datetime, ref: str = "opening"
    ) -> None:
        """Register a new account with its opening balances as deposit entries; LedgerError if it already exists."""
        name = rec.account_name(account)
        deposits = deposit_entries(dict(holdings), account=name, time=time, ref=ref)
        with self._write() as conn:
            inserted = conn.execute(self._insert_account(conn, name).returning(accounts.c.name)).first()
            if inserted is None:
                raise LedgerError(f"account {name!r} already exists")
            self._insert_entries(conn, deposits)
        after_commit(self._engine, lambda: self._known.add(name))

    # -- rebalance journal ----------------------------------------------------------------------

    def start_rebalance(self, account: str, plan_json: str, reason: str, *, now: datetime | None = None) -> str:
        """Journal a planned rebalance before any order leaves; returns its id."""
        name = rec.account_name(account)
        row = {
            "id": uuid.uuid4().hex,
            "account": name,
            "created_at": rec.utc_time(now or datetime.now(UTC), "now"),
            "status": rec.RebalanceStatus.PLANNED.value,
            "reason": rec.text_field(reason, "reason", 10_000, required=False),
            "plan_json": rec.json_text(plan_json, "plan_json"),
        }
        with self._write() as conn:
            self._ensure_account(conn, name)
            conn.execute(insert(rebalances).values(row))
        return str(row["id"])

    def record_rebalance(
        self,
        account: str,
        plan_json: str,
        reason: str,
        status: str,
        report_json: str,
        entries: Sequence[LedgerEntry] = (),
        *,
        rebalance_id: str | None = None,
        within: Callable[[Connection], object] | None = None,
    ) -> str:
        """A finished rebalance of an in-process venue (nothing left the process, so nothing to journal ahead):
        the row, final, and its entries in ONE transaction; `within` runs first (the service's fenced lease)."""
        final, report, finished_at = rec.finish_args(status, report_json, None)
        name = rec.account_name(account)
        rid = rebalance_id or uuid.uuid4().hex
        row = {
            "id": rid,
            "account": name,
            "created_at": finished_at,
            "status": final.value,
            "reason": rec.text_field(reason, "reason", 10_000, required=False),
            "plan_json": rec.json_text(plan_json, "plan_json"),
            "report_json": report,
            "finished_at": finished_at,
        }
        checked = [rec.checked_entry(e) for e in entries]
        with self._write() as conn:
            if within is not None:
                within(conn)
            self._ensure_account(conn, name)
            conn.execute(insert(rebalances).values(row))
            self._insert_entries(conn, rec.stamped(checked, rid, name), checked=True)
        return rid

    def mark_executing(self, rebalance_id: str) -> None:
        """planned -> executing, just before orders are sent."""
        with self._write() as conn:
            done = conn.execute(
                update(rebalances)
                .where(rebalances.c.id == rebalance_id, rebalances.c.status == rec.RebalanceStatus.PLANNED.value)
                .values(status=rec.RebalanceStatus.EXECUTING.value)
            ).rowcount
            if not done:
                raise self._not_open(conn, rebalance_id, "mark executing")

    def journal_progress(
        self, rebalance_id: str, plan_json: str, *, within: Callable[[Connection], object] | None = None
    ) -> None:
        """Journal the progress of an open rebalance (legs marked as they leave); a finished one is immutable.
        `within` runs first in the same transaction (the service renews its fenced lease there: one commit)."""
        with self._write() as conn:
            if within is not None:
                within(conn)
            open_ = [s.value for s in rec.OPEN_STATUSES]
            done = conn.execute(
                update(rebalances)
                .where(rebalances.c.id == rebalance_id, rebalances.c.status.in_(open_))
                .values(plan_json=rec.json_text(plan_json, "plan_json"))
            ).rowcount
            if not done:
                raise self._not_open(conn, rebalance_id, "update")

    def finish_rebalance(
        self,
        rebalance_id: str,
        status: str,
        report_json: str,
        entries: Sequence[LedgerEntry] = (),
        *,
        now: datetime | None = None,
        members: Collection[str] = (),
    ) -> None:
        """Set the final status and append the rebalance's entries in ONE transaction: recorded whole or not at all.
        `members`: other accounts the entries may book to (a netting group's members)."""
        final, report, finished_at = rec.finish_args(status, report_json, now)
        with self._write() as conn:
            open_ = [s.value for s in rec.OPEN_STATUSES]
            done = conn.execute(
                update(rebalances)
                .where(rebalances.c.id == rebalance_id, rebalances.c.status.in_(open_))
                .values(status=final.value, report_json=report, finished_at=finished_at)
            ).rowcount
            if not done:
                raise self._not_open(conn, rebalance_id, "finish")
            account = conn.scalar(select(rebalances.c.account).where(rebalances.c.id == rebalance_id))
            if account is None:
                raise RuntimeError("internal invariant broken: expected account is not None")
            checked = [rec.checked_entry(e) for e in entries]
            self._insert_entries(conn, rec.stamped(checked, rebalance_id, account, members))

    def rebalance(self, rebalance_id: str) -> rec.RebalanceRecord:
        """One journal row; LedgerError if unknown."""
        with self._read() as conn:
            row = conn.execute(select(rebalances).where(rebalances.c.id == rebalance_id)).one_or_none()
        if row is None:
            raise LedgerError(f"unknown rebalance {rebalance_id!r}")
        return _rebalance(row)

    def rebalances(self, account: str | None = None) -> list[rec.RebalanceRecord]:
        """Journal rows, oldest first, optionally of one account."""
        query = select(rebalances).order_by(rebalances.c.created_at, rebalances.c.id)
        if account is not None:
            query = query.where(rebalances.c.account == account)
        with self._read() as conn:
            return [_rebalance(row) for row in conn.execute(query)]

    # -- internals ------------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One transaction; database errors become LedgerError and roll everything back."""
        try:
            with write_on(self._engine) as conn:
                yield conn
        except SQLAlchemyError as err:
            raise LedgerError(f"ledger write failed: {scrub(err)}") from err

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        try:
            with read_on(self._engine) as conn:
                yield conn
        except SQLAlchemyError as err:
            raise LedgerError(f"ledger read failed: {scrub(err)}") from err

    def _insert_account(self, conn: Connection, name: str) -> Any:
        """INSERT of an account row that does nothing if the account exists."""
        values = {"name": name, "created_at": datetime.now(UTC)}
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        return dialect.insert(accounts).values(values).on_conflict_do_nothing(index_elements=["name"])

    def _ensure_account(self, conn: Connection, name: str) -> None:
        """The account row exists once this transaction commits (skipped for accounts known committed)."""
        if name not in self._known:
            conn.execute(self._insert_account(conn, name))

    def _insert_entries(self, conn: Connection, entries: Sequence[LedgerEntry], *, checked: bool = False) -> None:
        """Validate every entry, then insert them in one executemany inside the caller's transaction (a bad entry
        raises before anything is written; a refused row undoes the others)."""
        valid = list(entries) if checked else [rec.checked_entry(raw) for raw in entries]
        for account in dict.fromkeys(e.account for e in valid):
            self._ensure_account(conn, account)
        if valid:
            conn.execute(insert(ledger_entries), [_row(e) for e in valid])

    def _not_open(self, conn: Connection, rebalance_id: str, action: str) -> LedgerError:
        status = conn.scalar(select(rebalances.c.status).where(rebalances.c.id == rebalance_id))
        if status is None:
            return LedgerError(f"cannot {action}: unknown rebalance {rebalance_id!r}")
        return LedgerError(f"cannot {action} rebalance {rebalance_id}: it is already {status}")


def _row(e: LedgerEntry) -> dict[str, Any]:
    return {
        "account": e.account,
        "asset": e.asset,
        "amount": e.amount,
        "kind": e.kind,
        "ref": e.ref,
        "time": e.time,
        "rebalance_id": e.rebalance_id,
        "price": e.price,
        "note": e.note,
    }


def _entry(row: Row[Any]) -> LedgerEntry:
    m = row._mapping
    return LedgerEntry(
        account=m["account"],
        asset=m["asset"],
        amount=rec.stripped(m["amount"]),
        kind=m["kind"],
        ref=m["ref"],
        time=m["time"],
        rebalance_id=m["rebalance_id"],
        price=rec.stripped(m["price"]),
        note=m["note"],
    )


def _rebalance(row: Row[Any]) -> rec.RebalanceRecord:
    m = row._mapping
    return rec.RebalanceRecord(
        id=m["id"],
        account=m["account"],
        created_at=m["created_at"],
        status=rec.RebalanceStatus(m["status"]),
        reason=m["reason"],
        plan_json=m["plan_json"],
        report_json=m["report_json"],
        finished_at=m["finished_at"],
    )


def account_balances(conn: Connection, account: str) -> dict[str, Decimal]:
    """Per-asset exact sums of an account's ledger entries on `conn` (assets in order of first appearance)."""
    query = (
        select(ledger_entries.c.asset, ledger_entries.c.amount)
        .where(ledger_entries.c.account == account)
        .order_by(ledger_entries.c.id)
    )
    per_asset: dict[str, list[Decimal]] = {}
    for asset, amount in conn.execute(query):
        per_asset.setdefault(asset, []).append(amount)
    return {asset: rec.exact_sum(amounts) for asset, amounts in per_asset.items()}
