"""Service state next to the ledger: portfolio schedule/controls/leases, decisions, target versions, audit, alerts.

Leases let several worker processes share portfolios: a due row is claimed with `FOR UPDATE SKIP LOCKED`
on PostgreSQL (SQLite's BEGIN IMMEDIATE already serialises writers), so no portfolio is processed twice.
Leases are fenced (see leases.py): a process token and a claim epoch, checked by every write of the holder.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, and_, create_engine, func, insert, not_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from trimtab.adapters.storage import leases, service_log
from trimtab.adapters.storage.batch import after_commit, attempt, batched, read_on, write_on
from trimtab.adapters.storage.leases import Leftovers
from trimtab.adapters.storage.records import OPEN_STATUSES
from trimtab.adapters.storage.schema import rebalances
from trimtab.adapters.storage.service_rows import PortfolioRow, decision_row, encode, new_id, portfolio_row
from trimtab.adapters.storage.service_schema import (
    decisions,
    portfolios,
    service_meta,
    target_versions,
)
from trimtab.adapters.storage.sql import account_balances
from trimtab.errors import LeaseLost, LedgerError
from trimtab.scrub import scrub


def _now() -> datetime:
    return datetime.now(UTC)


class ServiceStore:
    """Service tables on the ledger's engine (already migrated by SqlLedgerStore); each call is one transaction."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.now: Callable[[], datetime] = _now  # service time for created_at (bootstrap sets the replay clock)
        self._pg = engine.dialect.name == "postgresql"
        # SQLite: reads on their own engine without BEGIN IMMEDIATE, so API reads never queue behind the
        # scheduler's writes (WAL readers see the last commit). PostgreSQL: the same pool in autocommit, which
        # saves the BEGIN and ROLLBACK round trips of a read; READ COMMITTED gives each statement its own
        # snapshot either way, so what a read sees does not change
        self._reader = (
            engine.execution_options(isolation_level="AUTOCOMMIT")
            if self._pg
            else create_engine(engine.url, connect_args={"timeout": 30.0, "check_same_thread": False})
        )

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        try:
            with write_on(self._engine) as conn:
                yield conn
        except IntegrityError as err:
            raise LedgerError(f"service write refused: {scrub(err.orig)}") from err
        except SQLAlchemyError as err:
            raise LedgerError(f"service write failed: {scrub(err)}") from err

    def after_commit(self, f: Callable[[], None]) -> None:
        """Run `f` once what this thread wrote is committed (at once, unless a batch is open)."""
        after_commit(self._engine, f)

    def batch(self) -> AbstractContextManager[object]:
        """Group commit of this thread's writes (storage.batch.batched): for cycles on the per-cycle paper venue."""
        return batched(self._engine)

    def attempt(self) -> AbstractContextManager[None]:
        """One unit of work of an open batch (a savepoint: a failure leaves none of its writes); else nothing."""
        return attempt(self._engine)

    def close(self) -> None:
        if not self._pg:  # SQLite's own read engine; PostgreSQL reads share the ledger's pool, which it closes
            self._reader.dispose()

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        try:
            with read_on(self._engine, self._reader) as conn:
                yield conn
        except SQLAlchemyError as err:
            raise LedgerError(f"service read failed: {scrub(err)}") from err

    def _insert_new(self, table: Any, keys: list[str]) -> Any:
        """INSERT that does nothing when the key exists (PostgreSQL and SQLite)."""
        dialect = postgresql if self._pg else sqlite
        return dialect.insert(table).on_conflict_do_nothing(index_elements=keys)

    # -- meta -----------------------------------------------------------------------------------

    def meta_setdefault(self, key: str, value: str) -> str:
        """The stored value of `key`, storing `value` first if absent (first writer wins across processes)."""
        with self._write() as conn:
            conn.execute(self._insert_new(service_meta, ["key"]).values(key=key, value=value))
            return str(conn.scalar(select(service_meta.c.value).where(service_meta.c.key == key)))

    # -- portfolios -----------------------------------------------------------------------------

    def ensure_portfolio(self, name: str, targets: Mapping[str, float]) -> bool:
        """Create the portfolio row and its version-1 targets unless it exists; True when created."""
        return name in self.ensure_portfolios({name: targets})

    def ensure_portfolios(self, targets: Mapping[str, Mapping[str, float]]) -> set[str]:
        """`ensure_portfolio` for many in one transaction (a 10,000-portfolio service starts in one write); the
        names created. INSERT .. ON CONFLICT DO NOTHING: workers starting together race safely."""
        names = list(targets)
        created: set[str] = set()
        with self._write() as conn:
            for i in range(0, len(names), service_log.BATCH):
                chunk, now = names[i : i + service_log.BATCH], self.now()
                rows = [
                    {
                        "name": n,
                        "created_at": now,
                        "paused": False,
                        "paused_reason": "",
                        "trigger_requested": False,
                        "failures": 0,
                    }
                    for n in chunk
                ]
                new = set(
                    conn.scalars(self._insert_new(portfolios, ["name"]).values(rows).returning(portfolios.c.name))
                )
                if new:
                    conn.execute(
                        insert(target_versions),
                        [
                            {
                                "portfolio": n,
                                "version": 1,
                                "targets_json": json.dumps(dict(targets[n])),
                                "actor": "config",
                                "note": "from the strategy file",
                                "created_at": now,
                            }
                            for n in chunk
                            if n in new
                        ],
                    )
                created |= new
        return created

    def portfolio(self, name: str) -> PortfolioRow | None:
        with self._read() as conn:
            row = conn.execute(select(portfolios).where(portfolios.c.name == name)).one_or_none()
        return None if row is None else portfolio_row(row._mapping)

    def portfolios(self, names: Sequence[str] | None = None) -> list[PortfolioRow]:
        query = select(portfolios).order_by(portfolios.c.name)
        if names is not None:
            query = query.where(portfolios.c.name.in_(list(names)))
        with self._read() as conn:
            return [portfolio_row(r._mapping) for r in conn.execute(query)]

    def update_portfolio(self, name: str, **values: Any) -> None:
        with self._write() as conn:
            conn.execute(update(portfolios).where(portfolios.c.name == name).values(**encode(values)))

    def claim_due(
        self,
        owner: str,
        names: Sequence[str],
        sim_now: datetime,
        *,
        lease: timedelta,
        limit: int = 64,
        token: str | None = None,
    ) -> list[str]:
        """Lease up to `limit` due portfolios to `token` (default `owner`) until database now + lease; rows
        another live token holds are skipped, whatever its worker id."""
        token = token or owner
        due = or_(
            and_(
                not_(portfolios.c.paused),
                or_(
                    portfolios.c.next_check_at.is_(None),
                    portfolios.c.next_check_at <= sim_now,
                    portfolios.c.trigger_requested,
                    portfolios.c.flow_request.is_not(None),
                ),
            ),
            portfolios.c.exit_request.is_not(None),
        )
        with self._write() as conn:
            wall = leases.db_now(conn)
            free = leases.free_clause(conn, names, token, wall)
            query = (
                select(portfolios.c.name)
                .where(leases.name_in(portfolios.c.name, names, conn.dialect.name), due, free)
                .order_by(portfolios.c.next_check_at, portfolios.c.name)
                .limit(limit)
            )
            if self._pg:
                query = query.with_for_update(skip_locked=True)
            claimed = list(conn.scalars(query))
            if claimed:
                leases.take(conn, claimed, owner, token, wall + lease)
        return claimed

    def claim(self, name: str, owner: str, *, lease: timedelta, token: str | None = None) -> bool:
        """Lease one portfolio now, due or not (start-up reconciliation); False if another live token holds it."""
        token = token or owner
        with self._write() as conn:
            wall = leases.db_now(conn)
            query = select(portfolios.c.name).where(
                portfolios.c.name == name, leases.free_clause(conn, [name], token, wall)
            )
            if self._pg:
                query = query.with_for_update(skip_locked=True)
            if conn.scalar(query) is None:
                return False
            leases.take(conn, [name], owner, token, wall + lease)
        return True

    def release(
        self,
        name: str,
        owner: str,
        *,
        decision: Mapping[str, Any] | None = None,
        token: str | None = None,
        epoch: int | None = None,
        **values: Any,
    ) -> int | None:
        """Record the cycle's decision (if any), update the row and drop the lease, in one transaction.
        With `token` the write is fenced: LeaseLost (and nothing written) unless (token, epoch) holds the lease."""
        with self._write() as conn:
            where = (
                leases.fenced(name, token, epoch)
                if token
                else and_(portfolios.c.name == name, portfolios.c.lease_owner == owner)
            )
            done = conn.execute(
                update(portfolios)
                .where(where)
                .values(lease_owner=None, lease_token=None, lease_until=None, **encode(values))
            )
            if token and not done.rowcount:
                raise LeaseLost(f"{name}: lease lost before release; the cycle's results are not recorded")
            decision_id = None
            if decision is not None:
                row = {"portfolio": name, "recorded_at": self.now(), "worker": owner, **encode(dict(decision))}
                decision_id = new_id(conn.execute(insert(decisions), row))  # parameters, not .values(): no rebuild
        return decision_id

    # -- fencing --------------------------------------------------------------------------------

    def register_worker(self, worker_id: str) -> str:
        """A new fencing token for this process (its heartbeat starts now)."""
        token = leases.new_token()
        with self._write() as conn:
            leases.register(conn, token, worker_id)
        return token

    def heartbeat(self, token: str, *, lease: timedelta) -> int:
        """This process is alive: refresh its heartbeat and extend the leases it holds (how many)."""
        with self._write() as conn:
            return leases.heartbeat(conn, token, lease)

    def renew(self, name: str, token: str, epoch: int, *, lease: timedelta) -> datetime:
        """Extend the lease held by (token, epoch) to database now + lease; LeaseLost if it was taken over."""
        with self._write() as conn:
            return self.renew_on(conn, name, token, epoch, lease=lease)

    def renew_on(self, conn: Connection, name: str, token: str, epoch: int, *, lease: timedelta) -> datetime:
        """`renew` inside the caller's transaction (LeaseLost rolls it back)."""
        until = leases.renew(conn, name, token, epoch, lease)
        if until is None:
            raise LeaseLost(f"{name}: lease lost (taken over by another worker or expired); stopping")
        return until

    def bind_rebalance(self, rebalance_id: str, name: str, token: str, epoch: int) -> None:
        """Record this process as the holder of a journaled rebalance (others never reconcile it while it lives)."""
        with self._write() as conn:
            if not leases.bind(conn, rebalance_id, name, token, epoch):
                raise LeaseLost(f"{name}: lease lost before rebalance {rebalance_id} started")

    def abandon_rebalances(self, name: str, token: str) -> int:
        """After LeaseLost: this process stops executing the portfolio's rebalances; the new holder reconciles them."""
        with self._write() as conn:
            return leases.unbind(conn, name, token)

    def leftovers(self, account: str, token: str, *, stale_after: timedelta) -> Leftovers:
        """The account's open rebalances split into reconcilable ones and those a live process still runs."""
        ids = self.open_rebalances(account)
        if not ids:  # the common case: no second read
            return Leftovers([], [])
        with self._read() as conn:
            return leases.split_open(conn, ids, token, stale_after)

    def db_now(self) -> datetime:
        with self._read() as conn:
            return leases.db_now(conn)

    def next_due(self, names: Sequence[str]) -> datetime | None:
        """Earliest next check among active portfolios (None when none is scheduled)."""
        with self._read() as conn:
            due: datetime | None = conn.scalar(
                select(func.min(portfolios.c.next_check_at)).where(
                    leases.name_in(portfolios.c.name, names, conn.dialect.name), not_(portfolios.c.paused)
                )
            )
            return due

    def balances(self, account: str) -> dict[str, Decimal]:
        """The ledger's balances of `account` read on the non-blocking reader (API status); exact sums."""
        with self._read() as conn:
            return account_balances(conn, account)

    def open_rebalances(self, account: str) -> list[str]:
        """Ids of the account's journaled rebalances that never reached a final status (crash leftovers)."""
        query = (
            select(rebalances.c.id)
            .where(rebalances.c.account == account, rebalances.c.status.in_([st.value for st in OPEN_STATUSES]))
            .order_by(rebalances.c.created_at)
        )
        with self._read() as conn:
            return list(conn.scalars(query))

    # -- decisions ------------------------------------------------------------------------------

    def decisions(
        self, name: str, *, limit: int = 100, offset: int = 0, traded_only: bool = False, newest_first: bool = True
    ) -> list[dict[str, Any]]:
        query = select(decisions).where(decisions.c.portfolio == name)
        if traded_only:
            query = query.where(decisions.c.traded)
        order = decisions.c.id.desc() if newest_first else decisions.c.id
        with self._read() as conn:
            rows = conn.execute(query.order_by(order).limit(limit).offset(offset))
            return [decision_row(r._mapping) for r in rows]

    def decisions_between(self, name: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Decisions with start <= time < end, oldest first, preceded by the last one before `start` (if any):
        what a period's summary needs, whatever the portfolio's history length."""
        base = select(decisions).where(decisions.c.portfolio == name)
        with self._read() as conn:
            prior = conn.execute(base.where(decisions.c.time < start).order_by(decisions.c.id.desc()).limit(1)).all()
            inside = conn.execute(
                base.where(decisions.c.time >= start, decisions.c.time < end).order_by(decisions.c.id)
            ).all()
        return [decision_row(r._mapping) for r in [*prior, *inside]]

    def equity_flows(self, name: str, limit: int | None = None) -> list[tuple[datetime, float, float, float]]:
        """(time, value, buy-and-hold value, net external flow) per recorded decision, oldest first."""
        query = (
            select(decisions.c.time, decisions.c.value, decisions.c.bh_value, decisions.c.flow)
            .where(decisions.c.portfolio == name)
            .order_by(decisions.c.id.desc())
        )
        if limit is not None:
            query = query.limit(limit)
        with self._read() as conn:
            rows = [(r[0], float(r[1]), float(r[2]), float(r[3] or 0.0)) for r in conn.execute(query)]
        return rows[::-1]

    def last_yields(self, name: str) -> dict[str, Any] | None:
        """The yield document of the portfolio's latest decision that has one."""
        query = (
            select(decisions.c.yield_json)
            .where(decisions.c.portfolio == name, decisions.c.yield_json.is_not(None))
            .order_by(decisions.c.id.desc())
            .limit(1)
        )
        with self._read() as conn:
            text = conn.scalar(query)
        return json.loads(text) if text else None

    def request_flow(self, name: str, flow: Mapping[str, Any]) -> int:
        """Queue a deposit / withdrawal for the portfolio's next cycle (one transaction); returns how many wait."""
        with self._write() as conn:
            text = conn.scalar(select(portfolios.c.flow_request).where(portfolios.c.name == name))
            pending = [*(json.loads(text) if text else []), dict(flow)]
            conn.execute(
                update(portfolios)
                .where(portfolios.c.name == name)
                .values(flow_request=json.dumps(pending, default=str))
            )
        return len(pending)

    def consume_flows(self, name: str, ids: Sequence[str]) -> None:
        """Drop the flows a cycle took up; ones queued while it ran stay for the next cycle."""
        with self._write() as conn:
            text = conn.scalar(select(portfolios.c.flow_request).where(portfolios.c.name == name))
            left = [f for f in (json.loads(text) if text else []) if str(f["id"]) not in set(ids)]
            value = json.dumps(left, default=str) if left else None
            conn.execute(update(portfolios).where(portfolios.c.name == name).values(flow_request=value))

    def count_decisions(self, name: str) -> int:
        with self._read() as conn:
            return int(conn.scalar(select(func.count()).where(decisions.c.portfolio == name)) or 0)

    # -- targets, audit and alerts (service_log) -------------------------------------------------

    def targets(self, name: str) -> tuple[int, dict[str, float]]:
        """Current (version, targets)."""
        with self._read() as conn:
            found = service_log.current_target(conn, name)
        if found is None:
            raise LedgerError(f"no targets for portfolio {name!r}")
        return found

    def current_targets(self, names: Sequence[str]) -> dict[str, tuple[int, dict[str, float]]]:
        """(version, targets) of each named portfolio that has targets, in one read per batch of names."""
        with self._read() as conn:
            return service_log.current_targets(conn, names)

    def target_versions(self, name: str) -> list[dict[str, Any]]:
        with self._read() as conn:
            return service_log.target_versions_of(conn, name)

    def add_targets(self, name: str, targets: Mapping[str, float], *, actor: str, note: str) -> int:
        """Append a new targets version, audited (the unique (portfolio, version) key rejects a concurrent twin)."""
        with self._write() as conn:
            return service_log.add_targets(conn, name, targets, actor=actor, note=note, now=self.now())

    def audit(self, portfolio: str | None, action: str, actor: str, detail: Mapping[str, Any]) -> None:
        with self._write() as conn:
            service_log.add_audit(conn, portfolio, action, actor, detail, now=self.now())

    def audit_log(self, portfolio: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        with self._read() as conn:
            return service_log.audit_log(conn, portfolio, limit)

    def add_alert(
        self,
        portfolio: str | None,
        kind: str,
        title: str,
        body: str,
        payload: Mapping[str, Any],
        *,
        delivery: str = "pending",
    ) -> int:
        with self._write() as conn:
            return service_log.add_alert(conn, portfolio, kind, title, body, payload, delivery=delivery, now=self.now())

    def set_delivery(self, alert_id: int, delivery: str) -> None:
        with self._write() as conn:
            service_log.set_delivery(conn, alert_id, delivery)

    def alerts(
        self, portfolio: str | None = None, *, limit: int = 100, kind: str | None = None
    ) -> list[dict[str, Any]]:
        with self._read() as conn:
            return service_log.alerts(conn, portfolio, limit=limit, kind=kind)
