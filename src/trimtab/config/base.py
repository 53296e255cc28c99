"""The one base of every configuration model: unknown keys are errors, parsed values never change."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from trimtab.core.base.types import canonical_keys


class Model(BaseModel):
    """Strict and frozen: a misspelt key is refused by name, and a validated config is a value."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def target_keys(v: Any) -> Any:
    """A `targets:` mapping keyed by canonical symbols (one asset at least), for the validators of every model
    that takes targets."""
    if isinstance(v, dict):
        if not v:
            raise ValueError("needs at least one asset")
        return canonical_keys(v, "targets")
    return v
