"""The `tax:` block of a strategy file: the lot method and holding period, the rates that price a plan's gains,
a yearly realised-gain budget, `tax_aware` and `harvest_losses` (README "Tax lots")."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from trimtab.config.base import Model
from trimtab.core.base.lots import LotMethod
from trimtab.core.base.schedule import parse_every
from trimtab.core.base.types import asset_symbol
from trimtab.core.execution.harvest import HarvestPolicy
from trimtab.core.execution.tax_aware import TaxPolicy

Rate = Annotated[float, Field(ge=0, le=1)]


class TaxRatesSpec(Model):
    short: Rate = 0.0
    long: Rate = 0.0


class HarvestSpec(Model):
    """`harvest_losses`: sell lots whose loss reaches `threshold` of their basis (and `min_loss` in the quote per
    asset); no buy back before `wait` (days or weeks), the value held in `substitute` (asset -> asset) or the quote."""

    threshold: Annotated[float, Field(gt=0, lt=1)] = 0.10
    min_loss: Annotated[Decimal, Field(ge=0, allow_inf_nan=False)] = Decimal(0)
    wait: str = "30d"
    substitute: dict[str, str] = {}

    @field_validator("wait")
    @classmethod
    def _wait(cls, v: str) -> str:
        every = parse_every(v)
        if every.months or not every.seconds:
            raise ValueError(f"a fixed duration such as 30d or 5w, got {v!r}")
        return v

    @field_validator("substitute")
    @classmethod
    def _substitute(cls, v: dict[str, str]) -> dict[str, str]:
        out = {asset_symbol(a): asset_symbol(s) for a, s in v.items()}
        for a, s in out.items():
            if a == s:
                raise ValueError(f"{a} -> {s}: a substitute must be another asset")
        chained = sorted(set(out) & set(out.values()))
        if chained:
            raise ValueError(f"{', '.join(chained)} is both harvested into and substituted: one step only")
        return out

    def policy(self) -> HarvestPolicy:
        every = parse_every(self.wait)
        return HarvestPolicy(self.threshold, self.min_loss, timedelta(seconds=every.seconds), dict(self.substitute))


class TaxSpec(Model):
    """How sells are taxed and how far the planner avoids gains; `specific` lots are for tax-report, not plans."""

    method: LotMethod = LotMethod.FIFO
    holding_days: Annotated[int, Field(ge=1, le=3650)] = 365
    rates: TaxRatesSpec = TaxRatesSpec()
    gain_budget: Annotated[Decimal, Field(ge=0, allow_inf_nan=False)] | None = None
    tax_aware: bool = False
    harvest_losses: HarvestSpec | None = None

    @model_validator(mode="after")
    def _usable(self) -> TaxSpec:
        if self.method is LotMethod.SPECIFIC:
            raise ValueError("method: specific lots are chosen per sale in tax-report; a plan uses fifo, lifo or hifo")
        if self.tax_aware and self.rates.short == 0 and self.rates.long == 0:
            raise ValueError("rates: tax_aware needs a short or long rate above 0 to price gains")
        return self

    def policy(self) -> TaxPolicy:
        return TaxPolicy(
            self.method,
            self.holding_days,
            self.rates.short,
            self.rates.long,
            self.gain_budget,
            self.tax_aware,
            self.harvest_losses.policy() if self.harvest_losses is not None else None,
        )

    def check_harvest(self, quote: str, targets: dict[str, float] | None, static: bool) -> None:
        """Harvesting serves static targets; a substitute is not the quote and replaces a target."""
        h = self.harvest_losses
        if h is None:
            return
        if not static:
            raise ValueError("tax: harvest_losses serves static targets (a model or sleeves set the weights)")
        for a, s in h.substitute.items():
            if quote in (a, s):
                raise ValueError(f"tax: harvest_losses.substitute {a} -> {s}: the quote {quote} waits in itself")
            if a not in (targets or {}):
                raise ValueError(f"tax: harvest_losses.substitute {a} is not in targets")
