"""Model and adaptive-trigger presets backtested on real data (step path): valid weights, no NaN, no look-ahead."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from trimtab.adapters.bundled import bundled_daily
from trimtab.backtest.runner import backtest
from trimtab.backtest.simulator import step_backtest
from trimtab.cli import app
from trimtab.config import load_strategy
from trimtab.core.base.history import PriceHistory
from trimtab.core.strategy import Strategy

MODEL_PRESETS = ["index-top10", "risk-parity", "inverse-vol", "vol-target", "min-variance", "kelly"]
TRIGGER_PRESETS = {
    "volatility-adaptive": "volatility_adaptive",
    "regime-aware": "regime_aware",
    "cost-aware": "cost_aware",
}


class Recorder:
    """Wraps a strategy's real ModelTargets and keeps every target vector it hands out."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.seen: list[dict[str, float]] = []

    @property
    def universe(self) -> tuple[str, ...]:
        return tuple(self.inner.universe)

    def reset(self) -> None:
        self.inner.reset()
        self.seen.clear()

    def notes(self) -> Any:
        return self.inner.notes()

    def targets(self, snapshot: Any, state: Any, strategy: Any, equity: Any = None) -> dict[str, float]:
        w = self.inner.targets(snapshot, state, strategy, equity=equity)
        self.seen.append(dict(w))
        return w


def model_history(s: Strategy, start: str, end: str) -> PriceHistory:
    assets = None if s.universe_from_data else list(s.universe)
    return bundled_daily(assets, start=start, end=end, quote=s.quote, forward_fill=5, require_complete=False)


def check_result(r: Any) -> None:
    assert np.all(np.isfinite(r.equity)) and np.all(r.equity > 0)
    assert np.all(np.isfinite(r.weights)) and r.weights.min() >= -1e-12
    assert np.allclose(r.weights.sum(axis=1), 1.0, atol=1e-9)
    for arr in (r.fee, r.slippage, r.gas, r.turnover, r.tracking_error):
        assert np.all(np.isfinite(arr)) and arr.min() >= 0


@pytest.mark.parametrize("name", MODEL_PRESETS)
def test_model_preset_backtests_with_valid_weights_at_every_decision(name: str) -> None:
    s = load_strategy(name)
    h = model_history(s, "2020-06-01", "2021-03-31")
    rec = Recorder(s.allocation)
    s = dataclasses.replace(s, allocation=rec)
    start = 150  # warm-up rows the models see before the first trade
    r = step_backtest(s, h, 100_000.0, start=start)
    assert len(r.equity) == len(h) - start and r.times[0] == h.times[start]
    check_result(r)
    assert len(rec.seen) == len(h) - start
    for w in rec.seen:
        vals = list(w.values())
        assert all(math.isfinite(v) and v >= 0 for v in vals)
        assert abs(math.fsum(vals) - 1.0) < 1e-9
    assert r.rebalanced.sum() >= 3
    if name in ("index-top10", "risk-parity", "inverse-vol", "min-variance"):
        assert sum(1 for w in rec.seen[0].values() if w > 0) >= 4  # warmed up: a real allocation from the first step


def test_series_that_end_are_sold_at_their_last_price_and_no_nan_follows() -> None:
    s = load_strategy("risk-parity")
    h = model_history(s, "2023-06-01", "2024-01-31")  # ADA, TRX, LTC, LINK end on 2023-11-30
    r = step_backtest(s, h, 100_000.0, start=60)
    check_result(r)
    for a in ("ADA", "TRX", "LTC", "LINK"):
        j = h.index_of(a)
        assert r.weights[0, j] > 0 and r.weights[-1, j] == 0
    assert any(
        "ADA: no price at the decision time" in n for notes in r.extra["allocation_notes"].values() for n in notes
    )


def test_model_backtest_ignores_garbage_future_rows() -> None:
    s = load_strategy("vol-target")
    h = model_history(s, "2020-09-01", "2021-02-28")
    rng = np.random.default_rng(0)
    junk = rng.uniform(0.01, 1e5, (25, len(h.assets)))
    times = h.times[-1] + (np.arange(1, 26) * np.timedelta64(1, "D")).astype("timedelta64[ns]")
    hg = PriceHistory(
        times=np.concatenate([h.times, times]),
        assets=h.assets,
        prices=np.vstack([h.prices, junk]),
        market_caps=None if h.market_caps is None else np.vstack([h.market_caps, junk]),
    )
    a = step_backtest(s, h, 100_000.0, start=90)
    b = step_backtest(s, hg, 100_000.0, start=90)
    n = len(a.equity)
    assert np.array_equal(a.rebalanced, b.rebalanced[:n]) and np.array_equal(a.equity, b.equity[:n])
    assert a.reasons == tuple(x for x in b.reasons if x[0] < n)


@pytest.mark.parametrize("name", list(TRIGGER_PRESETS))
def test_adaptive_trigger_preset_backtests_and_records_reasons(name: str) -> None:
    s = load_strategy(name)
    h = bundled_daily(list(s.universe), start="2020-01-01", end="2021-06-30", quote=s.quote)
    r = backtest(s, h, initial_value=100_000.0)
    assert r.path == "step"
    check_result(r)
    later = [why for i, why in r.reasons if i > 0]
    assert later and all(why.startswith(TRIGGER_PRESETS[name]) for why in later)
    if name == "cost-aware":
        assert all("bps > cost" in why for why in later)


def test_cli_backtest_runs_a_model_preset_with_its_defaults() -> None:
    res = CliRunner().invoke(app, ["backtest", "-s", "inverse-vol", "--end", "2019-06-30", "--json", "-"])
    assert res.exit_code == 0, res.output
    m = json.loads(res.stdout)
    assert m["start"].startswith("2019-01-01") and m["path"] == "step" and m["n_rebalances"] >= 1
    assert math.isfinite(m["final_value"]) and m["final_value"] > 0


@pytest.mark.slow
def test_cli_backtest_runs_the_index_on_the_whole_market() -> None:
    res = CliRunner().invoke(
        app, ["backtest", "-s", "index-top10", "--start", "2021-06-01", "--end", "2022-01-31", "--json", "-"]
    )
    assert res.exit_code == 0, res.output
    m = json.loads(res.stdout)
    assert m["n_rebalances"] >= 3 and math.isfinite(m["final_value"])
