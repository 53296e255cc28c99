"""TWAP execution: child orders on one timeline, sells first at each instant, exact totals, one ledger rebalance."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path

import pytest
from tests.adapters.test_paper import MARKETS
from tests.contracts.venue_contract import VenueContract

from trimtab.adapters.paper import PaperVenue
from trimtab.adapters.storage import SqlLedgerStore
from trimtab.adapters.twap import TwapVenue
from trimtab.config import load_strategy
from trimtab.core.base.ledger import deposit_entries
from trimtab.core.base.snapshot import MarketSnapshot
from trimtab.core.base.types import MarketRules, Side
from trimtab.core.costs.model import linear_costs
from trimtab.core.execution.slicing import TwapSettings
from trimtab.engine import run_cycle

PRICES = {"BTC": D("60000"), "ETH": D("3000")}
RULES = MarketRules(amount_step=D("0.0001"), price_tick=D("0.01"), min_notional=D("10"))


class Clock:
    """A fake clock the venue's sleeps advance: the test sees every wait without waiting."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s


class Recording(PaperVenue):
    def __init__(self, *a, clock: Clock, **k) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*a, **k)
        self.sent: list[tuple[float, str, str, D, str]] = []
        self._clock = clock

    def execute(self, plan):  # type: ignore[no-untyped-def]
        o = plan.orders[0]
        self.sent.append((self._clock.now, o.side.value, o.asset, o.quantity, plan.plan_id))
        return super().execute(plan)


def make(clock: Clock, settings: TwapSettings) -> tuple[Recording, TwapVenue]:
    inner = Recording(
        {"USDC": D("20000"), "BTC": D("1"), "ETH": D("0")},
        linear_costs(10, 5),
        prices=PRICES,
        rules=lambda _a: RULES,
        clock=clock,
    )
    return inner, TwapVenue(inner, settings, sleep=clock.sleep, clock=lambda: clock.now)


def test_children_share_one_timeline_sells_first_and_sum_to_the_plan() -> None:
    clock = Clock()
    inner, twap = make(clock, TwapSettings(horizon_s=600, interval_s=200, max_child_notional=D("10000")))
    plan = VenueContract.make_plan((Side.SELL, MARKETS[0], D("0.5")), (Side.BUY, MARKETS[1], D("5")), reason="twap")
    plan = type(plan)(plan.orders, plan.reason, plan_id="acct@t")
    report = twap.execute(plan)
    assert report.complete
    # 4 instants (0, 200, 400, 600 s); the 30k BTC sell needs 3 x 10k children at least, so 4 children of 0.125
    assert [round(t) for t, *_ in inner.sent] == [0, 0, 200, 200, 400, 400, 600, 600]
    assert [side for _, side, *_ in inner.sent] == ["sell", "buy"] * 4
    assert sum(q for _, _, a, q, _ in inner.sent if a == "BTC") == D("0.5")
    assert sum(q for _, _, a, q, _ in inner.sent if a == "ETH") == D("5")
    assert all(q * PRICES[a] <= D("10000") for _, _, a, q, _ in inner.sent)
    assert len({pid for *_, pid in inner.sent}) == 8 and all(pid.startswith("acct@t/") for *_, pid in inner.sent)
    assert sum(clock.sleeps) == pytest.approx(600)


def test_a_failing_child_stops_its_parent_and_reports_the_rest() -> None:
    clock = Clock()
    inner, twap = make(clock, TwapSettings(horizon_s=300, interval_s=100))
    plan = VenueContract.make_plan((Side.SELL, MARKETS[0], D("0.8")), (Side.BUY, MARKETS[1], D("40")), reason="x")
    report = twap.execute(plan)  # 40 ETH = 120k: more than the 20k USDC + 48k of BTC sold can pay for
    (failure,) = report.failures
    assert failure.order.asset == "ETH" and D(0) < failure.filled_quantity < D("40")
    assert "not sent" in failure.reason
    eth = [f for f in report.fills if f.asset == "ETH"]
    assert sum(f.quantity for f in eth) == failure.filled_quantity
    assert inner.balances()["USDC"] >= 0


def test_engine_records_every_child_fill_in_one_rebalance(tmp_path: Path) -> None:
    strat = load_strategy("bitcoin")
    store = SqlLedgerStore(tmp_path / "l.sqlite")
    now = datetime(2024, 6, 30, tzinfo=UTC)
    store.append(deposit_entries({"USDC": D("10000")}, account="a", time=now, ref="open"))
    clock = Clock()
    inner = Recording({"USDC": D("10000")}, strat.costs, prices={"BTC": D("60000"), "USDC": D(1)}, clock=clock)
    twap = TwapVenue(inner, TwapSettings(horizon_s=60, interval_s=20), sleep=clock.sleep, clock=lambda: clock.now)
    result = run_cycle(
        strat, MarketSnapshot(now, {"BTC": D("60000"), "USDC": D(1)}), twap, store, account="a", initial=True
    )
    assert result.report is not None and len(result.report.fills) == 4
    assert {e.rebalance_id for e in store.entries("a") if e.kind == "trade"} == {"a@" + now.isoformat()}
    assert {k: v for k, v in store.balances("a").items() if v} == inner.balances()


def test_strategy_file_execution_block_builds_twap_settings(tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(
        "name: s\ntargets: {BTC: 0.5, USDC: 0.5}\ntrigger: {kind: threshold, band: 0.05}\n"
        "execution: {twap: {horizon: 1h, interval: 10m, max_child_usd: 5000}}\n"
    )
    twap = load_strategy(spec).execution.twap
    assert twap is not None
    assert (twap.horizon_s, twap.interval_s, twap.max_child_notional) == (3600.0, 600.0, D("5000"))
    bad = tmp_path / "b.yaml"
    bad.write_text(spec.read_text().replace("interval: 10m", "interval: 2h"))
    from trimtab.errors import ConfigError

    with pytest.raises(ConfigError, match="execution.twap: interval must not exceed horizon"):
        load_strategy(bad)
