"""TWAP slicing under a child-size cap, and waiting for low gas until a deadline."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trimtab.core.costs.parts import GasPriceSeries
from trimtab.core.execution.slicing import MAX_SLICES, GasWait, Twap

D = Decimal


@settings(max_examples=200, deadline=None)
@given(
    qty=st.integers(1, 10**9),
    horizon=st.integers(0, 86_400),
    interval=st.integers(10, 7_200),
    cap=st.one_of(st.none(), st.integers(1, 10**8)),
    step_exp=st.integers(0, 8),
)
def test_twap_slices_sum_exactly_and_respect_the_cap(
    qty: int, horizon: int, interval: int, cap: int | None, step_exp: int
) -> None:
    step = D(1).scaleb(-step_exp)
    quantity = D(qty) * step / 7  # not a multiple of the step: the dust rides on the last slice
    max_child = D(cap) * step if cap is not None else None
    if max_child is not None and max_child < step:
        return
    if max_child is not None and quantity / max_child > MAX_SLICES + 1:
        with pytest.raises(ValueError, match="child orders"):
            Twap(horizon, interval, max_child, step).slices(quantity)
        return
    if max_child is not None and quantity / max_child > 500:
        return  # valid but slow to enumerate here
    slices = Twap(horizon, interval, max_child, step).slices(quantity)
    assert sum(c.quantity for c in slices) == quantity
    offsets = [c.offset_s for c in slices]
    assert offsets == sorted(offsets) and offsets[0] == 0 and offsets[-1] <= horizon + 1e-9
    if max_child is not None:
        assert all(c.quantity <= max_child + step for c in slices)  # + the sub-step dust on the last one
        assert all(c.quantity <= max_child for c in slices[:-1])
    assert all((c.quantity / step) == int(c.quantity / step) for c in slices[:-1])


def test_twap_spreads_evenly_over_the_horizon() -> None:
    slices = Twap(3600, 900).slices(D(10))
    assert [c.offset_s for c in slices] == [0, 900, 1800, 2700, 3600]
    assert [c.quantity for c in slices] == [D(2)] * 5
    capped = Twap(3600, 900, max_child=D(1)).slices(D(10))
    assert len(capped) == 10 and capped[-1].offset_s == 3600


def test_zero_quantity_has_no_slices() -> None:
    assert Twap(60, 10).slices(D(0)) == ()


def gas_series() -> tuple[GasPriceSeries, datetime]:
    t0 = datetime(2024, 1, 1)
    times = np.array([np.datetime64(t0 + timedelta(hours=h), "ns") for h in range(6)])
    return GasPriceSeries(times, np.array([40.0, 35.0, 12.0, 50.0, 8.0, 30.0]), np.full(6, 2000.0)), t0


def test_gas_wait_executes_at_the_first_cheap_observation() -> None:
    series, t0 = gas_series()
    assert GasWait(15, 6 * 3600).execution_time(series, t0) == t0 + timedelta(hours=2)
    assert GasWait(10, 6 * 3600).execution_time(series, t0 + timedelta(minutes=30)) == t0 + timedelta(hours=4)
    assert GasWait(50, 3600).execution_time(series, t0) == t0  # already cheap enough


def test_gas_wait_deadline_executes_or_skips() -> None:
    series, t0 = gas_series()
    assert GasWait(10, 3 * 3600).execution_time(series, t0) == t0 + timedelta(hours=3)
    assert GasWait(10, 3 * 3600, execute_at_deadline=False).execution_time(series, t0) is None
    w = GasWait(20, 600)
    assert w.should_execute(0, 25) is False and w.should_execute(0, 20) is True
    assert w.should_execute(600, 99) is True
    assert GasWait(20, 600, execute_at_deadline=False).should_execute(601, 99) is None


def test_twap_rejects_bad_settings() -> None:
    with pytest.raises(ValueError):
        Twap(60, 0)
    with pytest.raises(ValueError):
        Twap(60, 10, max_child=D(0))
