"""Behaviour every LedgerStore must show (InMemory, SQLite, PostgreSQL); subclass and override the `store` fixture."""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, localcontext
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trimtab.adapters.storage import RebalanceStatus
from trimtab.core.base.ledger import EntryKind, LedgerEntry, balances_from
from trimtab.errors import LedgerError

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
amounts_18dp = st.decimals(
    min_value=Decimal(-(10**12)), max_value=Decimal(10**12), places=18, allow_nan=False, allow_infinity=False
)


def entry(
    asset: str = "BTC",
    amount: str | Decimal = "1",
    *,
    account: str = "main",
    kind: str = EntryKind.DEPOSIT,
    ref: str = "r",
    minutes: int = 0,
    **kw: Any,
) -> LedgerEntry:
    return LedgerEntry(account, asset, Decimal(amount), kind, ref, T0 + timedelta(minutes=minutes), **kw)


def fresh_account() -> str:
    return f"acct-{uuid.uuid4().hex[:10]}"


class LedgerStoreContract:
    """Shared behaviour; `store` must be an empty store."""

    @pytest.fixture
    def store(self) -> Any:
        raise NotImplementedError

    # -- append / entries / balances ------------------------------------------------------------

    def test_entries_round_trip_in_append_order(self, store: Any) -> None:
        written = [
            entry("BTC", "0.5", minutes=1),
            entry("USDC", "-1000.25", kind=EntryKind.TRADE, price=Decimal("2000.5")),
            entry("ETH", "3", note="hello", ref="fill-1", rebalance_id="rb1"),
        ]
        store.append(written[:1])
        store.append(written[1:])
        assert store.entries() == written
        assert [e.asset for e in store.entries()] == ["BTC", "USDC", "ETH"]

    def test_entries_filter_by_account(self, store: Any) -> None:
        store.append([entry(account="a"), entry(account="b", amount="2"), entry(account="a", amount="3")])
        assert [e.amount for e in store.entries("a")] == [Decimal(1), Decimal(3)]
        assert [e.amount for e in store.entries("b")] == [Decimal(2)]
        assert store.entries("nobody") == []

    def test_balances_are_derived_from_entries(self, store: Any) -> None:
        store.append(
            [
                entry("BTC", "1.25"),
                entry("USDC", "500"),
                entry("BTC", "-0.25", kind=EntryKind.TRADE),
                entry("BTC", "7", account="other"),
            ]
        )
        assert store.balances("main") == {"BTC": Decimal(1), "USDC": Decimal(500)}
        assert store.balances("main") == balances_from(store.entries("main"))
        assert store.balances("other") == {"BTC": Decimal(7)}
        assert store.balances("nobody") == {}

    def test_empty_append_is_a_no_op(self, store: Any) -> None:
        store.append([])
        assert store.entries() == []

    def test_append_is_atomic(self, store: Any) -> None:
        store.append([entry("BTC", "1")])
        bad = [entry("ETH", "2"), entry("ETH", "0.0000000000000000001"), entry("SOL", "3")]  # 19 decimals
        with pytest.raises(LedgerError, match="decimal places"):
            store.append(bad)
        assert store.entries() == [entry("BTC", "1")]
        assert store.balances("main") == {"BTC": Decimal(1)}

    @pytest.mark.parametrize(
        ("field", "value", "message"),
        [
            ("amount", Decimal("NaN"), "finite"),
            ("amount", Decimal("1e30"), "too large"),
            ("amount", 1.5, "Decimal"),
            ("asset", "btc", "canonical"),
            ("asset", "", "empty"),
            ("account", "", "empty"),
            ("kind", "Deposit!", "lowercase"),
            ("time", "2024-01-01", "datetime"),
            ("price", Decimal(-1), "negative"),
        ],
    )
    def test_invalid_entries_are_refused_with_the_field_named(
        self, store: Any, field: str, value: Any, message: str
    ) -> None:
        with pytest.raises(LedgerError, match=message):
            store.append([entry("BTC", "1"), replace(entry(), **{field: value})])
        assert store.entries() == []

    def test_amounts_at_the_limits_round_trip(self, store: Any) -> None:
        big, tiny = Decimal("-" + "9" * 30 + "." + "9" * 18), Decimal("1e-18")
        store.append(
            [entry("BTC", big), entry("BTC", tiny), entry("ETH", "1.500000000000000000"), entry("XRP", "1E+3")]
        )
        got = store.entries()
        assert [e.amount for e in got] == [big, tiny, Decimal("1.5"), Decimal(1000)]
        assert [str(e.amount) for e in got[2:]] == ["1.5", "1000"]  # canonical form on every backend
        with localcontext(prec=60):
            assert store.balances("main")["BTC"] == big + tiny

    def test_times_come_back_in_utc(self, store: Any) -> None:
        cet = timezone(timedelta(hours=1))
        naive = datetime(2024, 1, 1, 9, 30, 15, 123456)
        store.append(
            [replace(entry(), time=datetime(2024, 1, 1, 10, 30, 15, 123456, tzinfo=cet)), replace(entry(), time=naive)]
        )
        first, second = store.entries()
        assert first.time == second.time == naive.replace(tzinfo=UTC)
        assert first.time.utcoffset() == timedelta(0)

    # one method, three backends (differing executors); each example uses its own account (function fixture is fine)
    @settings(
        max_examples=30,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.differing_executors],
    )
    @given(amounts=st.lists(amounts_18dp, min_size=1, max_size=40))
    def test_sums_of_18_decimal_amounts_are_exact(self, store: Any, amounts: list[Decimal]) -> None:
        account = fresh_account()
        store.append([entry("ETH", a, account=account) for a in amounts])
        with localcontext(prec=100):
            expected = sum(amounts, Decimal(0))
        assert store.balances(account)["ETH"] == expected
        assert [e.amount for e in store.entries(account)] == amounts

    def test_store_offers_no_way_to_change_history(self, store: Any) -> None:
        public = {n for n in dir(store) if not n.startswith("_")}
        assert not {n for n in public if any(w in n for w in ("update", "delete", "remove", "edit", "clear"))}

    # -- accounts -------------------------------------------------------------------------------

    def test_open_account_records_opening_balances_as_deposits(self, store: Any) -> None:
        store.open_account("vault", {"USDC": Decimal("10000"), "BTC": Decimal("0.1"), "ETH": Decimal(0)}, time=T0)
        assert store.balances("vault") == {"BTC": Decimal("0.1"), "USDC": Decimal(10000)}
        assert {e.kind for e in store.entries("vault")} == {EntryKind.DEPOSIT}
        assert "vault" in store.accounts()
        with pytest.raises(LedgerError, match="already exists"):
            store.open_account("vault", {"USDC": Decimal(1)}, time=T0)
        assert store.balances("vault")["USDC"] == Decimal(10000)

    def test_open_account_is_atomic(self, store: Any) -> None:
        with pytest.raises(LedgerError, match="canonical"):
            store.open_account("vault", {"BTC": Decimal(1), "eth": Decimal(2)}, time=T0)
        assert store.entries() == []
        assert "vault" not in store.accounts()

    def test_appending_registers_the_account(self, store: Any) -> None:
        store.append([entry(account="b"), entry(account="a")])
        assert store.accounts() == ["a", "b"]

    # -- rebalance journal ----------------------------------------------------------------------

    def test_rebalance_life_cycle(self, store: Any) -> None:
        plan = json.dumps({"orders": [{"asset": "ETH", "side": "buy", "quantity": "0.5"}]})
        rid = store.start_rebalance("main", plan, "ETH drift 6.2% > band 5%", now=T0)
        rec = store.rebalance(rid)
        assert (rec.status, rec.account, rec.plan_json, rec.report_json) == (
            RebalanceStatus.PLANNED,
            "main",
            plan,
            None,
        )
        assert rec.created_at == T0
        store.mark_executing(rid)
        assert store.rebalance(rid).status is RebalanceStatus.EXECUTING
        fills = [
            entry("ETH", "0.5", kind=EntryKind.TRADE, ref="f1"),
            entry("USDC", "-1000", kind=EntryKind.TRADE, ref="f1"),
        ]
        store.finish_rebalance(rid, "done", '{"fills": 1}', fills, now=T0 + timedelta(seconds=5))
        rec = store.rebalance(rid)
        assert (rec.status, rec.report_json, rec.finished_at) == (
            RebalanceStatus.DONE,
            '{"fills": 1}',
            T0 + timedelta(seconds=5),
        )
        assert store.entries() == [replace(f, rebalance_id=rid) for f in fills]
        assert store.balances("main") == {"ETH": Decimal("0.5"), "USDC": Decimal(-1000)}

    def test_finished_rebalance_cannot_be_finished_again(self, store: Any) -> None:
        rid = store.start_rebalance("main", "{}", "drift")
        store.finish_rebalance(rid, "partial", "{}", [entry()])
        with pytest.raises(LedgerError, match="already partial"):
            store.finish_rebalance(rid, "done", "{}", [entry()])
        with pytest.raises(LedgerError, match="already partial"):
            store.mark_executing(rid)
        assert len(store.entries()) == 1
        assert store.rebalance(rid).status is RebalanceStatus.PARTIAL

    def test_finish_is_atomic(self, store: Any) -> None:
        rid = store.start_rebalance("main", "{}", "drift")
        with pytest.raises(LedgerError, match="decimal places"):
            store.finish_rebalance(rid, "done", "{}", [entry("ETH", "1"), entry("USDC", "1e-19")])
        assert store.rebalance(rid).status is RebalanceStatus.PLANNED
        assert store.rebalance(rid).report_json is None
        assert store.entries() == []
        store.finish_rebalance(rid, "failed", '{"error": "venue down"}')  # still finishable after the rollback
        assert store.rebalance(rid).status is RebalanceStatus.FAILED

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({"account": "other"}, "account"),
            ({"rebalance_id": "someone-else"}, "rebalance_id"),
        ],
    )
    def test_finish_refuses_entries_of_another_account_or_rebalance(
        self, store: Any, change: dict[str, Any], message: str
    ) -> None:
        rid = store.start_rebalance("main", "{}", "drift")
        with pytest.raises(LedgerError, match=message):
            store.finish_rebalance(rid, "done", "{}", [entry(), replace(entry(), **change)])
        assert store.entries() == []
        assert store.rebalance(rid).status is RebalanceStatus.PLANNED

    @pytest.mark.parametrize(
        ("status", "report", "message"),
        [
            ("planned", "{}", "final status"),
            ("finished", "{}", "unknown rebalance status"),
            ("done", "{not json", "not valid JSON"),
        ],
    )
    def test_finish_validates_status_and_report(self, store: Any, status: str, report: str, message: str) -> None:
        rid = store.start_rebalance("main", "{}", "drift")
        with pytest.raises(LedgerError, match=message):
            store.finish_rebalance(rid, status, report, [entry()])
        assert store.rebalance(rid).status is RebalanceStatus.PLANNED
        assert store.entries() == []

    def test_unknown_rebalance_and_bad_plan_are_refused(self, store: Any) -> None:
        with pytest.raises(LedgerError, match="unknown rebalance"):
            store.finish_rebalance("nope", "done", "{}")
        with pytest.raises(LedgerError, match="unknown rebalance"):
            store.rebalance("nope")
        with pytest.raises(LedgerError, match="not valid JSON"):
            store.start_rebalance("main", "{", "drift")
        assert store.rebalances() == []

    def test_rebalances_listing_is_oldest_first_per_account(self, store: Any) -> None:
        late = store.start_rebalance("a", "{}", "late", now=T0 + timedelta(hours=1))
        early = store.start_rebalance("a", "{}", "early", now=T0)
        other = store.start_rebalance("b", "{}", "other", now=T0 + timedelta(minutes=30))
        assert [r.id for r in store.rebalances("a")] == [early, late]
        assert [r.id for r in store.rebalances()] == [early, other, late]
        assert [r.reason for r in store.rebalances("b")] == ["other"]
        assert store.accounts() == ["a", "b"]

    def test_concurrent_finishes_record_the_rebalance_once(self, store: Any) -> None:
        rid = store.start_rebalance("main", "{}", "drift")
        outcomes: list[str] = []
        barrier = threading.Barrier(2)

        def finish(ref: str) -> None:
            barrier.wait()
            try:
                store.finish_rebalance(rid, "done", json.dumps({"by": ref}), [entry(ref=ref)])
                outcomes.append("ok")
            except LedgerError:
                outcomes.append("refused")

        threads = [threading.Thread(target=finish, args=(r,)) for r in ("t1", "t2")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert sorted(outcomes) == ["ok", "refused"]
        (only,) = store.entries()
        assert json.loads(store.rebalance(rid).report_json) == {"by": only.ref}
