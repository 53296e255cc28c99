"""Backtests: the same Strategy objects as live, replayed over real history through engine.run_cycle.

Semantics (README "Backtest semantics"): at each step the trigger is checked on pre-trade weights at
that step's close and trades execute at that close; step 0 is the initial purchase from cash and pays
costs; post-trade weights equal the targets exactly after costs (planner fixed point). Strategies whose
trigger and costs a Numba kernel covers (threshold, calendar, hybrid, buy-and-hold with proportional
costs) take the fast path, which a parity test holds to the step path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from trimtab.backtest.ledger import RunningLedger
from trimtab.backtest.tax import TaxRates, tax_summary
from trimtab.core.base.history import PriceHistory
from trimtab.core.base.ledger import deposit_entries
from trimtab.core.base.ports import ExecutionReport
from trimtab.core.base.snapshot import MarketSnapshot
from trimtab.core.strategy import Schedule, Strategy
from trimtab.engine import CycleResult
from trimtab.errors import ConfigError, SafetyError

FloatArray = npt.NDArray[np.float64]
ACCOUNT = "backtest"


@dataclass(frozen=True, eq=False)
class BacktestResult:
    """Per-step paths of one backtest; metrics are derived, never stored."""

    strategy: str
    times: npt.NDArray[np.datetime64]
    assets: tuple[str, ...]
    targets: FloatArray
    equity: FloatArray
    rebalanced: npt.NDArray[np.bool_]
    turnover: FloatArray
    fee: FloatArray
    slippage: FloatArray
    gas: FloatArray
    tracking_error: FloatArray
    weights: FloatArray  # post-trade weights [T, N]
    reasons: tuple[tuple[int, str], ...] = ()
    path: str = "step"
    periods_per_year: float = 365.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rebalance_steps(self) -> npt.NDArray[np.intp]:
        return np.flatnonzero(self.rebalanced)


def to_datetime(t: np.datetime64) -> datetime:
    """A numpy UTC timestamp as an aware datetime."""
    return datetime.fromtimestamp(int(t.astype("datetime64[s]").astype(np.int64)), tz=UTC)


def _initial_deposit(history: PriceHistory, quote: str, value: float) -> Decimal:
    """Quote units bought with `value` (USD) at step 0: the quote column's price, or par if it has none."""
    if quote in history.assets:
        return Decimal(repr(value)) / Decimal(repr(float(history.prices[0, history.index_of(quote)])))
    return Decimal(repr(value))


def require_strategy_assets(strategy: Strategy, history: PriceHistory, source: str = "prices") -> None:
    """The history must price every asset of the strategy's universe (bad input stops before any simulation)."""
    missing = [a for a in strategy.universe if a not in history.assets and a != strategy.quote]
    if missing:
        raise ConfigError(
            f"strategy assets missing from the price data: {', '.join(missing)} (have: {', '.join(history.assets)})",
            source=source,
            field="targets" if strategy.allocation is None else "universe",
        )
    if len(history) < 2:
        raise ConfigError("need at least two price rows to backtest", source=source)


def last_known(prices: FloatArray) -> FloatArray:
    """Each column's last finite positive price at or before each row (NaN before its first): past rows only."""
    good = np.isfinite(prices) & (prices > 0)
    idx = np.where(good, np.arange(len(prices))[:, None], -1)
    np.maximum.accumulate(idx, axis=0, out=idx)
    out = np.take_along_axis(prices, np.maximum(idx, 0), axis=0)
    return np.where(idx >= 0, out, np.nan)


def _marked(
    balances: Mapping[str, Decimal], col: Mapping[str, int], row: np.ndarray, quote: str
) -> tuple[np.ndarray, float]:
    """Each held asset's value at the row's marks (history units), and the quote held outside the matrix."""
    values = np.zeros(len(col))
    cash = 0.0
    for a, q in balances.items():
        if a in col:
            values[col[a]] = float(q) * row[col[a]]
        elif a == quote:
            cash = float(q)
    return values, cash


def _book_fills(out: dict[str, FloatArray], k: int, report: ExecutionReport, snap: MarketSnapshot, unit: float) -> None:
    """Add a step's fills to its cost and turnover columns (quote units -> the history's unit)."""
    for f in report.fills:
        out["fee"][k] += float(f.fee) * unit
        out["slippage"][k] += float(f.slippage) * unit
        out["gas"][k] += float(f.gas) * unit
        out["turnover"][k] += float(f.quantity * snap.prices[f.asset]) * unit


def _booked(out: dict[str, FloatArray], k: int, result: CycleResult | None, snap: MarketSnapshot, unit: float) -> bool:
    """Book a result's fills at step `k`; whether anything filled."""
    if result is None or result.report is None or not result.report.fills:
        return False
    _book_fills(out, k, result.report, snap, unit)
    return True


def step_backtest(
    strategy: Strategy,
    history: PriceHistory,
    initial_value: float,
    progress: Callable[[int], None] | None = None,
    *,
    start: int = 0,
    flows: Sequence[tuple[datetime, Decimal]] = (),
    tax: TaxRates | None = None,
) -> BacktestResult:
    """The general path: one engine.run_cycle per step against a paper venue and a running ledger.

    Rows before `start` are warm-up: models and triggers see them, the simulation begins at `start`. A series
    that ends (or has a gap) is marked at its last known price, so a position in it can be valued and sold;
    models see the gap in `snapshot.history` and stop targeting it. `flows` (date, quote amount) are external
    deposits (+) and withdrawals (-), each trading one way before its step's check (backtest.flows). With `tax`
    the fills are replayed into tax lots: realised gains and after-tax values land in `extra["tax"]`.
    """
    from trimtab.adapters.paper import PaperVenue
    from trimtab.backtest.flows import apply_flow, defer_for_flow, flows_by_step
    from trimtab.pipeline import Pipeline
    from trimtab.pipeline.tax import lots_from

    require_strategy_assets(strategy, history)
    if not 0 <= start < len(history) - 1:
        raise ConfigError(f"start row {start} leaves fewer than two rows to simulate", field="start")
    if strategy.allocation is not None:
        strategy.allocation.reset()
    marks = last_known(np.asarray(history.prices))
    qj = history.index_of(strategy.quote) if strategy.quote in history.assets else -1
    ledger = RunningLedger()
    first = to_datetime(history.times[start])
    if qj >= 0 and not np.isfinite(history.prices[start, qj]):
        raise ConfigError(f"the quote {strategy.quote} has no price at the first step {first:%Y-%m-%d}", field="start")
    ledger.append(
        deposit_entries(
            {
                strategy.quote: _initial_deposit(
                    history.between(history.times[start], None), strategy.quote, initial_value
                )
            },
            account=ACCOUNT,
            time=first,
            ref="initial",
        )
    )
    venue = PaperVenue(ledger.balances(ACCOUNT), strategy.costs)
    lots = lots_from(lambda: ledger.entries(ACCOUNT), strategy.quote, strategy.tax) if strategy.tax else None
    pipeline = Pipeline(strategy, venue, lots=lots)
    col = {a: j for j, a in enumerate(history.assets)}
    n, t_len = len(history.assets), len(history) - start
    flow_at = flows_by_step(flows, history.times[start:])
    when = {j: to_datetime(history.times[start + j]) for j in flow_at}
    out = {k: np.zeros(t_len) for k in ("equity", "turnover", "fee", "slippage", "gas", "te", "flows")}
    weights = np.zeros((t_len, n))
    rebalanced = np.zeros(t_len, dtype=bool)
    reasons: list[tuple[int, str]] = []
    schedule = Schedule()
    targets_arr = np.zeros(n)
    for k in range(t_len):
        i = start + k
        now = to_datetime(history.times[i])
        row = marks[i]  # values in the history's unit (USD), like the kernels
        snap = MarketSnapshot.from_history(history, i, now, strategy.quote, row=row)
        strat_now = pipeline.bound(snap)  # costs of the day: the same pipeline as live, then the paper venue
        pipeline.follow(snap, strat_now)
        unit = float(row[qj]) if qj >= 0 else 1.0
        traded = False
        if k in flow_at:  # on the first step the initial purchase invests it: no trades of its own
            booked, flowed, note = apply_flow(
                pipeline, venue, ledger, snap, strat_now, flow_at[k], account=ACCOUNT, trade=k > 0
            )
            out["flows"][k] = float(booked) * unit
            reasons.append((k, note))
            traded = _booked(out, k, flowed, snap, unit)
        holdings = ledger.balances(ACCOUNT)
        d = pipeline.decide(snap, holdings, schedule=schedule, initial=(k == 0), strategy=strat_now)
        if flow_at and k > 0:
            d = defer_for_flow(strat_now, d, snap, holdings, flow_at, when, k)
            reasons += [(k, d.reason)] if d.reason.startswith("cash_flow_first") else []
        try:
            result = pipeline.execute(d, snap, ledger, account=ACCOUNT, holdings=holdings, strategy=strat_now)
        except SafetyError as err:  # a guard blocked this step: nothing traded, as in the service
            result = CycleResult(d, None)
            reasons.append((k, f"{d.reason}; {err}"))
        schedule = schedule.advance(now)
        d = result.decision
        targets_arr = np.array([d.targets.get(a, 0.0) for a in history.assets])
        pre = np.array([d.weights.get(a, 0.0) for a in history.assets])
        out["te"][k] = 0.5 * float(np.abs(pre - targets_arr).sum())
        bal = ledger.balances(ACCOUNT)
        values, cash = _marked(bal, col, row, strategy.quote)
        total = float(values.sum()) + cash
        out["equity"][k] = total
        weights[k] = values / total if total > 0 else 0.0
        if _booked(out, k, result, snap, unit):
            reasons.append((k, d.reason))
            traded = True
        if traded:
            rebalanced[k] = True
            pre_value = total + out["fee"][k] + out["slippage"][k] + out["gas"][k]  # value falls by exactly the costs
            out["turnover"][k] /= pre_value or 1.0
        if progress:
            progress(k)
    extra: dict[str, Any] = {"flows": out["flows"]} if flow_at else {}
    if tax is not None:  # the ledger's fills into tax lots, as `trimtab tax-report` reads a live ledger
        entries = ledger.entries(ACCOUNT)
        extra["tax"] = tax_summary(entries, strategy.quote, snap.prices, now, float(out["equity"][-1]), unit, tax)
    extra |= {"allocation_notes": dict(strategy.allocation.notes())} if strategy.allocation is not None else {}
    return BacktestResult(
        strategy.name,
        history.times[start:],
        history.assets,
        targets_arr,
        out["equity"],
        rebalanced,
        out["turnover"],
        out["fee"],
        out["slippage"],
        out["gas"],
        out["te"],
        weights,
        tuple(reasons),
        "step",
        history.periods_per_year(),
        extra,
    )
