"""Pending approvals (migration v0006_approvals): plans above a strategy's thresholds, waiting for an admin.

A status moves only by a conditional UPDATE (`move`: from one of the given statuses), so an approve racing an
expiry or a second approve changes the row once and the loser learns it did not.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, Connection, Engine, ForeignKey, Index, Integer, String, Table, Text, insert, select
from sqlalchemy import update as sql_update
from sqlalchemy.exc import SQLAlchemyError

from trimtab.adapters.storage.batch import write_on
from trimtab.adapters.storage.schema import UtcDateTime
from trimtab.adapters.storage.service_rows import new_id
from trimtab.adapters.storage.service_schema import metadata
from trimtab.errors import LedgerError
from trimtab.scrub import scrub

OPEN = ("pending", "approved")  # at most one of these per portfolio: nothing else is planned meanwhile
STATUSES = ("pending", "approved", "rejected", "expired", "executed", "superseded")

pending_approvals = Table(
    "pending_approvals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("portfolio", String(64), ForeignKey("portfolios.name"), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("reason", Text, nullable=False),  # why it needs an admin: each threshold exceeded, both numbers
    Column("plan_json", Text, nullable=False),  # the plan document as decided (documents.plan_document)
    Column("trigger_json", Text, nullable=False),  # the trigger result and targets it was planned on
    Column("notional", String(64), nullable=False),
    Column("cost", String(64), nullable=False),
    Column("targets_version", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("decided_by", String(64), nullable=True),
    Column("decided_at", UtcDateTime(), nullable=True),
    Column("note", Text, nullable=False, default=""),
    Column("rebalance_id", String(64), nullable=True),
    Index("ix_pending_approvals_open", "portfolio", "status"),
)


@dataclass(frozen=True, slots=True)
class ApprovalRow:
    """One stored approval."""

    id: int
    portfolio: str
    created_at: datetime
    expires_at: datetime
    kind: str
    reason: str
    plan: dict[str, Any]
    trigger: dict[str, Any]
    notional: Decimal
    cost: Decimal
    targets_version: int
    status: str
    decided_by: str | None
    decided_at: datetime | None
    note: str
    rebalance_id: str | None


def _row(m: Any) -> ApprovalRow:
    return ApprovalRow(
        id=int(m["id"]),
        portfolio=m["portfolio"],
        created_at=m["created_at"],
        expires_at=m["expires_at"],
        kind=m["kind"],
        reason=m["reason"],
        plan=json.loads(m["plan_json"]),
        trigger=json.loads(m["trigger_json"]),
        notional=Decimal(m["notional"]),
        cost=Decimal(m["cost"]),
        targets_version=int(m["targets_version"]),
        status=m["status"],
        decided_by=m["decided_by"],
        decided_at=m["decided_at"],
        note=m["note"] or "",
        rebalance_id=m["rebalance_id"],
    )


class ApprovalStore:
    """The `pending_approvals` table on the service database; each call is one transaction."""

    def __init__(self, engine: Engine, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._engine = engine
        self.now = now

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        try:
            with write_on(self._engine) as conn:
                yield conn
        except SQLAlchemyError as err:
            raise LedgerError(f"approvals: {scrub(err)}") from err

    def add(
        self,
        portfolio: str,
        *,
        expires_at: datetime,
        kind: str,
        reason: str,
        plan: Mapping[str, Any],
        trigger: Mapping[str, Any],
        notional: Decimal,
        cost: Decimal,
        targets_version: int,
    ) -> int:
        """Store a pending approval; its id."""
        row = {
            "portfolio": portfolio,
            "created_at": self.now(),
            "expires_at": expires_at,
            "kind": kind,
            "reason": reason,
            "plan_json": json.dumps(dict(plan), default=str),
            "trigger_json": json.dumps(dict(trigger), default=str),
            "notional": format(notional, "f"),
            "cost": format(cost, "f"),
            "targets_version": targets_version,
            "status": "pending",
            "note": "",
        }
        with self._tx() as conn:
            return new_id(conn.execute(insert(pending_approvals), row))

    def get(self, approval_id: int) -> ApprovalRow | None:
        with self._tx() as conn:
            m = conn.execute(select(pending_approvals).where(pending_approvals.c.id == approval_id)).one_or_none()
        return None if m is None else _row(m._mapping)

    def open_for(self, portfolio: str) -> ApprovalRow | None:
        """The portfolio's pending or approved (not yet re-planned) approval, newest first."""
        query = (
            select(pending_approvals)
            .where(pending_approvals.c.portfolio == portfolio, pending_approvals.c.status.in_(OPEN))
            .order_by(pending_approvals.c.id.desc())
            .limit(1)
        )
        with self._tx() as conn:
            m = conn.execute(query).one_or_none()
        return None if m is None else _row(m._mapping)

    def listed(self, portfolio: str, *, limit: int = 100, status: str | None = None) -> list[ApprovalRow]:
        """The portfolio's approvals, newest first (only `status` when given)."""
        query = select(pending_approvals).where(pending_approvals.c.portfolio == portfolio)
        if status is not None:
            query = query.where(pending_approvals.c.status == status)
        with self._tx() as conn:
            rows = conn.execute(query.order_by(pending_approvals.c.id.desc()).limit(limit))
            return [_row(m._mapping) for m in rows]

    def move(
        self,
        approval_id: int,
        frm: Sequence[str],
        to: str,
        *,
        actor: str | None = None,
        note: str | None = None,
        unexpired_at: datetime | None = None,
        **values: Any,
    ) -> bool:
        """Set status `to` if the row is in one of `frm` (and, with `unexpired_at`, expires after it); True if it
        moved. `actor` records who decided (with the time)."""
        where = [pending_approvals.c.id == approval_id, pending_approvals.c.status.in_(list(frm))]
        if unexpired_at is not None:
            where.append(pending_approvals.c.expires_at > unexpired_at)
        extra = dict(values)
        if actor is not None:
            extra.update(decided_by=actor[:64], decided_at=self.now())
        if note is not None:
            extra["note"] = note
        with self._tx() as conn:
            done = conn.execute(sql_update(pending_approvals).where(*where).values(status=to, **extra))
        return bool(done.rowcount)

    def expire_due(self, portfolio: str, now: datetime) -> list[ApprovalRow]:
        """Mark the portfolio's pending approvals whose time ran out by `now` expired; those rows (as they were)."""
        where = [
            pending_approvals.c.portfolio == portfolio,
            pending_approvals.c.status == "pending",
            pending_approvals.c.expires_at <= now,
        ]
        with self._tx() as conn:
            due = [_row(m._mapping) for m in conn.execute(select(pending_approvals).where(*where))]
            if due:
                conn.execute(
                    sql_update(pending_approvals)
                    .where(pending_approvals.c.id.in_([r.id for r in due]), pending_approvals.c.status == "pending")
                    .values(status="expired", decided_by="expiry", decided_at=now)
                )
        return due

    def set(self, approval_id: int, **values: Any) -> None:
        """Update columns of one approval (its outcome after execution)."""
        with self._tx() as conn:
            conn.execute(sql_update(pending_approvals).where(pending_approvals.c.id == approval_id).values(**values))
