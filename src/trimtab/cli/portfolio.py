"""Portfolio commands: presets, init, validate, status, plan, execute, ledger, demo."""

from __future__ import annotations

import dataclasses
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from trimtab.cli.app import (
    DEFAULT_FORWARD_FILL,
    FillOpt,
    PortfolioOpt,
    PricesOpt,
    RulesOpt,
    StrategyArg,
    app,
    guarded,
    input_file,
    ledger_in,
    ledger_out,
    maybe_file,
    out,
    output_dir,
    output_file,
    positive,
)
from trimtab.errors import ConfigError, DataError

if TYPE_CHECKING:  # imported where used, so `trimtab --help` loads no config, pydantic or numpy
    from trimtab.core.base.history import PriceHistory
    from trimtab.core.base.snapshot import MarketSnapshot
    from trimtab.core.strategy import Decision, Strategy


def _portfolio_path(portfolio: str) -> Path:
    if portfolio == "example":
        from trimtab.adapters.bundled import bundled_path

        return bundled_path("example-portfolio.yaml")
    p = Path(portfolio)
    if not p.is_file():
        raise ConfigError("no such file (use a holdings file or 'example')", source=portfolio)
    return p


def _load_inputs(
    strategy: str, portfolio: str, prices: str | None, forward_fill: int | None = None
) -> tuple[Strategy, dict[str, Decimal], MarketSnapshot]:
    """Strategy, holdings and a validated snapshot; every check happens here, before anything is written."""
    from trimtab.adapters.files import load_holdings, load_latest_prices
    from trimtab.config import load_strategy
    from trimtab.core.base.snapshot import MarketSnapshot
    from trimtab.core.costs.parts import bind_market, market_bound

    strat = load_strategy(strategy)
    holdings = load_holdings(_portfolio_path(portfolio))
    if not any(holdings.values()):
        raise ConfigError("every quantity is 0: nothing to value or rebalance", source=portfolio, field="holdings")
    assets = sorted({*strat.targets, *holdings})
    history = _history_for(strat, prices, holdings, forward_fill)
    when, px = load_latest_prices(
        prices, assets, strat.quote, DEFAULT_FORWARD_FILL if forward_fill is None else forward_fill
    )
    if history is not None:  # a model may pick any universe asset priced at the last row
        last = MarketSnapshot.from_history(history, len(history) - 1, when, strat.quote).prices
        px = {**last, **px}
    snap = MarketSnapshot(time=when, prices=px, history=history)
    snap.require([a for a in assets if a != strat.quote], source=prices or "bundled prices")
    if market_bound(strat.costs):  # gas of the day, impact calibrated on past volumes
        strat = dataclasses.replace(strat, costs=bind_market(strat.costs, when, history))
    return strat, holdings, snap


def _require_priced(spec: Any, prices: str | None) -> None:
    """Every asset the strategy names (targets, universe) has a price in `prices` or the bundled data."""
    from trimtab.adapters.bundled import coverage
    from trimtab.adapters.files import is_latest_price_table, load_latest_prices
    from trimtab.adapters.pricefile import read_price_file

    named = [*(spec.targets or {}), *(spec.universe or [])]
    if not named:
        return
    if prices is None:
        have, where = set(coverage()), "the bundled data"
    elif is_latest_price_table(prices):
        have, where = set(load_latest_prices(prices, [], spec.quote)[1]), prices
    else:
        have, where = set(read_price_file(prices).history.assets), prices
    missing = [a for a in dict.fromkeys(named) if a not in have and a != spec.quote]
    if missing:
        field = "targets" if missing[0] in (spec.targets or {}) else "universe"
        hint = "; pass --prices with a file that has it" if prices is None else ""
        raise DataError(f"no price for {', '.join(missing)} in {where}{hint}", field=f"{field}.{missing[0]}")


def _history_for(
    strat: Strategy, prices: str | None, holdings: dict[str, Decimal], forward_fill: int | None = None
) -> PriceHistory | None:
    """Past prices for models and history-reading triggers (bundled data or a price-history file), else None."""
    from trimtab.adapters.files import is_latest_price_table

    if prices is not None and is_latest_price_table(prices):
        if strat.allocation is not None:
            raise DataError("an allocation model needs a price history, not a latest-prices table", source=prices)
        return None
    from trimtab.cli.backtest import load_history

    return load_history(
        strat, prices, None, None, forward_fill, extra=tuple(a for a in holdings if a != strat.quote), complete=False
    )


def _decide(
    strat: Strategy, holdings: dict[str, Decimal], snap: MarketSnapshot, rules: Path | None, force: bool
) -> Decision:
    from trimtab.adapters.files import load_rules
    from trimtab.engine import decide

    rules_for = load_rules(rules)
    return decide(strat, snap, holdings, rules=rules_for, initial=force)


@app.command()
def presets() -> None:
    """List the shipped strategy presets."""
    from trimtab.config import load_strategy_spec, preset_names

    for name in preset_names():
        spec = load_strategy_spec(name)
        out.print(f"[bold]{name:18}[/bold] {spec.description}")


@app.command()
@guarded
def init(
    name: Annotated[str, typer.Argument(help="Preset to copy.")],
    dest: Annotated[
        Path | None,
        typer.Option("--out", "-o", parser=output_file, help="Where to write it (default: NAME.yaml here)."),
    ] = None,
) -> None:
    """Write a preset to a file to edit (default: NAME.yaml)."""
    from trimtab.config import preset_names, preset_path

    if name not in preset_names():
        raise ConfigError(f"unknown preset (presets: {', '.join(preset_names())})", source=name)
    target = dest or Path(f"{name}.yaml")
    if target.exists():
        raise ConfigError("already exists; choose another --out", source=str(target))
    target.write_text(preset_path(name).read_text())
    out.print(f"wrote {target}")


@app.command()
@guarded
def validate(
    strategy: Annotated[str, typer.Argument(parser=maybe_file, help="Strategy file or preset name.")],
    prices: PricesOpt = None,
) -> None:
    """Check a strategy file and that every asset it names has prices; prints a summary or one error line (exit 2)."""
    from trimtab.config import load_strategy_spec

    spec = load_strategy_spec(strategy)
    _require_priced(spec, prices)
    weights = ", ".join(f"{a} {w:.2%}" for a, w in (spec.targets or {}).items())
    if spec.allocation is not None and spec.allocation.model != "static":
        weights = f"{spec.allocation.model} over {', '.join(spec.universe or ['the assets in the data'])}"
    out.print(f"ok: {spec.name}: {weights}; trigger {spec.trigger.kind}")


@app.command()
@guarded
def status(
    strategy: StrategyArg, portfolio: PortfolioOpt = "example", prices: PricesOpt = None, forward_fill: FillOpt = None
) -> None:
    """Drift of each asset against its target and its distance to the trigger."""
    from trimtab.cli.tables import drift_table
    from trimtab.core.base.portfolio import PortfolioState

    strat, holdings, snap = _load_inputs(strategy, portfolio, prices, forward_fill)
    state = PortfolioState.of(holdings, snap.prices, strat.quote)
    targets = strat.target_weights(snap, state)
    out.print(drift_table(state, strat, f"{strat.name} at {snap.time:%Y-%m-%d %H:%M} UTC", targets))


@app.command()
@guarded
def plan(
    strategy: StrategyArg,
    portfolio: PortfolioOpt = "example",
    prices: PricesOpt = None,
    rules: RulesOpt = None,
    forward_fill: FillOpt = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", parser=output_file, help="Write the plan as JSON here ('-' for stdout).")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Plan a full rebalance even if the trigger does not fire.")
    ] = False,
    routes: Annotated[
        bool, typer.Option("--routes", help="Also show each leg's route, split, slices and the dry run.")
    ] = False,
    venue: Annotated[
        str,
        typer.Option(
            "--venue",
            help="paper | uniswap | ccxt:<exchange>: plan on that venue's "
            "holdings and prices; --routes then shows the venue's own routes",
        ),
    ] = "paper",
    venue_url: Annotated[str | None, typer.Option("--venue-url", help="ccxt: send requests to this URL.")] = None,
    rpc: Annotated[str | None, typer.Option("--rpc", help="uniswap: JSON-RPC URL of the chain.")] = None,
    deployment: Annotated[
        Path | None, typer.Option("--deployment", parser=input_file, help="uniswap: deployment JSON file.")
    ] = None,
    key_file: Annotated[
        Path | None, typer.Option("--key-file", parser=input_file, help="uniswap: key file (the wallet to plan for).")
    ] = None,
) -> None:
    """The trades that bring the portfolio back within its band, with estimated costs."""
    from trimtab.cli.tables import drift_table, plan_table
    from trimtab.core.base.portfolio import PortfolioState
    from trimtab.documents import plan_document

    if venue != "paper":  # the decision `execute` would send on that venue, nothing sent
        from trimtab.cli.execute_flow import ExecuteArgs, run_plan

        if json_out is not None:
            raise ConfigError("--json is for paper plans; use execute to act on a live venue", field="--json")
        run_plan(
            ExecuteArgs(
                strategy,
                portfolio,
                prices,
                rules,
                venue,
                force=force,
                venue_url=venue_url,
                rpc=rpc,
                deployment=deployment,
                key_file=key_file,
                forward_fill=forward_fill,
            ),
            routes,
        )
        return

    strat, holdings, snap = _load_inputs(strategy, portfolio, prices, forward_fill)
    state = PortfolioState.of(holdings, snap.prices, strat.quote)
    decision = _decide(strat, holdings, snap, rules, force)
    from trimtab.adapters.files import load_rules

    doc = plan_document(decision.plan, strat, state, decision.reason, load_rules(rules))
    if json_out is not None and str(json_out) == "-":
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return
    out.print(drift_table(state, strat, f"{strat.name}: before", decision.targets))
    out.print(f"trigger: {'FIRED' if decision.trigger.fired else 'not fired'} - {decision.reason}")
    if decision.plan is not None:
        out.print(plan_table(decision.plan))
        for r in decision.plan.residual:
            if r.reason:
                out.print(f"[yellow]residual {r.asset} {r.drift * 100:+.2f}pp: {r.reason}[/yellow]")
    if routes:
        from trimtab.adapters.files import load_rules
        from trimtab.cli.execution import show_routes

        show_routes(decision.plan, strat, state, load_rules(rules))
    if json_out is not None:
        json_out.write_text(json.dumps(doc, indent=2))
        out.print(f"plan written to {json_out}")


def _open_ledger(path: Path) -> Any:
    from trimtab.adapters.storage import SqlLedgerStore

    return SqlLedgerStore(str(path))


@app.command()
@guarded
def execute(
    strategy: StrategyArg,
    portfolio: PortfolioOpt = "example",
    prices: PricesOpt = None,
    rules: RulesOpt = None,
    forward_fill: FillOpt = None,
    venue: Annotated[str, typer.Option("--venue", help="paper | uniswap | ccxt:<exchange>")] = "paper",
    venue_url: Annotated[
        str | None, typer.Option("--venue-url", help="ccxt: send requests to this URL (a local exchange server).")
    ] = None,
    ledger: Annotated[
        Path, typer.Option("--ledger", parser=ledger_out, help="SQLite ledger file (created on first use).")
    ] = Path("trimtab-ledger.sqlite"),
    account: Annotated[str | None, typer.Option("--account", help="Ledger account (default: portfolio name).")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Rebalance even if the trigger does not fire.")] = False,
    rpc: Annotated[str | None, typer.Option("--rpc", help="uniswap: JSON-RPC URL of the chain.")] = None,
    deployment: Annotated[
        Path | None, typer.Option("--deployment", parser=input_file, help="uniswap: deployment JSON file.")
    ] = None,
    key_file: Annotated[
        Path | None,
        typer.Option(
            "--key-file", parser=input_file, help="uniswap: private key file (default: $TRIMTAB_EVM_PRIVATE_KEY)."
        ),
    ] = None,
) -> None:
    """Plan, confirm, execute on the venue and record every fill in the ledger."""
    from trimtab.cli.execute_flow import ExecuteArgs, run_execute

    run_execute(
        ExecuteArgs(
            strategy,
            portfolio,
            prices,
            rules,
            venue,
            ledger,
            account,
            yes,
            force,
            venue_url,
            rpc,
            deployment,
            key_file,
            forward_fill,
        )
    )


@app.command("ledger")
@guarded
def ledger_cmd(
    ledger: Annotated[Path, typer.Option("--ledger", parser=ledger_in, help="SQLite ledger file.")] = Path(
        "trimtab-ledger.sqlite"
    ),
    account: Annotated[str | None, typer.Option("--account", help="Only this account (default: all).")] = None,
) -> None:
    """Ledger history and the balances derived from it."""
    from rich.table import Table

    from trimtab.core.base.ledger import balances_from

    if not ledger.exists():
        raise ConfigError("no such ledger file", source=str(ledger))
    store = _open_ledger(ledger)
    entries = store.entries(account)
    t = Table(title=f"Ledger {ledger}", title_justify="left")
    for col in ("time", "account", "kind", "asset", "amount", "price", "ref"):
        t.add_column(col)
    for e in entries:
        t.add_row(
            f"{e.time:%Y-%m-%d %H:%M}",
            e.account,
            e.kind,
            e.asset,
            f"{e.amount.normalize():f}",
            f"{e.price.normalize():f}" if e.price else "",
            e.ref,
        )
    out.print(t)
    for acct in sorted({e.account for e in entries}):
        bal = balances_from(e for e in entries if e.account == acct)  # from the entries already read
        out.print(
            f"[bold]{acct}[/bold] balances: " + ", ".join(f"{a} {q.normalize():f}" for a, q in sorted(bal.items()) if q)
        )


DEMO_BOUNDED_S = 20.0  # how long the demo serves when nobody can press Ctrl-C (stdin is not a terminal)


@app.command()
@guarded
def demo(
    out_dir: Annotated[
        Path, typer.Option("--out", parser=output_dir, help="Where the ledger, the report and the service database go.")
    ] = Path("out"),
    duration: Annotated[
        float | None,
        typer.Option(
            "--duration",
            parser=positive,
            help="Stop the service after this many seconds (default: at Ctrl-C; "
            f"{DEMO_BOUNDED_S:g} s when stdin is not a terminal).",
        ),
    ] = None,
    port: Annotated[
        int,
        typer.Option(min=0, max=65535, help="Dashboard port (0: any free one; a busy one falls back to a free one)."),
    ] = 8700,
    intro: Annotated[
        bool, typer.Option("--intro/--no-intro", help="Start with a paper rebalance and a backtest comparison.")
    ] = True,
) -> None:
    """The full demo: rebalance the example portfolio on paper, compare index-fund variants on real data, then run the
    service with its dashboard: paper portfolios replaying the bundled real prices at one simulated day per second."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if intro:
        from trimtab.cli.backtest import compare_cmd

        ledger = out_dir / "demo-ledger.sqlite"
        ledger.unlink(missing_ok=True)
        out.rule("1. Rebalance the bundled example portfolio (index-fund preset, paper venue)")
        from trimtab.cli.execute_flow import ExecuteArgs, run_execute

        run_execute(ExecuteArgs("index-fund", ledger=ledger, account="example", yes=True))
        out.rule("2. Would rebalancing have helped? index-fund on real daily data, net of costs")
        compare_cmd(
            "index-fund",
            prices=None,
            start="2020-04-11",
            end=None,
            json_out=out_dir / "compare.json",
            report=out_dir / "index-fund-report.html",
            forward_fill=None,
        )
        out.rule("3. The service and its dashboard: paper portfolios on replayed real prices, one day per second")
    if duration is None and not sys.stdin.isatty():
        duration = DEMO_BOUNDED_S
        out.print(f"stdin is not a terminal: the service stops by itself after {duration:g} s (--duration to change)")
    _demo_service(out_dir, duration, port)


def _free_port(host: str, preferred: int) -> int:
    """`preferred` if it can be bound on `host`, else (or when 0) a free port chosen by the OS."""
    import socket

    for candidate in ([preferred] if preferred else []) + [0]:
        with socket.socket() as sock:
            try:
                sock.bind((host, candidate))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise ConfigError("no free port to serve the dashboard", field="port")


def _demo_service(out_dir: Path, duration: float | None, port: int) -> None:
    """Serve src/trimtab/service/demo.yaml on a fresh SQLite file until Ctrl-C/SIGTERM or `duration` seconds."""
    import secrets
    import signal
    import threading
    import time

    import uvicorn
    from pydantic import SecretStr

    from trimtab.config import read_yaml
    from trimtab.service.api import create_app
    from trimtab.service.bootstrap import build_services
    from trimtab.service.dashboard import STATIC_DIR
    from trimtab.service.runner import Runner
    from trimtab.service.settings import Tokens, parse_settings

    config = STATIC_DIR.parent / "demo.yaml"
    db = (out_dir / "demo-service.db").resolve()
    for stale in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        stale.unlink(missing_ok=True)
    settings = parse_settings({**read_yaml(config), "database_url": str(db)}, str(config), config.parent)
    admin, read = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    services = build_services(settings, Tokens(read=SecretStr(read), admin=SecretStr(admin)))
    host = settings.api.host
    bound = _free_port(host, port)
    server = uvicorn.Server(
        uvicorn.Config(create_app(services), host=host, port=bound, log_level="warning", access_log=False)
    )
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    runner = Runner(services).start_thread()
    web = threading.Thread(target=server.run, name="trimtab-demo-api", daemon=True)
    web.start()
    try:
        deadline = time.monotonic() + 15
        while not server.started:
            if time.monotonic() > deadline or not web.is_alive():
                raise ConfigError(f"the dashboard could not start on {host}:{bound}", field="port")
            time.sleep(0.02)
        md = settings.market_data
        out.print(
            f"{len(services.runtimes)} paper portfolios ({', '.join(sorted(services.runtimes))}) replay real daily "
            f"prices from {md.start} at {md.speed / 86_400:g} simulated day(s) per second; database {db}"
        )
        if bound != port and port:
            out.print(f"port {port} is busy: serving on {bound}")
        typer.echo(f"dashboard: http://{host}:{bound}/#token={admin}")  # one unwrapped line to click or copy
        typer.echo(f"tokens: admin {admin} (controls), read-only {read}")
        out.print("stops at Ctrl-C" if duration is None else f"stops after {duration:g} s")
        sys.stdout.flush()
        end = None if duration is None else time.monotonic() + duration
        while not stop.wait(0.2):
            if end is not None and time.monotonic() >= end:
                break
    finally:
        server.should_exit = True
        web.join(10)
        services.stop.set()
        services.wake.set()
        runner.join(30)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for name in sorted(services.runtimes):
            checks = services.store.count_decisions(name)
            traded = len(services.store.decisions(name, limit=100_000, traded_only=True))
            row = services.store.portfolio(name)
            last = f", last check {row.last_check_at:%Y-%m-%d}" if row and row.last_check_at else ""
            out.print(f"{name}: {checks} checks, {traded} rebalances{last}")
        services.close()
    out.print("demo service stopped")
