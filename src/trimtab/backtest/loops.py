"""The Numba loops of the fast path: one step loop (`_simulate`) behind three entries that return only what
the caller asked for: `run_policy` (per-step series and, on request, the rebalance records, in one pass),
`summarize` (final value and totals, no per-step arrays) and `sweep_policies` (one summary per variant, in
parallel). Semantics are documented in `trimtab.backtest.kernels`.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from trimtab.backtest.kernel_types import (
    BAND_TOL,
    MODE_BUY_AND_HOLD,
    MODE_CALENDAR,
    MODE_HYBRID,
    MODE_THRESHOLD,
    TO_BAND_EDGE,
    BoolArray,
    FloatArray,
    IntArray,
)

_FP_TOL = 1e-13  # fixed point stops when |V'_{k+1} - V'_k| <= _FP_TOL * V
_FP_MAX_ITER = 100


@njit(cache=True)
def _band_width(target: float, band_abs: float, band_rel: float) -> float:
    """Tightest active absolute half-width around `target` (inf when no band applies)."""
    b = np.inf
    if band_abs > 0.0:
        b = band_abs
    if band_rel > 0.0 and target > 0.0:
        b = min(b, band_rel * target)
    return b


@njit(cache=True)
def _edge_weights(w: FloatArray, targets: FloatArray, band_abs: float, band_rel: float, out: FloatArray) -> None:
    """Breaching assets go to their nearest band edge; the others keep their weights times one common scale; when
    no other asset can absorb the rest (none free, or the edges sum to 100% or more), the edges are normalised and
    the free assets sold (as planner.band_edge_targets): weights never sum above 1, so no column goes negative.
    """
    n = w.shape[0]
    sum_edge = 0.0
    sum_free = 0.0
    for i in range(n):
        d = w[i] - targets[i]
        b = _band_width(targets[i], band_abs, band_rel)
        if abs(d) > b:
            out[i] = targets[i] + (b if d > 0.0 else -b)
            sum_edge += out[i]
        else:
            out[i] = -1.0  # free: filled below
            sum_free += w[i]
    for i in range(n):
        if sum_free > 0.0 and sum_edge < 1.0:
            out[i] = w[i] * (1.0 - sum_edge) / sum_free if out[i] == -1.0 else out[i]
        else:  # the edges take it all: the free assets go to 0 and the edges are normalised (never above 100%)
            out[i] = out[i] / sum_edge if out[i] != -1.0 and sum_edge > 0.0 else 0.0


@njit(cache=True)
def _cost(
    h: FloatArray,
    p: FloatArray,
    desired: FloatArray,
    v: float,
    vp: float,
    quote_idx: int,
    fee: float,
    slip: float,
    gas: float,
    dust: float,
    min_trade: float,
) -> float:
    """C(V'): slippage + fee on executed notional + gas (value units) over the trades that clear the dust threshold."""
    c = 0.0
    thr = max(dust * v, min_trade * (p[quote_idx] if quote_idx >= 0 else 1.0))  # min_trade is in quote units
    for i in range(h.shape[0]):
        if i == quote_idx:
            continue
        if abs(desired[i] * v - h[i] * p[i]) <= thr:  # the trade set is fixed at V' = V: no oscillation
            continue
        notional = desired[i] * vp - h[i] * p[i]
        a = abs(notional)
        if a > 0.0:
            if notional > 0.0:
                c += a * slip + fee * a * (1.0 + slip) + gas
            else:
                c += a * slip + fee * a * (1.0 - slip) + gas
    return c


@njit(cache=True)
def _rebalance(
    h: FloatArray,
    cash: float,
    p: FloatArray,
    desired: FloatArray,
    v: float,
    quote_idx: int,
    fee: float,
    slip: float,
    gas: float,
    dust: float,
    min_trade: float,
) -> tuple[float, float, float, float, float, float, int]:
    """Trade `h` (in place) to `desired` weights of the post-cost value V' (fixed point V' = V - C(V')).

    Orders at or below dust, and sells whose fee and gas would eat the whole proceeds, are not placed: the
    asset keeps its units and the quote column (or cash) absorbs the difference, so the value after is
    always V minus the costs of the orders placed. Gas comes in quote units (converted at the quote price).
    Returns (value after, cash, fee, slippage, gas, turnover, orders); with no order nothing changes.
    """
    gas_v = gas * p[quote_idx] if quote_idx >= 0 else gas
    vp = v
    for _ in range(_FP_MAX_ITER):
        nxt = v - _cost(h, p, desired, v, vp, quote_idx, fee, slip, gas_v, dust, min_trade)
        done = abs(nxt - vp) <= _FP_TOL * v
        vp = nxt
        if done:
            break
    thr = max(dust * v, min_trade * (p[quote_idx] if quote_idx >= 0 else 1.0))  # min_trade is in quote units
    fee_t = 0.0
    slip_t = 0.0
    gas_t = 0.0
    traded = 0.0
    orders = 0
    for i in range(h.shape[0]):
        if i == quote_idx:
            continue
        if abs(desired[i] * v - h[i] * p[i]) <= thr:
            continue
        notional = desired[i] * vp - h[i] * p[i]
        a = abs(notional)
        if notional > 0.0:
            fee_i = fee * a * (1.0 + slip)
        else:
            fee_i = fee * a * (1.0 - slip)
            if a * (1.0 - slip) - fee_i - gas_v <= 0.0:  # costs exceed sale proceeds
                continue
        fee_t += fee_i
        slip_t += a * slip
        gas_t += gas_v
        traded += a
        orders += 1
        h[i] = desired[i] * vp / p[i]
    if orders == 0:
        return v, cash, 0.0, 0.0, 0.0, 0.0, 0
    after = v - (fee_t + slip_t + gas_t)
    held = 0.0  # post-trade value of the non-quote columns
    for i in range(h.shape[0]):
        if i != quote_idx:
            held += h[i] * p[i]
    if quote_idx >= 0:  # the quote column (or cash) takes every cash flow
        h[quote_idx] = (after - held) / p[quote_idx]
        cash = 0.0
    else:
        cash = after - held
    return after, cash, fee_t, slip_t, gas_t, traded / v, orders


@njit(cache=True, fastmath={"reassoc"})  # lets the tracking-error sum vectorise; no nnan/ninf: prices are checked
def _simulate(  # noqa: C901 - one fused loop per step: the kernel's speed (benchmarks/) depends on it staying one
    prices: FloatArray,
    targets: FloatArray,
    quote_idx: int,
    fee: float,
    slip: float,
    gas: float,
    v0: float,
    band_abs: float,
    band_rel: float,
    calendar_due: BoolArray,
    mode: int,
    rebalance_to: int,
    dust: float,
    min_trade: float,
    eq: FloatArray,
    reb: BoolArray,
    turn: FloatArray,
    fee_o: FloatArray,
    slip_o: FloatArray,
    gas_o: FloatArray,
    te_o: FloatArray,
    series: bool,
    risk: bool,
    rec_steps: IntArray,
    rec_h: FloatArray,
    rec_cash: FloatArray,
) -> tuple[FloatArray, float, float, int, float, float, float, float, float, float, int, int]:
    """The one loop every entry runs; writes per-step series only when `series`, tracks tracking error and drawdown
    only when `risk` (else both 0), and writes the post-trade holdings of step 0 and of each step that traded
    into the record buffers while they have room (size 0: no records). Entries pass the flags as constants, so
    LLVM drops the unused work from their copy of the loop.

    Returns (holdings, cash, final value, rebalances, sum turnover, sum fee, sum slippage, sum gas, sum te,
    max drawdown, first step with a price that is not finite and > 0 or -1, records wanted (may exceed the room)).
    A bad price stops the loop at its step (checked before the price is used), so the caller can reject it.
    The buffers are arguments, not grown here: an array reassigned inside the loop costs refcounting every step.
    """
    t_len, n = prices.shape
    h = np.zeros(n)
    cash = v0
    if quote_idx >= 0:
        h[quote_idx] = v0 / prices[0, quote_idx] if prices[0, quote_idx] > 0.0 else 0.0
        cash = 0.0
    w = np.empty(n)
    desired = np.empty(n)
    limit = np.empty(n)  # |w - w*| beyond this breaches the band(s)
    for i in range(n):
        limit[i] = _band_width(targets[i], band_abs, band_rel) + BAND_TOL
    watch = mode == MODE_THRESHOLD or mode == MODE_HYBRID
    cap = rec_steps.shape[0]
    n_rec = 0
    n_reb = 0
    tot_turn = tot_fee = tot_slip = tot_gas = tot_te = 0.0
    peak = 0.0
    max_dd = 0.0
    value = v0
    bad_t = -1
    for t in range(t_len):
        value = cash
        for i in range(n):  # prices[t, i], not a row view: no refcounting per step
            value += h[i] * prices[t, i]
        inv_value = 1.0 / value
        breach = False
        ok = True
        dev = 0.0
        for i in range(n):  # price check, band check and tracking error in one pass
            pi = prices[t, i]
            ok &= pi > 0.0  # zero and negative prices; NaN and +-inf make `value` non-finite (0 * inf is NaN)
            d = abs(h[i] * pi * inv_value - targets[i])  # weights are not stored: only a firing step needs them
            breach |= d > limit[i]
            dev += (
                d if risk else 0.0
            )  # one accumulator, reassociated by LLVM (fastmath 'reassoc' on this function only)
        if not (ok and abs(value) < np.inf):  # nothing computed from this step's prices has been kept
            bad_t = t
            break
        te = 0.5 * dev
        edge = False
        if t == 0:
            fire = True
        elif mode == MODE_BUY_AND_HOLD:
            fire = False
        else:
            cal = (mode == MODE_CALENDAR or mode == MODE_HYBRID) and calendar_due[t]
            thr = watch and breach
            fire = cal or thr
            edge = thr and not cal and rebalance_to == TO_BAND_EDGE
        f_t = s_t = g_t = tv_t = 0.0
        traded = False
        if fire:
            if edge:
                for i in range(n):
                    w[i] = h[i] * prices[t, i] * inv_value
                _edge_weights(w, targets, band_abs, band_rel, desired)
            else:
                desired[:] = targets
            value, cash, f_t, s_t, g_t, tv_t, orders = _rebalance(
                h, cash, prices[t], desired, value, quote_idx, fee, slip, gas, dust, min_trade
            )
            traded = orders > 0
        if cap > 0 and (traded or t == 0):  # step 0 is always recorded, so weights_path has a starting row
            if n_rec < cap:
                rec_steps[n_rec] = t
                for i in range(n):
                    rec_h[n_rec, i] = h[i]
                rec_cash[n_rec] = cash
            n_rec += 1
        if traded:
            n_reb += 1
            tot_turn += tv_t
            tot_fee += f_t
            tot_slip += s_t
            tot_gas += g_t
        tot_te += te
        if risk:
            if value >= peak:
                peak = value
            elif 1.0 - value / peak > max_dd:
                max_dd = 1.0 - value / peak
        if series:
            eq[t] = value
            reb[t] = traded
            turn[t] = tv_t
            fee_o[t] = f_t
            slip_o[t] = s_t
            gas_o[t] = g_t
            te_o[t] = te
    return h, cash, value, n_reb, tot_turn, tot_fee, tot_slip, tot_gas, tot_te, max_dd, bad_t, n_rec


@njit(cache=True)
def run_policy(
    prices: FloatArray,
    targets: FloatArray,
    quote_idx: int,
    fee: float,
    slippage: float,
    gas: float,
    v0: float,
    band_abs: float,
    band_rel: float,
    calendar_due: BoolArray,
    mode: int,
    rebalance_to: int,
    dust: float,
    min_trade: float,
    rec_cap: int,
) -> tuple[
    FloatArray,
    BoolArray,
    FloatArray,
    FloatArray,
    FloatArray,
    FloatArray,
    FloatArray,
    FloatArray,
    float,
    int,
    IntArray,
    FloatArray,
    FloatArray,
    int,
]:
    """Backtest one policy with per-step series: (equity, rebalanced, turnover, fee, slippage, gas, te, final
    holdings, final cash, bad price step or -1, record steps [rec_cap], holdings [rec_cap, N], cash [rec_cap],
    records wanted). When more were wanted than `rec_cap`, only the first rec_cap are filled."""
    t_len, n = prices.shape
    eq = np.empty(t_len)
    reb = np.zeros(t_len, dtype=np.bool_)
    turn, fee_o, slip_o, gas_o, te_o = (
        np.empty(t_len),
        np.empty(t_len),
        np.empty(t_len),
        np.empty(t_len),
        np.empty(t_len),
    )
    steps, hold, cash = np.empty(rec_cap, np.int64), np.empty((rec_cap, n)), np.empty(rec_cap)
    r = _simulate(
        prices,
        targets,
        quote_idx,
        fee,
        slippage,
        gas,
        v0,
        band_abs,
        band_rel,
        calendar_due,
        mode,
        rebalance_to,
        dust,
        min_trade,
        eq,
        reb,
        turn,
        fee_o,
        slip_o,
        gas_o,
        te_o,
        True,
        True,
        steps,
        hold,
        cash,
    )
    return eq, reb, turn, fee_o, slip_o, gas_o, te_o, r[0], r[1], r[10], steps, hold, cash, r[11]


@njit(cache=True)
def summarize(
    prices: FloatArray,
    targets: FloatArray,
    quote_idx: int,
    fee: float,
    slippage: float,
    gas: float,
    v0: float,
    band_abs: float,
    band_rel: float,
    calendar_due: BoolArray,
    mode: int,
    rebalance_to: int,
    dust: float,
    min_trade: float,
) -> tuple[float, int, float, float, float, float, float, float, int]:
    """Backtest one policy without per-step arrays: (final value, steps that traded, summed turnover, fee,
    slippage, gas, mean tracking error, max drawdown, bad price step or -1)."""
    none = np.empty(0)
    r = _simulate(
        prices,
        targets,
        quote_idx,
        fee,
        slippage,
        gas,
        v0,
        band_abs,
        band_rel,
        calendar_due,
        mode,
        rebalance_to,
        dust,
        min_trade,
        none,
        np.empty(0, np.bool_),
        none,
        none,
        none,
        none,
        none,
        False,
        True,
        np.empty(0, np.int64),
        np.empty((0, prices.shape[1])),
        none,
    )
    return r[2], r[3], r[4], r[5], r[6], r[7], r[8] / prices.shape[0], r[9], r[10]


@njit(cache=True)
def totals(
    prices: FloatArray,
    targets: FloatArray,
    quote_idx: int,
    fee: float,
    slippage: float,
    gas: float,
    v0: float,
    band_abs: float,
    band_rel: float,
    calendar_due: BoolArray,
    mode: int,
    rebalance_to: int,
    dust: float,
    min_trade: float,
) -> tuple[float, int, float, float, float, float, float, float, int]:
    """`summarize` without tracking error and drawdown (returned as NaN): the least work per step."""
    none = np.empty(0)
    r = _simulate(
        prices,
        targets,
        quote_idx,
        fee,
        slippage,
        gas,
        v0,
        band_abs,
        band_rel,
        calendar_due,
        mode,
        rebalance_to,
        dust,
        min_trade,
        none,
        np.empty(0, np.bool_),
        none,
        none,
        none,
        none,
        none,
        False,
        False,
        np.empty(0, np.int64),
        np.empty((0, prices.shape[1])),
        none,
    )
    return r[2], r[3], r[4], r[5], r[6], r[7], np.nan, np.nan, r[10]


@njit(cache=True, parallel=True)
def sweep_policies(
    prices: FloatArray,
    targets: FloatArray,
    bands_abs: FloatArray,
    bands_rel: FloatArray,
    modes: IntArray,
    rebalance_to: IntArray,
    calendars: BoolArray,
    calendar_index: IntArray,
    quote_idx: int,
    fee: float,
    slippage: float,
    gas: float,
    v0: float,
    dust: float,
    min_trade: float,
    risk: bool,
) -> tuple[FloatArray, IntArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, int]:
    """One summary per variant k (in parallel over k): bands, mode, rebalance_to and calendar row
    `calendars[calendar_index[k]]` per variant. Returns (final value, steps that traded, summed turnover, fee,
    slippage, gas, mean tracking error, max drawdown (NaN unless `risk`)) each [K], and the first bad price
    step or -1."""
    k_len = bands_abs.shape[0]
    final, n_reb = np.empty(k_len), np.empty(k_len, np.int64)
    turn, fee_o, slip_o, gas_o, te_o, dd = (
        np.empty(k_len),
        np.empty(k_len),
        np.empty(k_len),
        np.empty(k_len),
        np.empty(k_len),
        np.empty(k_len),
    )
    bad = np.full(k_len, -1, np.int64)
    for k in prange(k_len):
        if risk:
            r = summarize(
                prices,
                targets,
                quote_idx,
                fee,
                slippage,
                gas,
                v0,
                bands_abs[k],
                bands_rel[k],
                calendars[calendar_index[k]],
                modes[k],
                rebalance_to[k],
                dust,
                min_trade,
            )
        else:
            r = totals(
                prices,
                targets,
                quote_idx,
                fee,
                slippage,
                gas,
                v0,
                bands_abs[k],
                bands_rel[k],
                calendars[calendar_index[k]],
                modes[k],
                rebalance_to[k],
                dust,
                min_trade,
            )
        final[k], n_reb[k], turn[k], fee_o[k], slip_o[k], gas_o[k], te_o[k], dd[k], bad[k] = r
    return final, n_reb, turn, fee_o, slip_o, gas_o, te_o, dd, int(bad.max())


@njit(cache=True)
def weights_path(prices: FloatArray, steps: IntArray, holdings: FloatArray, cash: FloatArray) -> FloatArray:
    """Post-trade weights [T, N]: the holdings of the latest record at or before each step, marked to market
    (one pass and one output matrix; `steps` ascending, starting at 0)."""
    t_len, n = prices.shape
    out = np.empty((t_len, n))
    k = 0
    for t in range(t_len):
        while k + 1 < steps.shape[0] and steps[k + 1] <= t:
            k += 1
        total = cash[k]
        for i in range(n):
            v = holdings[k, i] * prices[t, i]
            out[t, i] = v
            total += v
        for i in range(n):
            out[t, i] /= total
    return out
