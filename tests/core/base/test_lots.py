"""Tax lots: hand-computed FIFO, LIFO, HIFO and specific-lot sales, terms, and properties over random trades."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trimtab.core.base.lots import LotBook, LotMethod
from trimtab.errors import DataError

D = Decimal
T0 = datetime(2023, 1, 1, tzinfo=UTC)


def _two_buys() -> LotBook:
    book = LotBook()
    book.buy("a", "BTC", D("1"), D("20010"), T0)  # 20,000 + 10 fee
    book.buy("b", "BTC", D("1"), D("30015"), T0 + timedelta(days=100))  # 30,000 + 15 fee
    return book


@pytest.mark.parametrize(
    ("method", "specific", "basis", "term"),
    [
        (LotMethod.FIFO, (), D("20010") + D("30015") / 2, "short"),  # all of lot a, half of lot b
        (LotMethod.LIFO, (), D("30015") + D("20010") / 2, "short"),
        (LotMethod.HIFO, (), D("30015") + D("20010") / 2, "short"),  # b costs more per unit
        (LotMethod.SPECIFIC, ("a", "b"), D("20010") + D("30015") / 2, "short"),
    ],
)
def test_buy_buy_sell_by_each_method(method: LotMethod, specific: tuple[str, ...], basis: Decimal, term: str) -> None:
    book = _two_buys()
    sold = book.sell("BTC", D("1.5"), D("59985"), T0 + timedelta(days=200), method, specific)  # 60,000 - 15 fee
    assert sum((d.basis for d in sold), D(0)) == basis
    assert sum((d.proceeds for d in sold), D(0)) == D("59985")
    assert sum((d.gain for d in sold), D(0)) == D("59985") - basis
    assert {d.term for d in sold} == {term}
    assert book.holding("BTC") == D("0.5")


def test_terms_split_at_the_holding_period() -> None:
    book = _two_buys()
    sold = book.sell("BTC", D("2"), D("80000"), T0 + timedelta(days=400))
    assert [(d.lot_id, d.term) for d in sold] == [("a", "long"), ("b", "short")]  # a: 400 days, b: 300 days
    assert [d.gain for d in sold] == [D("40000") - D("20010"), D("40000") - D("30015")]


def test_selling_more_than_the_lots_hold_is_refused() -> None:
    with pytest.raises(DataError, match="the lots hold 2"):
        _two_buys().sell("BTC", D("2.5"), D("1"), T0)
    with pytest.raises(DataError, match="no open lot z"):
        _two_buys().sell("BTC", D("1"), D("1"), T0, LotMethod.SPECIFIC, ("z",))


trades = st.lists(st.tuples(st.booleans(), st.integers(1, 50), st.integers(100, 90_000)), min_size=1, max_size=25)


def _replay(ops: list[tuple[bool, int, int]], method: LotMethod) -> tuple[LotBook, Decimal, Decimal, Decimal]:
    """Buys and sells at integer prices (a sell never exceeds the holding; with nothing held it buys)."""
    book, paid, received, net = LotBook(), D(0), D(0), D(0)
    for i, (is_buy, qty, price) in enumerate(ops):
        t = T0 + timedelta(days=i)
        q, p = D(qty) / 10, D(price)
        if is_buy or book.holding("ETH") == 0:
            book.buy(f"l{i}", "ETH", q, q * p, t)
            paid, net = paid + q * p, net + q
        else:
            q = min(q, book.holding("ETH"))
            book.sell("ETH", q, q * p, t, method)
            received, net = received + q * p, net - q
    return book, paid, received, net


@settings(max_examples=200, deadline=None)
@given(trades, st.integers(100, 90_000), st.sampled_from([LotMethod.FIFO, LotMethod.LIFO, LotMethod.HIFO]))
def test_lots_sum_to_the_holding_and_gains_add_up(
    ops: list[tuple[bool, int, int]], price: int, method: LotMethod
) -> None:
    book, paid, received, net = _replay(ops, method)
    assert sum((lot.quantity for lot in book.lots.get("ETH", [])), D(0)) == net  # lots sum to the holding
    value = book.holding("ETH") * D(price)
    # realised + unrealised = (what was received + what is held now) - everything paid
    assert book.realised() + book.unrealised({"ETH": D(price)}) == received + value - paid


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 50), st.integers(100, 90_000)), min_size=1, max_size=15),
    st.integers(1, 100),
    st.integers(100, 90_000),
)
def test_hifo_never_realises_more_gain_than_fifo_on_the_same_sale(
    buys: list[tuple[int, int]], share: int, price: int
) -> None:
    books = {}
    for method in (LotMethod.FIFO, LotMethod.HIFO):
        book = LotBook()
        for i, (q, p) in enumerate(buys):
            book.buy(f"l{i}", "SOL", D(q), D(q) * D(p), T0 + timedelta(days=i))
        qty = book.holding("SOL") * D(share) / 100
        book.sell("SOL", qty, qty * D(price), T0 + timedelta(days=len(buys)), method)
        books[method] = book
    assert books[LotMethod.HIFO].realised() <= books[LotMethod.FIFO].realised()
