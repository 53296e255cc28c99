"""Tax-aware plans: hand-computed gains of a plan's sells by lot method, the tax at two rates, and the choice
between the full plan and the band-edge plan (tax-aware, or the year's realised-gain budget)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from trimtab.core.base.lots import LotBook, LotMethod
from trimtab.core.base.types import ZERO, CostEstimate, PlannedOrder, Side, TradePlan
from trimtab.core.execution.tax_aware import TaxPolicy, choose_plan, plan_tax

T1, T2, SOLD = datetime(2022, 1, 1, tzinfo=UTC), datetime(2023, 1, 1, tzinfo=UTC), datetime(2023, 6, 1, tzinfo=UTC)


def book() -> LotBook:
    b = LotBook()
    b.buy("l1", "BTC", Decimal(1), Decimal(10_000), T1)  # long term by SOLD
    b.buy("l2", "BTC", Decimal(1), Decimal(30_000), T2)  # short term
    return b


def sell(qty: str, price: str = "40000", fee: str = "0") -> TradePlan:
    q, p = Decimal(qty), Decimal(price)
    return TradePlan((PlannedOrder("BTC", "USDC", Side.SELL, q, p, p, CostEstimate(Decimal(fee), ZERO, ZERO)),), "t")


def test_fifo_and_hifo_gains_and_tax_by_hand() -> None:
    """Sell 1.5 BTC at 40k. FIFO: lot 1 whole (+30k long), half of lot 2 (+5k short): tax 30k*.2 + 5k*.4 = 8,000.
    HIFO: lot 2 whole (+10k short), half of lot 1 (+15k long): 10k*.4 + 15k*.2 = 7,000."""
    fifo = plan_tax(sell("1.5"), book(), SOLD, TaxPolicy(LotMethod.FIFO, short_rate=0.4, long_rate=0.2))
    assert (fifo.short, fifo.long, fifo.tax) == (Decimal(5_000), Decimal(30_000), Decimal(8_000))
    hifo = plan_tax(sell("1.5"), book(), SOLD, TaxPolicy(LotMethod.HIFO, short_rate=0.4, long_rate=0.2))
    assert (hifo.short, hifo.long, hifo.tax) == (Decimal(10_000), Decimal(15_000), Decimal(7_000))


def test_fees_reduce_proceeds_and_the_book_is_not_touched() -> None:
    b = book()
    impact = plan_tax(sell("1", fee="100"), b, SOLD, TaxPolicy(LotMethod.FIFO, short_rate=0.4, long_rate=0.2))
    assert impact.long == Decimal(40_000 - 100 - 10_000)
    assert b.holding("BTC") == 2 and b.disposals == []  # priced on a copy


def test_a_loss_offsets_gains_of_its_term_and_pays_no_tax() -> None:
    impact = plan_tax(sell("1", price="5000"), book(), SOLD, TaxPolicy(LotMethod.FIFO, short_rate=0.4, long_rate=0.2))
    assert impact.long == Decimal(-5_000) and impact.tax == 0


def test_tax_aware_takes_the_band_edge_plan_when_it_pays_less() -> None:
    policy = TaxPolicy(LotMethod.FIFO, short_rate=0.4, long_rate=0.2, tax_aware=True)
    plan, note = choose_plan(sell("1.5"), sell("0.5"), book(), SOLD, policy)
    assert plan.orders[0].quantity == Decimal("0.5")
    assert "band-edge plan realises gains 15,000.00" in note and "avoided 5,000.00 tax" in note


def test_without_tax_awareness_the_full_plan_goes_and_its_tax_is_stated() -> None:
    plan, note = choose_plan(sell("1.5"), sell("0.5"), book(), SOLD, TaxPolicy(short_rate=0.4, long_rate=0.2))
    assert plan.orders[0].quantity == Decimal("1.5") and note == (
        "tax: gains 35,000.00 (short 5,000.00, long 30,000.00), tax 8,000.00"
    )


def test_the_gain_budget_chooses_the_edge_plan_when_the_full_one_passes_it() -> None:
    policy = TaxPolicy(short_rate=0.4, long_rate=0.2, gain_budget=Decimal(20_000))
    plan, note = choose_plan(sell("1.5"), sell("0.5"), book(), SOLD, policy, realised_this_year=Decimal(1_000))
    assert plan.orders[0].quantity == Decimal("0.5") and "budget of 20,000.00" in note
    plan, _ = choose_plan(sell("1.5"), sell("0.5"), book(), SOLD, policy, realised_this_year=ZERO)
    assert plan.orders[0].quantity == Decimal("0.5")  # 35k > 20k even from zero
    roomy = TaxPolicy(short_rate=0.4, long_rate=0.2, gain_budget=Decimal(50_000))
    assert choose_plan(sell("1.5"), sell("0.5"), book(), SOLD, roomy)[0].orders[0].quantity == Decimal("1.5")


@settings(max_examples=60, deadline=None)
@given(
    full=st.decimals(min_value=Decimal("0.01"), max_value=2, places=2),
    edge=st.decimals(min_value=Decimal("0.01"), max_value=2, places=2),
    price=st.decimals(min_value=1000, max_value=80_000, places=0),
    method=st.sampled_from([LotMethod.FIFO, LotMethod.LIFO, LotMethod.HIFO]),
)
def test_tax_aware_never_pays_more_tax_than_the_full_plan(
    full: Decimal, edge: Decimal, price: Decimal, method: LotMethod
) -> None:
    policy = TaxPolicy(method, short_rate=0.4, long_rate=0.2, tax_aware=True)
    a, b = sell(str(full), str(price)), sell(str(edge), str(price))
    chosen, _ = choose_plan(a, b, book(), SOLD, policy)
    assert plan_tax(chosen, book(), SOLD, policy).tax <= plan_tax(a, book(), SOLD, policy).tax
