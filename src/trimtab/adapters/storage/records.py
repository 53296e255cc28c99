"""Validation and canonical forms shared by every ledger store, so all stores accept and return the same values."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal, Inexact, localcontext
from enum import StrEnum

from trimtab.core.base.ledger import LedgerEntry
from trimtab.errors import LedgerError

SCALE = 18  # decimal places kept exactly: PostgreSQL NUMERIC(48, 18); wei precision for 18-decimal tokens
INTEGER_DIGITS = 30  # 48 - 18
SUM_PRECISION = 80  # digits for exact sums of many NUMERIC(48, 18) amounts (Decimal's default 28 would round)
MAX_ACCOUNT = 64
MAX_ASSET = 32
MAX_KIND = 16
MAX_REF = 128
MAX_REBALANCE_ID = 64


class RebalanceStatus(StrEnum):
    """Life cycle of one rebalance: planned -> executing -> done | failed | partial (final states never change)."""

    PLANNED = "planned"
    EXECUTING = "executing"
    DONE = "done"
    FAILED = "failed"
    PARTIAL = "partial"

    @property
    def final(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset({RebalanceStatus.DONE, RebalanceStatus.FAILED, RebalanceStatus.PARTIAL})
OPEN_STATUSES = frozenset({RebalanceStatus.PLANNED, RebalanceStatus.EXECUTING})


@dataclass(frozen=True, slots=True)
class RebalanceRecord:
    """One row of the rebalance journal; plan and report are JSON text written by the engine."""

    id: str
    account: str
    created_at: datetime
    status: RebalanceStatus
    reason: str
    plan_json: str
    report_json: str | None = None
    finished_at: datetime | None = None


def stripped(value: Decimal) -> Decimal:
    """Same number without trailing zeros or a positive exponent: 1.500 -> 1.5, 1E+2 -> 100, -0 -> 0."""
    if value.is_zero():
        return Decimal(0)
    with localcontext(prec=SUM_PRECISION):
        out = value.normalize()
        return out.quantize(Decimal(1)) if out.as_tuple().exponent > 0 else out  # type: ignore[operator]


def canonical_amount(value: object, what: str = "amount") -> Decimal:
    """Exact Decimal in canonical form; LedgerError if it is not finite or does not fit NUMERIC(48, 18)."""
    if not isinstance(value, Decimal):
        raise LedgerError(f"{what} must be a Decimal, got {type(value).__name__}")
    if not value.is_finite():
        raise LedgerError(f"{what} must be finite, got {value}")
    out = stripped(value)
    if -out.as_tuple().exponent > SCALE:  # type: ignore[operator]
        raise LedgerError(f"{what} {value} has more than {SCALE} decimal places; quantize it before recording")
    if not out.is_zero() and out.adjusted() >= INTEGER_DIGITS:
        raise LedgerError(f"{what} {value} is too large (at most {INTEGER_DIGITS} integer digits)")
    return out


def exact_sum(amounts: list[Decimal]) -> Decimal:
    """Sum with enough precision that no rounding happens (Decimal's default 28 digits would round 48-digit sums)."""
    with localcontext(prec=SUM_PRECISION) as ctx:
        ctx.traps[Inexact] = True
        total = Decimal(0)
        for a in amounts:
            total += a
    return stripped(total)


def utc_time(value: object, what: str = "time") -> datetime:
    """Timestamps are stored in UTC; a naive datetime is taken to be UTC already."""
    if not isinstance(value, datetime):
        raise LedgerError(f"{what} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def text_field(value: object, what: str, limit: int, *, required: bool) -> str:
    if not isinstance(value, str):
        raise LedgerError(f"{what} must be a string, got {type(value).__name__}")
    if required and not value.strip():
        raise LedgerError(f"{what} must not be empty")
    if len(value) > limit:
        raise LedgerError(f"{what} {value[:20]!r}... is longer than {limit} characters")
    return value


def account_name(value: object) -> str:
    """A non-empty account name of at most 64 characters."""
    return text_field(value, "account", MAX_ACCOUNT, required=True)


def checked_entry(entry: object) -> LedgerEntry:
    """The entry in canonical form (UTC time, canonical Decimals), or LedgerError naming the bad field."""
    if not isinstance(entry, LedgerEntry):
        raise LedgerError(f"expected a LedgerEntry, got {type(entry).__name__}")
    account_name(entry.account)
    asset = text_field(entry.asset, "asset", MAX_ASSET, required=True)
    if asset != asset.strip().upper():
        raise LedgerError(f"asset {asset!r} is not a canonical symbol (use {asset.strip().upper()!r})")
    kind = text_field(entry.kind, "kind", MAX_KIND, required=True)
    if not kind.isidentifier() or kind != kind.lower():
        raise LedgerError(f"kind {kind!r} must be a lowercase identifier")
    text_field(entry.ref, "ref", MAX_REF, required=False)
    text_field(entry.rebalance_id, "rebalance_id", MAX_REBALANCE_ID, required=False)
    text_field(entry.note, "note", 10_000, required=False)
    price = canonical_amount(entry.price, "price")
    if price < 0:
        raise LedgerError(f"price must not be negative, got {price}")
    return replace(entry, amount=canonical_amount(entry.amount), price=price, time=utc_time(entry.time))


def json_text(value: object, what: str) -> str:
    """JSON documents are stored as text; reject anything that does not parse, so readers never choke."""
    if not isinstance(value, str):
        raise LedgerError(f"{what} must be a JSON string, got {type(value).__name__}")
    try:
        json.loads(value)
    except ValueError as err:
        raise LedgerError(f"{what} is not valid JSON: {err}") from None
    return value


def rebalance_status(value: object) -> RebalanceStatus:
    """Parse a status name; LedgerError listing the valid ones otherwise."""
    try:
        return RebalanceStatus(value if isinstance(value, str) else "")
    except ValueError:
        valid = ", ".join(s.value for s in RebalanceStatus)
        raise LedgerError(f"unknown rebalance status {value!r} (expected one of {valid})") from None


def stamped(
    entries: list[LedgerEntry], rebalance_id: str, account: str, members: Collection[str] = ()
) -> list[LedgerEntry]:
    """Entries of one rebalance carry its id and its account (or a member's, for a netting group's rebalance); a
    foreign id or account is an error."""
    out = []
    for e in entries:
        if e.account != account and e.account not in members:
            raise LedgerError(f"entry for account {e.account!r} in rebalance {rebalance_id} of account {account!r}")
        if e.rebalance_id not in ("", rebalance_id):
            raise LedgerError(f"entry carries rebalance_id {e.rebalance_id!r}, expected {rebalance_id!r}")
        out.append(replace(e, rebalance_id=rebalance_id))
    return out


def finish_args(status: str, report_json: str, now: datetime | None) -> tuple[RebalanceStatus, str, datetime]:
    """Checked arguments of finish_rebalance: a final status, a JSON report and the UTC finish time."""
    final = rebalance_status(status)
    if not final.final:
        raise LedgerError(f"finish_rebalance needs a final status (done, failed, partial), got {final.value!r}")
    return final, json_text(report_json, "report_json"), utc_time(now or datetime.now(UTC), "now")
