"""The strategy file's optional cost-model keys and guards block."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from trimtab.config import parse_strategy
from trimtab.core.base.types import Side
from trimtab.core.costs.amm import AmmSlippage
from trimtab.core.costs.model import Fee, Gas, Slippage
from trimtab.core.costs.orderbook import BookSlippage
from trimtab.core.costs.parts import GasCost, HalfSpread, SqrtImpact, TieredFee
from trimtab.core.execution.guards import (
    BalanceChanged,
    CostTolerance,
    MissingMarket,
    StablecoinPeg,
    StalePrice,
    TurnoverLimit,
)
from trimtab.errors import ConfigError

D = Decimal
BASE: dict[str, Any] = {
    "name": "t",
    "quote": "USDC",
    "targets": {"ETH": 0.5, "USDC": 0.5},
    "trigger": {"kind": "threshold", "band": 0.05},
}


def build(costs: dict[str, Any] | None = None, guards: dict[str, Any] | None = None) -> Any:
    data = dict(BASE)
    if costs is not None:
        data["costs"] = costs
    if guards is not None:
        data["guards"] = guards
    return parse_strategy(data, "s.yaml")


def kinds(costs: dict[str, Any]) -> list[type]:
    return [type(p) for p in build(costs).costs.build().parts]


def test_the_original_three_keys_still_build_the_linear_model() -> None:
    model = build({"fee_bps": 12, "slippage_bps": 3, "gas_usd_per_trade": 1.5}).costs.build()
    q = model.quote("ETH", Side.BUY, D(1), D(1000))
    assert (q.cost.fee, q.cost.gas) == (
        (q.gross * D("0.0012")).quantize(D("1e-18"), rounding="ROUND_CEILING"),
        D("1.5"),
    )
    assert kinds({}) == [Fee, Slippage, Gas]


def test_each_model_builds_its_parts() -> None:
    assert kinds(
        {
            "model": "sqrt_impact",
            "spread_bps": 4,
            "sqrt_impact": {"y": 0.7, "volatility": {"eth": 0.04}, "daily_volume_usd": {"ETH": 1e9}},
        }
    ) == [Fee, SqrtImpact, HalfSpread, Gas]
    assert kinds({"model": "book", "books": {"eth": {"bids": [[999, 1]], "asks": [[1001, 1]]}}}) == [
        Fee,
        BookSlippage,
        Gas,
    ]
    assert kinds({"model": "amm", "pools": {"ETH": {"reserve_base": 100, "reserve_quote": 100000}}}) == [
        AmmSlippage,
        Gas,
    ]
    assert kinds(
        {
            "model": "amm",
            "fee_bps": 5,
            "pools": {"ETH": {"reserve_base": 100, "reserve_quote": 100000}},
            "gas": {"units": 150000, "gwei": 20, "native_price_usd": 3000},
        }
    ) == [Fee, AmmSlippage, GasCost]
    tiers = [
        {"min_volume_usd": 0, "maker_bps": 10, "taker_bps": 10},
        {"min_volume_usd": 1e6, "maker_bps": 5, "taker_bps": 7},
    ]
    model = build({"fee_tiers": tiers, "volume_30d_usd": 2e6}).costs.build()
    assert isinstance(model.parts[0], TieredFee) and model.parts[0].bps == 7


def test_bundled_gas_prices_from_the_etherscan_series() -> None:
    model = build({"gas": {"units": 100000, "gwei": "bundled", "at": "2021-05-12T00:00:00"}}).costs.build()
    gas = model.parts[-1]
    assert isinstance(gas, GasCost) and gas.gas_price_gwei > 100  # May 2021 was a gas-price peak
    import csv

    from trimtab.shipped import GAS_FILE, shipped_path

    with shipped_path(GAS_FILE).open(newline="") as f:  # the file's own cells for that day
        row = next(r for r in csv.DictReader(f) if r["date"] == "2021-05-12")
    assert (float(gas.gas_price_gwei), float(gas.native_price)) == (
        float(row["avg_gas_price_gwei"]),
        float(row["eth_price_usd"]),
    )


@pytest.mark.parametrize(
    ("costs", "message"),
    [
        ({"model": "book"}, "model book needs books"),
        ({"model": "amm"}, "model amm needs pools"),
        ({"model": "sqrt_impact"}, "needs a sqrt_impact block"),
        (
            {"model": "book", "books": {"ETH": {"bids": [[1001, 1]], "asks": [[999, 1]]}}},
            "books.ETH: order book is crossed",
        ),
        ({"gas": {"units": 1, "gwei": 5}}, "native_price_usd is needed"),
        ({"gas": {"units": 1, "gwei": 5, "native_price_usd": 1}, "gas_usd_per_trade": 1}, "either gas_usd_per_trade"),
        (
            {
                "fee_tiers": [
                    {"min_volume_usd": 5, "maker_bps": 1, "taker_bps": 1},
                    {"min_volume_usd": 1, "maker_bps": 1, "taker_bps": 1},
                ]
            },
            "must increase",
        ),
        ({"model": "cubic"}, "costs.model"),
        ({"fee_bps": 10, "surprise": 1}, "costs.surprise: unknown key"),
        (
            {
                "model": "amm",
                "pools": {
                    "eth": {"reserve_base": 1, "reserve_quote": 1, "fee": 0.003},
                    "ETH": {"reserve_base": 2, "reserve_quote": 2, "fee": 0.003},
                },
            },
            "ETH twice",
        ),
    ],
)
def test_bad_cost_blocks_are_one_line_errors(costs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        build(costs)
    assert str(err.value).startswith("s.yaml: ") and "\n" not in str(err.value)


def test_guards_block_builds_the_breakers() -> None:
    spec = build(
        guards={
            "max_price_age": "15m",
            "stablecoin_peg_tolerance": 0.01,
            "require_markets": True,
            "balance_tolerance": 0.001,
            "max_turnover_per_day": 0.5,
            "cost_tolerance": 0.002,
        }
    )
    guards = spec.guards.build()
    assert [type(g) for g in guards] == [
        StalePrice,
        StablecoinPeg,
        MissingMarket,
        BalanceChanged,
        TurnoverLimit,
        CostTolerance,
    ]
    assert guards[0].max_age_s == 900
    assert build().guards is None
    with pytest.raises(ConfigError, match="guards.max_price_age"):
        build(guards={"max_price_age": "1M"})
