"""Fast-path kernels: hand-computed small cases, an independent reference loop, and invariants."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.ci import require

from trimtab.backtest import aot, kernels
from trimtab.backtest.kernels import DUST, KernelResult, simulate, summarize, sweep, weights_path
from trimtab.errors import DataError


@pytest.fixture(autouse=True, params=["jit", "aot"])
def kernel_build(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs against the Numba JIT kernels and against the ahead-of-time build (made by `make deps`)."""
    if request.param == "aot":
        built = aot.load()
        require(built is not None, "ahead-of-time kernels not built: python -m trimtab.backtest.aot")
        monkeypatch.setattr(kernels, "_aot_module", built)
    else:
        monkeypatch.setattr(kernels, "_aot_module", None)
    return str(request.param)


F = 0.01
V0 = 100.0
P3 = np.array([[1.0, 1.0], [2.0, 1.0], [2.0, 2.0]])
HALF = np.array([0.5, 0.5])


def _v1(fee: float = F, slip: float = 0.0) -> float:
    """Value after the step-0 purchase of two assets from cash: V' = V0 - (s + f(1+s)) V'."""
    return V0 / (1.0 + slip + fee * (1.0 + slip))


# ---------------------------------------------------------------- hand-computed cases (2 assets, 3 steps)


def test_threshold_to_target_matches_hand_computation() -> None:
    r = simulate(P3, HALF, fee=F, initial_value=V0, band_abs=0.1)
    v1 = _v1()
    # step 1: weights 2/3, 1/3; sell X (V1 - V'/2), buy Y (V'/2 - V1/2): traded notional is always V1/2
    v2 = 1.5 * v1 - F * 0.5 * v1
    # step 2: X worth v2/2, Y worth v2 -> traded notional v2/2 again
    v3 = 1.5 * v2 - F * 0.5 * v2
    assert r.rebalanced.tolist() == [True, True, True]
    np.testing.assert_allclose(r.equity, [v1, v2, v3], rtol=1e-13)
    np.testing.assert_allclose(r.fee, [F * v1, F * 0.5 * v1, F * 0.5 * v2], rtol=1e-12)
    np.testing.assert_allclose(r.turnover, [v1 / V0, 0.5 * v1 / (1.5 * v1), 0.5 * v2 / (1.5 * v2)], rtol=1e-12)
    np.testing.assert_allclose(r.tracking_error, [0.5, 1 / 6, 1 / 6], rtol=1e-12)
    np.testing.assert_allclose(r.holdings * P3[-1], [v3 / 2, v3 / 2], rtol=1e-12)
    assert abs(r.cash) <= 1e-12 * v3


def test_calendar_fires_only_on_due_steps() -> None:
    r = simulate(P3, HALF, fee=F, initial_value=V0, calendar_due=np.array([False, True, False]), mode="calendar")
    v1 = _v1()
    v2 = 1.495 * v1
    assert r.rebalanced.tolist() == [True, True, False]
    # step 2: no trade; X holds v2/2 / 2 units at 2, Y holds v2/2 units at 2
    np.testing.assert_allclose(r.equity, [v1, v2, v2 / 2 + v2], rtol=1e-13)
    assert r.fee[2] == 0.0 and r.turnover[2] == 0.0


def test_buy_and_hold_never_trades_after_step_zero() -> None:
    r = simulate(P3, HALF, fee=F, initial_value=V0, band_abs=1e-6, mode="buy_and_hold", calendar_due=np.ones(3, bool))
    v1 = _v1()
    assert r.rebalanced.tolist() == [True, False, False]
    np.testing.assert_allclose(r.equity, [v1, 1.5 * v1, 2.0 * v1], rtol=1e-13)
    np.testing.assert_allclose(r.holdings, [v1 / 2, v1 / 2], rtol=1e-13)


def test_band_edge_moves_breaching_assets_to_the_nearest_edge() -> None:
    r = simulate(P3[:2], HALF, fee=F, initial_value=V0, band_abs=0.1, rebalance_to="band_edge", record=True)
    v1 = _v1()
    # desired (0.6, 0.4): C = f (v1 - 0.6 V'' + 0.4 V'' - 0.5 v1) = f (0.5 v1 - 0.2 V'')
    v2 = v1 * (1.5 - 0.5 * F) / (1.0 - 0.2 * F)
    np.testing.assert_allclose(r.equity, [v1, v2], rtol=1e-13)
    np.testing.assert_allclose(r.weights(P3[:2])[1], [0.6, 0.4], rtol=1e-12)


def test_band_edge_scales_the_assets_inside_their_band() -> None:
    prices = np.array([[1.0, 1.0, 1.0], [1.3, 1.0, 1.0]])
    targets = np.array([0.4, 0.3, 0.3])
    # step 1 weights (0.464, 0.268, 0.268): only asset 0 breaches; it goes to 0.45, the others share 0.55
    r = simulate(prices, targets, fee=0.002, initial_value=V0, band_abs=0.05, rebalance_to="band_edge", record=True)
    assert r.rebalanced.tolist() == [True, True]
    np.testing.assert_allclose(r.weights(prices)[1], [0.45, 0.275, 0.275], rtol=1e-12)


def test_hybrid_calendar_firing_goes_to_target_and_threshold_firing_to_edge() -> None:
    prices = np.array([[1.0, 1.0], [2.0, 1.0], [2.0, 1.0]])
    kw = {"fee": F, "initial_value": V0, "band_abs": 0.1, "rebalance_to": "band_edge", "mode": "hybrid"}
    r = simulate(prices, HALF, calendar_due=np.array([False, False, True]), record=True, **kw)  # type: ignore[arg-type]
    v2 = _v1() * (1.5 - 0.5 * F) / (1.0 - 0.2 * F)
    assert r.rebalanced.tolist() == [True, True, True]
    np.testing.assert_allclose(r.weights(prices)[1:], [[0.6, 0.4], [0.5, 0.5]], rtol=1e-12)
    np.testing.assert_allclose(r.equity[2], v2 * (1.0 - 0.2 * F), rtol=1e-13)
    # without the calendar the asset sitting exactly on its band edge does not fire again
    quiet = simulate(prices, HALF, **kw)  # type: ignore[arg-type]
    assert quiet.rebalanced.tolist() == [True, True, False]


def test_gas_is_flat_per_executed_order() -> None:
    r = simulate(P3[:1], HALF, gas=0.5, initial_value=V0)
    assert r.equity[0] == pytest.approx(V0 - 1.0, rel=1e-14)
    assert r.gas[0] == 1.0 and r.fee[0] == 0.0
    np.testing.assert_allclose(r.holdings, [49.5, 49.5], rtol=1e-14)


def test_gas_is_quoted_in_quote_units_and_converted_at_the_quote_price() -> None:
    prices = np.array([[10.0, 1.0, 2.0]])  # the quote column (index 2) costs 2 price units
    r = simulate(prices, np.array([0.25, 0.25, 0.5]), quote_idx=2, gas=0.5, initial_value=V0)
    assert r.gas[0] == 2 * 0.5 * 2.0  # two orders, 0.5 quote units each, at 2 per quote unit
    assert r.equity[0] == pytest.approx(V0 - 2.0, rel=1e-14)


def test_slippage_and_fee_on_the_executed_notional() -> None:
    s = 0.01
    r = simulate(P3[:1], HALF, fee=F, slippage=s, initial_value=V0)
    v1 = _v1(F, s)
    assert r.equity[0] == pytest.approx(v1, rel=1e-13)
    assert r.slippage[0] == pytest.approx(s * v1, rel=1e-12)
    assert r.fee[0] == pytest.approx(F * (1 + s) * v1, rel=1e-12)


def test_quote_column_absorbs_cash_flows_and_is_not_traded() -> None:
    prices = np.array([[1.0, 1.0, 2.0]])  # the quote column is priced at 2 (say EUR per USD unit)
    targets = np.array([0.4, 0.4, 0.2])
    as_column = simulate(prices, targets, quote_idx=2, fee=F, initial_value=V0)
    v1 = V0 / (1.0 + 0.8 * F)
    assert as_column.equity[0] == pytest.approx(v1, rel=1e-13)
    np.testing.assert_allclose(as_column.holdings, [0.4 * v1, 0.4 * v1, 0.2 * v1 / 2.0], rtol=1e-13)
    as_asset = simulate(prices, targets, quote_idx=-1, fee=F, initial_value=V0)
    assert as_asset.equity[0] == pytest.approx(V0 / (1.0 + F), rel=1e-13)
    assert as_asset.tracking_error[0] == pytest.approx(0.5) and as_column.tracking_error[0] == pytest.approx(0.8)


def test_trades_below_dust_are_skipped_and_absorbed_by_the_quote() -> None:
    prices = np.array([[1.0, 1.0], [1.0 + 1e-10, 1.0]])
    due = np.array([False, True])
    r = simulate(prices, HALF, quote_idx=1, fee=F, initial_value=V0, calendar_due=due, mode="calendar")
    assert not r.rebalanced[1] and r.turnover[1] == 0.0 and r.fee[1] == 0.0  # fired, but nothing to trade
    assert r.holdings[0] == pytest.approx(_v1(0.5 * F) / 2, rel=1e-14)  # unchanged since step 0
    no_dust = simulate(prices, HALF, quote_idx=1, fee=F, initial_value=V0, calendar_due=due, mode="calendar", dust=0.0)
    assert no_dust.turnover[1] > 0.0 and no_dust.fee[1] > 0.0


def test_sweep_matches_one_backtest_per_band() -> None:
    prices = _gbm(400, 4, seed=3)
    targets = np.array([0.4, 0.3, 0.2, 0.1])
    bands = np.array([0.0, 0.01, 0.03, 0.08])
    rel = np.array([0.2, 0.0, 0.1, 0.0])
    res = sweep(prices, targets, bands, rel, fee=0.002, slippage=0.001, gas=0.01, initial_value=1e4)
    for k in range(len(bands)):
        one = simulate(
            prices, targets, fee=0.002, slippage=0.001, gas=0.01, initial_value=1e4, band_abs=bands[k], band_rel=rel[k]
        )
        assert res.final_value[k] == one.equity[-1]
        assert res.rebalances[k] == one.rebalanced.sum()
        assert res.fee[k] == pytest.approx(one.fee.sum(), rel=1e-12)
        assert res.mean_tracking_error[k] == pytest.approx(one.tracking_error.mean(), rel=1e-12)
        dd = 1.0 - one.equity / np.maximum.accumulate(one.equity)
        assert res.max_drawdown[k] == pytest.approx(dd.max(), rel=1e-12)


def test_sweep_over_modes_calendars_and_rebalance_to_matches_one_backtest_per_variant() -> None:
    prices = _gbm(300, 3, seed=5)
    targets = np.array([0.5, 0.3, 0.2])
    cals = np.zeros((3, len(prices)), bool)
    for c, every in enumerate((7, 30, 90)):
        cals[c, ::every] = True
    modes = ["threshold", "calendar", "hybrid", "hybrid", "buy_and_hold", "threshold"]
    to = ["target", "target", "band_edge", "target", "target", "band_edge"]
    bands = np.array([0.05, 0.0, 0.04, 0.1, 0.0, 0.02])
    idx = np.array([0, 1, 2, 0, 0, 1])
    kw = {"fee": 0.002, "slippage": 0.001, "gas": 0.01, "initial_value": 1e4}
    res = sweep(prices, targets, bands, mode=modes, rebalance_to=to, calendar_due=cals, calendar_index=idx, **kw)
    fast = sweep(
        prices, targets, bands, mode=modes, rebalance_to=to, calendar_due=cals, calendar_index=idx, risk=False, **kw
    )
    for k in range(len(bands)):
        one = simulate(
            prices, targets, band_abs=bands[k], mode=modes[k], rebalance_to=to[k], calendar_due=cals[idx[k]], **kw
        )  # type: ignore[arg-type]
        assert res.final_value[k] == one.equity[-1] == fast.final_value[k]
        assert res.rebalances[k] == one.rebalanced.sum() == fast.rebalances[k]
        assert res.mean_tracking_error[k] == pytest.approx(one.tracking_error.mean(), rel=1e-12)
    assert np.isnan(fast.mean_tracking_error).all() and np.isnan(fast.max_drawdown).all()
    with pytest.raises(ValueError, match="calendar_index"):
        sweep(prices, targets, bands, mode=modes, calendar_due=cals, calendar_index=idx + 1)
    with pytest.raises(ValueError, match="mode must be one name or one per variant"):
        sweep(prices, targets, bands, mode=modes[:2])


@pytest.mark.parametrize("risk", [True, False])
def test_summarize_gives_the_totals_of_the_full_run(risk: bool) -> None:
    prices = _gbm(500, 4, seed=9)
    targets = np.array([0.4, 0.3, 0.2, 0.1])
    due = np.zeros(len(prices), bool)
    due[::50] = True
    kw = {
        "fee": 0.003,
        "slippage": 0.001,
        "gas": 0.02,
        "initial_value": 1e4,
        "band_abs": 0.03,
        "quote_idx": 3,
        "calendar_due": due,
        "mode": "hybrid",
        "rebalance_to": "band_edge",
        "min_trade": 1.0,
    }
    full = simulate(prices, targets, **kw)  # type: ignore[arg-type]
    s = summarize(prices, targets, risk=risk, **kw)  # type: ignore[arg-type]
    assert s.final_value == full.equity[-1] and s.rebalances == full.rebalanced.sum()
    assert s.fee == pytest.approx(full.fee.sum(), rel=1e-12) and s.gas == pytest.approx(full.gas.sum(), rel=1e-12)
    assert s.turnover == pytest.approx(full.turnover.sum(), rel=1e-12)
    if risk:
        assert s.mean_tracking_error == pytest.approx(full.tracking_error.mean(), rel=1e-12)
        assert s.max_drawdown == pytest.approx((1 - full.equity / np.maximum.accumulate(full.equity)).max(), rel=1e-12)
    else:
        assert np.isnan(s.mean_tracking_error) and np.isnan(s.max_drawdown)


def test_records_beyond_the_first_buffer_are_all_kept() -> None:
    """Every step trades (calendar every step): more rebalances than the first record buffer holds."""
    prices = _gbm(300, 3, seed=2, vol=0.1)
    targets = np.array([0.5, 0.3, 0.2])
    r = simulate(
        prices,
        targets,
        fee=0.001,
        initial_value=V0,
        calendar_due=np.ones(len(prices), bool),
        mode="calendar",
        record=True,
    )
    assert r.rebalance_steps is not None and r.rebalance_holdings is not None
    assert r.rebalance_steps.tolist() == list(range(len(prices)))
    np.testing.assert_allclose(r.weights(prices), np.tile(targets, (len(prices), 1)), rtol=1e-9)
    np.testing.assert_allclose((r.rebalance_holdings[-1] * prices[-1]).sum() + r.cash, r.equity[-1], rtol=1e-12)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, 0.0, -1.0])
@pytest.mark.parametrize("held", [True, False])
def test_a_bad_price_anywhere_is_rejected_by_every_entry(bad: float, held: bool) -> None:
    """Checked inside the loop: also on a late step and on an asset the policy does not hold (target 0)."""
    prices = _gbm(50, 3, seed=1)
    prices[37, 0 if held else 2] = bad
    targets = np.array([0.6, 0.4, 0.0])
    for run in (
        lambda: simulate(prices, targets, band_abs=0.05),
        lambda: simulate(prices, targets, record=True),
        lambda: summarize(prices, targets),
        lambda: summarize(prices, targets, risk=False),
        lambda: sweep(prices, targets, np.array([0.01, 0.05])),
    ):
        with pytest.raises(DataError, match="finite and > 0"):
            run()


def test_weights_path_marks_holdings_to_market_between_rebalances() -> None:
    steps = np.array([0, 2])
    holdings = np.array([[1.0, 1.0], [0.5, 2.0]])
    w = weights_path(np.array([[1.0, 1.0], [3.0, 1.0], [2.0, 1.0]]), steps, holdings, np.array([0.0, 1.0]))
    np.testing.assert_allclose(w, [[0.5, 0.5], [0.75, 0.25], [0.25, 0.5]])


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"prices": np.array([[1.0, np.nan]])}, DataError),
        ({"prices": np.array([[1.0, 0.0]])}, DataError),
        ({"targets": np.array([0.5, 0.6])}, ValueError),
        ({"quote_idx": 2}, ValueError),
        ({"mode": "weekly"}, ValueError),
        ({"fee": -0.1}, ValueError),
        ({"calendar_due": np.zeros(2, bool)}, ValueError),
    ],
)
def test_bad_input_is_rejected_with_a_clear_error(kwargs: dict[str, object], error: type[Exception]) -> None:
    args: dict[str, object] = {"prices": P3[:1], "targets": HALF, **kwargs}
    with pytest.raises(error):
        simulate(**args)  # type: ignore[arg-type]


# ---------------------------------------------------------------- independent reference and properties


def _gbm(t: int, n: int, seed: int, vol: float = 0.05) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.exp(np.cumsum(rng.normal(0.0, vol, (t, n)), axis=0))


def _reference(
    prices: np.ndarray,
    targets: np.ndarray,
    q: int,
    fee: float,
    slip: float,
    gas: float,
    band: float,
    due: np.ndarray,
    mode: str,
) -> list[float]:
    """The spec, written as a plain Python loop (to-target rebalancing only)."""
    n = len(targets)
    h = [0.0] * n
    cash = V0
    if q >= 0:
        h[q], cash = V0 / prices[0, q], 0.0
    out = []
    for t, p in enumerate(prices):
        v = cash + sum(h[i] * p[i] for i in range(n))
        drift = max(abs(h[i] * p[i] / v - targets[i]) for i in range(n))
        fire = (
            t == 0
            or (mode in ("threshold", "hybrid") and drift > band + 1e-12)
            or (mode in ("calendar", "hybrid") and bool(due[t]))
        )
        if fire:
            g = gas * (p[q] if q >= 0 else 1.0)  # gas is quoted in quote units

            def order_cost(x: float, g: float = g) -> float:
                return abs(x) * slip + fee * abs(x) * (1 + slip if x > 0 else 1 - slip) + g

            # the trade set is decided once, on notionals at V' = V
            chosen = [i for i in range(n) if i != q and abs(targets[i] * v - h[i] * p[i]) > DUST * v]

            def trades(vp: float, p: np.ndarray = p, chosen: list[int] = chosen) -> dict[int, float]:
                return {i: targets[i] * vp - h[i] * p[i] for i in chosen}

            vp = v
            for _ in range(100):
                nxt = v - sum(order_cost(x) for x in trades(vp).values())
                stop = abs(nxt - vp) <= 1e-13 * v
                vp = nxt
                if stop:
                    break
            placed = {
                i: x for i, x in trades(vp).items() if x > 0 or abs(x) * (1 - slip) - fee * abs(x) * (1 - slip) - g > 0
            }
            if placed:
                for i in placed:
                    h[i] = targets[i] * vp / p[i]
                v -= sum(order_cost(x) for x in placed.values())
                rest = v - sum(h[i] * p[i] for i in range(n) if i != q)
                if q >= 0:
                    h[q], cash = rest / p[q], 0.0
                else:
                    cash = rest
        out.append(v)
    return out


@st.composite
def _cases(draw: st.DrawFn) -> dict[str, object]:
    n = draw(st.integers(2, 5))
    raw = np.array(draw(st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n)))
    raw[0] += 0.1
    return {
        "prices": _gbm(draw(st.integers(1, 40)), n, seed=draw(st.integers(0, 10_000)), vol=draw(st.floats(0.0, 0.3))),
        "targets": raw / raw.sum(),
        "quote_idx": draw(st.integers(-1, n - 1)),
        "fee": draw(st.floats(0.0, 0.05)),
        "slippage": draw(st.floats(0.0, 0.05)),
        "gas": draw(st.floats(0.0, 0.01)),
        "band_abs": draw(st.floats(0.0, 0.3)),
        "mode": draw(st.sampled_from(["threshold", "calendar", "hybrid", "buy_and_hold"])),
        "due_seed": draw(st.integers(0, 1000)),
    }


def _run(case: dict[str, object], **extra: object) -> tuple[KernelResult, np.ndarray]:
    kw = dict(case)
    prices = np.asarray(kw.pop("prices"))
    due = np.random.default_rng(int(kw.pop("due_seed"))).random(len(prices)) < 0.3  # type: ignore[call-overload]
    kw.update(extra)
    return simulate(prices, kw.pop("targets"), initial_value=V0, calendar_due=due, **kw), due  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=_cases())
def test_kernel_matches_the_plain_reference_loop(case: dict[str, object]) -> None:
    r, due = _run(case)
    ref = _reference(
        np.asarray(case["prices"]),
        np.asarray(case["targets"]),
        int(case["quote_idx"]),  # type: ignore[call-overload]
        float(case["fee"]),
        float(case["slippage"]),
        float(case["gas"]),  # type: ignore[arg-type]
        float(case["band_abs"]) if float(case["band_abs"]) > 0 else np.inf,
        due,
        str(case["mode"]),
    )  # type: ignore[arg-type]
    np.testing.assert_allclose(r.equity, ref, rtol=1e-9)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=_cases(), edge=st.booleans())
def test_values_and_costs_are_never_negative(case: dict[str, object], edge: bool) -> None:
    r, _ = _run(case, rebalance_to="band_edge" if edge else "target")
    assert np.all(r.equity > 0.0)
    for series in (r.fee, r.slippage, r.gas, r.turnover, r.tracking_error):
        assert np.all(series >= 0.0)
    assert np.all(r.holdings >= -1e-9 * r.equity[-1]) and r.cash >= -1e-9 * r.equity[-1]


def _check_common_fixed_point(
    on_target: list[float],
    placed: list[int],
    others: list[int],
    targets: np.ndarray,
    h_prev: np.ndarray,
    post_h: np.ndarray,
    p: np.ndarray,
    pre: float,
    v_post: float,
    fee: float,
    slip: float,
    gas_v: float,
) -> None:
    vp = on_target[0]
    np.testing.assert_allclose(on_target, vp, rtol=1e-12)  # one common V'
    dropped = False
    for i in others:
        if i in placed:
            continue
        at_v = targets[i] * pre - h_prev[i] * p[i]  # the trade set is fixed at V' = V, as in the kernel
        if abs(at_v) > DUST * pre * (1 + 1e-9):  # not dust: must be a sell the costs would eat (at V')
            x = targets[i] * vp - h_prev[i] * p[i]
            assert x <= 0 and abs(x) * (1 - slip) * (1 - fee) - gas_v <= 1e-9 * pre
            dropped = True
    if not dropped:  # then V' is the value after costs, and weights sit on target
        assert vp == pytest.approx(v_post, rel=1e-12)
        assert np.all(np.abs(post_h[placed] * p[placed] / v_post - targets[placed]) <= 1e-12)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=_cases())
def test_fixed_point_lands_on_target_and_value_equals_pre_trade_value_minus_costs(case: dict[str, object]) -> None:
    """Placed orders all land on w* V' for one V' = V - C(V'); only dust or sells that costs would eat are skipped."""
    r, _ = _run(case, record=True)
    prices = np.asarray(case["prices"])
    targets = np.asarray(case["targets"])
    fee, slip = float(case["fee"]), float(case["slippage"])  # type: ignore[arg-type]
    q = int(case["quote_idx"])  # type: ignore[call-overload]
    assert r.rebalance_steps is not None and r.rebalance_holdings is not None and r.rebalance_cash is not None
    h_prev, cash_prev = np.zeros(len(targets)), V0
    if q >= 0:
        h_prev[q], cash_prev = V0 / prices[0, q], 0.0
    for k, t in enumerate(r.rebalance_steps):
        p = prices[t]
        pre = float(h_prev @ p + cash_prev)
        v_post = r.equity[t]
        assert v_post == pytest.approx(pre - r.costs[t], rel=1e-12)
        post_h = r.rebalance_holdings[k]
        others = [i for i in range(len(targets)) if i != q]
        placed = [i for i in others if post_h[i] != h_prev[i]]
        gas_v = float(case["gas"]) * (p[q] if q >= 0 else 1.0)  # type: ignore[arg-type]
        if gas_v > 0:
            assert r.gas[t] == pytest.approx(len(placed) * gas_v, rel=1e-12)
        assert all(post_h[i] == 0.0 for i in placed if targets[i] == 0)
        on_target = [post_h[i] * p[i] / targets[i] for i in placed if targets[i] > 0]
        if on_target:
            _check_common_fixed_point(
                on_target, placed, others, targets, h_prev, post_h, p, pre, v_post, fee, slip, gas_v
            )
        h_prev, cash_prev = post_h, r.rebalance_cash[k]


@settings(max_examples=50, deadline=None)
@given(n=st.integers(1, 6), t=st.integers(2, 60), level=st.floats(0.1, 1e4), quote=st.booleans())
def test_constant_prices_daily_calendar_zero_fee_trade_only_at_step_zero(
    n: int, t: int, level: float, quote: bool
) -> None:
    prices = np.full((t, n), level)
    r = simulate(
        prices,
        np.full(n, 1.0 / n),
        quote_idx=0 if quote else -1,
        initial_value=V0,
        calendar_due=np.ones(t, bool),
        mode="calendar",
    )
    assert not r.rebalanced[1:].any()  # the calendar fires but nothing trades
    assert np.all(r.turnover[1:] == 0.0) and np.all(r.fee == 0.0)
    np.testing.assert_allclose(r.equity, V0, rtol=1e-13)


def test_band_edge_never_overspends_when_the_edges_alone_reach_100_percent() -> None:
    """Found by the property test above: the quote at target 0 breaches, the edges sum past 1, and the quote column
    went negative (-0.65 units) before the edges were normalised."""
    prices = np.array(
        [
            [1.0319317748920913, 0.9675131951020539, 1.1736348737653786, 1.0265719312345576],
            [0.9025918798608903, 1.0590502838748697, 1.6259718099047085, 1.3008205661476946],
            [0.7569798856992741, 0.7718362831875405, 1.3913674746681557, 1.3143296514702383],
            [0.42329908602300204, 0.7307522939379584, 1.0189873310608162, 1.0944587252687086],
            [0.3694495675238442, 0.6751936266606314, 1.129434376390223, 1.4203286217297777],
            [0.3577665135726349, 0.950145728914132, 0.9563974469563452, 1.5507920278241807],
            [0.4484279949873437, 0.9727415704405867, 0.7941709606985817, 1.231625007870498],
            [0.39994085189017486, 1.0277911120729395, 0.6170155387367703, 1.1688735980047513],
            [0.3843334032128123, 1.1765934354562824, 0.6510321252629909, 1.2774727671804005],
            [0.32637703464344303, 1.139078879957353, 0.7919932397181174, 1.8556620114818219],
            [0.23824197956930385, 1.6631291855852497, 1.1087867871505506, 2.255945920802901],
            [0.25452543845261655, 1.5375960277351366, 1.5964327420588158, 3.6826549327768983],
            [0.3993385299245051, 2.1361307184363554, 1.745632067811939, 2.722510093116161],
        ]
    )
    r = simulate(
        prices,
        np.array([0.0625, 0.0, 0.625, 0.3125]),
        initial_value=V0,
        quote_idx=1,
        fee=0.0,
        slippage=0.0,
        gas=0.0,
        band_abs=0.0078125,
        mode="threshold",
        rebalance_to="band_edge",
        calendar_due=np.zeros(len(prices), dtype=bool),
    )
    assert np.all(r.holdings >= -1e-12 * r.equity[-1]) and r.cash >= 0.0  # was -0.65 units of the quote
    np.testing.assert_allclose(r.holdings @ prices[-1] + r.cash, r.equity[-1], rtol=1e-12)
