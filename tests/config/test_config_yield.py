"""The `yield:` block: defaults, one-line errors, and a dump / re-validate round trip (the service re-validates)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from trimtab.config import StrategySpec, load_strategy_spec, parse_strategy, preset_path
from trimtab.errors import ConfigError


def _preset() -> dict[str, Any]:
    return yaml.safe_load(preset_path("stablecoin-yield").read_text())


def test_preset_defaults_are_the_issues() -> None:
    ys = load_strategy_spec("stablecoin-yield").yield_
    assert ys is not None
    rule = ys.rule()
    assert (
        rule.min_differential,
        rule.horizon_days,
        rule.min_liquidity_usd,
        rule.max_slippage,
        rule.max_gas_fraction,
    ) == (0.005, 30.0, 1e6, 0.001, 0.0001)
    assert [p.name for p in ys.positions()] == ["aUSDC", "aUSDT"]


@pytest.mark.parametrize("kw", [{}, {"by_alias": True}, {"exclude_none": True}, {"mode": "json", "exclude_none": True}])
def test_dump_round_trip(kw: dict[str, Any]) -> None:
    spec = load_strategy_spec("stablecoin-yield")
    assert StrategySpec.model_validate(spec.model_dump(**kw)) == spec


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda y: y.update(min_score=2), "yield.min_score: Input should be less than or equal to 1"),
        (lambda y: y["candidates"][0].update(bogus=1), "yield.candidates.0.bogus: unknown key"),
        (lambda y: y.update(horizon="soon"), "yield.horizon: invalid duration 'soon'"),
        (lambda y: y["candidates"].append(dict(y["candidates"][0])), "position aUSDC listed twice"),
        (
            lambda y: y.update(protocol_caps={"compound": 0.5}),
            "protocol_caps: compound is not the protocol of any candidate",
        ),
        (lambda y: y.update(min_score=0.95), "none has a risk_score >= min_score 0.95"),
        (lambda y: y["candidates"][0].update(protocol="wallet"), "'wallet' is reserved for idle cash"),
    ],
)
def test_bad_yield_block_is_one_line(edit: Any, message: str) -> None:
    data = _preset()
    edit(data["yield"])
    with pytest.raises(ConfigError) as e:
        parse_strategy(data, "s.yaml")
    assert message in str(e.value) and "\n" not in str(e.value)
