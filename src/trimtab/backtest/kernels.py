"""Numba fast path of the rebalancing backtest (threshold, calendar, hybrid, buy-and-hold) and band sweeps.

Same semantics as the step path (engine + PaperVenue + planner), checked for parity: costs are solved by the
fixed point V' = V - C(V') with a buy filled at p(1+s), a sell at p(1-s), the fee on executed notional and a
flat gas per order (quote units); trades below `dust * V`, and sells whose costs eat the proceeds, are not
placed and the quote column (or cash) absorbs them. A step "rebalanced" when it placed at least one order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numba import njit, prange

from trimtab.errors import DataError

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

MODE_THRESHOLD, MODE_CALENDAR, MODE_HYBRID, MODE_BUY_AND_HOLD = 0, 1, 2, 3
TO_TARGET, TO_BAND_EDGE = 0, 1
MODES = {"threshold": MODE_THRESHOLD, "calendar": MODE_CALENDAR, "hybrid": MODE_HYBRID, "buy_and_hold": MODE_BUY_AND_HOLD}
REBALANCE_TO = {"target": TO_TARGET, "band_edge": TO_BAND_EDGE}
DUST = 1e-9  # a trade counts only if |notional| > DUST * portfolio value
BAND_TOL = 1e-12  # an asset exactly on its band edge is inside (as in core.drift.asset_drifts)
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
def _marked_value(h: FloatArray, prices: FloatArray, t: int, cash: float) -> float:
    """cash + sum h_i p_ti with four accumulators (breaks the add-latency chain; order differs by ulps only)."""
    n = h.shape[0]
    s0 = s1 = s2 = s3 = 0.0
    m = n - n % 4
    for i in range(0, m, 4):
        s0 += h[i] * prices[t, i]
        s1 += h[i + 1] * prices[t, i + 1]
        s2 += h[i + 2] * prices[t, i + 2]
        s3 += h[i + 3] * prices[t, i + 3]
    for i in range(m, n):
        s0 += h[i] * prices[t, i]
    return cash + ((s0 + s1) + (s2 + s3))


@njit(cache=True)
def _half_l1(w: FloatArray, targets: FloatArray) -> float:
    """0.5 * sum |w_i - w*_i|, four accumulators as in `_marked_value`."""
    n = w.shape[0]
    s0 = s1 = s2 = s3 = 0.0
    m = n - n % 4
    for i in range(0, m, 4):
        s0 += abs(w[i] - targets[i])
        s1 += abs(w[i + 1] - targets[i + 1])
        s2 += abs(w[i + 2] - targets[i + 2])
        s3 += abs(w[i + 3] - targets[i + 3])
    for i in range(m, n):
        s0 += abs(w[i] - targets[i])
    return 0.5 * ((s0 + s1) + (s2 + s3))


@njit(cache=True)
def _edge_weights(w: FloatArray, targets: FloatArray, band_abs: float, band_rel: float, out: FloatArray) -> None:
    """Breaching assets go to their nearest band edge; the others keep their weights times one common scale
    (clamped at 0); with no other asset to absorb the rest, the edges are normalised (as planner.band_edge_targets).
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
        if sum_free > 0.0:
            out[i] = max(0.0, w[i] * (1.0 - sum_edge) / sum_free) if out[i] == -1.0 else out[i]
        else:
            out[i] = out[i] / sum_edge if out[i] != -1.0 else 0.0


@njit(cache=True)
def _cost(h: FloatArray, p: FloatArray, desired: FloatArray, v: float, vp: float, quote_idx: int,
          fee: float, slip: float, gas: float, dust: float, min_trade: float) -> float:
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
def _rebalance(h: FloatArray, cash: float, p: FloatArray, desired: FloatArray, v: float, quote_idx: int,
               fee: float, slip: float, gas: float, dust: float, min_trade: float) -> tuple[float, float, float, float, float, float, int]:
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


@njit(cache=True)
def _simulate(prices: FloatArray, targets: FloatArray, quote_idx: int, fee: float, slip: float, gas: float,
              v0: float, band_abs: float, band_rel: float, calendar_due: BoolArray, mode: int, rebalance_to: int,
              dust: float, min_trade: float, eq: FloatArray, reb: BoolArray, turn: FloatArray, fee_o: FloatArray, slip_o: FloatArray,
              gas_o: FloatArray, te_o: FloatArray, rec_steps: IntArray, rec_h: FloatArray, rec_cash: FloatArray,
              series: bool) -> tuple[FloatArray, float, float, int, float, float, float, float, float, float]:
    """The one loop every public kernel runs; writes per-step series only when `series` is true.

    Returns (holdings, cash, final value, rebalances, sum turnover, sum fee, sum slippage, sum gas, sum te, max drawdown).
    """
    t_len, n = prices.shape
    h = np.zeros(n)
    cash = v0
    if quote_idx >= 0:
        h[quote_idx] = v0 / prices[0, quote_idx]
        cash = 0.0
    w = np.empty(n)
    desired = np.empty(n)
    limit = np.empty(n)  # |w - w*| beyond this breaches the band(s)
    for i in range(n):
        limit[i] = _band_width(targets[i], band_abs, band_rel) + BAND_TOL
    watch = mode == MODE_THRESHOLD or mode == MODE_HYBRID
    n_reb = 0
    tot_turn = tot_fee = tot_slip = tot_gas = tot_te = 0.0
    peak = 0.0
    max_dd = 0.0
    value = v0
    n_rec = rec_steps.shape[0]
    n_rec_done = 0
    for t in range(t_len):
        value = _marked_value(h, prices, t, cash)  # prices[t, i], not a row view: no refcounting per step
        inv_value = 1.0 / value
        breach = False
        for i in range(n):
            w[i] = h[i] * prices[t, i] * inv_value
            breach |= abs(w[i] - targets[i]) > limit[i]
        te = _half_l1(w, targets)
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
                _edge_weights(w, targets, band_abs, band_rel, desired)
            else:
                desired[:] = targets
            value, cash, f_t, s_t, g_t, tv_t, orders = _rebalance(h, cash, prices[t], desired, value, quote_idx, fee,
                                                                  slip, gas, dust, min_trade)
            traded = orders > 0
        if traded or t == 0:  # step 0 is always recorded, so weights_path has a starting row
            if n_rec_done < n_rec:
                rec_steps[n_rec_done] = t
                rec_h[n_rec_done, :] = h
                rec_cash[n_rec_done] = cash
            n_rec_done += 1
        if traded:
            n_reb += 1
            tot_turn += tv_t
            tot_fee += f_t
            tot_slip += s_t
            tot_gas += g_t
        tot_te += te
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
    return h, cash, value, n_reb, tot_turn, tot_fee, tot_slip, tot_gas, tot_te, max_dd


@njit(cache=True)
def run_policy(prices: FloatArray, targets: FloatArray, quote_idx: int, fee: float, slippage: float, gas: float,
               v0: float, band_abs: float, band_rel: float, calendar_due: BoolArray, mode: int, rebalance_to: int,
               dust: float, min_trade: float) -> tuple[FloatArray, BoolArray, FloatArray, FloatArray, FloatArray, FloatArray,
                                     FloatArray, FloatArray, float]:
    """Backtest one policy: (equity, rebalanced, turnover, fee, slippage, gas, te, final holdings, final cash)."""
    t_len, n = prices.shape
    eq = np.empty(t_len)
    reb = np.zeros(t_len, dtype=np.bool_)
    turn, fee_o, slip_o, gas_o, te_o = np.empty(t_len), np.empty(t_len), np.empty(t_len), np.empty(t_len), np.empty(t_len)
    h, cash, _, _, _, _, _, _, _, _ = _simulate(
        prices, targets, quote_idx, fee, slippage, gas, v0, band_abs, band_rel, calendar_due, mode, rebalance_to,
        dust, min_trade, eq, reb, turn, fee_o, slip_o, gas_o, te_o, np.empty(0, np.int64), np.empty((0, n)), np.empty(0), True)
    return eq, reb, turn, fee_o, slip_o, gas_o, te_o, h, cash


@njit(cache=True)
def record_rebalances(prices: FloatArray, targets: FloatArray, quote_idx: int, fee: float, slippage: float,
                      gas: float, v0: float, band_abs: float, band_rel: float, calendar_due: BoolArray, mode: int,
                      rebalance_to: int, dust: float, min_trade: float, n_records: int) -> tuple[IntArray, FloatArray, FloatArray]:
    """Post-trade holdings and cash at step 0 and the next `n_records - 1` steps that traded:
    (steps, holdings [R, N], cash [R])."""
    n = prices.shape[1]
    steps = np.full(n_records, -1, np.int64)
    rec_h = np.zeros((n_records, n))
    rec_cash = np.zeros(n_records)
    none = np.empty(0)
    _simulate(prices, targets, quote_idx, fee, slippage, gas, v0, band_abs, band_rel, calendar_due, mode,
              rebalance_to, dust, min_trade, none, np.empty(0, np.bool_), none, none, none, none, none, steps, rec_h, rec_cash,
              False)
    return steps, rec_h, rec_cash


@njit(cache=True, parallel=True)
def sweep_bands(prices: FloatArray, targets: FloatArray, bands_abs: FloatArray, bands_rel: FloatArray,
                quote_idx: int, fee: float, slippage: float, gas: float, v0: float, calendar_due: BoolArray,
                mode: int, rebalance_to: int, dust: float, min_trade: float) -> tuple[FloatArray, IntArray, FloatArray, FloatArray,
                                                                    FloatArray, FloatArray, FloatArray, FloatArray]:
    """One backtest per band pair k (in parallel): (final value, steps that traded, summed turnover, fee,
    slippage, gas, mean tracking error, max drawdown), each [K]."""
    k_len = bands_abs.shape[0]
    final, n_reb = np.empty(k_len), np.empty(k_len, np.int64)
    turn, fee_o, slip_o, gas_o, te_o, dd = (np.empty(k_len), np.empty(k_len), np.empty(k_len), np.empty(k_len),
                                            np.empty(k_len), np.empty(k_len))
    t_len = prices.shape[0]
    for k in prange(k_len):
        none = np.empty(0)
        r = _simulate(prices, targets, quote_idx, fee, slippage, gas, v0, bands_abs[k], bands_rel[k], calendar_due,
                      mode, rebalance_to, dust, min_trade, none, np.empty(0, np.bool_), none, none, none, none, none,
                      np.empty(0, np.int64), np.empty((0, prices.shape[1])), none, False)
        final[k] = r[2]
        n_reb[k] = r[3]
        turn[k] = r[4]
        fee_o[k] = r[5]
        slip_o[k] = r[6]
        gas_o[k] = r[7]
        te_o[k] = r[8] / t_len
        dd[k] = r[9]
    return final, n_reb, turn, fee_o, slip_o, gas_o, te_o, dd


@dataclass(frozen=True)
class KernelResult:
    """Per-step series of one fast-path backtest; `rebalanced` marks steps that traded (trigger fired and at
    least one order cleared the dust threshold); all amounts in the price unit (gas converted from quote units)."""

    equity: FloatArray  # post-trade value at each close (quote units)
    rebalanced: BoolArray
    turnover: FloatArray  # sum |trade notional| / pre-trade value
    fee: FloatArray
    slippage: FloatArray
    gas: FloatArray
    tracking_error: FloatArray  # 0.5 * sum |w - w*| on pre-trade weights
    holdings: FloatArray  # final units per asset
    cash: float  # final quote cash (only when the quote is not a column)
    rebalance_steps: IntArray | None = None  # with record=True: step 0 and each later step that traded ...
    rebalance_holdings: FloatArray | None = None  # ... post-trade units there [R, N] ...
    rebalance_cash: FloatArray | None = None  # ... and post-trade cash [R]

    @property
    def costs(self) -> FloatArray:
        return self.fee + self.slippage + self.gas

    def weights(self, prices: FloatArray) -> FloatArray:
        """Post-trade weights [T, N] (needs a result made with record=True)."""
        if self.rebalance_steps is None or self.rebalance_holdings is None or self.rebalance_cash is None:
            raise ValueError("weights need a result made with simulate(..., record=True)")
        return weights_path(prices, self.rebalance_steps, self.rebalance_holdings, self.rebalance_cash)


@dataclass(frozen=True)
class SweepResult:
    """One row per band pair of a parameter sweep."""

    bands_abs: FloatArray
    bands_rel: FloatArray
    final_value: FloatArray
    rebalances: IntArray
    turnover: FloatArray  # summed over steps
    fee: FloatArray
    slippage: FloatArray
    gas: FloatArray
    mean_tracking_error: FloatArray
    max_drawdown: FloatArray


def _check_inputs(prices: FloatArray, targets: FloatArray, quote_idx: int, calendar_due: BoolArray | None,
                  costs: tuple[float, float, float], v0: float, mode: str, rebalance_to: str,
                  ) -> tuple[FloatArray, FloatArray, BoolArray]:
    if mode not in MODES or rebalance_to not in REBALANCE_TO:
        raise ValueError(f"mode must be one of {sorted(MODES)} and rebalance_to one of {sorted(REBALANCE_TO)}, "
                         f"got {mode!r}, {rebalance_to!r}")
    p = np.ascontiguousarray(prices, dtype=np.float64)
    w = np.ascontiguousarray(targets, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] == 0 or p.shape[1] == 0:
        raise ValueError(f"prices must be a non-empty [T, N] matrix, got shape {p.shape}")
    if not np.all(np.isfinite(p)) or not np.all(p > 0):
        raise DataError("prices must be finite and > 0 (fill or drop gaps before a fast-path backtest)", field="prices")
    if w.shape != (p.shape[1],) or np.any(w < 0) or abs(float(w.sum()) - 1.0) > 1e-9:
        raise ValueError(f"targets must be {p.shape[1]} weights >= 0 summing to 1, got {w}")
    if not -1 <= quote_idx < p.shape[1]:
        raise ValueError(f"quote_idx must be -1 or a column index < {p.shape[1]}, got {quote_idx}")
    if min(costs) < 0 or not v0 > 0:
        raise ValueError(f"fee, slippage and gas must be >= 0 and the initial value > 0, got {costs}, {v0}")
    cal = np.zeros(p.shape[0], np.bool_) if calendar_due is None else np.ascontiguousarray(calendar_due, np.bool_)
    if cal.shape != (p.shape[0],):
        raise ValueError(f"calendar_due must have one flag per step ({p.shape[0]}), got shape {cal.shape}")
    return p, w, cal


def simulate(prices: FloatArray, targets: FloatArray, *, quote_idx: int = -1, fee: float = 0.0,
             slippage: float = 0.0, gas: float = 0.0, initial_value: float = 1.0, band_abs: float = 0.0,
             band_rel: float = 0.0, calendar_due: BoolArray | None = None, mode: str = "threshold",
             rebalance_to: str = "target", dust: float = DUST, min_trade: float = 0.0, record: bool = False) -> KernelResult:
    """Validated entry to `run_policy` (mode in MODES, rebalance_to in REBALANCE_TO, bands <= 0 are off).

    With `record`, a second pass keeps the post-trade holdings at each rebalance, for `KernelResult.weights`.
    """
    p, w, cal = _check_inputs(prices, targets, quote_idx, calendar_due, (fee, slippage, gas), initial_value,
                              mode, rebalance_to)
    args = (p, w, int(quote_idx), float(fee), float(slippage), float(gas), float(initial_value), float(band_abs),
            float(band_rel), cal, MODES[mode], REBALANCE_TO[rebalance_to], float(dust), float(min_trade))
    out = run_policy(*args)
    rec = record_rebalances(*args, int(out[1][1:].sum()) + 1) if record else (None, None, None)
    return KernelResult(*out[:8], cash=float(out[8]), rebalance_steps=rec[0], rebalance_holdings=rec[1],
                        rebalance_cash=rec[2])


def weights_path(prices: FloatArray, steps: IntArray, holdings: FloatArray, cash: FloatArray) -> FloatArray:
    """Post-trade weights [T, N] for reports: holdings of the latest rebalance at or before each step, marked to
    market (step 0 always rebalances, so every row has one)."""
    p = np.asarray(prices, dtype=np.float64)
    last = np.searchsorted(steps, np.arange(p.shape[0]), side="right") - 1
    if p.shape[0] and (len(steps) == 0 or steps[0] != 0):
        raise ValueError("rebalance steps must start at 0 (the initial purchase)")
    values = holdings[last] * p
    return values / (values.sum(axis=1) + cash[last])[:, None]  # type: ignore[no-any-return]


def sweep(prices: FloatArray, targets: FloatArray, bands_abs: FloatArray, bands_rel: FloatArray | None = None, *,
          quote_idx: int = -1, fee: float = 0.0, slippage: float = 0.0, gas: float = 0.0, initial_value: float = 1.0,
          calendar_due: BoolArray | None = None, mode: str = "threshold", rebalance_to: str = "target",
          dust: float = DUST, min_trade: float = 0.0) -> SweepResult:
    """Validated entry to `sweep_bands`: one backtest per (bands_abs[k], bands_rel[k]); None means relative off."""
    p, w, cal = _check_inputs(prices, targets, quote_idx, calendar_due, (fee, slippage, gas), initial_value,
                              mode, rebalance_to)
    ba = np.ascontiguousarray(bands_abs, dtype=np.float64)
    br = np.zeros_like(ba) if bands_rel is None else np.ascontiguousarray(bands_rel, dtype=np.float64)
    if ba.ndim != 1 or br.shape != ba.shape:
        raise ValueError(f"bands_abs and bands_rel must be 1-D of equal length, got {ba.shape} and {br.shape}")
    out = sweep_bands(p, w, ba, br, int(quote_idx), float(fee), float(slippage), float(gas), float(initial_value),
                      cal, MODES[mode], REBALANCE_TO[rebalance_to], float(dust), float(min_trade))
    return SweepResult(ba, br, *out)
