"""Route math on a local copy of V2 pool reserves: exact outputs, minimal inputs, ordered simulation.

Outputs use UniswapV2Library.getAmountOut (chain/quote.py), so they equal the chain's getAmountsOut.
A plan's legs are simulated in order on one mutable book, because legs sharing a pool do not compose
independently (EVM-RECIPE pitfall 2).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Literal

from trimtab.chain.quote import FEE_DENOMINATOR, FEE_NUMERATOR, get_amount_out, sort_tokens

V3_FEE_DENOMINATOR: Final = 1_000_000
Kind = Literal["v2", "v3"]


@dataclass(frozen=True)
class Route:
    """One way to swap: a V2 path of token addresses (1+ hops) or a single V3 pool with its fee tier."""

    kind: Kind
    path: tuple[str, ...]  # token addresses, first = input, last = output
    symbols: tuple[str, ...]  # token (contract) symbols along the path, for reports
    v3_fee: int = 0

    @property
    def hops(self) -> int:
        return len(self.path) - 1

    def keep_ratio(self) -> tuple[int, int]:
        """(num, den): the share of value left after every hop's LP fee, e.g. 997^2/1000^2 for two V2 hops."""
        if self.kind == "v3":
            return V3_FEE_DENOMINATOR - self.v3_fee, V3_FEE_DENOMINATOR
        return FEE_NUMERATOR**self.hops, FEE_DENOMINATOR**self.hops

    def label(self) -> str:
        venue = f"V3 {self.v3_fee / 10_000:g}%" if self.kind == "v3" else "V2"
        return f"{venue} {' -> '.join(self.symbols)}"


def fee_share(route: Route, amount: int, *, paid: bool) -> int:
    """LP fees in units of the quote side: of a paid amount A it is A*(1-keep); of a received B, B*(1/keep-1)."""
    num, den = route.keep_ratio()
    return amount * (den - num) // den if paid else amount * (den - num) // num


class PoolBook:
    """Reserves of V2 pairs keyed by the sorted token pair; `swap` moves them as the chain would."""

    def __init__(self, reserves: Mapping[tuple[str, str], tuple[int, int]] | None = None) -> None:
        self._r: dict[tuple[str, str], tuple[int, int]] = dict(reserves or {})

    def copy(self) -> PoolBook:
        return PoolBook(self._r)

    def has(self, a: str, b: str) -> bool:
        return sort_tokens(a, b) in self._r

    def set(self, a: str, b: str, reserve_a: int, reserve_b: int) -> None:
        t0, _ = sort_tokens(a, b)
        self._r[sort_tokens(a, b)] = (reserve_a, reserve_b) if t0.lower() == a.lower() else (reserve_b, reserve_a)

    def reserves(self, token_in: str, token_out: str) -> tuple[int, int]:
        """(reserve_in, reserve_out) of the pair; KeyError if the book has no such pair."""
        key = sort_tokens(token_in, token_out)
        r0, r1 = self._r[key]
        return (r0, r1) if key[0].lower() == token_in.lower() else (r1, r0)

    def amounts_out(self, path: Sequence[str], amount_in: int) -> tuple[int, ...]:
        """getAmountsOut along `path` on the current reserves (first item = amount_in)."""
        amounts = [amount_in]
        for a, b in zip(path[:-1], path[1:], strict=True):
            amounts.append(get_amount_out(amounts[-1], *self.reserves(a, b)))
        return tuple(amounts)

    def min_amount_in(self, path: Sequence[str], amount_out: int) -> int | None:
        """Smallest exact input whose output along `path` is >= amount_out; None if the pools cannot pay it."""
        hi = _upper_bound(self, path, amount_out)
        if hi is None:
            return None
        lo = 1
        while lo < hi:  # output is non-decreasing in the input: binary search for the first that suffices
            mid = (lo + hi) // 2
            if self.amounts_out(path, mid)[-1] >= amount_out:
                hi = mid
            else:
                lo = mid + 1
        return lo

    def swap(self, path: Sequence[str], amounts: Sequence[int]) -> None:
        """Apply an executed swap: each hop's pair gains its input and loses its output."""
        for (a, b), (x, y) in zip(
            zip(path[:-1], path[1:], strict=True), zip(amounts[:-1], amounts[1:], strict=True), strict=True
        ):
            rin, rout = self.reserves(a, b)
            self.set(a, b, rin + x, rout - y)

    def mid(self, path: Sequence[str]) -> Decimal:
        """Marginal output per input unit along `path` before fees (base units, no decimals applied)."""
        price = Decimal(1)
        for a, b in zip(path[:-1], path[1:], strict=True):
            rin, rout = self.reserves(a, b)
            price = price * Decimal(rout) / Decimal(rin)
        return price


def _upper_bound(book: PoolBook, path: Sequence[str], amount_out: int) -> int | None:
    """An input that yields at least amount_out (getAmountsIn, then doubling until it suffices)."""
    need = amount_out
    for a, b in reversed(list(zip(path[:-1], path[1:], strict=True))):
        rin, rout = book.reserves(a, b)
        if need >= rout:
            return None
        need = rin * need * FEE_DENOMINATOR // ((rout - need) * FEE_NUMERATOR) + 1
    for _ in range(8):
        if book.amounts_out(path, need)[-1] >= amount_out:
            return need
        need *= 2
    return None
