"""`trimtab remote approvals|approve|reject`: plans above a strategy's `approval:` thresholds wait on a running
service until an admin approves them (re-planned on fresh prices at once) or rejects them (docs/service.md)."""

from __future__ import annotations

import getpass
import re
from typing import Annotated, Any

import typer
from rich.table import Table

from trimtab.cli.app import out
from trimtab.cli.service import DEFAULT_SERVER, JsonOpt, NameArg, ServerOpt, _call, _print_json, remote

IdArg = Annotated[int, typer.Argument(min=1, help="Approval id, as `trimtab remote approvals NAME` lists it.")]
ByOpt = Annotated[str | None, typer.Option("--by", help="Who decides, kept in the audit log (default: $USER).")]
NoteOpt = Annotated[str, typer.Option("--note", help="Why (kept in the audit log).")]


def _by(by: str | None) -> str:
    if by is not None:
        return by
    try:
        return re.sub(r"[^\w.@ -]", "", getpass.getuser())[:48]
    except (KeyError, OSError):
        return ""


@remote.command("approvals")
def remote_approvals(
    name: NameArg,
    server: ServerOpt = DEFAULT_SERVER,
    status: Annotated[str | None, typer.Option(help="Only this status (pending, approved, expired...).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Plans waiting for an admin (and past ones): why, size, expiry, who decided."""
    params: dict[str, Any] = {"status": status} if status else {}
    doc = _call(server, "GET", f"/api/portfolios/{name}/approvals", params=params)
    if as_json:
        return _print_json(doc)
    if not doc["items"]:
        out.print(f"{name}: no approvals")
        return None
    t = Table(title=f"{name}: approvals", title_justify="left")
    for col in ("id", "status", "kind", "orders", "notional", "expires", "decided by", "why"):
        t.add_column(col, justify="right" if col in ("id", "orders", "notional") else "left")
    for a in doc["items"]:
        t.add_row(
            str(a["id"]),
            a["status"],
            a["kind"],
            str(len(a["plan"]["orders"])),
            f"{float(a['notional']):,.2f}",
            a["expires_at"],
            a["decided_by"] or "-",
            a["reason"] + (f" ({a['note']})" if a["note"] else ""),
        )
    out.print(t)
    return None


def _decide(server: str, name: str, approval_id: int, action: str, by: str | None, note: str, as_json: bool) -> None:
    body = {"by": _by(by), "note": note}
    doc = _call(server, "POST", f"/api/portfolios/{name}/approvals/{approval_id}/{action}", admin=True, body=body)
    if as_json:
        _print_json(doc)
        return
    a = doc["approval"]
    after = "re-planned on fresh prices at its next cycle (now)" if action == "approve" else "nothing is sent"
    out.print(f"{name}: approval #{a['id']} {a['status']} by {a['decided_by']}: {after}")


@remote.command("approve")
def remote_approve(
    name: NameArg,
    approval_id: IdArg,
    server: ServerOpt = DEFAULT_SERVER,
    by: ByOpt = None,
    note: NoteOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """Approve a waiting plan: the service re-plans it on fresh prices at once and sends it."""
    _decide(server, name, approval_id, "approve", by, note, as_json)


@remote.command("reject")
def remote_reject(
    name: NameArg,
    approval_id: IdArg,
    server: ServerOpt = DEFAULT_SERVER,
    by: ByOpt = None,
    note: NoteOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """Reject a waiting plan: nothing is sent; the portfolio plans again at its next check."""
    _decide(server, name, approval_id, "reject", by, note, as_json)
