"""The base of every API reply model and the field types they share (service/schemas.py has the replies)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

Time = Annotated[str, Field(description="ISO 8601 time, UTC")]
Amount = Annotated[str, Field(description="exact decimal amount as a string")]
JsonObject = dict[str, Any]
Weights = dict[str, float]
Metrics = Annotated[
    dict[str, float | None], Field(description="total_return, volatility, sharpe, max_drawdown, var_95, cvar_95, ...")
]


class Reply(BaseModel):
    """Base of every response model: unknown keys are an error, 'return' and friends come by alias."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
