from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from trimtab.core.measures.drift import asset_drifts, effective_band, max_abs_drift, tracking_error


def test_relative_drift_falls_back_to_absolute_for_zero_target() -> None:
    d = {x.asset: x for x in asset_drifts({"BTC": 0.6, "DOGE": 0.1, "ETH": 0.3}, {"BTC": 0.5, "ETH": 0.5})}
    assert math.isclose(d["BTC"].rel_drift, 0.2)
    assert math.isclose(d["DOGE"].rel_drift, 0.1) and d["DOGE"].target == 0
    assert math.isclose(d["ETH"].abs_drift, -0.2)


def test_effective_band_is_the_tightest() -> None:
    assert effective_band(0.1, 0.05, 0.25) == 0.025
    assert effective_band(0.5, 0.05, 0.25) == 0.05
    assert effective_band(0.0, None, 0.25) == float("inf")


def test_distance_to_trigger_sign() -> None:
    (d,) = asset_drifts({"BTC": 0.53}, {"BTC": 0.5}, band=0.05)
    assert math.isclose(d.distance, 0.02, abs_tol=1e-9) and not d.breached
    (e,) = asset_drifts({"BTC": 0.57}, {"BTC": 0.5}, band=0.05)
    assert e.breached


@given(st.lists(st.floats(0, 1), min_size=2, max_size=6))
def test_tracking_error_bounded_by_max_drift_times_n(ws: list[float]) -> None:
    total = sum(ws) or 1.0
    w = {f"A{i}": x / total for i, x in enumerate(ws)}
    t = {f"A{i}": 1 / len(ws) for i in range(len(ws))}
    te = tracking_error(w, t)
    assert 0 <= te <= 1 + 1e-12
    assert te <= 0.5 * len(ws) * max_abs_drift(w, t) + 1e-12
