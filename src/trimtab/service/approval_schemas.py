"""Response and request models of the approval routes (service/approvals.py), strict like service/schemas.py."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from trimtab.service.schemas import Accepted, Amount, PlanDocument, Reply, Time


class Approval(Reply):
    """A plan above the strategy's `approval:` thresholds and what became of it."""

    id: int
    portfolio: str
    status: str = Field(description="pending | approved | rejected | expired | executed | superseded")
    kind: str
    reason: str = Field(description="each threshold the plan exceeds, with both numbers")
    created_at: Time
    expires_at: Time
    notional: Amount
    cost: Amount = Field(description="estimated fee + slippage + gas of the plan, in the quote")
    targets_version: int
    decided_by: str | None = Field(description="role (and name given) of who decided; 'expiry' when it ran out")
    decided_at: Time | None
    note: str
    rebalance_id: str | None = Field(description="the rebalance that executed the re-plan")
    plan: PlanDocument = Field(description="the plan as decided; an approved one is re-planned on fresh prices")


class Approvals(Reply):
    portfolio: str
    items: list[Approval]


class ApprovalAccepted(Accepted):
    approval: Approval


class DecideIn(BaseModel):
    """Who decides (kept in the audit log with the token's role) and why."""

    model_config = ConfigDict(extra="forbid")
    by: Annotated[str, Field(max_length=48, pattern=r"^[\w.@ -]*$")] = ""
    note: Annotated[str, Field(max_length=500)] = ""
