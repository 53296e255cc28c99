"""Rows of the service tables as Python values: the portfolio row, decision documents, JSON columns."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any


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
    flow_request: list[dict[str, Any]] | None = None  # deposits / withdrawals the next cycle records and trades for


def new_id(result: Any) -> int:
    """The primary key an INSERT just generated."""
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError("the database returned no primary key for an insert")
    return int(key[0])


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def encode(values: dict[str, Any]) -> dict[str, Any]:
    """JSON-encode the *_json / dict-valued columns."""
    out = dict(values)
    for key in (
        "exit_request",
        "flow_request",
        "bh_json",
        "weights_json",
        "targets_json",
        "metrics_json",
        "plan_json",
        "report_json",
        "yield_json",
    ):
        if key in out and out[key] is not None and not isinstance(out[key], str):
            out[key] = json.dumps(out[key], default=str)
    return out


def portfolio_row(m: Any) -> PortfolioRow:
    return PortfolioRow(
        name=m["name"],
        paused=bool(m["paused"]),
        paused_reason=m["paused_reason"],
        next_check_at=m["next_check_at"],
        last_check_at=m["last_check_at"],
        anchor_at=m["anchor_at"],
        lease_owner=m["lease_owner"],
        trigger_requested=bool(m["trigger_requested"]),
        exit_request=loads(m["exit_request"]),
        failures=int(m["failures"]),
        bh=loads(m["bh_json"]),
        notice_for=m["notice_for"],
        summary_month=m["summary_month"],
        lease_until=m["lease_until"],
        lease_token=m["lease_token"],
        lease_epoch=int(m["lease_epoch"] or 0),
        flow_request=loads(m["flow_request"]),
    )


def decision_row(m: Any) -> dict[str, Any]:
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
        "plan": loads(m["plan_json"]),
        "report": loads(m["report_json"]),
        "worker": m["worker"],
        "yields": loads(m["yield_json"]),
        "flow": m["flow"] or 0.0,
    }
