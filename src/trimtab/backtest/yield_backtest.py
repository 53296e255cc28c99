"""Yield backtests: replay reserve rates and indices day by day; money moves only by the migration rule.

Each row: interest accrues by the index (units * (index_t - index_{t-1}) * price), the strategy's trigger
is checked (the first row always allocates from cash), the rule proposes moves, and each move executes as
withdraw / swap / deposit fills recorded in a double-entry ledger. Gas is the day's Etherscan average
gas price times ETH's price. Alternatives for `compare`: best-on-day-one, a static split, hindsight-best.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from trimtab.backtest.ledger import RunningLedger
from trimtab.backtest.results import result_metrics
from trimtab.backtest.simulator import BacktestResult, to_datetime
from trimtab.core.base.ledger import deposit_entries, entries_for_fill
from trimtab.core.base.types import ZERO, TradePlan
from trimtab.core.yield_check import (
    CheckTime,
    YieldSetup,
    decide_yield,
    interest_since,
    states_at,
    values_of,
)
from trimtab.core.yields.migration import Assessment, Market, Move, make_move
from trimtab.core.yields.positions import RatesTable, ReserveState, YieldPosition, d
from trimtab.core.yields.trades import as_plan, execute_move, position_value
from trimtab.errors import ConfigError, DataError

ACCOUNT = "yield"
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Fixed:
    """A passive policy: on the first row put `weights` of the value in those positions, never move again."""

    weights: Mapping[str, float]


Policy = Fixed | None  # None: the migration rule


def usd_per_gas(rates: RatesTable, gwei: Mapping[np.datetime64, tuple[float, float]] | None = None) -> FloatArray:
    """USD per gas unit on each rates row: Etherscan average gwei * 1e-9 * ETH/USD of that day (default: the
    bundled Etherscan series)."""
    if gwei is None:
        from trimtab.shipped import gas_series

        series = gas_series()
        days = series.times.astype("datetime64[D]")
        gwei = {t: (a, b) for t, a, b in zip(days, series.gwei, series.native_price, strict=True)}
    out = np.empty(len(rates))
    for i, t in enumerate(rates.times.astype("datetime64[D]")):
        g = gwei.get(t)
        if g is None or not (np.isfinite(g[0]) and np.isfinite(g[1])):
            raise DataError(
                f"no gas price for {t} (the bundled Etherscan series covers 2015-07-30 to 2024-06-30)",
                source="eth_gas_daily.csv",
            )
        out[i] = g[0] * 1e-9 * g[1]
    return out


def _fixed_moves(setup: YieldSetup, policy: Fixed, value: float, market: Market) -> Assessment:
    cash = setup.positions[0]
    by_name = {p.name: p for p in setup.positions}
    moves = tuple(
        make_move(setup.rule, "initial", cash, by_name[n], w * value, market, "fixed allocation")
        for n, w in policy.weights.items()
        if w > 0 and n != cash.name
    )
    return Assessment(moves, "hold: fixed allocation")


@dataclass
class _Run:
    """Mutable per-run accumulators (private to `run_yield`)."""

    n: int
    t_len: int
    out: dict[str, FloatArray] = field(default_factory=dict)
    migrations: list[dict[str, Any]] = field(default_factory=list)
    reasons: list[tuple[int, str]] = field(default_factory=list)
    plans: list[TradePlan] = field(default_factory=list)

    def __post_init__(self) -> None:
        for k in ("equity", "turnover", "fee", "slippage", "gas", "interest"):
            self.out[k] = np.zeros(self.t_len)
        self.weights = np.zeros((self.t_len, self.n))
        self.rebalanced = np.zeros(self.t_len, dtype=bool)


def run_yield(
    setup: YieldSetup,
    rates: RatesTable,
    gas_usd: FloatArray,
    *,
    policy: Policy = None,
    name: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> BacktestResult:
    """Replay `rates` (and `gas_usd` per row) from `initial_value` in cash; the result's `extra` has
    `yield_earned` (USD interest), `migrations` (one dict per move) and `apy` (per row, per position)."""
    if len(rates) < 2:
        raise ConfigError("need at least two rates rows to backtest", field="rates")
    pos = setup.positions
    names = tuple(p.name for p in pos)
    by_name = {p.name: p for p in pos}
    ledger = RunningLedger()
    first = to_datetime(rates.times[0])
    ledger.append(deposit_entries({pos[0].name: d(setup.initial_value)}, account=ACCOUNT, time=first, ref="initial"))
    run = _Run(len(pos), len(rates))
    apy = np.full((len(rates), len(pos)), np.nan)
    prev_idx: dict[str, Decimal] = {}
    anchor = previous = None
    seen = rates.trailing_apr(setup.apy_window)
    for t in range(len(rates)):
        now = to_datetime(rates.times[t])
        states = states_at(setup, rates, t)
        decide = states_at(setup, seen, t) if seen is not rates else states
        units = ledger.balances(ACCOUNT)
        for j, p in enumerate(pos):
            if (s := states[p.name]) is not None:
                apy[t, j] = s.apy
        interest, idx_now = interest_since(units, states, prev_idx)
        prev_idx.update(idx_now)
        run.out["interest"][t] = float(interest)
        market = Market(decide, float(gas_usd[t]))
        if isinstance(policy, Fixed):
            values = values_of(setup, units, states)
            total = sum(values.values())
            if t == 0:
                _execute(
                    run,
                    t,
                    _fixed_moves(setup, policy, total, market),
                    setup,
                    by_name,
                    states,
                    ledger,
                    market,
                    now,
                    total,
                )
        else:
            dec = decide_yield(
                setup,
                units,
                states,
                float(gas_usd[t]),
                CheckTime(now, anchor, previous),
                decide_states=decide,
                first=t == 0,
            )
            if dec.checked:
                _execute(run, t, dec.assessment, setup, by_name, states, ledger, market, now, sum(dec.values.values()))
        anchor, previous = anchor or now, now
        units = ledger.balances(ACCOUNT)
        post = np.array([float(position_value(units.get(n, ZERO), states[n])) for n in names])
        run.out["equity"][t] = float(post.sum())
        run.weights[t] = post / post.sum() if post.sum() > 0 else 0.0
        if progress:
            progress(t)
    extra = {
        "yield_earned": float(run.out["interest"].sum()),
        "migrations": run.migrations,
        "apy": apy,
        "positions": names,
        "interest": run.out["interest"],
        "ledger": ledger,
        "plans": run.plans,
    }
    o = run.out
    return BacktestResult(
        name or setup.name,
        rates.times.copy(),
        names,
        np.zeros(len(names)),
        o["equity"],
        run.rebalanced,
        o["turnover"],
        o["fee"],
        o["slippage"],
        o["gas"],
        np.zeros(len(rates)),
        run.weights,
        tuple(run.reasons),
        "yield",
        365.0,
        extra,
    )


def _execute(
    run: _Run,
    t: int,
    a: Assessment,
    setup: YieldSetup,
    by_name: Mapping[str, YieldPosition],
    states: Mapping[str, ReserveState | None],
    ledger: RunningLedger,
    market: Market,
    now: Any,
    total: float,
) -> None:
    for k, m in enumerate(a.moves):
        units = ledger.balances(ACCOUNT)
        if units.get(m.source, ZERO) <= 0:
            continue
        ex = execute_move(m, by_name, states, units, setup.rule, market.usd_per_gas, ref=f"{t}.{k}")
        ledger.append(
            [
                e
                for i, f in enumerate(ex.fills)
                for e in entries_for_fill(f, account=ACCOUNT, time=now, ref=f"{t}.{k}.{i}", rebalance_id=f"{t}")
            ]
        )
        run.out["gas"][t] += float(ex.gas_usd)
        run.out["fee"][t] += float(ex.fee_usd)
        run.out["slippage"][t] += float(ex.slippage_usd)
        run.out["turnover"][t] += m.amount_usd / total if total > 0 else 0.0
        run.migrations.append(_record(run, t, m, ex.gas_usd + ex.fee_usd + ex.slippage_usd))
        run.plans.append(as_plan(ex, plan_id=f"{t}.{k}"))
    if a.moves:
        run.rebalanced[t] = True
        run.reasons.append((t, a.reason))


def _record(run: _Run, t: int, m: Move, paid: Decimal) -> dict[str, Any]:
    return {"step": t, **m.doc(), "paid_usd": float(paid)}


def yield_metrics(r: BacktestResult) -> dict[str, Any]:
    """`result_metrics` plus yield_earned, migrations (count) and the migration log."""
    m = result_metrics(r)
    moves = [x for x in r.extra.get("migrations", []) if x["kind"] != "initial"]
    m["yield_earned"] = r.extra.get("yield_earned", 0.0)
    m["migrations"] = len([x for x in moves if x["step"] > 0])
    m["migration_log"] = [
        x | {"time": str(r.times[x["step"]].astype("datetime64[D]"))} for x in r.extra.get("migrations", [])
    ]
    return m


def alternatives(setup: YieldSetup, rates: RatesTable, gas_usd: FloatArray) -> dict[str, BacktestResult]:
    """Best-on-day-one, a static split over the candidates, and the hindsight-best single reserve, net of costs."""
    cands = [p for p in setup.positions if not p.is_cash and p.risk_score >= setup.rule.min_score]
    if not cands:
        return {}
    s0 = states_at(setup, rates, 0)
    listed = [p for p in cands if s0.get(p.name) is not None] or cands
    best = max(listed, key=lambda p: _apy(s0.get(p.name)))
    out = {
        f"best-day-one ({best.name})": run_yield(
            setup, rates, gas_usd, policy=Fixed({best.name: 1.0}), name=f"best-day-one ({best.name})"
        )
    }
    split = {p.name: 1.0 / len(listed) for p in listed}
    out["static-split"] = run_yield(setup, rates, gas_usd, policy=Fixed(split), name="static-split")
    singles = {p.name: run_yield(setup, rates, gas_usd, policy=Fixed({p.name: 1.0}), name=p.name) for p in listed}
    top = max(singles, key=lambda n: singles[n].equity[-1])
    label = f"hindsight-best ({top})"
    out[label] = run_yield(setup, rates, gas_usd, policy=Fixed({top: 1.0}), name=label)
    return out


def _apy(s: ReserveState | None) -> float:
    return s.apy if s is not None else 0.0
