"""On-chain benchmarks on a local anvil: rebalance gas per execution mode, and chain fixture set-up time.

A 4-leg rebalance (one leg multi-hop, see trimtab.chain.scenario) runs from the same snapshot as
(a) 4 separate Router02 swaps, (b) one BatchExecutor.executeViaRouter, (c) one executeDirect, on cold
pools (first trades ever) and warm pools (already traded in an earlier block). Gas is deterministic
because block timestamps are pinned; each case runs twice to check that. Writes benchmarks/chain_results.json.

    python benchmarks/bench_chain.py [--prices path/to/daily_prices_usd.csv.gz]
"""

from __future__ import annotations

import time

T_IMPORT = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
from decimal import Decimal  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import trimtab  # noqa: E402
from trimtab.chain.anvil import Anvil  # noqa: E402
from trimtab.chain.artifacts import anvil_binary  # noqa: E402
from trimtab.chain.batch import Mode, SwapLeg, execute_batch, guard_batch  # noqa: E402
from trimtab.chain.deploy import FAR_DEADLINE, ChainEnv, DevAccounts, deploy  # noqa: E402
from trimtab.chain.keys import dev_accounts  # noqa: E402
from trimtab.chain.node import connect, revert_to, snapshot  # noqa: E402
from trimtab.chain.scenario import REBALANCE, rebalance_legs, warm_pools  # noqa: E402
from trimtab.chain.seed import SeedPrices, load_seed_prices  # noqa: E402
from trimtab.chain.tx import Sender  # noqa: E402
from trimtab.chain.v3 import swap_exact_input_single  # noqa: E402

IMPORT_S = time.perf_counter() - T_IMPORT
OUT = Path(__file__).resolve().parent / "chain_results.json"
SLIPPAGE = Decimal("0.005")
SETUP_RUNS = 3


def default_price_file() -> Path:
    for candidate in (
        Path(trimtab.__file__).resolve().parent / "data" / "daily_prices_usd.csv.gz",
        Path("/work/shared/data/daily_prices_usd.csv.gz"),
    ):
        if candidate.is_file():
            return candidate
    raise SystemExit("daily_prices_usd.csv.gz not found; pass --prices")


def start_chain(prices: SeedPrices) -> tuple[Anvil, ChainEnv, dict[str, float]]:
    """Exactly what the pytest session fixture does, timed step by step."""
    t0 = time.perf_counter()
    node = Anvil().start()
    t1 = time.perf_counter()
    w3 = connect(node.url)
    env = deploy(w3, DevAccounts(*dev_accounts()), prices)
    t2 = time.perf_counter()
    return node, env, {"anvil_start_s": t1 - t0, "deploy_s": t2 - t1, "total_s": t2 - t0}


def separate_router_swaps(env: ChainEnv, trader: Sender, legs: list[SwapLeg]) -> list[int]:
    """Mode (a): one swapExactTokensForTokens transaction per leg; returns gas per transaction."""
    gas = []
    for leg in legs:
        call = env.router.functions.swapExactTokensForTokens(
            leg.amount_in, leg.min_out, list(leg.path), trader.address, FAR_DEADLINE
        )
        gas.append(int(trader.transact(call, what="router swap")["gasUsed"]))
    return gas


def run_mode(env: ChainEnv, mode: str, warm: bool) -> dict[str, Any]:
    """One execution from the post-deploy snapshot (optionally after warming the pools)."""
    trader = Sender(env.w3, env.accounts.trader)
    if warm:
        warm_pools(env, Sender(env.w3, env.accounts.attacker))
    batch_mode: Mode = "direct" if mode == "batch_direct" else "router"
    legs = list(
        guard_batch(
            env.executor,
            rebalance_legs(env),
            sender=trader.address,
            deadline=FAR_DEADLINE,
            slippage=SLIPPAGE,
            mode=batch_mode,
        )
    )
    t0 = time.perf_counter()
    if mode == "separate_router_txs":
        per_tx = separate_router_swaps(env, trader, legs)
        result: dict[str, Any] = {"gas": sum(per_tx), "gas_per_tx": per_tx, "transactions": len(per_tx)}
    else:
        outcome = execute_batch(trader, env.executor, legs, deadline=FAR_DEADLINE, mode=batch_mode)
        result = {"gas": outcome.gas_used, "transactions": 1}
    result["wall_s"] = round(time.perf_counter() - t0, 4)
    result["final_balances"] = env.balances(trader.address)
    return result


def gas_table(env: ChainEnv) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for warm in (False, True):
        row: dict[str, Any] = {}
        for mode in ("separate_router_txs", "batch_router", "batch_direct"):
            runs = []
            for _ in range(2):
                snap = snapshot(env.w3)
                runs.append(run_mode(env, mode, warm))
                revert_to(env.w3, snap)
            first = runs[0]
            first["deterministic"] = all(r["gas"] == first["gas"] for r in runs)
            row[mode] = first
        base = row["separate_router_txs"]["gas"]
        for mode in ("batch_router", "batch_direct"):
            row[mode]["vs_separate_pct"] = round(100 * (row[mode]["gas"] - base) / base, 2)
        balances = [row[m].pop("final_balances") for m in row]
        row["identical_final_balances"] = all(b == balances[0] for b in balances)
        table["warm" if warm else "cold"] = row
    return table


def single_swap_gas(env: ChainEnv) -> dict[str, int]:
    """One 10k USDC -> WETH swap on the V2 router and on V3 (fee 3000), warm pools, for a venue router."""
    out: dict[str, int] = {}
    snap = snapshot(env.w3)
    warm_pools(env, Sender(env.w3, env.accounts.attacker))
    trader = Sender(env.w3, env.accounts.trader)
    usdc, weth = env.path("USDC", "WETH")
    amount = env.units("USDC", 10_000)
    assert env.v3 is not None
    swap_exact_input_single(trader, env.v3, usdc, weth, 3000, amount // 10, 0, FAR_DEADLINE)  # warm the V3 pool
    call = env.router.functions.swapExactTokensForTokens(amount, 0, [usdc, weth], trader.address, FAR_DEADLINE)
    out["v2_router_swap"] = int(trader.transact(call)["gasUsed"])
    out["v2_batch_direct_1_leg"] = execute_batch(
        trader, env.executor, [SwapLeg((usdc, weth), amount)], deadline=FAR_DEADLINE
    ).gas_used
    out["v3_exact_input_single"] = int(
        swap_exact_input_single(trader, env.v3, usdc, weth, 3000, amount, 0, FAR_DEADLINE)["gasUsed"]
    )
    revert_to(env.w3, snap)
    return out


def _version(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines()[0]
    except (OSError, subprocess.CalledProcessError, IndexError):
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prices", type=Path, default=None)
    args = parser.parse_args()
    binary = anvil_binary()
    if binary is None:
        raise SystemExit("anvil binary not found: run `make node`")
    prices = load_seed_prices(args.prices or default_price_file())
    setups: list[dict[str, float]] = []
    node = env = None
    for i in range(SETUP_RUNS):
        node, env, timing = start_chain(prices)
        setups.append(timing)
        if i < SETUP_RUNS - 1:
            node.stop()
    assert node is not None and env is not None
    try:
        gas = gas_table(env)
        singles = single_swap_gas(env)
    finally:
        node.stop()

    def med(key: str) -> float:
        return round(statistics.median(s[key] for s in setups), 3)

    results = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "anvil": _version([str(binary), "--version"]),
            "node": _version(["node", "--version"]),
        },
        "seed": {"date": prices.date, "usd": {k: str(v) for k, v in prices.usd.items()}},
        "legs": [{"path": list(p), "amount_in": str(a)} for p, a in REBALANCE],
        "fixture_setup": {
            "import_s": round(IMPORT_S, 3),
            "anvil_start_s": med("anvil_start_s"),
            "deploy_s": med("deploy_s"),
            "total_s_median": med("total_s"),
            "total_s_max": round(max(s["total_s"] for s in setups), 3),
            "runs": SETUP_RUNS,
            "target_s": 5.0,
        },
        "rebalance_gas": gas,
        "single_swap_gas": singles,
    }
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
