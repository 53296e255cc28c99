"""Opportunity triggers on real data: Aave v3 rates, the 2023-03 USDC depeg, the March 2020 crash, CMC listings."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from trimtab.adapters.bundled import CMC, bundled_daily, bundled_path, cmc_snapshots
from trimtab.adapters.pricefile import read_price_file
from trimtab.adapters.rates import load_rates
from trimtab.config import parse_strategy
from trimtab.core.base.history import PriceHistory
from trimtab.core.triggers.opportunity import Listing, PriceShock, RiskEvent, ScoreChange, YieldChange, kind_of
from trimtab.core.triggers.rules import AnyOf, Calendar, DecisionContext
from trimtab.core.yields.positions import RatesTable

POSITIONS = {"aUSDC": "USDC", "aUSDT": "USDT"}


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def rows_upto(h: PriceHistory, day: str) -> PriceHistory:
    return h.upto(int(np.searchsorted(h.times, np.datetime64(day, "ns"), side="right")) - 1)


def yield_ctx(rates: RatesTable, day: str, weights: dict[str, float]) -> DecisionContext:
    t = int(np.flatnonzero(rates.times == np.datetime64(day, "ns"))[0])
    states = {name: rates.state(t, reserve) for name, reserve in POSITIONS.items()}
    return DecisionContext(time=at(day), weights=weights, targets={}, previous=at(day), reserves=states)


def test_yield_change_on_the_aave_history() -> None:
    rates = load_rates()
    # 2023-03-04: aUSDT 3.23% vs held aUSDC 2.06% -> fires; the next day (held aUSDT) nothing beats it by 0.5pp
    r = YieldChange(0.005).check(yield_ctx(rates, "2023-03-04", {"aUSDC": 1.0}))
    assert r.fired and kind_of(r) == "opportunistic"
    assert "aUSDT APY 3.23% vs held aUSDC 2.06% (+1.17pp" in r.reason
    calm = YieldChange(0.005).check(yield_ctx(rates, "2023-03-05", {"aUSDT": 1.0}))
    assert not calm.fired
    assert not YieldChange().check(DecisionContext(time=at("2023-03-05"), weights={}, targets={})).fired


def test_risk_event_on_the_2023_03_usdc_depeg() -> None:
    prices = bundled_daily(["USDC", "USDT"], start="2023-03-01", end="2023-03-20", quote="USD")
    trig = RiskEvent(depeg_tolerance=0.01)
    fired = []
    for t in prices.times:
        day = str(t)[:10]
        ctx = DecisionContext(
            time=at(day), weights={"USDC": 0.5, "USDT": 0.5}, targets={}, history=rows_upto(prices, day), quote="USD"
        )
        r = trig.check(ctx)
        assert kind_of(r) == "risk"
        if r.fired:
            fired.append((day, r.reason))
    # 2023-03-11 is 0.9935 (0.65% off, within 1%); 2023-03-12 0.9656 (SVB weekend) fires; 03-13 back at 0.9937
    assert [d for d, _ in fired] == ["2023-03-12"]
    assert "USDC depeg at 0.9656" in fired[0][1]


def test_risk_event_on_utilisation_and_score_changes() -> None:
    rates = load_rates()
    trig = RiskEvent(depeg_tolerance=None, utilization_cap=0.95)
    busy = trig.check(yield_ctx(rates, "2023-03-12", {"aUSDT": 1.0}))  # USDT reserve 100% utilised that day
    assert busy.fired and "aUSDT utilisation 100.0% above 95.0%" in busy.reason
    assert not trig.check(yield_ctx(rates, "2023-03-12", {"aUSDC": 1.0})).fired  # not held: no exposure to exit
    drop = RiskEvent(depeg_tolerance=None, score_changes=(ScoreChange(at("2023-03-11"), "aave_v3", 0.3),))
    ctx = DecisionContext(time=at("2023-03-11"), weights={}, targets={}, previous=at("2023-03-10"))
    assert drop.check(ctx).fired and "aave_v3 risk score now 0.3" in drop.check(ctx).reason
    later = DecisionContext(time=at("2023-03-12"), weights={}, targets={}, previous=at("2023-03-11"))
    assert not drop.check(later).fired  # reported once, at the first check after the change


def test_price_shock_on_the_march_2020_crash() -> None:
    h = bundled_daily(["BTC", "ETH"], start="2019-10-01", end="2020-03-20")
    pct = PriceShock(("BTC",), window=1, pct=0.2)
    sigma = PriceShock(("BTC",), window=1, k_sigma=5)
    hits_pct, hits_sigma = [], []
    for t in h.times[100:]:
        day = str(t)[:10]
        ctx = DecisionContext(time=at(day), weights={}, targets={"BTC": 1.0}, history=rows_upto(h, day))
        if (r := pct.check(ctx)).fired:
            hits_pct.append(day)
            assert kind_of(r) == "opportunistic" and "BTC -35.2% in 1 rows" in r.reason
        if sigma.check(ctx).fired:
            hits_sigma.append(day)
    assert hits_pct == ["2020-03-13"]  # 7,936 -> 5,143 at the 00:00 UTC snapshot
    assert "2020-03-13" in hits_sigma and len(hits_sigma) <= 3


def _cmc_history() -> PriceHistory:
    return read_price_file(bundled_path(CMC)).history


def test_listing_on_the_cmc_snapshots() -> None:
    h = _cmc_history()
    trig = Listing(top_n=10)
    fired = {}
    for i in range(1, len(h)):
        day, prev = str(h.times[i])[:10], str(h.times[i - 1])[:10]
        r = trig.check(DecisionContext(time=at(day), weights={}, targets={}, previous=at(prev), history=h.upto(i)))
        assert kind_of(r) == "opportunistic"
        if r.fired:
            fired[day] = r.reason
    # independent reference: pandas over the raw table (largest market cap per symbol), top 10 per snapshot
    df = cmc_snapshots().groupby(["snapshot_date", "symbol"], as_index=False)["market_cap_usd"].max()
    tops = [set(g.nlargest(10, "market_cap_usd")["symbol"]) for _, g in df.groupby("snapshot_date")]
    dates = sorted(df["snapshot_date"].dt.strftime("%Y-%m-%d").unique())
    expected = {dates[i] for i in range(1, len(tops)) if tops[i] != tops[i - 1]}
    assert set(fired) == expected
    assert "SOL entered the top 10" in fired["2021-09-01"]
    assert "LUNA, UST left the top 10" in fired["2022-06-01"]
    # a check with no new snapshot since the previous one does not fire
    i = int(np.flatnonzero(h.times == np.datetime64("2021-09-01", "ns"))[0])
    mid = DecisionContext(time=at("2021-09-15"), weights={}, targets={}, previous=at("2021-09-02"), history=h.upto(i))
    assert not trig.check(mid).fired


def test_listing_buffer_keeps_members_until_they_fall_below_it() -> None:
    h = _cmc_history()
    i = int(np.flatnonzero(h.times == np.datetime64("2023-08-01", "ns"))[0])
    ctx = DecisionContext(time=at("2023-08-01"), weights={}, targets={}, previous=at("2023-07-01"), history=h.upto(i))
    assert "LTC left the top 10" in Listing(10).check(ctx).reason
    assert "LTC left" not in Listing(10, buffer_ranks=5).check(ctx).reason


def test_opportunity_triggers_compose_and_parse() -> None:
    spec = parse_strategy(
        {
            "name": "x",
            "targets": {"BTC": 0.5, "USDC": 0.5},
            "trigger": {
                "kind": "any_of",
                "triggers": [
                    {"kind": "calendar", "every": "1M"},
                    {"kind": "price_shock", "assets": ["btc"], "pct": 0.2},
                    {
                        "kind": "risk_event",
                        "utilization_cap": 0.9,
                        "score_changes": [{"date": "2023-03-11", "protocol": "Aave_v3", "score": 0.2}],
                    },
                    {"kind": "yield_change", "margin": 0.01},
                    {"kind": "listing", "top_n": 10, "buffer_ranks": 2},
                ],
            },
        },
        "t",
    )
    trig = spec.build().trigger
    assert isinstance(trig, AnyOf) and isinstance(trig.triggers[0], Calendar)
    assert trig.triggers[1] == PriceShock(("BTC",), 1, 0.2, None, 90)
    assert trig.triggers[2].score_changes[0].protocol == "aave_v3"
    h = bundled_daily(["BTC"], start="2019-10-01", end="2020-03-13")
    ctx = DecisionContext(
        time=at("2020-03-13"),
        weights={"BTC": 0.5},
        targets={"BTC": 0.5},
        history=h,
        anchor=at("2020-03-01"),
        previous=at("2020-03-12"),
    )
    r = trig.check(ctx)
    assert r.fired and "price_shock: BTC -35.2%" in r.reason


@pytest.mark.parametrize(
    ("trigger", "message"),
    [
        ({"kind": "price_shock"}, "trigger: kind price_shock needs pct or k_sigma"),
        ({"kind": "listing"}, "trigger.top_n: Field required"),
        (
            {"kind": "risk_event", "utilization_cap": 2},
            "trigger.utilization_cap: Input should be less than or equal to 1",
        ),
    ],
)
def test_bad_opportunity_trigger_is_one_line(trigger: dict[str, object], message: str) -> None:
    from trimtab.errors import ConfigError

    with pytest.raises(ConfigError) as e:
        parse_strategy({"name": "x", "targets": {"BTC": 1.0}, "trigger": trigger}, "t")
    assert message in str(e.value)
