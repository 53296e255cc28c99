"""GARCH(1,1) volatility forecasts via the `arch` package (kept out of the pure core).

sigma^2_t = omega + alpha eps^2_{t-1} + beta sigma^2_{t-1} (Bollerslev 1986), fitted by Gaussian
quasi-maximum likelihood with a constant mean. `GarchForecaster` satisfies core.allocation.optimizers.VolForecaster.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from arch import arch_model

FloatArray = npt.NDArray[np.float64]
_SCALE = 100.0  # arch's optimiser is best conditioned on percent returns


@dataclass(frozen=True, slots=True)
class GarchForecast:
    """Fitted parameters (per-period, decimal returns) and the mean forecast vol over the horizon."""

    omega: float
    alpha: float
    beta: float
    mu: float
    vol_per_period: float
    annual_vol: float
    converged: bool

    @property
    def persistence(self) -> float:
        return self.alpha + self.beta


def garch_forecast(returns: FloatArray, periods_per_year: float, horizon: int = 1, min_obs: int = 100) -> GarchForecast:
    """Fit GARCH(1,1) to per-period simple returns and forecast vol averaged over the next `horizon` periods."""
    r = np.asarray(returns, dtype=np.float64)
    r = r[np.isfinite(r)]
    if len(r) < min_obs:
        raise ValueError(f"GARCH(1,1) needs at least {min_obs} returns, got {len(r)}")
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    model = arch_model(r * _SCALE, mean="Constant", vol="GARCH", p=1, q=1, dist="normal", rescale=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = model.fit(disp="off", show_warning=False)
    var_path = np.asarray(res.forecast(horizon=horizon, reindex=False).variance.values[-1], dtype=np.float64)
    vol = math.sqrt(float(var_path.mean())) / _SCALE
    p = res.params
    return GarchForecast(
        omega=float(p["omega"]) / _SCALE**2,
        alpha=float(p["alpha[1]"]),
        beta=float(p["beta[1]"]),
        mu=float(p["mu"]) / _SCALE,
        vol_per_period=vol,
        annual_vol=vol * math.sqrt(periods_per_year),
        converged=int(res.convergence_flag) == 0,
    )


@dataclass(frozen=True, slots=True)
class GarchForecaster:
    """VolForecaster for VolatilityTarget: GARCH(1,1) annualised vol, sample vol when history is short."""

    horizon: int = 1
    min_obs: int = 100

    def annual_vol(self, returns: FloatArray, periods_per_year: float) -> float:
        r = np.asarray(returns, dtype=np.float64)
        if np.count_nonzero(np.isfinite(r)) < self.min_obs:
            return float(np.nanstd(r, ddof=1) * math.sqrt(periods_per_year))
        return garch_forecast(r, periods_per_year, self.horizon, self.min_obs).annual_vol
