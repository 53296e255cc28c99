"""GARCH(1,1) adapter: parameter recovery on a simulated path, forecasts on real BTC, VolatilityTarget use."""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import pytest

import trimtab
from trimtab.adapters.garch import GarchForecaster, garch_forecast
from trimtab.core.allocation.models import AllocationInput, Static
from trimtab.core.allocation.optimizers import VolatilityTarget
from trimtab.core.base.history import PriceHistory


def simulate_garch(n: int, omega: float, alpha: float, beta: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    var = omega / (1 - alpha - beta)
    out = np.empty(n)
    for t in range(n):
        out[t] = math.sqrt(var) * rng.standard_normal()
        var = omega + alpha * out[t] ** 2 + beta * var
    return out


@functools.cache
def btc() -> PriceHistory:
    import pandas as pd

    here = Path(trimtab.__file__).parent / "data" / "daily_prices_usd.csv.gz"
    path = here if here.exists() else Path("/work/shared/data/daily_prices_usd.csv.gz")
    df = pd.read_csv(path, parse_dates=["date"])
    days = pd.date_range("2019-01-01", "2022-12-31", freq="D")
    px = df[df["asset"] == "btc"].set_index("date")["price_usd"].reindex(days).ffill()
    return PriceHistory(days.values.astype("datetime64[ns]"), ("BTC",), px.to_numpy(float)[:, None])


def test_recovers_simulated_parameters() -> None:
    r = simulate_garch(4000, omega=2e-5, alpha=0.1, beta=0.85, seed=7)
    fc = garch_forecast(r, periods_per_year=365)
    assert fc.converged
    assert fc.alpha == pytest.approx(0.1, abs=0.04)
    assert fc.beta == pytest.approx(0.85, abs=0.06)
    assert fc.persistence < 1
    # long-horizon forecast tends to the unconditional vol sqrt(omega / (1 - alpha - beta))
    far = garch_forecast(r, periods_per_year=365, horizon=2000)
    assert far.vol_per_period == pytest.approx(math.sqrt(2e-5 / 0.05), rel=0.25)


def test_forecast_reacts_to_a_recent_shock() -> None:
    r = simulate_garch(2000, omega=2e-5, alpha=0.1, beta=0.85, seed=3)
    calm = r.copy()
    calm[-5:] = 0.0
    shock = r.copy()
    shock[-5:] = [0.1, -0.12, 0.09, -0.1, 0.11]
    assert garch_forecast(shock, 365).vol_per_period > 2 * garch_forecast(calm, 365).vol_per_period


def test_real_btc_forecast_is_plausible_and_drives_vol_target() -> None:
    h = btc()
    r = h.prices[1:, 0] / h.prices[:-1, 0] - 1
    fc = garch_forecast(r, periods_per_year=h.periods_per_year())
    assert 0.2 < fc.annual_vol < 2.0
    model = VolatilityTarget(0.3, Static({"BTC": 1.0}), lookback=730, min_rows=200, forecaster=GarchForecaster())
    res = model.weights(AllocationInput(h, ("BTC",), "USDC"))
    garch_vol = garch_forecast(r[-730:], 365).annual_vol
    assert res.weights["BTC"] == pytest.approx(min(1.0, 0.3 / garch_vol), rel=1e-6)


def test_short_history() -> None:
    with pytest.raises(ValueError, match="at least 100"):
        garch_forecast(np.zeros(50), 365)
    r = np.tile([0.01, -0.01], 20)
    assert GarchForecaster().annual_vol(r, 365) == pytest.approx(np.std(r, ddof=1) * math.sqrt(365))
