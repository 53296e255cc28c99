"""Fast path of the rebalancing backtest (threshold, calendar, hybrid, buy-and-hold) and parameter sweeps.

Validated entries, each doing only the work its caller asks for: `simulate` (per-step series, optionally the
rebalance records, in one pass), `summarize` (totals only), `sweep` (one summary per variant, in parallel).
The loops live in `loops` (Numba JIT); `simulate` and `weights_path` use the ahead-of-time build (`aot`) when
one exists for the current sources, so a backtest command need not import Numba at all.

Same semantics as the step path (engine + PaperVenue + planner), checked for parity: costs are solved by the
fixed point V' = V - C(V') with a buy filled at p(1+s), a sell at p(1-s), the fee on executed notional and a
flat gas per order (quote units); trades below `dust * V`, and sells whose costs eat the proceeds, are not
placed and the quote column (or cash) absorbs them. A step "rebalanced" when it placed at least one order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, NamedTuple

import numpy as np

from trimtab.backtest import kernel_types as kt
from trimtab.backtest.kernel_types import DUST, BoolArray, FloatArray, IntArray
from trimtab.errors import DataError

MODES = {
    "threshold": kt.MODE_THRESHOLD,
    "calendar": kt.MODE_CALENDAR,
    "hybrid": kt.MODE_HYBRID,
    "buy_and_hold": kt.MODE_BUY_AND_HOLD,
}
REBALANCE_TO = {"target": kt.TO_TARGET, "band_edge": kt.TO_BAND_EDGE}
_BAD_PRICES = "prices must be finite and > 0 (fill or drop gaps before a fast-path backtest)"
_aot_module: ModuleType | None | bool = False  # False: not looked up yet


def _jit() -> ModuleType:
    from trimtab.backtest import loops  # imports Numba: only when a JIT kernel runs

    return loops


def _kernel(name: str) -> Any:
    """`run_policy` / `weights_path` from the ahead-of-time build when there is one, else the Numba JIT."""
    global _aot_module
    if _aot_module is False:
        from trimtab.backtest import aot

        _aot_module = aot.load()
    mod = _aot_module if isinstance(_aot_module, ModuleType) else _jit()
    return getattr(mod, name)


def uses_aot() -> bool:
    """True when `simulate` and `weights_path` run the ahead-of-time compiled kernels."""
    _kernel("run_policy")
    return isinstance(_aot_module, ModuleType)


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


class KernelSummary(NamedTuple):
    """Final value and totals of one fast-path backtest (`summarize`): what a caller needs without the series
    (a NamedTuple: made per call, in microseconds)."""

    final_value: float
    rebalances: int  # steps that traded, step 0 included
    turnover: float  # summed over steps
    fee: float
    slippage: float
    gas: float
    mean_tracking_error: float
    max_drawdown: float


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


def _check_inputs(
    prices: FloatArray, targets: FloatArray, quote_idx: int, costs: tuple[float, float, float], v0: float
) -> tuple[FloatArray, FloatArray]:
    """Shapes and parameters (cheap, O(N)); the prices themselves are checked inside the loop, in the same pass."""
    p, w = _f64(prices), _f64(targets)
    if p.ndim != 2 or p.shape[0] == 0 or p.shape[1] == 0:
        raise ValueError(f"prices must be a non-empty [T, N] matrix, got shape {p.shape}")
    if w.shape != (p.shape[1],) or w.min() < 0 or abs(float(w.sum()) - 1.0) > 1e-9:
        raise ValueError(f"targets must be {p.shape[1]} weights >= 0 summing to 1, got {w}")
    if not -1 <= quote_idx < p.shape[1]:
        raise ValueError(f"quote_idx must be -1 or a column index < {p.shape[1]}, got {quote_idx}")
    if min(costs) < 0 or not v0 > 0:
        raise ValueError(f"fee, slippage and gas must be >= 0 and the initial value > 0, got {costs}, {v0}")
    return p, w


def _f64(a: FloatArray) -> FloatArray:
    """`a` itself when it already is C-contiguous float64 (the common case: no copy, no call into numpy)."""
    if isinstance(a, np.ndarray) and a.dtype == np.float64 and a.flags.c_contiguous:
        return a
    return np.ascontiguousarray(a, dtype=np.float64)


def _code(table: dict[str, int], value: str, what: str) -> int:
    if value not in table:
        raise ValueError(f"{what} must be one of {sorted(table)}, got {value!r}")
    return table[value]


_NO_CALENDAR: list[BoolArray] = [np.zeros(0, np.bool_)]  # the last all-False calendar made, reused


def _calendar(calendar_due: BoolArray | None, t_len: int) -> BoolArray:
    if calendar_due is None:
        if _NO_CALENDAR[0].shape[0] != t_len:
            _NO_CALENDAR[0] = np.zeros(t_len, np.bool_)  # kernels never write it
        return _NO_CALENDAR[0]
    cal = np.ascontiguousarray(calendar_due, np.bool_)
    if cal.shape != (t_len,):
        raise ValueError(f"calendar_due must have one flag per step ({t_len}), got shape {cal.shape}")
    return cal


def _args(
    prices: FloatArray,
    targets: FloatArray,
    quote_idx: int,
    fee: float,
    slippage: float,
    gas: float,
    initial_value: float,
    band_abs: float,
    band_rel: float,
    calendar_due: BoolArray | None,
    mode: str,
    rebalance_to: str,
    dust: float,
    min_trade: float,
) -> tuple[Any, ...]:
    m, to = _code(MODES, mode, "mode"), _code(REBALANCE_TO, rebalance_to, "rebalance_to")
    p, w = _check_inputs(prices, targets, quote_idx, (fee, slippage, gas), initial_value)
    return (
        p,
        w,
        int(quote_idx),
        float(fee),
        float(slippage),
        float(gas),
        float(initial_value),
        float(band_abs),
        float(band_rel),
        _calendar(calendar_due, p.shape[0]),
        m,
        to,
        float(dust),
        float(min_trade),
    )


def simulate(
    prices: FloatArray,
    targets: FloatArray,
    *,
    quote_idx: int = -1,
    fee: float = 0.0,
    slippage: float = 0.0,
    gas: float = 0.0,
    initial_value: float = 1.0,
    band_abs: float = 0.0,
    band_rel: float = 0.0,
    calendar_due: BoolArray | None = None,
    mode: str = "threshold",
    rebalance_to: str = "target",
    dust: float = DUST,
    min_trade: float = 0.0,
    record: bool = False,
) -> KernelResult:
    """Validated entry to `run_policy` (mode in MODES, rebalance_to in REBALANCE_TO, bands <= 0 are off).

    With `record`, the same pass keeps the post-trade holdings at each rebalance, for `KernelResult.weights`.
    """
    args = _args(
        prices,
        targets,
        quote_idx,
        fee,
        slippage,
        gas,
        initial_value,
        band_abs,
        band_rel,
        calendar_due,
        mode,
        rebalance_to,
        dust,
        min_trade,
    )
    t_len = args[0].shape[0]
    cap = min(t_len, max(64, t_len // 64)) if record else 0  # room for one rebalance every 64 steps
    run = _kernel("run_policy")
    out = run(*args, cap)
    if out[9] >= 0:
        raise DataError(_BAD_PRICES, field="prices")
    if out[13] > cap:  # more rebalances than room: run again with exactly enough (the count is now known)
        out = run(*args, out[13])
    k = out[13]
    eq, reb, turn, fee_o, slip_o, gas_o, te_o, hold = out[:8]
    return KernelResult(
        eq,
        reb,
        turn,
        fee_o,
        slip_o,
        gas_o,
        te_o,
        hold,
        cash=float(out[8]),
        rebalance_steps=out[10][:k] if record else None,
        rebalance_holdings=out[11][:k] if record else None,
        rebalance_cash=out[12][:k] if record else None,
    )


def summarize(
    prices: FloatArray,
    targets: FloatArray,
    *,
    quote_idx: int = -1,
    fee: float = 0.0,
    slippage: float = 0.0,
    gas: float = 0.0,
    initial_value: float = 1.0,
    band_abs: float = 0.0,
    band_rel: float = 0.0,
    calendar_due: BoolArray | None = None,
    mode: str = "threshold",
    rebalance_to: str = "target",
    dust: float = DUST,
    min_trade: float = 0.0,
    risk: bool = True,
) -> KernelSummary:
    """Same backtest as `simulate`, keeping only the final value and totals (no per-step arrays are made).

    With `risk=False` the tracking error and drawdown are not tracked (NaN): the least work per step.
    """
    loops = _jit()
    out = (loops.summarize if risk else loops.totals)(
        *_args(
            prices,
            targets,
            quote_idx,
            fee,
            slippage,
            gas,
            initial_value,
            band_abs,
            band_rel,
            calendar_due,
            mode,
            rebalance_to,
            dust,
            min_trade,
        )
    )
    if out[8] >= 0:
        raise DataError(_BAD_PRICES, field="prices")
    return KernelSummary(out[0], out[1], out[2], out[3], out[4], out[5], out[6], out[7])


def weights_path(prices: FloatArray, steps: IntArray, holdings: FloatArray, cash: FloatArray) -> FloatArray:
    """Post-trade weights [T, N] for reports: holdings of the latest rebalance at or before each step, marked to
    market (step 0 always rebalances, so every row has one)."""
    p = _f64(prices)
    if p.shape[0] and (len(steps) == 0 or steps[0] != 0):
        raise ValueError("rebalance steps must start at 0 (the initial purchase)")
    steps64 = np.ascontiguousarray(steps, np.int64)
    return _kernel("weights_path")(p, steps64, _f64(holdings), _f64(cash))  # type: ignore[no-any-return]


def _per_variant(value: str | Sequence[str], table: dict[str, int], what: str, k: int) -> np.ndarray:
    names = [value] * k if isinstance(value, str) else list(value)
    if len(names) != k:
        raise ValueError(f"{what} must be one name or one per variant ({k}), got {len(names)}")
    return np.array([_code(table, v, what) for v in names], dtype=np.int64)


def sweep(
    prices: FloatArray,
    targets: FloatArray,
    bands_abs: FloatArray,
    bands_rel: FloatArray | None = None,
    *,
    quote_idx: int = -1,
    fee: float = 0.0,
    slippage: float = 0.0,
    gas: float = 0.0,
    initial_value: float = 1.0,
    calendar_due: BoolArray | None = None,
    calendar_index: IntArray | None = None,
    mode: str | Sequence[str] = "threshold",
    rebalance_to: str | Sequence[str] = "target",
    dust: float = DUST,
    min_trade: float = 0.0,
    risk: bool = True,
) -> SweepResult:
    """Validated entry to `sweep_policies`: one backtest per variant k, in parallel.

    Variant k has bands (bands_abs[k], bands_rel[k]) (None: relative off), mode[k] and rebalance_to[k] (or one
    name for all) and calendar row calendar_due[calendar_index[k]] when calendar_due is [C, T] (one [T] row: all).
    `risk=False` skips tracking error and drawdown (NaN), as in `summarize`.
    """
    p, w = _check_inputs(prices, targets, quote_idx, (fee, slippage, gas), initial_value)
    ba = np.ascontiguousarray(bands_abs, dtype=np.float64)
    br = np.zeros_like(ba) if bands_rel is None else np.ascontiguousarray(bands_rel, dtype=np.float64)
    if ba.ndim != 1 or br.shape != ba.shape:
        raise ValueError(f"bands_abs and bands_rel must be 1-D of equal length, got {ba.shape} and {br.shape}")
    k = ba.shape[0]
    modes = _per_variant(mode, MODES, "mode", k)
    to = _per_variant(rebalance_to, REBALANCE_TO, "rebalance_to", k)
    if calendar_due is not None and np.ndim(calendar_due) == 2:
        cals = np.ascontiguousarray(calendar_due, np.bool_)
        if cals.shape[1] != p.shape[0]:
            raise ValueError(f"calendar_due must have one flag per step ({p.shape[0]}), got shape {cals.shape}")
    else:
        cals = _calendar(calendar_due, p.shape[0])[None, :]
    idx = np.zeros(k, np.int64) if calendar_index is None else np.ascontiguousarray(calendar_index, np.int64)
    if idx.shape != (k,) or (k and (idx.min() < 0 or idx.max() >= cals.shape[0])):
        raise ValueError(f"calendar_index must be {k} row numbers below {cals.shape[0]}")
    out = _jit().sweep_policies(
        p,
        w,
        ba,
        br,
        modes,
        to,
        cals,
        idx,
        int(quote_idx),
        float(fee),
        float(slippage),
        float(gas),
        float(initial_value),
        float(dust),
        float(min_trade),
        bool(risk),
    )
    if out[8] >= 0:
        raise DataError(_BAD_PRICES, field="prices")
    return SweepResult(ba, br, *out[:8])
