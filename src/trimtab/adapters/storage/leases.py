"""Lease fencing on the service tables: per-process tokens, claim epochs, database-clock times, worker liveness.

Every process registers a unique token (two processes with the same `worker_id` still differ); a claim bumps
the portfolio's `lease_epoch`, and every fenced write checks (token, epoch) in its own UPDATE, so a process
whose lease was taken over writes nothing. Lease times come from the database clock (PostgreSQL's
`clock_timestamp()`), so hosts with skewed clocks agree on who holds what.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    String,
    and_,
    any_,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY

from trimtab.adapters.storage.service_schema import portfolios, rebalance_holders, service_workers


def _pid_namespace() -> str:
    try:
        return str(Path("/proc/self/ns/pid").stat().st_ino)
    except OSError:
        return "?"


HOST = f"{socket.gethostname()}/{_pid_namespace()}"[:255]  # processes here can be checked for life by pid


@dataclass(frozen=True, slots=True)
class Leftovers:
    """An account's unfinished rebalances: `reconcilable` (holder gone) and `busy` (a live process runs them)."""

    reconcilable: list[str]
    busy: list[str]


def new_token() -> str:
    return uuid.uuid4().hex


def db_now(conn: Connection) -> datetime:
    """The database's clock (PostgreSQL); SQLite is a local file, so the local clock is the database's."""
    if conn.dialect.name == "postgresql":
        value = conn.scalar(select(func.clock_timestamp()))
        if not isinstance(value, datetime):
            raise RuntimeError("internal invariant broken: expected isinstance(value, datetime)")
        return value.astimezone(UTC)
    return datetime.now(UTC)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def register(conn: Connection, token: str, worker_id: str) -> None:
    now = db_now(conn)
    conn.execute(
        insert(service_workers).values(
            token=token, worker_id=worker_id, host=HOST, pid=os.getpid(), started_at=now, heartbeat_at=now
        )
    )


def heartbeat(conn: Connection, token: str, lease: timedelta) -> int:
    """Mark the process alive and extend the leases it still holds; returns how many it holds."""
    now = db_now(conn)
    conn.execute(update(service_workers).where(service_workers.c.token == token).values(heartbeat_at=now))
    held = conn.execute(
        update(portfolios)
        .where(portfolios.c.lease_token == token, portfolios.c.lease_until >= now)
        .values(lease_until=now + lease)
    )
    return int(held.rowcount)


def dead_here(conn: Connection, tokens: Collection[str]) -> set[str]:
    """Tokens of processes on this host (same pid namespace) that no longer run: their leases are free now."""
    if not tokens:
        return set()
    rows = conn.execute(
        select(service_workers.c.token, service_workers.c.pid).where(
            service_workers.c.token.in_(list(tokens)), service_workers.c.host == HOST
        )
    )
    return {t for t, pid in rows if pid != os.getpid() and not pid_alive(int(pid))}


LONG_LIST = 100  # name lists longer than this go to the database as one parameter, not one per name


def name_in(column: Any, names: Sequence[str], dialect: str) -> Any:
    """`column IN names`; a long list as one bound array (PostgreSQL) or JSON array (SQLite), so a scheduler pass
    over 10,000 portfolios neither renders nor plans 10,000 parameters."""
    if len(names) <= LONG_LIST:
        return column.in_(list(names))
    if dialect == "postgresql":
        return column == any_(bindparam("names", list(names), type_=ARRAY(String)))
    return column.in_(select(literal_column("value")).select_from(func.json_each(json.dumps(list(names)))))


def free_clause(conn: Connection, names: Sequence[str], token: str, now: datetime) -> Any:
    """Rows `token` may claim: unleased, expired, already its own, or held by a process found dead here."""
    held = set(
        conn.scalars(
            select(portfolios.c.lease_token)
            .distinct()
            .where(
                name_in(portfolios.c.name, names, conn.dialect.name),
                portfolios.c.lease_token.is_not(None),
                portfolios.c.lease_until >= now,
            )
        )
    )
    dead = dead_here(conn, held - {token})
    return or_(
        portfolios.c.lease_token.is_(None),
        portfolios.c.lease_until.is_(None),
        portfolios.c.lease_until < now,
        portfolios.c.lease_token == token,
        portfolios.c.lease_token.in_(sorted(dead)),
    )


def take(conn: Connection, names: Sequence[str], owner: str, token: str, until: datetime) -> None:
    conn.execute(
        update(portfolios)
        .where(portfolios.c.name.in_(list(names)))
        .values(lease_owner=owner, lease_token=token, lease_until=until, lease_epoch=portfolios.c.lease_epoch + 1)
    )


def fenced(name: str, token: str, epoch: int | None) -> Any:
    """WHERE clause of a write allowed only to the current lease holder (and claim, when `epoch` is given)."""
    clause = and_(portfolios.c.name == name, portfolios.c.lease_token == token)
    return clause if epoch is None else and_(clause, portfolios.c.lease_epoch == epoch)


def check_fence(conn: Connection, name: str, token: str, epoch: int) -> bool:
    """Inside another write's transaction (e.g. the ledger's finish_rebalance): True while (token, epoch) holds the
    lease, and the row stays locked (PostgreSQL FOR UPDATE) until that transaction ends, so no claim slips between."""
    query = select(portfolios.c.name).where(fenced(name, token, epoch))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return conn.scalar(query) is not None


def renew(conn: Connection, name: str, token: str, epoch: int, lease: timedelta) -> datetime | None:
    """Extend the lease if (token, epoch) still holds it; None when it was lost."""
    if conn.dialect.name == "postgresql":  # one round trip: the server's clock inside the UPDATE
        until_sql = func.clock_timestamp() + func.make_interval(0, 0, 0, 0, 0, 0, lease.total_seconds())
        stmt = update(portfolios).where(fenced(name, token, epoch)).values(lease_until=until_sql)
        value = conn.execute(stmt.returning(portfolios.c.lease_until)).scalar()
        return value.astimezone(UTC) if isinstance(value, datetime) else None
    until = db_now(conn) + lease
    done = conn.execute(update(portfolios).where(fenced(name, token, epoch)).values(lease_until=until))
    return until if done.rowcount else None


def bind(conn: Connection, rebalance_id: str, name: str, token: str, epoch: int) -> bool:
    """Record that (token, epoch) executes `rebalance_id`, only while it holds the lease."""
    if conn.scalar(select(portfolios.c.name).where(fenced(name, token, epoch))) is None:
        return False
    conn.execute(
        insert(rebalance_holders).values(
            rebalance_id=rebalance_id, portfolio=name, token=token, epoch=epoch, created_at=db_now(conn)
        )
    )
    return True


def unbind(conn: Connection, name: str, token: str) -> int:
    """Give up `token`'s claim on the portfolio's rebalances (after losing its lease): others may reconcile them."""
    done = conn.execute(
        delete(rebalance_holders).where(rebalance_holders.c.portfolio == name, rebalance_holders.c.token == token)
    )
    return int(done.rowcount)


def split_open(conn: Connection, ids: Sequence[str], token: str, stale_after: timedelta) -> Leftovers:
    """Sort open rebalance ids: busy when another process that holds them is alive (fresh heartbeat, not dead
    here), else reconcilable (unbound ones too: written before fencing, or by a process that crashed)."""
    if not ids:
        return Leftovers([], [])
    now = db_now(conn)
    rows = conn.execute(
        select(rebalance_holders.c.rebalance_id, rebalance_holders.c.token, service_workers.c.heartbeat_at)
        .join(service_workers, service_workers.c.token == rebalance_holders.c.token)
        .where(rebalance_holders.c.rebalance_id.in_(list(ids)), rebalance_holders.c.token != token)
    )
    fresh = {rid: tok for rid, tok, beat in rows if beat >= now - stale_after}
    dead = dead_here(conn, set(fresh.values()))
    busy = {rid for rid, tok in fresh.items() if tok not in dead}
    return Leftovers([i for i in ids if i not in busy], [i for i in ids if i in busy])
