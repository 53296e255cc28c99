"""The `tax:` block of a strategy file: the lot method and holding period, the rates that price a plan's gains,
a yearly realised-gain budget and `tax_aware` (docs/tax.md)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field, model_validator

from trimtab.config.base import Model
from trimtab.core.base.lots import LotMethod
from trimtab.core.execution.tax_aware import TaxPolicy

Rate = Annotated[float, Field(ge=0, le=1)]


class TaxRatesSpec(Model):
    short: Rate = 0.0
    long: Rate = 0.0


class TaxSpec(Model):
    """How sells are taxed and how far the planner avoids gains; `specific` lots are for tax-report, not plans."""

    method: LotMethod = LotMethod.FIFO
    holding_days: Annotated[int, Field(ge=1, le=3650)] = 365
    rates: TaxRatesSpec = TaxRatesSpec()
    gain_budget: Annotated[Decimal, Field(ge=0, allow_inf_nan=False)] | None = None
    tax_aware: bool = False

    @model_validator(mode="after")
    def _usable(self) -> TaxSpec:
        if self.method is LotMethod.SPECIFIC:
            raise ValueError("method: specific lots are chosen per sale in tax-report; a plan uses fifo, lifo or hifo")
        if self.tax_aware and self.rates.short == 0 and self.rates.long == 0:
            raise ValueError("rates: tax_aware needs a short or long rate above 0 to price gains")
        return self

    def policy(self) -> TaxPolicy:
        return TaxPolicy(
            self.method, self.holding_days, self.rates.short, self.rates.long, self.gain_budget, self.tax_aware
        )
