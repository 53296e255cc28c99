"""MarketCapIndex: top-N by market cap with buffer ranks, linear phase-in, caps and data-gap handling.

Membership state is explicit: the previous members are the assets with weight > 0 in
`AllocationInput.current`, so the same inputs always give the same index (docs/models.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from trimtab.core.allocation.models import AllocationInput, AllocationResult, check_caps, finalise, water_fill
from trimtab.core.base.types import asset_symbol
from trimtab.errors import DataError

Weighting = Literal["market_cap", "sqrt_cap", "equal"]
_DAY = np.timedelta64(86_400_000_000_000, "ns")


@dataclass(frozen=True)
class MarketCapIndex:
    """Top `top_n` assets by market cap, weighted by cap, sqrt(cap) or equally, within [min_weight, max_weight].

    Buffer: a non-member enters at rank <= top_n; a member leaves only below rank top_n + buffer_ranks
    (so top_n to top_n + buffer_ranks members; forced includes take slots from the ranked ones).
    Phase-in: a weight rises by at most full/phase_in per rebalance (linear), the shortfall going pro
    rata to the other members (quote if capped). A market cap older than `staleness_days` drops the
    asset with a note (a data gap, not a delisting). Fewer eligible assets than top_n: a note, and the
    index holds those it has.
    """

    top_n: int
    weighting: Weighting = "market_cap"
    max_weight: float = 1.0
    min_weight: float = 0.0
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    buffer_ranks: int = 0
    phase_in: int = 1
    staleness_days: float = 45.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "include", tuple(asset_symbol(a) for a in self.include))
        object.__setattr__(self, "exclude", tuple(asset_symbol(a) for a in self.exclude))
        check_caps(self.max_weight, self.min_weight)
        if self.top_n < 1:
            raise ValueError(f"top_n must be >= 1, got {self.top_n}")
        if self.weighting not in ("market_cap", "sqrt_cap", "equal"):
            raise ValueError(f"weighting must be market_cap, sqrt_cap or equal, got {self.weighting!r}")
        if self.top_n * self.max_weight < 1.0 - 1e-12:
            raise ValueError(
                f"caps cannot be met: top_n {self.top_n} x max_weight {self.max_weight:g} = "
                f"{self.top_n * self.max_weight:.0%} < 100%"
            )
        if self.top_n * self.min_weight > 1.0 + 1e-12:
            raise ValueError(f"caps cannot be met: top_n {self.top_n} x min_weight {self.min_weight:g} > 100%")
        if set(self.include) & set(self.exclude):
            raise ValueError(f"assets both included and excluded: {sorted(set(self.include) & set(self.exclude))}")
        if len(self.include) > self.top_n:
            raise ValueError(f"{len(self.include)} forced includes exceed top_n {self.top_n}")
        if self.buffer_ranks < 0 or self.phase_in < 1 or not self.staleness_days >= 0:
            raise ValueError("need buffer_ranks >= 0, phase_in >= 1 and staleness_days >= 0")

    def market_caps(self, inp: AllocationInput) -> tuple[dict[str, float], list[str]]:
        """Last known market cap within the staleness window for each candidate, with data-gap notes."""
        h = inp.history
        if h.market_caps is None:
            raise DataError(
                "MarketCapIndex needs market caps in the price history", source=h.source, field="market_caps"
            )
        if len(h) == 0:
            return {}, ["MarketCapIndex: empty history"]
        now = h.times[-1]
        start = int(np.searchsorted(h.times, now - np.timedelta64(int(self.staleness_days * 86400), "s")))
        candidates = [
            a for a in dict.fromkeys((*inp.universe, *self.include)) if a not in self.exclude and a != inp.quote
        ]
        caps: dict[str, float] = {}
        notes: list[str] = []
        for a in candidates:
            if a not in h.assets:
                notes.append(f"MarketCapIndex: {a} not in history: left out")
                continue
            col = h.market_caps[start:, h.index_of(a)]
            ok = np.flatnonzero(np.isfinite(col) & (col > 0))
            if len(ok) == 0:
                notes.append(
                    f"MarketCapIndex: dropped {a}: no market cap in the last {self.staleness_days:g} days "
                    "(treated as a data gap, not a delisting)"
                )
                continue
            j = start + int(ok[-1])
            if j < len(h) - 1:
                age = (now - h.times[j]) / _DAY
                notes.append(
                    f"MarketCapIndex: {a} market cap last known {age:.0f} days ago: "
                    f"using it (data gap, staleness limit {self.staleness_days:g} days)"
                )
            caps[a] = float(h.market_caps[j, h.index_of(a)])
        return caps, notes

    def members(self, caps: dict[str, float], previous: set[str]) -> list[str]:
        """Forced includes, the top (top_n - includes) by cap, and previous members ranked <= that + buffer_ranks.

        Ranks count only the non-included assets; the index therefore holds top_n to top_n + buffer_ranks members.
        """
        ranked = sorted((a for a in caps if a not in self.include), key=lambda a: (-caps[a], a))
        slots = self.top_n - len(self.include)
        keep = [a for i, a in enumerate(ranked) if i < slots or (a in previous and i < slots + self.buffer_ranks)]
        return [a for a in self.include if a in caps] + keep

    def weights(self, inp: AllocationInput) -> AllocationResult:
        caps, notes = self.market_caps(inp)
        previous = {a for a, w in inp.current.items() if w > 0 and a != inp.quote}
        members = self.members(caps, previous)
        if not members:
            return finalise({}, inp.quote, (*notes, f"MarketCapIndex: no eligible assets: all in {inp.quote}"))
        if len(members) < self.top_n:
            notes.append(f"MarketCapIndex: only {len(members)} eligible assets < top_n {self.top_n}: holding those")
        c = np.array([caps[a] for a in members])
        raw = {"market_cap": c, "sqrt_cap": np.sqrt(c), "equal": np.ones(len(c))}[self.weighting]
        full = water_fill(raw, self.max_weight, min(self.min_weight, 1.0 / len(members)))
        if len(members) * self.max_weight < 1.0 - 1e-12:
            notes.append(
                f"MarketCapIndex: {len(members)} members x max_weight {self.max_weight:g} < 100%: "
                f"{1 - float(full.sum()):.2%} left in {inp.quote}"
            )
        w = self._phase(members, full, inp, previous, notes) if self.phase_in > 1 and previous else full
        out = dict.fromkeys((a for a in previous if a not in members), 0.0)
        out.update(zip(members, w.tolist(), strict=True))
        return finalise(out, inp.quote, notes)

    def _phase(
        self, members: list[str], full: np.ndarray, inp: AllocationInput, previous: set[str], notes: list[str]
    ) -> np.ndarray:
        """Limit each rise to full/phase_in above the current weight; the others absorb the shortfall."""
        cur = np.array([max(inp.current.get(a, 0.0), 0.0) for a in members])
        step = full / self.phase_in
        limited = cur + step < full - 1e-12
        if not limited.any():
            return full
        w = full.copy()
        w[limited] = cur[limited] + step[limited]
        for a, lim, wa, fa in zip(members, limited, w, full, strict=True):
            if lim:
                notes.append(f"MarketCapIndex: phasing in {a}: {wa:.2%} of full {fa:.2%}")
        free = ~limited
        room = 1.0 - float(w[limited].sum())
        if free.any() and room > 0:
            w[free] = water_fill(full[free], self.max_weight, 0.0, total=min(room, free.sum() * self.max_weight))
        if math.fsum(w.tolist()) < 1.0 - 1e-12:
            notes.append(f"MarketCapIndex: phase-in shortfall above the caps held in {inp.quote}")
        return w
