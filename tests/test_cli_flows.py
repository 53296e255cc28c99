"""`trimtab deposit` / `withdraw` on a real SQLite ledger: the flow is recorded, a deposit only buys and a
withdrawal only sells, nothing is written without confirmation, and an account that does not exist is refused."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from typer.testing import CliRunner

from trimtab.adapters.storage import SqlLedgerStore
from trimtab.cli import app

runner = CliRunner()


def _opened(tmp_path: Path) -> Path:
    ledger = tmp_path / "l.sqlite"
    r = runner.invoke(app, ["execute", "-s", "bitcoin", "--ledger", str(ledger), "--account", "me", "--yes"])
    assert r.exit_code == 0, r.output
    return ledger


def _sides(ledger: Path, ref_after: int) -> set[str]:
    trades = [
        e for e in SqlLedgerStore(str(ledger)).entries("me")[ref_after:] if e.kind == "trade" and e.asset != "USDC"
    ]
    return {"buy" if e.amount > 0 else "sell" for e in trades}


def test_a_deposit_is_recorded_and_only_buys(tmp_path: Path) -> None:
    ledger = _opened(tmp_path)
    before = len(SqlLedgerStore(str(ledger)).entries("me"))
    r = runner.invoke(
        app, ["deposit", "-s", "bitcoin", "--ledger", str(ledger), "--account", "me", "--amount", "2500", "--yes"]
    )
    assert r.exit_code == 0, r.output
    entries = SqlLedgerStore(str(ledger)).entries("me")[before:]
    flows = [e for e in entries if e.kind == "deposit"]
    assert len(flows) == 1 and flows[0].amount == Decimal("2500") and flows[0].ref.startswith("flow-")
    assert _sides(ledger, before) == {"buy"}


def test_a_withdrawal_only_sells_and_never_overdraws(tmp_path: Path) -> None:
    ledger = _opened(tmp_path)
    before = len(SqlLedgerStore(str(ledger)).entries("me"))
    r = runner.invoke(
        app, ["withdraw", "-s", "bitcoin", "--ledger", str(ledger), "--account", "me", "--amount", "3000", "--yes"]
    )
    assert r.exit_code == 0, r.output
    store = SqlLedgerStore(str(ledger))
    out = [e for e in store.entries("me")[before:] if e.kind == "withdraw"]
    assert len(out) == 1 and out[0].amount == Decimal("-3000")
    assert _sides(ledger, before) <= {"sell"}
    assert all(q >= 0 for q in store.balances("me").values())
    too_much = runner.invoke(
        app, ["withdraw", "-s", "bitcoin", "--ledger", str(ledger), "--account", "me", "--amount", "1e9", "--yes"]
    )
    assert too_much.exit_code == 2 and "can raise" in too_much.output


def test_an_unconfirmed_flow_records_nothing_and_an_unknown_account_is_refused(tmp_path: Path) -> None:
    ledger = _opened(tmp_path)
    before = SqlLedgerStore(str(ledger)).entries("me")
    r = runner.invoke(
        app, ["deposit", "-s", "bitcoin", "--ledger", str(ledger), "--account", "me", "--amount", "10"], input="n\n"
    )
    assert r.exit_code == 1 and "nothing recorded" in r.output
    assert SqlLedgerStore(str(ledger)).entries("me") == before
    r = runner.invoke(
        app, ["deposit", "-s", "bitcoin", "--ledger", str(ledger), "--account", "nobody", "--amount", "10", "--yes"]
    )
    assert r.exit_code == 2 and "no account nobody" in r.output
