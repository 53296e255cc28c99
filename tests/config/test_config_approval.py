"""The `approval:` block: defaults, one-line errors naming the field, the dump round trip the service re-validates
with, what each path does with it (backtests refuse it), and the pure threshold test behind it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from trimtab.config import StrategySpec, load_strategy_spec, parse_strategy
from trimtab.core.approval import ApprovalPolicy, needs_approval, replan_difference
from trimtab.core.base.portfolio import PortfolioState
from trimtab.core.base.types import CostEstimate, PlannedOrder, Side, TradePlan
from trimtab.errors import ConfigError
from trimtab.pipeline import refuse_unsupported


def _data(approval: Any) -> dict[str, Any]:
    data = load_strategy_spec("index-fund").model_dump(mode="json", by_alias=True, exclude_none=True)
    data["approval"] = approval
    return data


def test_defaults_and_the_policy_it_builds() -> None:
    spec = parse_strategy(_data({"max_auto_notional": 25_000}), "s.yaml")
    assert spec.approval is not None and spec.approval.expires == "4h"
    policy = spec.build().approval
    assert policy == ApprovalPolicy(max_auto_notional=Decimal(25_000), expires_s=4 * 3600.0)
    assert load_strategy_spec("index-fund").build().approval is None  # no block: every plan goes by itself


def test_dump_round_trip_keeps_exact_amounts() -> None:
    spec = parse_strategy(_data({"max_auto_notional": "12345.67", "max_auto_cost": 0.1, "expires": "2d"}), "s.yaml")
    again = StrategySpec.model_validate(spec.model_dump(mode="json"))
    assert again == spec and again.approval is not None
    assert again.approval.max_auto_cost == Decimal("0.1")
    assert again.build().approval.expires_s == 2 * 86400.0  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("approval", "message"),
    [
        ({}, "approval: set at least one of max_auto_notional, max_auto_cost, max_auto_turnover"),
        ({"expires": "1h"}, "approval: set at least one of max_auto_notional"),
        ({"max_auto_notional": 0}, "approval.max_auto_notional: Input should be greater than 0"),
        ({"max_auto_notional": "lots"}, "approval.max_auto_notional: Input should be a valid decimal"),
        ({"max_auto_cost": -1}, "approval.max_auto_cost: Input should be greater than or equal to 0"),
        ({"max_auto_turnover": 3}, "approval.max_auto_turnover: Input should be less than or equal to 2"),
        ({"max_auto_cost": 5, "expires": "soon"}, "approval.expires: invalid duration 'soon'"),
        ({"max_auto_cost": 5, "expires": "1M"}, "approval.expires: a duration in s, m, h, d or w, got '1M'"),
        ({"max_auto_cost": 5, "wait": "1h"}, "approval.wait: unknown key"),
        ("yes", "approval: Input should be a valid dictionary"),
    ],
)
def test_bad_approval_block_is_one_line_naming_the_field(approval: Any, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_strategy(_data(approval), "s.yaml")
    assert str(e.value).startswith("s.yaml: ") and message in str(e.value) and "\n" not in str(e.value)


def test_a_backtest_refuses_it_and_serve_and_execute_take_it() -> None:
    strategy = parse_strategy(_data({"max_auto_cost": 5}), "s.yaml").build()
    with pytest.raises(ConfigError, match=r"^approval: a backtest has nobody to approve a plan"):
        refuse_unsupported(strategy, "backtest")
    refuse_unsupported(strategy, "serve")
    refuse_unsupported(strategy, "execute")


def test_a_yield_strategy_has_no_approval_step() -> None:
    data = load_strategy_spec("stablecoin-yield").model_dump(mode="json", by_alias=True, exclude_none=True)
    spec = parse_strategy({**data, "approval": {"max_auto_cost": 5}}, "y.yaml")
    with pytest.raises(ConfigError, match="approval: a yield: strategy has no approval step"):
        spec.yield_setup()


def _order(asset: str, side: Side, qty: str, price: str, fee: str) -> PlannedOrder:
    p = Decimal(price)
    return PlannedOrder(asset, "USDC", side, Decimal(qty), p, p, CostEstimate(fee=Decimal(fee)))


STATE = PortfolioState.of({"USDC": Decimal(10_000), "BTC": Decimal(1)}, {"BTC": Decimal(30_000)}, "USDC")
PLAN = TradePlan((_order("BTC", Side.SELL, "0.25", "30000", "7.5"),), "BTC drift")  # 7,500 of 40,000


@pytest.mark.parametrize(
    ("policy", "reason"),
    [
        (ApprovalPolicy(max_auto_notional=Decimal(7_500)), None),  # at the threshold: automatic
        (ApprovalPolicy(max_auto_notional=Decimal(7_499)), "notional 7,500.00 USDC above max_auto_notional 7,499.00"),
        (ApprovalPolicy(max_auto_cost=Decimal(5)), "estimated cost 7.50 USDC above max_auto_cost 5.00 USDC"),
        (ApprovalPolicy(max_auto_turnover=0.1), "turnover 18.75% of the portfolio above max_auto_turnover 10.00%"),
        (ApprovalPolicy(max_auto_turnover=0.2, max_auto_cost=Decimal(8)), None),
    ],
)
def test_needs_approval_names_the_threshold_and_both_numbers(policy: ApprovalPolicy, reason: str | None) -> None:
    got = needs_approval(PLAN, STATE, policy)
    assert got == reason if reason is None else reason in (got or "")
    assert needs_approval(TradePlan((), "nothing"), STATE, policy) is None
    assert needs_approval(PLAN, STATE, None) is None


def test_a_re_plan_is_comparable_within_ten_percent_on_the_same_sides() -> None:
    sides = {"BTC": "sell"}
    assert replan_difference(PLAN, Decimal(7_000), Decimal(7), sides, "USDC") is None  # 7,500 <= 7,700
    assert "more than 1.10x the approved 6,000.00 USDC" in (
        replan_difference(PLAN, Decimal(6_000), Decimal(7), sides, "USDC") or ""
    )
    assert "estimated cost 7.50 USDC is more than 1.10x" in (
        replan_difference(PLAN, Decimal(7_500), Decimal(6), sides, "USDC") or ""
    )
    assert replan_difference(PLAN, Decimal(7_500), Decimal(8), {"BTC": "buy"}, "USDC") == (
        "sell BTC was not approved (the approved plan would buy it)"
    )
    assert replan_difference(PLAN, Decimal(7_500), Decimal(8), {"ETH": "sell"}, "USDC") == "sell BTC was not approved"
