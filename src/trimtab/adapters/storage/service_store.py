"""Service state next to the ledger: portfolio schedule/controls/leases, decisions, target versions, audit, alerts.

Leases let several worker processes share portfolios: a due row is claimed with `FOR UPDATE SKIP LOCKED`
on PostgreSQL (SQLite's BEGIN IMMEDIATE already serialises writers), so no portfolio is processed twice.
Leases are fenced (see leases.py): a process token and a claim epoch, checked by every write of the holder.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, create_engine, func, insert, not_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from trimtab.adapters.storage import leases
from trimtab.adapters.storage.leases import Leftovers
from trimtab.adapters.storage.records import OPEN_STATUSES
from trimtab.adapters.storage.schema import rebalances
from trimtab.adapters.storage.service_schema import (
    alerts,
    audit_log,
    decisions,
    portfolios,
    service_meta,
    target_versions,
)
from trimtab.adapters.storage.sql import account_balances
from trimtab.errors import LeaseLost, LedgerError
from trimtab.scrub import scrub

_BATCH = 500  # names per IN (...) list or multi-row INSERT: far below SQLite's 32,766 bound parameters


@dataclass(frozen=True, slots=True)
class PortfolioRow:
    """One portfolio's schedule and control state as stored."""

    name: str
    paused: bool
    paused_reason: str
    next_check_at: datetime | None
    last_check_at: datetime | None
    anchor_at: datetime | None
    lease_owner: str | None
    trigger_requested: bool
    exit_request: dict[str, Any] | None
    failures: int
    bh: dict[str, str] | None
    notice_for: datetime | None
    summary_month: str | None
    lease_until: datetime | None = None
    lease_token: str | None = None
    lease_epoch: int = 0


def _now() -> datetime:
    return datetime.now(UTC)


def _new_id(result: Any) -> int:
    """The primary key an INSERT just generated."""
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError("the database returned no primary key for an insert")
    return int(key[0])


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


class ServiceStore:
    """Service tables on the ledger's engine (already migrated by SqlLedgerStore); each call is one transaction."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.now: Callable[[], datetime] = _now  # service time for created_at (bootstrap sets the replay clock)
        self._pg = engine.dialect.name == "postgresql"
        # SQLite: reads on their own engine without BEGIN IMMEDIATE, so API reads never queue behind the
        # scheduler's writes (WAL readers see the last commit); PostgreSQL reads use the same pool
        self._reader = (
            engine
            if self._pg
            else create_engine(engine.url, connect_args={"timeout": 30.0, "check_same_thread": False})
        )

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        try:
            with self._engine.begin() as conn:
                yield conn
        except IntegrityError as err:
            raise LedgerError(f"service write refused: {scrub(err.orig)}") from err
        except SQLAlchemyError as err:
            raise LedgerError(f"service write failed: {scrub(err)}") from err

    def close(self) -> None:
        if self._reader is not self._engine:
            self._reader.dispose()

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        try:
            with self._reader.connect() as conn:
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
            for i in range(0, len(names), _BATCH):
                chunk, now = names[i : i + _BATCH], self.now()
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
        return None if row is None else _portfolio(row._mapping)

    def portfolios(self, names: Sequence[str] | None = None) -> list[PortfolioRow]:
        query = select(portfolios).order_by(portfolios.c.name)
        if names is not None:
            query = query.where(portfolios.c.name.in_(list(names)))
        with self._read() as conn:
            return [_portfolio(r._mapping) for r in conn.execute(query)]

    def update_portfolio(self, name: str, **values: Any) -> None:
        with self._write() as conn:
            conn.execute(update(portfolios).where(portfolios.c.name == name).values(**_encode(values)))

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
                ),
            ),
            portfolios.c.exit_request.is_not(None),
        )
        with self._write() as conn:
            wall = leases.db_now(conn)
            free = leases.free_clause(conn, names, token, wall)
            query = (
                select(portfolios.c.name)
                .where(portfolios.c.name.in_(list(names)), due, free)
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
                .values(lease_owner=None, lease_token=None, lease_until=None, **_encode(values))
            )
            if token and not done.rowcount:
                raise LeaseLost(f"{name}: lease lost before release; the cycle's results are not recorded")
            decision_id = None
            if decision is not None:
                row = {"portfolio": name, "recorded_at": self.now(), "worker": owner, **_encode(dict(decision))}
                decision_id = _new_id(conn.execute(insert(decisions), row))  # parameters, not .values(): no rebuild
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
                    portfolios.c.name.in_(list(names)), not_(portfolios.c.paused)
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
            return [_decision(r._mapping) for r in rows]

    def decisions_between(self, name: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Decisions with start <= time < end, oldest first, preceded by the last one before `start` (if any):
        what a period's summary needs, whatever the portfolio's history length."""
        base = select(decisions).where(decisions.c.portfolio == name)
        with self._read() as conn:
            prior = conn.execute(base.where(decisions.c.time < start).order_by(decisions.c.id.desc()).limit(1)).all()
            inside = conn.execute(
                base.where(decisions.c.time >= start, decisions.c.time < end).order_by(decisions.c.id)
            ).all()
        return [_decision(r._mapping) for r in [*prior, *inside]]

    def equity(self, name: str, limit: int | None = None) -> list[tuple[datetime, float, float]]:
        """(time, value, buy-and-hold value) per recorded decision, oldest first (the last `limit` only)."""
        query = (
            select(decisions.c.time, decisions.c.value, decisions.c.bh_value)
            .where(decisions.c.portfolio == name)
            .order_by(decisions.c.id.desc())
        )
        if limit is not None:
            query = query.limit(limit)
        with self._read() as conn:
            rows = [(r[0], float(r[1]), float(r[2])) for r in conn.execute(query)]
        return rows[::-1]

    def count_decisions(self, name: str) -> int:
        with self._read() as conn:
            return int(conn.scalar(select(func.count()).where(decisions.c.portfolio == name)) or 0)

    # -- targets --------------------------------------------------------------------------------

    def targets(self, name: str) -> tuple[int, dict[str, float]]:
        """Current (version, targets)."""
        query = (
            select(target_versions.c.version, target_versions.c.targets_json)
            .where(target_versions.c.portfolio == name)
            .order_by(target_versions.c.version.desc())
            .limit(1)
        )
        with self._read() as conn:
            row = conn.execute(query).one_or_none()
        if row is None:
            raise LedgerError(f"no targets for portfolio {name!r}")
        return int(row[0]), json.loads(row[1])

    def current_targets(self, names: Sequence[str]) -> dict[str, tuple[int, dict[str, float]]]:
        """(version, targets) of each named portfolio that has targets, in one read per batch of names."""
        latest = (
            select(target_versions.c.portfolio, func.max(target_versions.c.version).label("version"))
            .where(target_versions.c.portfolio.in_(bindparam("names", expanding=True)))
            .group_by(target_versions.c.portfolio)
            .subquery()
        )
        query = select(target_versions.c.portfolio, target_versions.c.version, target_versions.c.targets_json).join(
            latest,
            and_(target_versions.c.portfolio == latest.c.portfolio, target_versions.c.version == latest.c.version),
        )
        out: dict[str, tuple[int, dict[str, float]]] = {}
        with self._read() as conn:
            for i in range(0, len(names), _BATCH):
                for name, version, doc in conn.execute(query, {"names": list(names[i : i + _BATCH])}):
                    out[name] = (int(version), json.loads(doc))
        return out

    def target_versions(self, name: str) -> list[dict[str, Any]]:
        query = select(target_versions).where(target_versions.c.portfolio == name).order_by(target_versions.c.version)
        with self._read() as conn:
            return [
                {
                    "version": r.version,
                    "targets": json.loads(r.targets_json),
                    "actor": r.actor,
                    "note": r.note,
                    "created_at": r.created_at,
                }
                for r in conn.execute(query)
            ]

    def add_targets(self, name: str, targets: Mapping[str, float], *, actor: str, note: str) -> int:
        """Append a new targets version (the unique (portfolio, version) key rejects a concurrent duplicate)."""
        with self._write() as conn:
            current = conn.scalar(
                select(func.max(target_versions.c.version)).where(target_versions.c.portfolio == name)
            )
            version = int(current or 0) + 1
            conn.execute(
                insert(target_versions).values(
                    portfolio=name,
                    version=version,
                    targets_json=json.dumps(dict(targets)),
                    actor=actor,
                    note=note,
                    created_at=self.now(),
                )
            )
            conn.execute(
                insert(audit_log).values(
                    portfolio=name,
                    action="set_targets",
                    actor=actor,
                    created_at=self.now(),
                    detail_json=json.dumps({"version": version, "targets": targets, "note": note}),
                )
            )
        return version

    # -- audit and alerts -----------------------------------------------------------------------

    def audit(self, portfolio: str | None, action: str, actor: str, detail: Mapping[str, Any]) -> None:
        with self._write() as conn:
            conn.execute(
                insert(audit_log).values(
                    portfolio=portfolio,
                    action=action,
                    actor=actor,
                    detail_json=json.dumps(dict(detail), default=str),
                    created_at=self.now(),
                )
            )

    def audit_log(self, portfolio: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if portfolio is not None:
            query = query.where(audit_log.c.portfolio == portfolio)
        with self._read() as conn:
            return [
                {
                    "id": r.id,
                    "portfolio": r.portfolio,
                    "action": r.action,
                    "actor": r.actor,
                    "detail": json.loads(r.detail_json),
                    "created_at": r.created_at,
                }
                for r in conn.execute(query)
            ]

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
            return _new_id(
                conn.execute(
                    insert(alerts).values(
                        portfolio=portfolio,
                        kind=kind,
                        title=title,
                        body=body,
                        created_at=self.now(),
                        delivery=delivery,
                        payload_json=json.dumps(dict(payload), default=str),
                    )
                )
            )

    def set_delivery(self, alert_id: int, delivery: str) -> None:
        with self._write() as conn:
            conn.execute(update(alerts).where(alerts.c.id == alert_id).values(delivery=delivery[:2000]))

    def alerts(
        self, portfolio: str | None = None, *, limit: int = 100, kind: str | None = None
    ) -> list[dict[str, Any]]:
        query = select(alerts).order_by(alerts.c.id.desc()).limit(limit)
        if portfolio is not None:
            query = query.where(alerts.c.portfolio == portfolio)
        if kind is not None:
            query = query.where(alerts.c.kind == kind)
        with self._read() as conn:
            return [
                {
                    "id": r.id,
                    "portfolio": r.portfolio,
                    "kind": r.kind,
                    "title": r.title,
                    "body": r.body,
                    "payload": json.loads(r.payload_json),
                    "created_at": r.created_at,
                    "delivery": r.delivery,
                }
                for r in conn.execute(query)
            ]


def _encode(values: dict[str, Any]) -> dict[str, Any]:
    """JSON-encode the *_json / dict-valued columns."""
    out = dict(values)
    for key in ("exit_request", "bh_json", "weights_json", "targets_json", "metrics_json", "plan_json", "report_json"):
        if key in out and out[key] is not None and not isinstance(out[key], str):
            out[key] = json.dumps(out[key], default=str)
    return out


def _portfolio(m: Any) -> PortfolioRow:
    return PortfolioRow(
        name=m["name"],
        paused=bool(m["paused"]),
        paused_reason=m["paused_reason"],
        next_check_at=m["next_check_at"],
        last_check_at=m["last_check_at"],
        anchor_at=m["anchor_at"],
        lease_owner=m["lease_owner"],
        trigger_requested=bool(m["trigger_requested"]),
        exit_request=_loads(m["exit_request"]),
        failures=int(m["failures"]),
        bh=_loads(m["bh_json"]),
        notice_for=m["notice_for"],
        summary_month=m["summary_month"],
        lease_until=m["lease_until"],
        lease_token=m["lease_token"],
        lease_epoch=int(m["lease_epoch"] or 0),
    )


def _decision(m: Any) -> dict[str, Any]:
    return {
        "id": m["id"],
        "time": m["time"],
        "recorded_at": m["recorded_at"],
        "kind": m["kind"],
        "fired": m["fired"],
        "traded": m["traded"],
        "status": m["status"],
        "reason": m["reason"],
        "rebalance_id": m["rebalance_id"],
        "value": m["value"],
        "buy_and_hold_value": m["bh_value"],
        "weights": json.loads(m["weights_json"]),
        "targets": json.loads(m["targets_json"]),
        "metrics": json.loads(m["metrics_json"]),
        "plan": _loads(m["plan_json"]),
        "report": _loads(m["report_json"]),
        "worker": m["worker"],
    }
