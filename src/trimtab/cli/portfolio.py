"""Portfolio commands: presets, init, validate, status, plan, execute, ledger."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from trimtab.cli.app import (
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
    output_file,
)
from trimtab.errors import ConfigError

if TYPE_CHECKING:  # imported where used, so `trimtab --help` loads no config, pydantic or numpy
    pass
from trimtab.cli.inputs import decide_on, load_inputs, require_priced


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
    from trimtab.config.sleeves import sleeves_summary

    spec = load_strategy_spec(strategy)
    require_priced(spec, prices)
    weights = ", ".join(f"{a} {w:.2%}" for a, w in (spec.targets or {}).items())
    if spec.allocation is not None and spec.allocation.model != "static":
        weights = f"{spec.allocation.model} over {', '.join(spec.universe or ['the assets in the data'])}"
    if spec.sleeves is not None:  # config.sleeves: each sleeve's weight, targets and trigger; then the split's
        weights = sleeves_summary(spec.sleeves)
    out.print(f"ok: {spec.name}: {weights}; trigger {spec.trigger.kind}")


@app.command()
@guarded
def status(
    strategy: StrategyArg, portfolio: PortfolioOpt = "example", prices: PricesOpt = None, forward_fill: FillOpt = None
) -> None:
    """Drift of each asset against its target and its distance to the trigger."""
    from trimtab.cli.tables import drift_table
    from trimtab.core.base.portfolio import PortfolioState

    strat, holdings, snap = load_inputs(strategy, portfolio, prices, forward_fill)
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

    strat, holdings, snap = load_inputs(strategy, portfolio, prices, forward_fill)
    state = PortfolioState.of(holdings, snap.prices, strat.quote)
    decision = decide_on(strat, holdings, snap, rules, force)
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
