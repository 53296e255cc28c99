"""Response models of the REST API: the shapes /openapi.json documents and every reply is validated against.

Strict (extra keys forbidden) so a use case that changes a reply's shape fails its tests instead of drifting from
the documented contract. Decimals travel as strings and times as ISO 8601 strings (reports.json_safe); journaled
documents whose shape depends on the venue (plans, execution reports, alert payloads) stay JSON objects.
"""

from __future__ import annotations

from pydantic import Field

from trimtab.service.reply_base import Amount, JsonObject, Metrics, Reply, Time, Weights
from trimtab.service.reply_parts import (
    Accepted,
    ExitAccepted,
    ExitQuote,
    FlowAccepted,
    PauseAccepted,
    SleeveStatus,
    TargetsAccepted,
    YieldStatus,
)

__all__ = [
    "Accepted",
    "Amount",
    "ExitAccepted",
    "ExitQuote",
    "FlowAccepted",
    "JsonObject",
    "Metrics",
    "PauseAccepted",
    "Reply",
    "SleeveStatus",
    "TargetsAccepted",
    "Time",
    "Weights",
    "YieldStatus",
]


class Health(Reply):
    status: str
    version: str
    worker: str
    role: str
    time: Time
    started_at: Time
    portfolios: int


class DecisionBrief(Reply):
    id: int
    time: Time
    kind: str
    fired: bool
    traded: bool
    status: str
    reason: str
    value: float | None


class PortfolioRow(Reply):
    name: str
    strategy: str
    venue: str
    account: str
    quote: str
    paused: bool
    value: float | None
    last_check_at: Time | None
    next_check_at: Time | None
    last_decision: DecisionBrief | None


class AssetRow(Reply):
    asset: str
    quantity: Amount
    price: Amount | None
    value: Amount
    weight: float | None
    target: float | None
    drift: float | None
    relative_drift: float | None
    band: float | None = Field(description="null when the asset has no band")
    distance: float | None
    status: str
    breached: bool


class ClosestBand(Reply):
    asset: str
    distance: float | None


class NextRebalance(Reply):
    calendar_due: Time | None
    calendar_every: str | None
    closest_band: ClosestBand | None
    expected_at_next_check: bool


class Pending(Reply):
    trigger: bool
    exit: bool


class Status(Reply):
    name: str
    strategy: str
    venue: str
    account: str
    quote: str
    time: Time
    value: float | None
    paused: bool
    paused_reason: str
    targets_version: int
    targets: Weights
    assets: list[AssetRow]
    trigger_would_fire: bool
    check_every: str
    last_check_at: Time | None
    next_check_at: Time | None
    next_rebalance: NextRebalance
    failures: int
    pending: Pending
    last_decision: DecisionBrief | None
    yields: YieldStatus | None = Field(None, description="yield portfolios only: positions, APYs, yield earned")
    sleeves: SleeveStatus | None = Field(None, description="sleeve portfolios only: each sleeve's share and drift")


class Decision(Reply):
    id: int
    time: Time
    recorded_at: Time
    kind: str
    fired: bool
    traded: bool
    status: str
    reason: str
    rebalance_id: str | None
    value: float | None
    buy_and_hold_value: float | None
    weights: Weights
    targets: Weights
    metrics: Metrics
    plan: JsonObject | None
    report: JsonObject | None
    worker: str
    yields: JsonObject | None = Field(None, description="yield portfolios: positions, interest, yield earned, moves")
    flow: float = Field(0.0, description="external flow recorded at this check (deposit +, withdrawal -)")


class Decisions(Reply):
    portfolio: str
    limit: int
    offset: int
    items: list[Decision]


class CostParts(Reply):
    fee: float
    slippage: float
    gas: float
    total: float


class CostDoc(Reply):
    expected: CostParts | None
    realised: CostParts
    traded_notional: float
    slippage_bps: float


class Rebalance(Reply):
    id: str
    status: str
    reason: str
    created_at: Time
    finished_at: Time | None
    kind: str | None
    time: Time | None
    plan: JsonObject
    report: JsonObject | None
    costs: CostDoc | None


class Rebalances(Reply):
    portfolio: str
    items: list[Rebalance]


class EquityPoint(Reply):
    time: Time
    value: float | None
    buy_and_hold: float | None
    flow: float = Field(0.0, description="external flow recorded at this point (deposit +, withdrawal -)")


class Performance(Reply):
    portfolio: str
    points: int
    equity: list[EquityPoint]
    metrics: Metrics
    buy_and_hold_metrics: Metrics
    return_: float | None = Field(alias="return")
    buy_and_hold_return: float | None
    rebalancing_contribution: float | None
    net_flows: float = Field(description="deposits less withdrawals since the first point (quote units)")
    money_weighted_return: float | None = Field(description="annualised IRR of the flows; return is time-weighted")


class AnalyticsPoint(Reply):
    time: Time
    value: float | None
    buy_and_hold: float | None
    calendar: float | None
    drawdown: float | None


class Variant(Reply):
    label: str
    return_: float | None = Field(alias="return")
    end_value: float | None
    metrics: Metrics


class Variants(Reply):
    strategy: Variant | None
    buy_and_hold: Variant | None
    calendar: Variant | None


class Benefit(Reply):
    costs: float | None
    net_benefit: float | None
    gross_benefit: float | None
    cost_share: float | None


class Correlations(Reply):
    window: int
    assets: list[str]
    matrix: list[list[float | None]] | None
    base: str | None
    times: list[Time]
    against_base: dict[str, list[float | None]]
    average: list[float | None]


class Regime(Reply):
    label: str
    volatility: float | None
    window: int
    thresholds: list[float]
    names: list[str]
    times: list[Time]
    series: list[float | None]


class Analytics(Reply):
    portfolio: str
    quote: str
    time: Time
    points: int
    equity: list[AnalyticsPoint]
    variants: Variants
    benefit: Benefit | None
    correlations: Correlations | None
    regime: Regime | None


class CostTotals(Reply):
    fee: float
    slippage: float
    gas: float
    total: float
    expected_total: float


class RebalanceCost(Reply):
    decision_id: int
    time: Time
    kind: str
    rebalance_id: str | None
    expected: CostParts | None = None
    realised: CostParts | None = None
    traded_notional: float | None = None
    slippage_bps: float | None = None


class PlanOrder(Reply):
    asset: str
    side: str
    quantity: Amount
    price: Amount
    exec_price: Amount
    notional: Amount
    est_fee: Amount
    est_slippage: Amount
    est_gas: Amount


class PlanDocument(Reply):
    """The JSON form of `trimtab plan` (documents.plan_document)."""

    strategy: str
    quote: str
    portfolio_value: Amount
    trades_needed: bool
    reason: str
    orders: list[PlanOrder]
    residual_drift: Weights
    blocked: dict[str, str]
    post_weights: Weights
    total_est_fee: Amount
    total_est_slippage: Amount
    total_est_gas: Amount
    total_est_cost: Amount


class Costs(Reply):
    portfolio: str
    time: Time
    totals: CostTotals
    rebalances: int
    per_rebalance: list[RebalanceCost]
    projection: PlanDocument


class Attribution(Reply):
    holding: float | None
    rebalancing: float | None


class Summary(Reply):
    portfolio: str
    month: str
    checks: int
    rebalances: int
    start_value: float | None
    end_value: float | None
    return_: float | None = Field(alias="return")
    buy_and_hold_return: float | None
    attribution: Attribution
    costs: float | None
    reasons: list[str]


class TargetVersion(Reply):
    version: int
    targets: Weights
    actor: str
    note: str
    created_at: Time


class Targets(Reply):
    portfolio: str
    current_version: int
    versions: list[TargetVersion]


class Alert(Reply):
    id: int
    portfolio: str | None
    kind: str
    title: str
    body: str
    payload: JsonObject
    created_at: Time
    delivery: str


class Alerts(Reply):
    items: list[Alert]


class AuditEntry(Reply):
    id: int
    portfolio: str | None
    action: str
    actor: str
    detail: JsonObject
    created_at: Time


class Audit(Reply):
    items: list[AuditEntry]
