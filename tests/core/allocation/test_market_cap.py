"""MarketCapIndex: cap water-filling, buffer hysteresis, phase-in, data gaps, validation, real data."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

import trimtab
from trimtab.core.allocation.market_cap import MarketCapIndex
from trimtab.core.allocation.models import AllocationInput
from trimtab.core.base.history import PriceHistory
from trimtab.errors import DataError

QUOTE = "USDC"
DAY = np.timedelta64(1, "D")


def caps_input(caps: dict[str, float], current: dict[str, float] | None = None, rows: int = 3) -> AllocationInput:
    assets = tuple(caps)
    mc = np.tile(np.array([caps[a] for a in assets], dtype=float), (rows, 1))
    times = np.datetime64("2022-01-01", "ns") + np.arange(rows) * DAY
    h = PriceHistory(times, assets, np.ones_like(mc), market_caps=mc)
    return AllocationInput(h, assets, QUOTE, current=current or {})


@functools.cache
def real_history(assets: tuple[str, ...], start: str, end: str) -> PriceHistory:
    import pandas as pd

    here = Path(trimtab.__file__).parent / "data" / "daily_prices_usd.csv.gz"
    path = here if here.exists() else Path("/work/shared/data/daily_prices_usd.csv.gz")
    df = pd.read_csv(path, parse_dates=["date"])
    days = pd.date_range(start, end, freq="D")
    cols = [a.lower() for a in assets]
    px = df.pivot(index="date", columns="asset", values="price_usd").reindex(index=days, columns=cols)
    mc = df.pivot(index="date", columns="asset", values="market_cap_usd").reindex(index=days, columns=cols)
    return PriceHistory(days.values.astype("datetime64[ns]"), assets, px.to_numpy(float), mc.to_numpy(float))


def at(h: PriceHistory, day: str) -> PriceHistory:
    return h.upto(int(np.searchsorted(h.times, np.datetime64(day, "ns"))))


def test_caps_are_water_filled_by_hand() -> None:
    inp = caps_input({"A": 50.0, "B": 30.0, "C": 15.0, "D": 5.0})
    res = MarketCapIndex(top_n=4, max_weight=0.35).weights(inp)
    # A: 50% -> 35%; 15% over B:C:D = 30:15:5 -> B 39% -> 35%; the last 30% over C:D = 15:5
    assert res.weights == pytest.approx({"A": 0.35, "B": 0.35, "C": 0.225, "D": 0.075})
    floor = MarketCapIndex(top_n=4, max_weight=0.5, min_weight=0.1).weights(inp)
    # 0.5/0.3/0.15/0.05: D is lifted to its 10% floor and A, B, C share the other 90% as 50:30:15
    assert floor.weights == pytest.approx({"A": 0.9 * 50 / 95, "B": 0.9 * 30 / 95, "C": 0.9 * 15 / 95, "D": 0.1})


def test_weighting_schemes() -> None:
    inp = caps_input({"A": 400.0, "B": 100.0})
    assert MarketCapIndex(2, "market_cap").weights(inp).weights == pytest.approx({"A": 0.8, "B": 0.2})
    assert MarketCapIndex(2, "sqrt_cap").weights(inp).weights == pytest.approx({"A": 2 / 3, "B": 1 / 3})
    assert MarketCapIndex(2, "equal").weights(inp).weights == pytest.approx({"A": 0.5, "B": 0.5})


def test_buffer_rule_hysteresis() -> None:
    model = MarketCapIndex(top_n=2, weighting="equal", buffer_ranks=1)
    caps = {"A": 100.0, "B": 90.0, "C": 80.0, "D": 70.0}

    def members(current: set[str], c: dict[str, float] = caps) -> set[str]:
        res = model.weights(caps_input(c, dict.fromkeys(current, 0.5)))
        return {a for a, w in res.weights.items() if w > 0 and a != QUOTE}

    assert members(set()) == {"A", "B"}
    assert members({"A", "C"}) == {"A", "B", "C"}  # C at rank 3 <= 2 + 1 stays, B (rank 2) enters
    assert members({"A", "D"}) == {"A", "B"}  # D at rank 4 > 3 leaves
    assert members({"A", "B"}) == {"A", "B"}  # C at rank 3 does not enter
    # C's cap walks up then down past B's: it enters only at rank 2 and leaves only below rank 3
    held = {"A", "B"}
    path = []
    for c in (85.0, 95.0, 85.0, 75.0, 65.0):
        held = members(held, {"A": 100.0, "B": 90.0, "C": c, "D": 70.0})
        path.append("C" in held)
    assert path == [False, True, True, True, False]


def test_phase_in_is_linear_over_m_rebalances() -> None:
    model = MarketCapIndex(top_n=2, phase_in=4)
    caps = {"A": 60.0, "B": 40.0}
    current = {"A": 1.0}
    seen = []
    for _ in range(5):
        res = model.weights(caps_input(caps, current))
        seen.append(res.weights["B"])
        current = dict(res.weights)
    assert seen == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.4])
    assert model.weights(caps_input(caps)).weights == pytest.approx({"A": 0.6, "B": 0.4})  # fresh start: no phasing


def test_phase_in_shortfall_goes_to_quote_when_others_are_capped() -> None:
    res = MarketCapIndex(top_n=2, phase_in=4, max_weight=0.7).weights(caps_input({"A": 60.0, "B": 40.0}, {"A": 1.0}))
    assert res.weights == pytest.approx({"A": 0.7, "B": 0.1, QUOTE: 0.2})
    assert any("shortfall" in n for n in res.notes)


def test_stale_market_cap_is_a_data_gap_then_dropped() -> None:
    rows = 60
    mc = np.tile([100.0, 50.0], (rows, 1))
    mc[-10:, 0] = np.nan  # A's series ends 10 days before the decision time
    times = np.datetime64("2022-01-01", "ns") + np.arange(rows) * DAY
    h = PriceHistory(times, ("A", "B"), np.ones_like(mc), market_caps=mc)
    res = MarketCapIndex(top_n=2).weights(AllocationInput(h, ("A", "B"), QUOTE))
    assert res.weights["A"] == pytest.approx(2 / 3)
    assert "A market cap last known 10 days ago" in res.notes[0]
    res = MarketCapIndex(top_n=2, staleness_days=5).weights(AllocationInput(h, ("A", "B"), QUOTE))
    assert res.weights == {"B": 1.0}
    assert "dropped A" in res.notes[0] and "not a delisting" in res.notes[0]
    assert "only 1 eligible assets < top_n 2" in res.notes[1]


def test_include_exclude_and_small_universe() -> None:
    inp = caps_input({"A": 100.0, "B": 50.0, "C": 10.0, "D": 1.0})
    res = MarketCapIndex(top_n=2, include=("d",), exclude=("a",), weighting="equal").weights(inp)
    assert res.weights == pytest.approx({"D": 0.5, "B": 0.5})
    res = MarketCapIndex(top_n=5, max_weight=0.3).weights(caps_input({"A": 2.0, "B": 1.0}))
    assert res.weights == pytest.approx({"A": 0.3, "B": 0.3, QUOTE: 0.4})
    assert any("only 2 eligible" in n for n in res.notes) and any("left in USDC" in n for n in res.notes)


def test_validation() -> None:
    with pytest.raises(ValueError, match="caps cannot be met: top_n 5 x max_weight 0.15 = 75%"):
        MarketCapIndex(top_n=5, max_weight=0.15)
    with pytest.raises(ValueError, match="both included and excluded"):
        MarketCapIndex(top_n=3, include=("BTC",), exclude=("btc",))
    with pytest.raises(ValueError, match="min_weight"):
        MarketCapIndex(top_n=3, min_weight=0.5, max_weight=0.4)
    h = PriceHistory(np.array(["2022-01-01"], dtype="datetime64[ns]"), ("A",), np.ones((1, 1)))
    with pytest.raises(DataError, match="market_caps"):
        MarketCapIndex(top_n=1).weights(AllocationInput(h, ("A",), QUOTE))


def test_real_data_top5_capped() -> None:
    h = real_history(("BTC", "ETH", "BNB", "XRP", "ADA", "DOGE", "LTC", "LINK"), "2021-01-01", "2021-06-30")
    res = MarketCapIndex(top_n=5, max_weight=0.4, buffer_ranks=2).weights(AllocationInput(h, h.assets, QUOTE))
    members = [a for a, w in res.weights.items() if w > 0]
    assert set(members) == {"BTC", "ETH", "BNB", "ADA", "DOGE"}  # CoinGecko caps on 2021-06-30
    assert res.weights["BTC"] == pytest.approx(0.4) and res.weights["ETH"] == pytest.approx(0.4)
    assert sum(res.weights.values()) == pytest.approx(1.0, abs=1e-9) and res.notes == ()


def test_real_data_series_end_is_not_a_delisting() -> None:
    h = real_history(("BTC", "ETH", "LUNA", "SOL"), "2021-06-01", "2021-12-31")  # LUNA's file ends 2021-10-17
    model = MarketCapIndex(top_n=4, weighting="sqrt_cap")
    soon = model.weights(AllocationInput(at(h, "2021-11-01"), h.assets, QUOTE))
    assert soon.weights["LUNA"] > 0 and "LUNA market cap last known 15 days ago" in soon.notes[0]
    late = model.weights(AllocationInput(at(h, "2021-12-15"), h.assets, QUOTE))
    assert "LUNA" not in late.weights and "dropped LUNA" in late.notes[0]
