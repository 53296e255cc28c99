"""The `tax:` block of a strategy file: defaults, the policy it builds, and one-line errors naming the field."""

from __future__ import annotations

from decimal import Decimal

import pytest

from trimtab.config import parse_strategy
from trimtab.core.base.lots import LotMethod
from trimtab.errors import ConfigError

BASE = {
    "name": "t",
    "quote": "USDC",
    "targets": {"BTC": 0.5, "USDC": 0.5},
    "trigger": {"kind": "threshold", "band": 0.05},
}


def test_the_block_builds_the_policy_the_pipeline_applies() -> None:
    tax = {"method": "hifo", "holding_days": 366, "rates": {"short": 0.4, "long": 0.2}, "gain_budget": 5000}
    p = parse_strategy({**BASE, "tax": {**tax, "tax_aware": True}}, "t").build().tax
    assert p is not None and p.method is LotMethod.HIFO and p.holding_days == 366
    assert (p.short_rate, p.long_rate, p.gain_budget, p.tax_aware) == (0.4, 0.2, Decimal(5000), True)
    assert parse_strategy(BASE, "t").build().tax is None


def test_harvest_losses_builds_its_policy_and_prices_the_substitute() -> None:
    harvest = {"threshold": 0.2, "min_loss": 100, "wait": "5w", "substitute": {"btc": "wbtc"}}
    s = parse_strategy({**BASE, "tax": {"harvest_losses": harvest}}, "t").build()
    h = s.tax.harvest if s.tax is not None else None
    assert h is not None and (h.threshold, h.min_loss, h.wait.days, dict(h.substitute)) == (
        0.2,
        100,
        35,
        {"BTC": "WBTC"},
    )
    assert "WBTC" in s.universe  # loaded and priced with the strategy's assets


@pytest.mark.parametrize(
    ("tax", "field", "words"),
    [
        ({"method": "specific"}, "tax", "specific lots"),
        ({"tax_aware": True}, "tax", "needs a short or long rate"),
        ({"rates": {"short": 1.5}}, "tax.rates.short", ""),
        ({"gain_budget": -1}, "tax.gain_budget", ""),
        ({"method": "average"}, "tax.method", ""),
        ({"harvest": True}, "tax.harvest", ""),
        ({"harvest_losses": {"threshold": 0}}, "tax.harvest_losses.threshold", ""),
        ({"harvest_losses": {"wait": "1M"}}, "tax.harvest_losses.wait", "a fixed duration"),
        ({"harvest_losses": {"substitute": {"BTC": "btc"}}}, "tax.harvest_losses.substitute", "another asset"),
        ({"harvest_losses": {"substitute": {"BTC": "USDC"}}}, "tax", "the quote USDC"),
        ({"harvest_losses": {"substitute": {"ETH": "WETH"}}}, "tax", "ETH is not in targets"),
    ],
)
def test_errors_name_the_field(tax: dict[str, object], field: str, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_strategy({**BASE, "tax": tax}, "t")
    assert f": {field}:" in str(err.value) and words in str(err.value)  # one line naming the field
