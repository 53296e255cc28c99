"""API replies of the controls (202 accepted: pause, flows, targets, exit) and the yield and sleeve status parts;
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


class SleeveAsset(Reply):
    asset: str
    weight_in_sleeve: float
    target_in_sleeve: float
    drift: float = Field(description="weight_in_sleeve - target_in_sleeve")


class SleeveVerdict(Reply):
    trigger: str = Field(description="the trigger in a few words: calendar 1w, band 5pp")
    fired_now: bool = Field(description="whether this trigger would fire at this moment")
    reason: str


class SleeveRow(SleeveVerdict):
    name: str
    weight: float = Field(description="the sleeve's target share of the whole")
    share: float = Field(description="its current share of the whole")
    drift: float = Field(description="share - weight")
    split_band: float | None = Field(description="the split's band on |drift|, null without one")
    trigger_kind: str
    calendar_every: str | None
    next_due: Time | None = Field(description="calendar sleeves: the next anchor + k x every")
    internal_drift: float = Field(description="the largest |weight_in_sleeve - target_in_sleeve|")
    internal: list[SleeveAsset]


class SplitVerdict(SleeveVerdict):
    band: float | None


class NextSleeveDue(Reply):
    sleeve: str
    at: Time


class SleeveStatus(Reply):
    split: SplitVerdict
    unassigned: float = Field(description="share held outside every sleeve (the (unassigned) row of the split)")
    would_fire: bool = Field(description="the split or some sleeve would fire at this moment")
    next_due: NextSleeveDue | None = Field(description="the earliest next calendar due among the sleeves")
    items: list[SleeveRow]
