"""`harvest_losses` in backtests (step path, the same pipeline as execute and serve): a hand-computed harvest of
the one BTC lot at a 20% loss, into the quote or into WBTC, no BTC bought within the wait and the position back to
target after it; and a real-data run over 2021-2023 where harvesting realises net losses earlier."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from trimtab.adapters.bundled import bundled_daily
from trimtab.backtest.results import result_metrics
from trimtab.backtest.runner import backtest
from trimtab.config import parse_strategy
from trimtab.core.base.history import PriceHistory
from trimtab.core.strategy import Strategy

ASSETS = ("BTC", "WBTC", "USDC")


def hist(btc: list[float]) -> PriceHistory:
    times = np.arange(len(btc)).astype("timedelta64[D]") + np.datetime64("2024-01-01", "D")
    prices = np.array([[p, p, 1.0] for p in btc], dtype=float)
    return PriceHistory(times=times, assets=ASSETS, prices=prices)


def strat(substitute: dict[str, str] | None = None) -> Strategy:
    harvest: dict[str, Any] = {"threshold": 0.1, "wait": "30d", **({"substitute": substitute} if substitute else {})}
    doc = {
        "name": "h",
        "quote": "USDC",
        "targets": {"BTC": 0.5, "USDC": 0.5},
        "trigger": {"kind": "threshold", "band": 0.1},
        "costs": {"fee_bps": 0, "slippage_bps": 0},
        "constraints": {"min_trade_usd": 0},
        "tax": {"method": "hifo", "rates": {"short": 0.35, "long": 0.15}, "harvest_losses": harvest},
    }
    return parse_strategy(doc, "t").build()


# day 0 at 100: 5 BTC (lot 1, basis 500); day 1 at 200: a 1,000 deposit buys 1.25 BTC (lot 2, basis 250);
# day 2 at 160: lot 2 is worth 200, a loss of 50 (20%), lot 1 is at a gain; flat at 160 to day 40.
PRICES = [100.0, 200.0] + [160.0] * 39
FLOWS = [(datetime(2024, 1, 2, tzinfo=UTC), Decimal(1000))]


def btc(r: Any, k: int) -> float:
    return float(r.weights[k][0] * r.equity[k] / PRICES[k])


@pytest.mark.parametrize("substitute", [None, {"BTC": "WBTC"}])
def test_the_lot_at_a_loss_is_harvested_and_bought_back_after_the_wait(substitute: dict[str, str] | None) -> None:
    r = backtest(strat(substitute), hist(PRICES), initial_value=1000.0, flows=FLOWS)
    m = result_metrics(r)
    assert m["path"] == "step"
    (reason,) = [why for k, why in r.reasons if k == 2]
    assert "BTC lot" in reason and "1.25 at a loss of 50.00 (20.0% of its basis)" in reason
    assert "saves 17.50 tax at the short rate 35%" in reason
    assert btc(r, 2) == pytest.approx(5.0)  # lot 1 (at a gain) stays
    wbtc = float(r.weights[2][1] * r.equity[2] / 160)
    assert wbtc == pytest.approx(1.25 if substitute else 0.0)  # the sold value moved into WBTC, or into USDC
    assert all(btc(r, k) == pytest.approx(5.0) for k in range(2, 32))  # no BTC bought within the 30 days
    assert not [k for k, _ in r.reasons if 2 < k < 32]
    assert [k for k, _ in r.reasons if k == 32] == [32]  # the wait has ended: back to target (its drift fires)
    assert r.weights[32][0] == pytest.approx(0.5) and r.weights[32][1] == pytest.approx(0.0)
    assert m["realised_gain_short"] == pytest.approx(-50.0) and m["tax_paid"] == pytest.approx(0.0)


@pytest.mark.slow
def test_on_real_prices_harvesting_realises_losses_earlier() -> None:
    doc = {
        "name": "btc-eth",
        "quote": "USDC",
        "targets": {"BTC": 0.4, "ETH": 0.4, "USDC": 0.2},
        "trigger": {"kind": "threshold", "band": 0.05},
        "costs": {"fee_bps": 10, "slippage_bps": 5},
        "tax": {
            "method": "hifo",
            "rates": {"short": 0.35, "long": 0.15},
            "harvest_losses": {"threshold": 0.2, "wait": "30d", "substitute": {"BTC": "WBTC"}},
        },
    }
    harvesting = parse_strategy(doc, "t").build()
    plain = replace(harvesting, tax=replace(harvesting.tax, harvest=None))  # type: ignore[type-var]
    history = bundled_daily(["BTC", "WBTC", "ETH", "USDC"], start="2021-01-01", end="2023-12-31")
    runs = {k: backtest(s, history, initial_value=100_000) for k, s in (("harvest", harvesting), ("plain", plain))}
    m = {k: result_metrics(r) for k, r in runs.items()}
    gains = {k: v["realised_gain_short"] + v["realised_gain_long"] for k, v in m.items()}
    harvests = sum("harvest: BTC lot" in w or "harvest: ETH lot" in w for _, w in runs["harvest"].reasons)
    assert harvests > 0  # the 2021-22 drawdowns put lots 20% under their basis
    assert gains["harvest"] < gains["plain"]
    assert m["harvest"]["after_tax_final_value"] > 0
