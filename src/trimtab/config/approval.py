"""The `approval:` block of a strategy file: plans above a size or cost threshold wait for an admin (docs/service.md,
"Approvals")."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from trimtab.config.base import Model
from trimtab.core.approval import ApprovalPolicy
from trimtab.core.base.schedule import parse_every

THRESHOLDS = ("max_auto_notional", "max_auto_cost", "max_auto_turnover")


class ApprovalSpec(Model):
    """A plan at or under every threshold set executes by itself; a larger one waits `expires` for an admin."""

    max_auto_notional: Annotated[Decimal, Field(gt=0)] | None = None  # in the quote
    max_auto_cost: Annotated[Decimal, Field(ge=0)] | None = None  # in the quote
    max_auto_turnover: Annotated[float, Field(gt=0, le=2)] | None = None  # notional / portfolio value
    expires: str = "4h"

    @field_validator("expires")
    @classmethod
    def _expires(cls, v: str) -> str:
        every = parse_every(v)
        if every.months:
            raise ValueError(f"a duration in s, m, h, d or w, got {v!r}")
        return v

    @model_validator(mode="after")
    def _some_threshold(self) -> ApprovalSpec:
        if all(getattr(self, k) is None for k in THRESHOLDS):
            raise ValueError(f"set at least one of {', '.join(THRESHOLDS)}")
        return self

    def policy(self) -> ApprovalPolicy:
        return ApprovalPolicy(
            max_auto_notional=self.max_auto_notional,
            max_auto_cost=self.max_auto_cost,
            max_auto_turnover=self.max_auto_turnover,
            expires_s=float(parse_every(self.expires).seconds),
        )
