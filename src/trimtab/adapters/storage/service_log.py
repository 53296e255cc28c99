"""The service's append-only records, as functions on a connection: target versions, audit entries, alerts.

ServiceStore wraps each in one transaction; the functions never commit themselves.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, insert, select, update

from trimtab.adapters.storage.service_rows import new_id
from trimtab.adapters.storage.service_schema import alerts as alerts_table
from trimtab.adapters.storage.service_schema import audit_log as audit_table
from trimtab.adapters.storage.service_schema import target_versions

BATCH = 500  # names per IN (...) list or multi-row INSERT: far below SQLite's 32,766 bound parameters


def current_target(conn: Connection, name: str) -> tuple[int, dict[str, float]] | None:
    """The portfolio's current (version, targets), None if it has none."""
    query = (
        select(target_versions.c.version, target_versions.c.targets_json)
        .where(target_versions.c.portfolio == name)
        .order_by(target_versions.c.version.desc())
        .limit(1)
    )
    row = conn.execute(query).one_or_none()
    return None if row is None else (int(row[0]), json.loads(row[1]))


def current_targets(conn: Connection, names: Sequence[str]) -> dict[str, tuple[int, dict[str, float]]]:
    """(version, targets) of each named portfolio that has targets, one query per batch of names."""
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
    for i in range(0, len(names), BATCH):
        for name, version, doc in conn.execute(query, {"names": list(names[i : i + BATCH])}):
            out[name] = (int(version), json.loads(doc))
    return out


def target_versions_of(conn: Connection, name: str) -> list[dict[str, Any]]:
    query = select(target_versions).where(target_versions.c.portfolio == name).order_by(target_versions.c.version)
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


def add_targets(
    conn: Connection, name: str, targets: Mapping[str, float], *, actor: str, note: str, now: datetime
) -> int:
    """Append the next targets version and its audit entry; the new version number."""
    current = conn.scalar(select(func.max(target_versions.c.version)).where(target_versions.c.portfolio == name))
    version = int(current or 0) + 1
    conn.execute(
        insert(target_versions).values(
            portfolio=name,
            version=version,
            targets_json=json.dumps(dict(targets)),
            actor=actor,
            note=note,
            created_at=now,
        )
    )
    add_audit(conn, name, "set_targets", actor, {"version": version, "targets": targets, "note": note}, now=now)
    return version


def add_audit(
    conn: Connection, portfolio: str | None, action: str, actor: str, detail: Mapping[str, Any], *, now: datetime
) -> None:
    conn.execute(
        insert(audit_table).values(
            portfolio=portfolio,
            action=action,
            actor=actor,
            detail_json=json.dumps(dict(detail), default=str),
            created_at=now,
        )
    )


def audit_log(conn: Connection, portfolio: str | None, limit: int) -> list[dict[str, Any]]:
    query = select(audit_table).order_by(audit_table.c.id.desc()).limit(limit)
    if portfolio is not None:
        query = query.where(audit_table.c.portfolio == portfolio)
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
    conn: Connection,
    portfolio: str | None,
    kind: str,
    title: str,
    body: str,
    payload: Mapping[str, Any],
    *,
    delivery: str,
    now: datetime,
) -> int:
    return new_id(
        conn.execute(
            insert(alerts_table).values(
                portfolio=portfolio,
                kind=kind,
                title=title,
                body=body,
                created_at=now,
                delivery=delivery,
                payload_json=json.dumps(dict(payload), default=str),
            )
        )
    )


def set_delivery(conn: Connection, alert_id: int, delivery: str) -> None:
    conn.execute(update(alerts_table).where(alerts_table.c.id == alert_id).values(delivery=delivery[:2000]))


def alerts(conn: Connection, portfolio: str | None, *, limit: int, kind: str | None) -> list[dict[str, Any]]:
    query = select(alerts_table).order_by(alerts_table.c.id.desc()).limit(limit)
    if portfolio is not None:
        query = query.where(alerts_table.c.portfolio == portfolio)
    if kind is not None:
        query = query.where(alerts_table.c.kind == kind)
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
