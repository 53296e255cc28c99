"""`trimtab chain demo` and `trimtab execute --venue uniswap` in-process, on real anvil nodes."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from trimtab.adapters.dex import deployment_of
from trimtab.adapters.storage import SqlLedgerStore
from trimtab.chain.deploy import ChainEnv
from trimtab.chain.keys import ANVIL_DEV_KEYS
from trimtab.cli import app

runner = CliRunner()
STRATEGY = """\
name: onchain
description: four tokens, equal weights
quote: USDC
targets: {BTC: 0.25, ETH: 0.25, LINK: 0.25, USDC: 0.25}
trigger: {kind: threshold, band: 0.05}
costs: {fee_bps: 30, slippage_bps: 100, gas_usd_per_trade: 0}
constraints: {min_trade_usd: 10}
"""


@pytest.mark.slow
def test_chain_demo_rebalances_in_one_batch_and_stops_anvil() -> None:
    r = runner.invoke(app, ["chain", "demo"])
    assert r.exit_code == 0, r.output
    out = r.output
    for text in (
        "BatchExecutor deployed",
        "trigger: FIRED",
        "Batch: quotes, guards and fills",
        "tx batch",
        "estimated gas: batched",
        "realised gas:",
        "Weights (pool mid prices)",
        "ledger equals chain: yes",
        "anvil stopped",
    ):
        assert text in out, text
    assert out.count("tx batch") == 1 and "failed" not in out


def test_chain_demo_without_anvil_says_run_make_node(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TRIMTAB_ANVIL", str(tmp_path / "no-anvil"))
    r = runner.invoke(app, ["chain", "demo"])
    assert r.exit_code == 1 and "run `make node`" in r.output


def test_execute_venue_uniswap_runs_the_plan_on_chain_and_records_it(
    chain: ChainEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployment = tmp_path / "deployment.json"
    deployment_of(chain).save(deployment)
    strategy = tmp_path / "onchain.yaml"
    strategy.write_text(STRATEGY)
    ledger = tmp_path / "ledger.sqlite"
    monkeypatch.setenv("TRIMTAB_EVM_PRIVATE_KEY", ANVIL_DEV_KEYS[1])
    url = chain.w3.provider.endpoint_uri  # type: ignore[attr-defined]
    r = runner.invoke(
        app,
        [
            "execute",
            "--venue",
            "uniswap",
            "--rpc",
            url,
            "--deployment",
            str(deployment),
            "--strategy",
            str(strategy),
            "--ledger",
            str(ledger),
            "--account",
            "w",
            "--yes",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "tx batch" in r.output and "recorded" in r.output
    assert ANVIL_DEV_KEYS[1][2:] not in r.output
    trader = chain.accounts.trader.address
    on_chain = {
        "BTC": chain.balance("WBTC", trader),
        "ETH": chain.balance("WETH", trader),
        "LINK": chain.balance("LINK", trader),
        "USDC": chain.balance("USDC", trader),
    }
    booked = SqlLedgerStore(str(ledger)).balances("w")
    decimals = {"BTC": 8, "ETH": 18, "LINK": 18, "USDC": 6}
    assert {a: int(q.scaleb(decimals[a])) for a, q in booked.items() if q} == on_chain


def test_execute_venue_uniswap_needs_rpc_and_deployment(tmp_path: Path) -> None:
    r = runner.invoke(app, ["execute", "--venue", "uniswap", "--strategy", "index-fund", "--yes"])
    assert r.exit_code == 2 and "--rpc" in r.output
    r = runner.invoke(
        app, ["execute", "--venue", "uniswap", "--rpc", "http://127.0.0.1:9", "--strategy", "index-fund", "--yes"]
    )
    assert r.exit_code == 2 and "--deployment" in r.output
    r = runner.invoke(app, ["execute", "--venue", "nope", "--strategy", "index-fund", "--yes"])
    assert r.exit_code == 2 and "unknown venue" in r.output


def test_execute_venue_uniswap_is_stopped_by_the_strategys_guards_before_any_transaction(
    chain: ChainEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployment = tmp_path / "deployment.json"
    deployment_of(chain).save(deployment)
    strategy = tmp_path / "guarded.yaml"
    strategy.write_text(STRATEGY + "guards: {max_turnover_per_rebalance: 0.01}\n")
    monkeypatch.setenv("TRIMTAB_EVM_PRIVATE_KEY", ANVIL_DEV_KEYS[1])
    trader = chain.accounts.trader.address
    before = {t: chain.balance(t, trader) for t in ("WBTC", "WETH", "LINK", "USDC")}
    block = chain.w3.eth.block_number
    url = chain.w3.provider.endpoint_uri  # type: ignore[attr-defined]
    r = runner.invoke(
        app,
        [
            "execute",
            "--venue",
            "uniswap",
            "--rpc",
            url,
            "--deployment",
            str(deployment),
            "--strategy",
            str(strategy),
            "--ledger",
            str(tmp_path / "l.sqlite"),
            "--yes",
        ],
    )
    assert r.exit_code == 1 and "turnover_limit" in r.output and "rebalance not started" in r.output, r.output
    assert {t: chain.balance(t, trader) for t in before} == before
    assert chain.w3.eth.block_number == block, "no transaction was sent"


def test_plan_routes_on_uniswap_shows_the_routes_execute_takes(
    chain: ChainEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployment = tmp_path / "deployment.json"
    deployment_of(chain).save(deployment)
    strategy = tmp_path / "onchain.yaml"
    strategy.write_text(STRATEGY)
    monkeypatch.setenv("TRIMTAB_EVM_PRIVATE_KEY", ANVIL_DEV_KEYS[1])
    url = chain.w3.provider.endpoint_uri  # type: ignore[attr-defined]
    args = ["--venue", "uniswap", "--rpc", url, "--deployment", str(deployment), "--strategy", str(strategy)]
    shown = runner.invoke(app, ["plan", *args, "--routes"])
    assert shown.exit_code == 0, shown.output
    planned = [
        line.split(": ", 1)[1].split(" via ")[1]
        for line in shown.output.splitlines()
        if line.strip().startswith("leg ") and " via " in line
    ]
    assert planned, shown.output
    done = runner.invoke(app, ["execute", *args, "--ledger", str(tmp_path / "l.sqlite"), "--yes"])
    assert done.exit_code == 0, done.output
    taken = next(line for line in done.output.splitlines() if line.startswith("routes taken: "))
    assert [part.split(" via ")[1] for part in taken.removeprefix("routes taken: ").split("; ")] == planned
