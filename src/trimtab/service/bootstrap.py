"""The composition root: settings -> ledger, service store, clock, market data, venues, notifier (`Services`)."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal
from functools import partial
from typing import Any

from trimtab.adapters.storage import SqlLedgerStore
from trimtab.adapters.storage.price_store import EquityMarks
from trimtab.adapters.storage.service_store import ServiceStore
from trimtab.config import StrategySpec, load_strategy_spec, parse_strategy
from trimtab.core.base.ports import Closable, Fundable
from trimtab.core.strategy import Strategy
from trimtab.errors import ConfigError, LedgerError
from trimtab.pipeline import EquityLog, refuse_unsupported
from trimtab.pipeline.checks import venue_kind
from trimtab.pipeline.journal import TrackedVenue
from trimtab.pipeline.references import ReferencePrices, open_reference, pool_price
from trimtab.pipeline.tracked import CcxtTracked, DexTracked
from trimtab.service.alerts import Notifier
from trimtab.service.history import make_history_source
from trimtab.service.marketdata import AcceleratedClock, Clock, MarketData, ReplaySource, VenueSource, WallClock
from trimtab.service.settings import NettingSpec, PortfolioSpec, ServiceSettings, Tokens
from trimtab.service.venues import make_tracked_venue
from trimtab.service.yield_feed import YieldFeed, YieldMarket, refuse_yield, yield_feed


@dataclass
class PortfolioRuntime:
    """A portfolio as the service runs it: config, current strategy (targets version applied), venue, data."""

    spec: PortfolioSpec
    base: StrategySpec
    strategy: Strategy
    targets_version: int
    venue: TrackedVenue | None  # None: ephemeral paper venue mirroring the ledger
    market: MarketData
    reference: ReferencePrices | None = None  # the second price source of `guards.price_tolerance`
    lock: threading.Lock = field(default_factory=threading.Lock)
    equity_tail: list[float] | None = None  # recent recorded values, valid for the decision at `equity_at`
    equity_at: datetime | None = None
    yields: YieldFeed | None = None  # a yield portfolio's rates, gas and positions (service/yield_cycle.py)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def account(self) -> str:
        return self.spec.account_name

    def with_targets(self, version: int, targets: dict[str, float]) -> None:
        """Rebuild the strategy from the base spec with a new targets version (validated like a strategy file)."""
        if version != self.targets_version:
            self.strategy = strategy_with_targets(self.base, targets, self.name)
            self.targets_version = version


@dataclass
class Services:
    settings: ServiceSettings
    ledger: SqlLedgerStore
    store: ServiceStore
    clock: Clock
    notifier: Notifier
    runtimes: dict[str, PortfolioRuntime]
    tokens: Tokens
    worker_id: str
    stop: threading.Event = field(default_factory=threading.Event)
    wake: threading.Event = field(default_factory=threading.Event)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    cache: dict[str, tuple[float, dict[str, Any]]] = field(default_factory=dict)
    equity: EquityLog | None = None  # stored pre-trade equity marks (models' drawdown protection)

    def runtime(self, name: str) -> PortfolioRuntime | None:
        return self.runtimes.get(name)

    def cached(self, key: str, build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """A read model rebuilt at most every `api.cache_seconds` (cleared by controls and finished cycles)."""
        ttl = self.settings.api.cache_seconds
        hit = self.cache.get(key)
        now = time.monotonic()
        if hit is not None and now - hit[0] < ttl:
            return hit[1]
        doc = build()
        self.cache[key] = (now, doc)
        return doc

    def invalidate(self, name: str) -> None:
        for key in [k for k in self.cache if k.endswith(f"/{name}")]:
            self.cache.pop(key, None)

    def close(self) -> None:
        self.notifier.close()
        self.store.close()
        for rt in self.runtimes.values():
            if isinstance(rt.venue, Closable):
                rt.venue.close()
        self.ledger.close()


def strategy_with_targets(base: StrategySpec, targets: dict[str, float], source: str) -> Strategy:
    """The base strategy with other targets, re-validated (sum to 1, constraints); ConfigError naming the field."""
    data = base.model_dump(mode="json")
    data["targets"] = targets
    return parse_strategy(data, source).build()


def _strategy_spec(settings: ServiceSettings, spec: PortfolioSpec) -> StrategySpec:
    path = settings.path(spec.strategy)
    return load_strategy_spec(path if path.is_file() else spec.strategy)


def _clock(settings: ServiceSettings, store: ServiceStore) -> Clock:
    md = settings.market_data
    if md.source != "replay":
        return WallClock()
    start = datetime.combine(md.start, dtime(), tzinfo=UTC)
    stored = json.loads(
        store.meta_setdefault("replay_clock", json.dumps({"sim_origin": start.isoformat(), "wall_origin": time.time()}))
    )
    return AcceleratedClock(datetime.fromisoformat(stored["sim_origin"]), float(stored["wall_origin"]), md.speed)


MODEL_WARMUP_DAYS = 400  # rows before the start that allocation models estimate from (as `trimtab backtest`)


def _replay(settings: ServiceSettings, specs: list[StrategySpec], clock: Clock) -> ReplaySource:
    from trimtab.adapters.bundled import bundled_daily, coverage

    known = coverage()
    built = [s.build() for s in specs]  # the universe, not only static targets: models choose among it
    assets = sorted(
        known
        if any(b.universe_from_data for b in built)
        else {a for b in built for a in b.universe if a != b.quote or a in known}
    )
    missing = [a for a in assets if a not in known]
    if missing:
        raise ConfigError(f"no bundled prices for {', '.join(missing)}", field="market_data.source")
    warmup = timedelta(days=MODEL_WARMUP_DAYS if any(b.allocation is not None for b in built) else 0)
    history = bundled_daily(assets, start=str(settings.market_data.start - warmup), require_complete=False)
    return ReplaySource(history, clock)


def build_services(
    settings: ServiceSettings,
    tokens: Tokens,
    *,
    worker_id: str | None = None,
    markets: Mapping[str, MarketData] | None = None,
    clock: Clock | None = None,
) -> Services:
    """Open (create, migrate) the database, register portfolios and open their accounts once.

    `markets` (per portfolio name) and `clock` replace the configured ones (`trimtab replay`'s simulated clock)."""
    ledger = SqlLedgerStore(settings.db_url)
    store = ServiceStore(ledger.engine)
    clock = clock or _clock(settings, store)
    store.now = clock.now  # alerts, audit entries and controls carry service time (simulated when replaying)
    specs: dict[str, StrategySpec] = {}  # a strategy file is read and validated once, however many use it
    bases = [
        specs.get(p.strategy) or specs.setdefault(p.strategy, _strategy_spec(settings, p)) for p in settings.portfolios
    ]
    for spec, base in zip(settings.portfolios, bases, strict=True):
        refuse_yield(spec, base)
    priced = [b for b in bases if b.yield_ is None]  # yield portfolios are priced by their rates feed
    replay = (
        _replay(settings, priced, clock)
        if markets is None and settings.market_data.source == "replay" and priced
        else None
    )
    runtimes: dict[str, PortfolioRuntime] = {}
    known_accounts = set(ledger.accounts())
    built = [base.build() for base in bases]
    store.ensure_portfolios({p.name: dict(s.targets) for p, s in zip(settings.portfolios, built, strict=True)})
    current = store.current_targets([p.name for p in settings.portfolios])
    for spec, base, strategy in zip(settings.portfolios, bases, built, strict=True):
        version, targets = current[spec.name]
        strategy = strategy_with_targets(base, targets, spec.name) if version > 1 else strategy
        refuse_unsupported(strategy, "serve", venue_kind(spec.venue))
        venue = make_tracked_venue(settings, spec, strategy.costs, strategy, base)
        feed = yield_feed(settings, spec, base, venue, clock) if base.yield_ is not None else None
        if feed is not None:
            market: MarketData = YieldMarket(feed)
        elif markets is not None:
            market = markets[spec.name]
        elif replay is not None:
            market = replay
        elif isinstance(venue, CcxtTracked):
            market = make_history_source(settings, [strategy], venue, clock, ledger.engine)
        elif isinstance(venue, DexTracked):
            market = VenueSource(pool_price(venue), clock)
        else:
            raise ConfigError(
                "market_data.source 'venue' needs a ccxt or uniswap venue", field=f"portfolios.{spec.name}.venue"
            )
        if spec.account_name not in known_accounts:
            shared = settings.group_of(spec.name) is not None
            if shared:
                _check_group_opening(settings, spec.name, venue, known_accounts)
            opening = partial(_open_account, ledger, spec, base, venue, clock, shared=shared)
            _open_once(ledger, spec.account_name, opening)
        guards = strategy.execution.guards
        reference = open_reference(guards.reference if guards else None, venue=venue, base_dir=str(settings.base_dir))
        runtimes[spec.name] = PortfolioRuntime(spec, base, strategy, version, venue, market, reference, yields=feed)
    for i, group in enumerate(settings.netting):
        _open_group(ledger, group, [runtimes[n] for n in group.portfolios], clock, i)
    # SQLite serves one process, which may reclaim its own leases at once after a crash; PostgreSQL workers differ
    default = "main" if ledger.engine.dialect.name == "sqlite" else f"{socket.gethostname()}-{os.getpid()}"
    wid = worker_id or settings.worker_id or default
    return Services(
        settings,
        ledger,
        store,
        clock,
        Notifier(store, settings.alerts),
        runtimes,
        tokens,
        wid[:64],
        equity=EquityMarks(ledger.engine),
    )


def _check_group_opening(settings: ServiceSettings, name: str, venue: TrackedVenue | None, known: set[str]) -> None:
    """Before a netting group's first accounts open: the members' holdings must add up to the shared account's."""
    group = settings.group_of(name)
    if group is None or venue is None:
        return
    specs = [p for p in settings.portfolios if p.name in group.portfolios]
    if any(p.account_name in known for p in specs):
        return  # the group opened before: the cycle's shared balance check compares ledgers and venue
    total: dict[str, Decimal] = {}
    for p in specs:
        for a, q in (p.holdings or {}).items():
            total[a] = total.get(a, Decimal(0)) + q
    have = venue.balances()
    diff = [
        f"{a} {total.get(a, Decimal(0)).normalize():f} vs {have.get(a, Decimal(0)).normalize():f}"
        for a in sorted({*total, *have})
        if total.get(a, Decimal(0)) != have.get(a, Decimal(0))
    ]
    if diff:
        raise ConfigError(
            f"the members' holdings differ from the shared account's balances: {'; '.join(diff)}",
            field=f"netting.{settings.netting.index(group)}.portfolios",
        )


def _open_group(
    ledger: SqlLedgerStore, group: NettingSpec, members: list[PortfolioRuntime], clock: Clock, index: int
) -> None:
    """The group's journal account (no holdings of its own); every member on one quote and sent unsliced."""
    quotes = {rt.strategy.quote for rt in members}
    if len(quotes) > 1:
        raise ConfigError(f"members quote in {', '.join(sorted(quotes))}: use one quote", field=f"netting.{index}")
    for rt in members:
        if rt.strategy.execution.twap is not None:
            raise ConfigError(
                f"{rt.name}'s strategy slices orders (execution.twap); a netted order is sent whole",
                field=f"netting.{index}.portfolios",
            )
    if not ledger.has_account(group.account):
        _open_once(ledger, group.account, lambda: ledger.open_account(group.account, {}, time=clock.now()))


def _open_once(ledger: SqlLedgerStore, account: str, open_it: Callable[[], None]) -> None:
    try:
        open_it()
    except LedgerError:  # another worker opened it first
        if not ledger.has_account(account):
            raise


def _open_account(
    ledger: SqlLedgerStore,
    spec: PortfolioSpec,
    base: StrategySpec,
    venue: TrackedVenue | None,
    clock: Clock,
    *,
    shared: bool = False,
) -> None:
    """Opening balances: the venue's for ccxt and the chain; configured holdings or initial value (in the quote) for
    paper, and for a netting group's member (its share of the shared account)."""
    if venue is not None and not isinstance(venue, Fundable) and not shared:
        holdings = venue.balances()
    else:
        value = spec.initial_value if spec.initial_value is not None else base.initial_value
        holdings = dict(spec.holdings) if spec.holdings is not None else {base.quote: Decimal(repr(value))}
        if isinstance(venue, Fundable):
            venue.fund(holdings)  # the durable paper exchange keeps its own copy, funded once
    ledger.open_account(spec.account_name, holdings, time=clock.now())
