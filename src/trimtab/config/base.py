"""The one base of every configuration model: unknown keys are errors, parsed values never change."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    """Strict and frozen: a misspelt key is refused by name, and a validated config is a value."""

    model_config = ConfigDict(extra="forbid", frozen=True)
