"""`replay`: the real service (scheduler, cycles, journal, database, paper venue, alerts) on a simulated clock.

The clock jumps to the earliest `next_check_at` instead of sleeping, so a service configuration runs over years of
history as fast as the cycles compute. Results are read back from the database the service wrote.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import SecretStr

from trimtab.core.base.history import PriceHistory
from trimtab.core.strategy import Strategy
from trimtab.errors import ConfigError
from trimtab.service.marketdata import MarketData, ReplaySource
from trimtab.service.settings import PortfolioSpec, ServiceSettings, Tokens

if TYPE_CHECKING:
    from trimtab.service.bootstrap import Services

DEPOSIT_PLACES = Decimal("1e-12")  # the opening deposit in quote units, within the ledger's 18 places


@dataclass
class SimulatedClock:
    """Service time that moves only when told to (`advance_to`); waiting for it takes no real time."""

    t: datetime

    def now(self) -> datetime:
        return self.t

    def wall_seconds_until(self, t: datetime) -> float:
        return 0.0

    def advance_to(self, t: datetime) -> None:
        """Move forward to `t` (never backwards)."""
        if t > self.t:
            self.t = t


@dataclass(frozen=True)
class PortfolioReplay:
    """What one portfolio did over the replay, read from the service's database."""

    name: str
    strategy: str
    rebalance_times: tuple[datetime, ...]
    reasons: tuple[dict[str, Any], ...]
    n_checks: int
    final_value: float  # in the price history's unit (USD for the bundled data), like `trimtab backtest`
    total_costs: float  # fee + slippage + gas, same unit
    final_holdings: dict[str, Decimal]
    alerts: dict[str, int]

    @property
    def n_rebalances(self) -> int:
        return len(self.rebalance_times)

    def doc(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "rebalance_times": [t.isoformat() for t in self.rebalance_times],
            "n_rebalances": self.n_rebalances,
            "n_checks": self.n_checks,
            "final_value": self.final_value,
            "total_costs": self.total_costs,
            "final_holdings": {a: str(q) for a, q in self.final_holdings.items()},
            "alerts": self.alerts,
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True)
class ReplayResult:
    start: datetime
    end: datetime
    cycles: int
    database: str
    portfolios: dict[str, PortfolioReplay] = field(default_factory=dict)

    def doc(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "cycles": self.cycles,
            "database": self.database,
            "portfolios": {n: p.doc() for n, p in self.portfolios.items()},
        }


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _stamp(t: datetime) -> np.datetime64:
    return np.datetime64(_utc(t).replace(tzinfo=None), "us")


def first_row(history: PriceHistory, start: datetime) -> int:
    """The first row at or after `start` that is not warm-up."""
    i = int(np.searchsorted(history.times.astype("datetime64[us]"), _stamp(start), side="left"))
    return max(i, history.warmup)


def _time_of(history: PriceHistory, i: int) -> datetime:
    return datetime.fromtimestamp(int(history.times[i].astype("datetime64[s]").astype(np.int64)), tz=UTC)


def opening_deposit(history: PriceHistory, quote: str, value: float, start_row: int) -> Decimal:
    """`value` (the history's unit, USD) in quote units at the first row: what `trimtab backtest` deposits."""
    amount = Decimal(repr(value))
    if quote in history.assets:
        amount = amount / Decimal(repr(float(history.prices[start_row, history.index_of(quote)])))
    return amount.quantize(DEPOSIT_PLACES)


def replay_settings(
    settings: ServiceSettings, db_url: str, opening: Mapping[str, Mapping[str, Decimal]]
) -> ServiceSettings:
    """The configuration as replayed: every portfolio on an in-memory paper venue opened with `opening`, alerts
    kept in the database only."""
    ports: list[PortfolioSpec] = []
    for p in settings.portfolios:
        holdings = p.holdings if p.holdings is not None else opening[p.name]
        ports.append(
            p.model_copy(
                update={
                    "venue": "paper",
                    "url": None,
                    "credentials": None,
                    "paper_state": None,
                    "rpc": None,
                    "deployment": None,
                    "key_file": None,
                    "dex": None,
                    "paper_latency_ms": 0.0,
                    "holdings": dict(holdings),
                }
            )
        )
    quiet = settings.alerts.model_copy(update={"apprise": [], "webhook": None})  # a dry run notifies no one
    return settings.model_copy(update={"database_url": SecretStr(db_url), "portfolios": ports, "alerts": quiet})


def replay(
    settings: ServiceSettings,
    histories: Mapping[str, PriceHistory],
    start: datetime,
    end: datetime,
    *,
    db_path: str | Path | None = None,
    progress: Callable[[datetime], None] | None = None,
    restarts: Sequence[datetime] = (),
) -> ReplayResult:
    """Run the service's scheduler from `start` to `end` (inclusive) over `histories` (one per portfolio name).

    The database is a new SQLite file (`db_path`, else a temporary one deleted afterwards). At each of `restarts`
    the services are closed and built again from that database, as a restarted process would be (the new process
    runs the checks due at or after the restart time)."""
    from trimtab.service.bootstrap import _strategy_spec, build_services

    start, end = _utc(start), _utc(end)
    if end < start:
        raise ConfigError(f"--to {end:%Y-%m-%d} is before --from {start:%Y-%m-%d}", field="to")
    rows: dict[str, int] = {}
    opening: dict[str, dict[str, Decimal]] = {}
    for p in settings.portfolios:
        h = histories[p.name]
        i = first_row(h, start)
        if i >= len(h) or _time_of(h, i) > end:
            raise ConfigError(f"no prices between {start:%Y-%m-%d} and {end:%Y-%m-%d}", field=f"portfolios.{p.name}")
        rows[p.name] = i
        base = _strategy_spec(settings, p)
        value = p.initial_value if p.initial_value is not None else base.initial_value
        opening[p.name] = {base.quote: opening_deposit(h, base.quote, float(value), i)}
    t0 = min(_time_of(histories[n], i) for n, i in rows.items())
    tmp = None
    if db_path is None:
        tmp = tempfile.TemporaryDirectory(prefix="trimtab-replay-")
        db_path = Path(tmp.name) / "replay.db"
    db_path = Path(db_path)
    if db_path.exists():
        raise ConfigError(f"{db_path} exists: replay writes a new database", field="db")
    clock = SimulatedClock(t0)
    markets: dict[str, MarketData] = {n: ReplaySource(h, clock) for n, h in histories.items()}
    cfg = replay_settings(settings, f"sqlite:///{db_path.resolve()}", opening)

    def build() -> Services:
        services = build_services(cfg, Tokens(), markets=markets, clock=clock)
        _no_fsync(services.ledger.engine)
        return services

    services = build()
    cycles = 0
    try:
        for name, i in rows.items():  # a portfolio whose prices start later is first checked at its first row
            first = _time_of(histories[name], i)
            if first > t0 and services.store.claim(name, services.worker_id, lease=timedelta(minutes=1)):
                services.store.release(name, services.worker_id, next_check_at=first)
        for stop in [*sorted(_utc(r) for r in restarts if start < _utc(r) <= end), None]:
            cycles += _run_until(services, clock, end if stop is None else stop - timedelta(microseconds=1), progress)
            if stop is not None:  # a restart: a new process on the same database and clock
                services.close()
                clock.advance_to(stop)
                services = build()
        result = ReplayResult(
            t0,
            end,
            cycles,
            str(db_path),
            {p.name: _portfolio_result(services, p.name, histories[p.name], end) for p in cfg.portfolios},
        )
    finally:
        services.close()
        if tmp is not None:
            tmp.cleanup()
    return result


def _run_until(
    services: Services, clock: SimulatedClock, until: datetime, progress: Callable[[datetime], None] | None
) -> int:
    """Start-up reconciliation, then cycles with the clock jumping to the next due check, up to `until`."""
    from trimtab.service.runner import Runner

    runner = Runner(services)
    runner.startup()
    while True:
        runner.run_once()  # what is due now (a new portfolio has no next check yet: due at once)
        if progress is not None:
            progress(clock.now())
        nxt = services.store.next_due(runner.names)
        if nxt is None or _utc(nxt) > until:
            return runner.cycles
        clock.advance_to(_utc(nxt))


def _no_fsync(engine: Any) -> None:
    """A replay database is a scratch file: commits skip the fsync (WAL with synchronous=NORMAL stays consistent)."""
    from sqlalchemy import event

    event.listen(engine, "connect", lambda conn, _record: conn.execute("PRAGMA synchronous=NORMAL"))
    engine.dispose()  # pooled connections reopen with the pragma


def _portfolio_result(services: Any, name: str, history: PriceHistory, end: datetime) -> PortfolioReplay:
    from trimtab.backtest.simulator import last_known

    rt = services.runtimes[name]
    store = services.store
    decisions = store.decisions(name, limit=10**9, newest_first=False)
    marks = last_known(np.asarray(history.prices))
    times = history.times.astype("datetime64[us]")
    col = {a: j for j, a in enumerate(history.assets)}
    quote = rt.strategy.quote

    def usd(asset: str, i: int) -> float:  # one unit of `asset` in the history's unit at row i
        if asset in col:
            p = float(marks[i, col[asset]])
            return p if np.isfinite(p) else 0.0
        return 1.0 if asset == quote else 0.0

    def row(t: datetime) -> int:
        return max(int(np.searchsorted(times, _stamp(t), side="right")) - 1, 0)

    traded, reasons, costs = [], [], 0.0
    for d in decisions:
        t = _utc(d["time"])
        if d["traded"]:
            traded.append(t)
            rep = d["report"] or {}
            i = row(t)
            costs += sum(
                (float(f["fee"]) + float(f["slippage"]) + float(f["gas"])) * usd(f["quote"], i)
                for f in rep.get("fills", [])
            )
        if d["fired"] or d["traded"]:
            reasons.append(
                {
                    "time": t.isoformat(),
                    "kind": d["kind"],
                    "status": d["status"],
                    "traded": d["traded"],
                    "reason": d["reason"],
                }
            )
    holdings = {a: q for a, q in store.balances(rt.account).items() if q}
    value = sum(float(q) * usd(a, row(end)) for a, q in holdings.items())  # a paused portfolio still holds
    alerts: dict[str, int] = {}
    for a in store.alerts(name, limit=10**6):  # stored as in live service, delivered nowhere
        alerts[a["kind"]] = alerts.get(a["kind"], 0) + 1
    return PortfolioReplay(
        name, rt.base.name, tuple(traded), tuple(reasons), len(decisions), value, costs, holdings, alerts
    )


__all__ = ["PortfolioReplay", "ReplayResult", "SimulatedClock", "first_row", "replay"]


def portfolio_strategies(settings: ServiceSettings) -> dict[str, Strategy]:
    """Each portfolio's strategy as the service builds it (file next to service.yaml, or a preset)."""
    from trimtab.service.bootstrap import _strategy_spec

    out = {}
    for p in settings.portfolios:
        spec = _strategy_spec(settings, p)
        if spec.yield_ is not None:
            raise ConfigError(
                "trimtab replay replays price histories: a yield strategy's rates replay in trimtab serve "
                "(market_data.source: replay) and trimtab backtest --rates",
                source=p.strategy,
                field="yield",
            )
        out[p.name] = spec.build()
    return out
