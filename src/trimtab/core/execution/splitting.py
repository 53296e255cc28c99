"""Split one order across parallel venues/pools so that every used venue's marginal cost is equal.

Minimise sum_i c_i(x_i) subject to sum_i x_i = X and 0 <= x_i <= cap_i (balances), with c_i convex in the
size (price impact grows with size): the KKT conditions say c_i'(x_i) = lambda for every venue strictly
inside its bounds. For constant-product pools lambda has a closed form (`split_amm`); otherwise lambda is
found by a safeguarded secant search on sum_i x_i(lambda) = X, each x_i(lambda) by inverting c_i'.
Fixed per-order costs (gas) and minimum sizes make using a venue a yes/no choice: venues whose share is
below their minimum, or whose fixed cost outweighs the saving, are dropped greedily and the rest re-solved.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

CostFn = Callable[[float], float]


@dataclass(frozen=True, slots=True)
class Split:
    """Allocation per venue (input units for exact-in, output units for exact-out), marginals, total cost."""

    allocations: tuple[float, ...]
    marginals: tuple[float, ...]  # c_i'(x_i) for used venues, nan for unused ones
    cost: float

    @property
    def used(self) -> tuple[int, ...]:
        return tuple(i for i, x in enumerate(self.allocations) if x > 0)


def _deriv(c: CostFn, x: float, h: float) -> float:
    """Central difference, one-sided near zero (c is only smooth for x > 0)."""
    if x <= h:
        return (c(x + 2 * h) - c(x + h)) / h if x <= 0 else (c(x + h) - c(x)) / h
    return (c(x + h) - c(x - h)) / (2 * h)


def _root(g: Callable[[float], float], lo: float, hi: float, g_lo: float, g_hi: float, ftol: float) -> float:
    """Root of an increasing g on [lo, hi] with g(lo) < 0 < g(hi): Illinois regula falsi, bisection fallback."""
    side = 0
    for it in range(200):
        x = hi - g_hi * (hi - lo) / (g_hi - g_lo) if it % 4 != 3 else 0.5 * (lo + hi)
        if not lo < x < hi:
            x = 0.5 * (lo + hi)
            if not lo < x < hi:
                return x
        gx = g(x)
        if abs(gx) <= ftol:
            return x
        if gx < 0:
            lo, g_lo = x, gx
            if side == -1:
                g_hi *= 0.5
            side = -1
        else:
            hi, g_hi = x, gx
            if side == 1:
                g_lo *= 0.5
            side = 1
    return 0.5 * (lo + hi)


def _newton(c: CostFn, lam: float, lo: float, hi: float, start: float, h: float, ftol: float) -> float:
    """x in [lo, hi] with c'(x) = lam for a convex c: Newton steps on numeric derivatives, kept in a shrinking
    bracket (bisection when a step leaves it); warm-started from the previous solution."""
    x = min(max(start, lo + h), hi - h) if hi - lo > 2 * h else 0.5 * (lo + hi)
    for _ in range(100):
        if x <= h:
            d = _deriv(c, x, h)
            s2 = (_deriv(c, x + h, h) - d) / h
        else:
            c_lo, c_mid, c_hi = c(x - h), c(x), c(x + h)
            d = (c_hi - c_lo) / (2 * h)
            s2 = (c_hi - 2 * c_mid + c_lo) / (h * h)
        g = d - lam
        if abs(g) <= ftol:
            return x
        if g < 0:
            lo = x
        else:
            hi = x
        if hi - lo <= 1e-13 * max(hi, 1e-300):
            return x
        step = x - g / s2 if s2 > 0 else math.nan
        x = step if lo < step < hi else 0.5 * (lo + hi)
    return x


def _allocate(costs: Sequence[CostFn], total: float, caps: Sequence[float], active: Sequence[int]) -> list[float]:
    """Equal-marginal allocation of `total` over `active` venues (all smooth convex on x > 0)."""
    x = [0.0] * len(costs)
    if not active or total <= 0:
        return x
    room = sum(min(caps[i], total) for i in active)
    if room <= total:  # everything at its cap
        for i in active:
            x[i] = min(caps[i], total)
        return x
    h = max(total * 1e-7, 1e-12)
    top = {i: min(caps[i], total) for i in active}
    d0 = {i: _deriv(costs[i], 0.0, h) for i in active}
    dcap = {i: _deriv(costs[i], top[i], h) for i in active}

    last = {i: 0.5 * top[i] for i in active}
    flat = {i: abs(dcap[i] - d0[i]) <= 1e-7 * max(abs(d0[i]), 1e-300) for i in active}  # derivative noise ~1e-9

    def x_at(i: int, lam: float) -> float:
        if d0[i] >= lam:
            return 0.0
        if dcap[i] <= lam or flat[i]:  # a flat marginal (fee-only venue) takes all or nothing at a given lambda
            return top[i]
        x_i = _newton(costs[i], lam, 0.0, top[i], last[i], h, abs(lam) * 1e-10 + abs(d0[i] - lam) * 1e-13 + 1e-300)
        last[i] = x_i
        return x_i

    def excess(lam: float) -> float:
        return sum(x_at(i, lam) for i in active) - total

    lam = _clearing_lambda(sorted({*d0.values(), *dcap.values()}), excess, total * 1e-13)
    for i in active:
        x[i] = x_at(i, lam)
    _fix_sum(x, total, caps, active, lambda i: _deriv(costs[i], x[i], h))
    return x


def _clearing_lambda(points: list[float], excess: Callable[[float], float], tol: float) -> float:
    """The marginal cost at which the venues take exactly the total: S(lambda) has kinks where a venue starts (d0)
    or fills up (dcap), so bisect between those points first, then find the root where S is smooth."""
    lo_k, hi_k = 0, len(points) - 1
    while hi_k - lo_k > 1:
        mid_k = (lo_k + hi_k) // 2
        if excess(points[mid_k]) < 0:
            lo_k = mid_k
        else:
            hi_k = mid_k
    lam_lo, lam_hi = points[lo_k], points[hi_k]
    s_lo, s_hi = excess(lam_lo), excess(lam_hi)
    if s_lo >= 0:
        return lam_lo
    if s_hi <= 0:
        return lam_hi
    return _root(excess, lam_lo, lam_hi, s_lo, s_hi, tol)


def _fix_sum(
    x: list[float], total: float, caps: Sequence[float], active: Sequence[int], marginal: Callable[[int], float]
) -> None:
    """Put the remainder where it is cheapest at the margin (flat marginals leave the sum short or long)."""
    gap = total - sum(x)
    if gap > 0:
        for i in sorted(active, key=marginal):
            add = min(gap, caps[i] - x[i])
            x[i] += add
            gap -= add
            if gap <= 0:
                break
    elif gap < 0:
        for i in sorted(active, key=marginal, reverse=True):
            take = min(-gap, x[i])
            x[i] -= take
            gap += take
            if gap >= 0:
                break


def _convex_at(c: CostFn, x: float, h: float) -> bool:
    """c(x) <= x c'(x) holds for convex c with c(0) = 0; a fixed cost (gas) breaks it."""
    if x <= 0:
        return True
    value = c(x)
    return value <= x * _deriv(c, x, h) + 1e-9 * max(abs(value), 1e-300)


def _objective(costs: Sequence[CostFn], x: Sequence[float]) -> float:
    return sum(c(v) for c, v in zip(costs, x, strict=True) if v > 0)


def equalize_marginals(
    costs: Sequence[CostFn],
    total: float,
    caps: Sequence[float] | None = None,
    mins: Sequence[float] | None = None,
) -> Split:
    """Minimise the summed cost of filling `total` across venues (c_i(0) = 0, c_i convex for x > 0)."""
    n = len(costs)
    caps = list(caps) if caps is not None else [math.inf] * n
    mins = list(mins) if mins is not None else [0.0] * n
    if sum(caps) < total * (1 - 1e-12):
        raise ValueError(f"venues hold {sum(caps)} in all, less than the {total} to split")
    active = [i for i in range(n) if caps[i] > 0]
    x = _allocate(costs, total, caps, active)
    best = _objective(costs, x)
    h = max(total * 1e-7, 1e-12)
    if not any(0 < x[i] < mins[i] for i in active) and all(_convex_at(costs[i], x[i], h) for i in active):
        active = []  # no fixed cost, no minimum broken: the equal-marginal point is optimal
    while len(active) > 1:  # drop venues below their minimum, or whose fixed cost is not worth it
        below = [i for i in active if 0 < x[i] < mins[i]]
        candidates = below or list(active)
        trial_best: tuple[float, list[int], list[float]] | None = None
        for i in candidates:
            rest = [j for j in active if j != i]
            if sum(min(caps[j], total) for j in rest) < total * (1 - 1e-12):
                continue
            xt = _allocate(costs, total, caps, rest)
            obj = _objective(costs, xt)
            if trial_best is None or obj < trial_best[0]:
                trial_best = (obj, rest, xt)
        if trial_best is None or (not below and trial_best[0] >= best):
            break
        best, active, x = trial_best
    h = max(total * 1e-7, 1e-12)
    marg = tuple(_deriv(costs[i], x[i], h) if x[i] > 0 else math.nan for i in range(n))
    return Split(tuple(x), marg, best)


def _negated(f: CostFn) -> CostFn:
    return lambda a: -f(a)


def split_exact_in(
    outputs: Sequence[CostFn], amount: float, caps: Sequence[float] | None = None, mins: Sequence[float] | None = None
) -> Split:
    """Split an input `amount` across venues with output functions f_i, maximising total output."""
    split = equalize_marginals([_negated(f) for f in outputs], amount, caps, mins)
    return Split(split.allocations, tuple(-m for m in split.marginals), -split.cost)


def split_exact_out(
    inputs: Sequence[CostFn], amount: float, caps: Sequence[float] | None = None, mins: Sequence[float] | None = None
) -> Split:
    """Split an output `amount` across venues with input-needed functions g_i, minimising total input."""
    return equalize_marginals(inputs, amount, caps, mins)


def split_amm(pools: Sequence[tuple[float, float, float]], amount: float) -> tuple[float, ...]:
    """Closed-form optimal split of an input `amount` over constant-product pools (reserve_in, reserve_out, fee).

    out_i'(a) = x_i y_i g_i / (x_i + g_i a)^2 with g_i = 1 - f_i; equal marginals lambda give
    a_i = (sqrt(x_i y_i g_i / lambda) - x_i) / g_i, and the budget fixes 1/sqrt(lambda) =
    (A + sum x_i/g_i) / sum sqrt(x_i y_i / g_i) over the pools in use (those whose price beats lambda).
    """
    active = list(range(len(pools)))
    while active:
        s_x = sum(pools[i][0] / (1 - pools[i][2]) for i in active)
        s_r = sum(math.sqrt(pools[i][0] * pools[i][1] / (1 - pools[i][2])) for i in active)
        inv_sqrt_lam = (amount + s_x) / s_r
        alloc = {
            i: (math.sqrt(pools[i][0] * pools[i][1] * (1 - pools[i][2])) * inv_sqrt_lam - pools[i][0])
            / (1 - pools[i][2])
            for i in active
        }
        negative = [i for i, a in alloc.items() if a < 0]
        if not negative:
            return tuple(alloc.get(i, 0.0) for i in range(len(pools)))
        worst = min(negative, key=lambda i: alloc[i])
        active.remove(worst)
    return tuple(0.0 for _ in pools)
