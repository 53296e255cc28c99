"""On-chain commands: `trimtab chain demo`, `trimtab chain deploy`, and `execute --venue uniswap`."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from trimtab.cli.app import app, guarded, out, output_file
from trimtab.errors import ConfigError, DataError, VenueMisconfigured

if TYPE_CHECKING:
    from trimtab.adapters.dex import DexVenue
    from trimtab.core.base.ports import ExecutionReport
    from trimtab.core.strategy import Strategy

chain_app = typer.Typer(no_args_is_help=True, help="A local EVM chain with real Uniswap contracts (anvil).")
app.add_typer(chain_app, name="chain")

DEMO_TARGETS = {"BTC": 0.25, "ETH": 0.25, "LINK": 0.25, "USDC": 0.25}


def _price_file() -> Path:
    import trimtab

    path = Path(trimtab.__file__).resolve().parent / "data" / "daily_prices_usd.csv.gz"
    if not path.is_file():
        raise DataError("bundled prices missing from the package", source=str(path))
    return path


def _weights(venue: DexVenue, quote: str, assets: list[str]) -> dict[str, Decimal]:
    mids = venue.mid_prices(assets, quote)
    held = venue.balances()
    values = {a: held.get(a, Decimal(0)) * mids[a] for a in assets}
    total = sum(values.values(), Decimal(0))
    return {a: v / total for a, v in values.items()} if total else dict.fromkeys(assets, Decimal(0))


def _weights_table(
    title: str, before: dict[str, Decimal], after: dict[str, Decimal] | None, targets: dict[str, float]
) -> Table:
    t = Table(title=title, title_justify="left")
    for col in ("asset", "target", "before", *(["after"] if after else [])):
        t.add_column(col, justify="right")
    for a, w in targets.items():
        row = [a, f"{w:.2%}", f"{before[a]:.2%}"] + ([f"{after[a]:.2%}"] if after else [])
        t.add_row(*row)
    return t


def print_execution(venue: DexVenue, report: ExecutionReport) -> None:
    """Quotes, the batch (min outputs, what arrived), gas estimated and realised, failures."""
    details = venue.last_execution
    if details is None:
        for f in report.failures:
            out.print(f"[red]not sent[/red] {f.order.side.value} {f.order.quantity} {f.order.asset}: {f.reason}")
        return
    t = Table(title="Batch: quotes, guards and fills", title_justify="left")
    for col in ("#", "route", "in", "quoted out", "simulated", "min out", "filled qty", "avg price", "LP fee"):
        t.add_column(col, justify="right" if col != "route" else "left")
    fills = {f.order_id.rsplit(":", 1)[-1]: f for f in report.fills}
    for leg in details.legs:
        tin, tout = leg.token_in, leg.token_out
        fill = fills.get(str(leg.index))
        scale_out = Decimal(10) ** tout.decimals
        guard = details.guards.get(leg.index)
        t.add_row(
            str(leg.index),
            leg.route.label(),
            f"{Decimal(leg.amount_in) / Decimal(10) ** tin.decimals:,.6f} {tin.symbol}",
            f"{Decimal(leg.expected_out) / scale_out:,.6f}",
            f"{Decimal(details.simulated.get(leg.index, 0)) / scale_out:,.6f}",
            f"{Decimal(guard) / scale_out:,.6f}" if guard is not None and leg.route.kind == "v2" else "-",
            f"{fill.quantity:,.8f} {fill.asset}" if fill else "[red]failed[/red]",
            f"{fill.price:,.4f}" if fill else "-",
            f"{fill.fee:,.4f}" if fill else "-",
        )
    out.print(t)
    out.print(
        "routes taken: " + "; ".join(f"leg {leg.index + 1} via {leg.route.label()}" for leg in details.legs),
        soft_wrap=True,
    )
    for tx in details.txs:
        out.print(
            f"tx {tx.kind} {tx.tx_hash[:18]}…: status {tx.status}, gas used {tx.gas_used:,} at "
            f"{tx.effective_gas_price / 1e9:.3f} gwei = {tx.gas_cost_quote:.4f} {details.legs[0].quote.symbol}"
        )
    if details.gas is not None:
        out.print(details.gas.note())
    out.print(
        f"realised gas: {details.gas_used:,} in {len(details.txs)} transaction(s), cost "
        f"{details.gas_cost_quote:.4f} {details.legs[0].quote.symbol} (ETH at {details.native_price:,.2f})"
    )
    for f in report.failures:
        out.print(f"[red]failed[/red] {f.order.side.value} {f.order.quantity} {f.order.asset}: {f.reason}")


def _demo_strategy() -> Strategy:
    from trimtab.core.costs.model import linear_costs
    from trimtab.core.execution.planner import PlanSettings
    from trimtab.core.strategy import Strategy
    from trimtab.core.triggers.rules import ThresholdBand

    return Strategy(
        "chain-demo",
        "USDC",
        DEMO_TARGETS,
        ThresholdBand(band=0.05),
        linear_costs(30, 100),
        settings=PlanSettings(min_trade=Decimal(10)),
    )


@chain_app.command("demo")
@guarded
def demo() -> None:
    """Start anvil, deploy Uniswap + the batch executor, and rebalance a drifted wallet in one transaction."""
    from trimtab.adapters.dex import DexSettings, DexVenue, deployment_of
    from trimtab.adapters.storage import InMemoryLedgerStore
    from trimtab.chain.anvil import Anvil
    from trimtab.chain.artifacts import anvil_binary
    from trimtab.chain.deploy import DevAccounts, deploy
    from trimtab.chain.keys import dev_accounts
    from trimtab.chain.node import connect
    from trimtab.chain.seed import load_seed_prices
    from trimtab.core.base.snapshot import MarketSnapshot
    from trimtab.engine import run_cycle

    if anvil_binary() is None:
        raise VenueMisconfigured("anvil binary not found: run `make node` (npm ci) first", venue="anvil")
    seed = load_seed_prices(_price_file())
    with Anvil() as node:
        w3 = connect(node.url)
        accounts = DevAccounts(*dev_accounts())
        env = deploy(w3, accounts, seed)
        out.print(
            f"anvil at {node.url} (chain {w3.eth.chain_id}): WETH, Uniswap V2 + V3, BatchExecutor deployed; "
            f"pools seeded at {seed.date} prices " + ", ".join(f"{s} ${p:,.2f}" for s, p in sorted(seed.usd.items()))
        )
        venue = DexVenue(node.url, deployment_of(env), accounts.trader, DexSettings(min_notional=Decimal(10)))
        strategy = _demo_strategy()
        assets = list(DEMO_TARGETS)
        before = _weights(venue, "USDC", assets)
        out.print(
            f"wallet {venue.address}: "
            + ", ".join(f"{a} {q.normalize():f}" for a, q in sorted(venue.balances().items()))
        )
        ledger = InMemoryLedgerStore()
        now = datetime.fromtimestamp(int(w3.eth.get_block("latest")["timestamp"]), UTC)
        ledger.open_account("wallet", venue.balances(), time=now)
        snapshot = MarketSnapshot(now, venue.mid_prices(assets, "USDC"))
        result = run_cycle(strategy, snapshot, venue, ledger, account="wallet", rules=lambda a: venue.rules(a, "USDC"))
        out.print(f"trigger: {'FIRED' if result.decision.trigger.fired else 'not fired'} - {result.decision.reason}")
        if result.report is None:
            out.print("nothing to do")
            return
        print_execution(venue, result.report)
        after = _weights(venue, "USDC", assets)
        out.print(_weights_table("Weights (pool mid prices)", before, after, DEMO_TARGETS))
        chain_bal = venue.balances()
        book = {a: q for a, q in ledger.balances("wallet").items() if q}
        out.print(f"ledger equals chain: {'yes' if book == chain_bal else 'NO'} ({len(result.entries)} entries)")
        if book != chain_bal or not result.report.complete:
            raise typer.Exit(code=1)
    out.print("anvil stopped")


@chain_app.command("deploy")
@guarded
def deploy_cmd(
    rpc: Annotated[str, typer.Option("--rpc", help="JSON-RPC URL of a local dev chain (anvil).")],
    deployment: Annotated[
        Path, typer.Option("--deployment", parser=output_file, help="Write the deployment JSON here.")
    ],
    yield_deployment: Annotated[
        Path | None,
        typer.Option(
            "--yield-deployment",
            parser=output_file,
            help="Also deploy the ERC-4626 vaults, a USDC/USDT pool and the migrator; write their JSON here.",
        ),
    ] = None,
) -> None:
    """Deploy the contracts and seeded pools on a running local dev node, fund the dev trader, write the JSON."""
    from trimtab.adapters.dex import deployment_of
    from trimtab.chain.deploy import DevAccounts, deploy
    from trimtab.chain.keys import LOCAL_CHAIN_IDS, dev_accounts
    from trimtab.chain.node import connect
    from trimtab.chain.seed import load_seed_prices

    w3 = connect(rpc)
    if w3.eth.chain_id not in LOCAL_CHAIN_IDS:
        raise ConfigError(f"chain id {w3.eth.chain_id} is not a local dev chain", field="--rpc")
    env = deploy(w3, DevAccounts(*dev_accounts()), load_seed_prices(_price_file()))
    deployment_of(env).save(deployment)
    out.print(f"deployed on {rpc}; wrote {deployment}; trader wallet {env.accounts.trader.address}")
    if yield_deployment is not None:
        from trimtab.chain.yield_vaults import deploy_yield
        from trimtab.chain.yield_venue import write_yield_deployment

        write_yield_deployment(deploy_yield(env), yield_deployment)
        out.print(f"yield vaults vUSDC, vUSDT, the USDC/USDT pool and the migrator deployed; wrote {yield_deployment}")
