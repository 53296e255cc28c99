"""SQLAlchemy tables of the rebalancing service (DDL in migrations v0002_service and v0004_fencing)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, ForeignKey, Integer, MetaData, String, Table, Text

from trimtab.adapters.storage.schema import UtcDateTime

metadata = MetaData()

service_meta = Table(
    "service_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

portfolios = Table(
    "portfolios",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("paused", Boolean, nullable=False, default=False),
    Column("paused_reason", Text, nullable=False, default=""),
    Column("next_check_at", UtcDateTime(), nullable=True),
    Column("last_check_at", UtcDateTime(), nullable=True),
    Column("anchor_at", UtcDateTime(), nullable=True),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until", UtcDateTime(), nullable=True),
    Column("trigger_requested", Boolean, nullable=False, default=False),
    Column("exit_request", Text, nullable=True),
    Column("failures", Integer, nullable=False, default=0),
    Column("bh_json", Text, nullable=True),
    Column("notice_for", UtcDateTime(), nullable=True),
    Column("summary_month", String(7), nullable=True),
    Column("lease_token", String(64), nullable=True),  # the holding process (unique per process, not worker id)
    Column("lease_epoch", Integer, nullable=False, default=0),  # bumped by every claim: the fencing number
    Column("flow_request", Text, nullable=True),  # pending deposits / withdrawals (JSON list)
)

service_workers = Table(
    "service_workers",
    metadata,
    Column("token", String(64), primary_key=True),
    Column("worker_id", String(64), nullable=False),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("heartbeat_at", UtcDateTime(), nullable=False),
)

rebalance_holders = Table(  # which process (token, lease epoch) is executing a journaled rebalance
    "rebalance_holders",
    metadata,
    Column("rebalance_id", String(64), primary_key=True),
    Column("portfolio", String(64), nullable=False),
    Column("token", String(64), nullable=False),
    Column("epoch", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

decisions = Table(
    "decisions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("portfolio", String(64), ForeignKey("portfolios.name"), nullable=False),
    Column("time", UtcDateTime(), nullable=False),
    Column("recorded_at", UtcDateTime(), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("fired", Boolean, nullable=False),
    Column("traded", Boolean, nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("rebalance_id", String(64), nullable=True),
    Column("value", Float, nullable=False),
    Column("bh_value", Float, nullable=False),
    Column("weights_json", Text, nullable=False),
    Column("targets_json", Text, nullable=False),
    Column("metrics_json", Text, nullable=False),
    Column("plan_json", Text, nullable=True),
    Column("report_json", Text, nullable=True),
    Column("worker", String(64), nullable=False, default=""),
    Column("yield_json", Text, nullable=True),  # yield portfolios: positions, interest, yield earned
    Column("flow", Float, nullable=True),  # the net external flow recorded with this decision (quote units)
)

target_versions = Table(
    "target_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("portfolio", String(64), ForeignKey("portfolios.name"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("targets_json", Text, nullable=False),
    Column("actor", String(32), nullable=False),
    Column("note", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("portfolio", String(64), nullable=True),
    Column("action", String(32), nullable=False),
    Column("actor", String(32), nullable=False),
    Column("detail_json", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("portfolio", String(64), nullable=True),
    Column("kind", String(32), nullable=False),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("payload_json", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("delivery", Text, nullable=False, default="pending"),
)
