"""What `trimtab execute` leaves in the ledger file: unique refs across runs, a rebalances row per execution (as the
service journals it), one time per execution, quote legs priced at 1, and nothing at all when not confirmed."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from typer.testing import CliRunner

from trimtab.adapters.storage import SqlLedgerStore
from trimtab.cli import app

runner = CliRunner()


def _execute(ledger: Path, *extra: str, strategy: str = "index-fund") -> object:
    return runner.invoke(app, ["execute", "-s", strategy, "--ledger", str(ledger), "--account", "me", *extra])


def test_two_executions_write_unique_refs_and_a_rebalance_each(tmp_path: Path) -> None:
    ledger = tmp_path / "l.sqlite"
    first = _execute(ledger, "--yes")
    assert first.exit_code == 0, first.output  # type: ignore[attr-defined]
    second = _execute(ledger, "--yes", strategy="bitcoin")  # other targets on the same account: it trades again
    assert second.exit_code == 0, second.output  # type: ignore[attr-defined]
    store = SqlLedgerStore(str(ledger))
    trades = [e for e in store.entries("me") if e.kind == "trade"]
    by_ref: dict[str, int] = {}
    for e in trades:
        by_ref[e.ref] = by_ref.get(e.ref, 0) + 1
    assert trades and set(by_ref.values()) == {2}, "each fill's two legs share a ref no other fill uses"
    rebalances = store.rebalances("me")
    assert len(rebalances) == 2 and all(r.status.value == "done" for r in rebalances)
    for r in rebalances:
        legs = json.loads(r.plan_json)["legs"]
        assert legs and all(leg["client_id"] for leg in legs)
    assert {e.rebalance_id for e in trades} == {r.id for r in rebalances}


def test_one_time_per_execution_and_quote_legs_priced_at_one(tmp_path: Path) -> None:
    ledger = tmp_path / "l.sqlite"
    assert _execute(ledger, "--yes").exit_code == 0  # type: ignore[attr-defined]
    entries = SqlLedgerStore(str(ledger)).entries("me")
    assert len({e.time for e in entries}) == 1, "the opening deposit and the trades carry the snapshot time"
    quote_legs = [e for e in entries if e.kind == "trade" and e.asset == "USDC"]
    assert quote_legs and all(e.price == 1 for e in quote_legs)
    quote_of = {e.ref: -e.amount for e in quote_legs}
    for e in entries:  # the traded leg carries its own execution price: quote paid (or received) per unit
        if e.kind == "trade" and e.asset != "USDC":
            assert abs(e.price - abs(quote_of[e.ref] / e.amount)) <= e.price * Decimal("1e-12")


def test_an_unconfirmed_execute_writes_nothing(tmp_path: Path) -> None:
    ledger = tmp_path / "l.sqlite"
    r = runner.invoke(app, ["execute", "-s", "index-fund", "--ledger", str(ledger)], input="n\n")
    assert r.exit_code == 1 and "nothing written" in r.output
    assert not ledger.exists()
