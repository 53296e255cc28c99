"""Circuit breakers: each guard alone, then through the engine on the paper venue and a real SQLite ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from trimtab.adapters.paper import PaperVenue
from trimtab.adapters.storage import SqlLedgerStore
from trimtab.config import load_strategy
from trimtab.core.base.ledger import deposit_entries
from trimtab.core.base.snapshot import MarketSnapshot
from trimtab.core.base.types import CostEstimate, MarketRules, PlannedOrder, Side, TradePlan
from trimtab.core.costs.model import linear_costs
from trimtab.core.execution.guards import (
    BalanceChanged,
    CostTolerance,
    GuardContext,
    GuardSet,
    MissingMarket,
    PriceDisagreement,
    StablecoinPeg,
    StalePrice,
    TurnoverLimit,
)
from trimtab.engine import run_cycle
from trimtab.errors import SafetyError, VenueMisconfigured

D = Decimal
NOW = datetime(2024, 6, 30, 12, tzinfo=UTC)
PRICES = {"BTC": D(60000), "ETH": D(3000), "USDC": D(1)}
HOLD = {"BTC": D(1), "ETH": D(0), "USDC": D(40000)}  # value 100k


def plan(*legs: tuple[str, Side, str], fee: str = "5") -> TradePlan:
    return TradePlan(
        tuple(PlannedOrder(a, "USDC", s, D(q), PRICES[a], PRICES[a], CostEstimate(fee=D(fee))) for a, s, q in legs),
        "test",
    )


PLAN = plan(("BTC", Side.SELL, "0.2"), ("ETH", Side.BUY, "4"))  # 12k + 12k turnover, 10 cost


def ctx(**kw: object) -> GuardContext:
    base: dict[str, object] = {"plan": PLAN, "now": NOW, "prices": PRICES, "holdings": HOLD}
    base.update(kw)
    return GuardContext(**base)


def test_stale_price() -> None:
    g = StalePrice(300)
    fresh = {"BTC": NOW - timedelta(seconds=60), "ETH": NOW}
    assert g.check(ctx(price_times=fresh)) == ()
    stale = g.check(ctx(price_times={**fresh, "ETH": NOW - timedelta(minutes=10)}))
    assert len(stale) == 1 and "ETH" in stale[0].reason and "600s old" in stale[0].reason
    assert "no timestamp" in g.check(ctx(price_times={"BTC": NOW}))[0].reason


def test_price_sources_disagree() -> None:
    g = PriceDisagreement(0.01)
    assert g.check(ctx(reference_prices={"BTC": D(60300), "ETH": D(2990)})) == ()
    bad = g.check(ctx(reference_prices={"BTC": D(63000), "ETH": D(3000)}))
    assert [v.reason.split(":")[0] for v in bad] == ["BTC"]
    assert len(g.check(ctx())) == 2 and PriceDisagreement(0.01, require_reference=False).check(ctx()) == ()


def test_stablecoin_off_peg() -> None:
    g = StablecoinPeg(0.005)
    assert g.check(ctx(reference_prices={"USDC": D("0.998")})) == ()
    bad = g.check(ctx(reference_prices={"USDC": D("0.97")}))
    assert len(bad) == 1 and "USDC" in bad[0].reason and "3.00%" in bad[0].reason
    usdt_plan = TradePlan((PlannedOrder("USDT", "USDC", Side.BUY, D(100), D("0.9"), D("0.9"), CostEstimate()),), "t")
    assert "USDT" in g.check(ctx(plan=usdt_plan, prices={"USDT": D("0.9")}))[0].reason


def test_missing_market() -> None:
    g = MissingMarket()
    assert g.check(ctx(markets=frozenset({"BTC", "ETH"}))) == ()
    assert "ETH/USDC" in g.check(ctx(markets=frozenset({"BTC"})))[0].reason


def test_balance_changed_since_the_plan() -> None:
    g = BalanceChanged()
    assert g.check(ctx(balances=dict(HOLD))) == ()
    bad = g.check(ctx(balances={**HOLD, "USDC": D(39000)}))
    assert len(bad) == 1 and "USDC balance is 39000" in bad[0].reason


def test_turnover_limits_per_rebalance_and_per_day() -> None:
    assert TurnoverLimit(per_rebalance=0.25).check(ctx()) == ()  # 24k of 100k
    assert "24.00%" in TurnoverLimit(per_rebalance=0.2).check(ctx())[0].reason
    assert TurnoverLimit(per_day=0.5).check(ctx(traded_today=D(20000))) == ()
    assert "44.00%" in TurnoverLimit(per_day=0.4).check(ctx(traded_today=D(20000)))[0].reason


def test_cost_tolerance() -> None:
    assert CostTolerance(0.0002).check(ctx()) == ()  # 10 of 100k = 0.01%
    assert "0.010%" in CostTolerance(0.00005).check(ctx())[0].reason


# -- through the engine -----------------------------------------------------------------------------------
START = {"BTC": D(1), "USDC": D(20000)}
SNAP_PRICES = {"BTC": D(60000), "ETH": D(3000), "SOL": D(140), "BNB": D(570), "XRP": D("0.47"), "USDC": D(1)}


def setup(tmp_path: Path, venue_cls: type[PaperVenue] = PaperVenue) -> tuple[SqlLedgerStore, PaperVenue]:
    store = SqlLedgerStore(tmp_path / "ledger.sqlite")
    store.append(deposit_entries(START, account="acct", time=NOW, ref="open"))
    return store, venue_cls(START, load_strategy("index-fund").costs, prices=SNAP_PRICES)


@pytest.mark.parametrize(
    "guards",
    [
        GuardSet((StalePrice(60),), price_times=dict.fromkeys(SNAP_PRICES, NOW - timedelta(hours=1)), now=NOW),
        GuardSet((PriceDisagreement(0.01),), reference_prices={**SNAP_PRICES, "SOL": D(150)}),
        GuardSet((StablecoinPeg(0.01),), reference_prices={"USDC": D("0.95")}),
        GuardSet((TurnoverLimit(per_rebalance=0.1),)),
        GuardSet((TurnoverLimit(per_day=0.9),), traded_today=D(70000)),
        GuardSet((CostTolerance(0.0001),)),
    ],
    ids=["stale", "disagree", "peg", "turnover", "daily", "cost"],
)
def test_a_failing_guard_stops_the_cycle_before_any_order(tmp_path: Path, guards: GuardSet) -> None:
    store, venue = setup(tmp_path)
    with pytest.raises(SafetyError, match="rebalance not started: " + guards.guards[0].name):
        run_cycle(
            load_strategy("index-fund"), MarketSnapshot(NOW, SNAP_PRICES), venue, store, account="acct", guards=guards
        )
    assert venue.balances() == START and len(store.entries()) == 2


def test_missing_market_and_changed_balance_stop_the_cycle(tmp_path: Path) -> None:
    class NoXrp(PaperVenue):
        def rules(self, asset: str, quote: str) -> MarketRules:
            if asset == "XRP":
                raise VenueMisconfigured("no spot market XRP/USDC", venue="paper", op="rules")
            return super().rules(asset, quote)

    store, venue = setup(tmp_path, NoXrp)
    with pytest.raises(SafetyError, match="missing_market: no market for XRP/USDC"):
        run_cycle(
            load_strategy("index-fund"),
            MarketSnapshot(NOW, SNAP_PRICES),
            venue,
            store,
            account="acct",
            guards=GuardSet((MissingMarket(),)),
        )
    moved = PaperVenue({**START, "USDC": D(15000)}, linear_costs(10, 5), prices=SNAP_PRICES)
    with pytest.raises(SafetyError, match="balance_changed: USDC balance is 15000"):
        run_cycle(
            load_strategy("index-fund"),
            MarketSnapshot(NOW, SNAP_PRICES),
            moved,
            store,
            account="acct",
            guards=GuardSet((BalanceChanged(),)),
        )
    assert len(store.entries()) == 2


def test_passing_guards_execute_and_record_like_the_unguarded_engine(tmp_path: Path) -> None:
    store, venue = setup(tmp_path)
    guards = GuardSet(
        (StalePrice(60), BalanceChanged(), MissingMarket(), CostTolerance(0.01)),
        price_times=dict.fromkeys(SNAP_PRICES, NOW),
        now=NOW,
    )
    result = run_cycle(
        load_strategy("index-fund"), MarketSnapshot(NOW, SNAP_PRICES), venue, store, account="acct", guards=guards
    )
    assert result.traded and result.report is not None and result.report.complete
    assert {a: q for a, q in store.balances("acct").items() if q} == venue.balances()


def test_balance_change_mid_rebalance_cancels_the_remaining_legs(tmp_path: Path) -> None:
    class Withdrawal(PaperVenue):
        """Someone withdraws USDC from the account right after the first leg fills."""

        def execute(self, plan: TradePlan):  # type: ignore[no-untyped-def]
            report = super().execute(plan)
            if plan.plan_id.endswith("/0"):
                self._balances["USDC"] -= D(5000)
            return report

    store, venue = setup(tmp_path, Withdrawal)
    result = run_cycle(
        load_strategy("index-fund"),
        MarketSnapshot(NOW, SNAP_PRICES),
        venue,
        store,
        account="acct",
        guards=GuardSet((BalanceChanged(),)),
    )
    assert result.report is not None
    assert len(result.report.fills) == 1
    orders = result.decision.plan.orders if result.decision.plan else ()
    assert len(result.report.failures) == len(orders) - 1
    assert all("cancelled: balance changed" in f.reason for f in result.report.failures)
    assert any("USDC balance" in n for n in result.report.notes)
    # what filled is in the ledger; the withdrawal is not (it happened outside trimtab)
    ledger = store.balances("acct")
    fill = result.report.fills[0]
    assert ledger[fill.asset] == START.get(fill.asset, D(0)) + fill.base_delta
    assert fill.order_id.startswith("paper-")
