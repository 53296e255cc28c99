"""API replies of the controls (202 accepted: pause, flows, targets, exit) and a yield portfolio's status part;
re-exported by service/schemas.py with every other reply."""

from __future__ import annotations

from pydantic import Field

from trimtab.service.reply_base import Amount, JsonObject, Reply, Time, Weights


class Accepted(Reply):
    """A control was accepted; the scheduler carries it out (202)."""

    accepted: bool
    action: str
    portfolio: str
    requested_at: Time


class PauseAccepted(Accepted):
    paused: bool


class FlowAccepted(Accepted):
    flow_id: str
    amount: Amount
    queued: int = Field(description="flows waiting for the portfolio's next cycle, this one included")
    paused: bool = Field(description="a paused portfolio takes flows up once resumed")


class TargetsAccepted(Accepted):
    version: int
    targets: Weights


class ExitQuote(Reply):
    asset: str
    quantity: Amount
    route: str
    mid: Amount
    expected_received: Amount
    min_received: Amount = Field(description="the leg is refused if the venue would pay less")


class ExitAccepted(Accepted):
    quotes: list[ExitQuote]
    expected_received: Amount
    legs: int


class YieldPosition(Reply):
    name: str
    protocol: str
    underlying: str
    risk_score: float
    units: Amount
    index: float | None
    apy: float | None = Field(description="null before the reserve is listed")
    utilization: float | None
    value: float


class YieldStatus(Reply):
    positions: list[YieldPosition]
    yield_earned: float = Field(description="interest earned since the first check, in USD")
    interest_last_check: float
    rates_time: str = Field(description="the rates row the positions are valued at (YYYY-MM-DD)")
    rates_source: str
    last_moves: list[JsonObject] = Field(description="the last check's migrations with both APYs and their costs")
