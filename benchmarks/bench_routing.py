"""Routing + splitting speed: a 20-leg rebalance over a graph of 200 markets (target: under 50 ms).

    python benchmarks/bench_routing.py            # prints JSON, writes benchmarks/results/routing.json

The graph: 39 assets, each traded on two CEX books against USDC (fee + square-root impact, fee + spread;
odd-numbered assets at higher fees),
a constant-product USDC pool, a constant-product ETH pool and a CEX BTC market (195 markets), plus
ETH/USDC on three venues, BTC/USDC and BTC/ETH (5): 200 markets, so most legs have three parallel venues
to split over and multi-hop alternatives through ETH and BTC. Fixed seed.
"""

from __future__ import annotations

import json
import platform
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from trimtab.core.base.portfolio import PortfolioState
from trimtab.core.costs.amm import AmmPool, AmmSlippage
from trimtab.core.costs.model import Fee
from trimtab.core.costs.parts import HalfSpread, SqrtImpact
from trimtab.core.execution.execplan import ExecutionSettings, build_execution_plan
from trimtab.core.execution.planner import plan_rebalance
from trimtab.core.execution.routing import Market, MarketGraph

HERE = Path(__file__).resolve().parent
SEED = 20240601
N_ASSETS = 39
RUNS = 30


def d(x: float | str) -> Decimal:
    return Decimal(x) if isinstance(x, str) else Decimal(repr(float(x)))


def build_world() -> tuple[list[Market], PortfolioState, dict[str, float]]:
    rng = np.random.default_rng(SEED)
    px = {"USDC": 1.0, "ETH": 3000.0, "BTC": 60000.0}
    names = [f"A{i:02d}" for i in range(N_ASSETS)]
    for a in names:
        px[a] = float(np.exp(rng.uniform(np.log(0.05), np.log(500))))
    vol = {a: float(rng.uniform(0.02, 0.08)) for a in names + ["ETH", "BTC"]}
    volume = {a: float(np.exp(rng.uniform(np.log(2e6), np.log(5e8)))) for a in names + ["ETH", "BTC"]}
    impact = SqrtImpact(vol, volume, y=0.8)
    markets: list[Market] = []
    for i, a in enumerate(names):
        if i % 2:  # a pricier CEX listing: the ETH pool then ETH/USDC can beat it
            cex1, cex2 = Fee(d(30)) + impact, Fee(d(26)) + HalfSpread(d(8))
        else:
            cex1, cex2 = Fee(d(10)) + impact, Fee(d(6)) + HalfSpread(d(8))
        depth_usd = float(rng.uniform(2e5, 5e6))
        pool_usdc = AmmSlippage({a: AmmPool(d(depth_usd / px[a]), d(depth_usd), d("0.003"))})
        pool_eth = AmmSlippage({a: AmmPool(d(depth_usd / px[a]), d(depth_usd / px["ETH"]), d("0.0005"))})
        markets += [
            Market("cex1", a, "USDC", d(px[a]), cex1),
            Market("cex2", a, "USDC", d(px[a]), cex2),
            Market("uni", a, "USDC", d(px[a]), pool_usdc),
            Market("uni", a, "ETH", d(px[a] / px["ETH"]), pool_eth),
            Market("cex1", a, "BTC", d(px[a] / px["BTC"]), Fee(d(8)) + HalfSpread(d(4))),
        ]
    eth_pool = AmmSlippage({"ETH": AmmPool(d(20_000), d(60_000_000), d("0.0005"))})
    markets += [
        Market("cex1", "ETH", "USDC", d(3000), Fee(d(10)) + impact),
        Market("cex2", "ETH", "USDC", d(3000), Fee(d(6)) + HalfSpread(d(8))),
        Market("uni", "ETH", "USDC", d(3000), eth_pool),
        Market("cex1", "BTC", "USDC", d(60000), Fee(d(10)) + impact),
        Market("cex1", "BTC", "ETH", d(20), Fee(d(5)) + HalfSpread(d(2))),
    ]
    held = names[:20]
    holdings = {a: d(float(rng.uniform(5_000, 80_000)) / px[a]) for a in held}
    holdings["USDC"] = d(50_000)
    state = PortfolioState.of(holdings, {a: d(p) for a, p in px.items()}, "USDC")
    return markets, state, px


def main() -> dict[str, Any]:
    markets, state, _ = build_world()
    rng = np.random.default_rng(SEED + 1)
    held = [a for a in state.holdings if a != "USDC"]
    raw = rng.uniform(0.5, 1.5, len(held))
    targets = {a: float(w) * 0.9 / float(raw.sum()) for a, w in zip(held, raw, strict=True)}
    targets["USDC"] = 0.1
    plan = plan_rebalance(state, targets, Fee(d(10)) + HalfSpread(d(4)))
    settings = ExecutionSettings(max_hops=3)

    build_ms, plan_ms, cold_ms = [], [], []
    ex = None
    for _ in range(RUNS):
        t0 = time.perf_counter()
        graph = MarketGraph(tuple(markets))
        t1 = time.perf_counter()
        ex = build_execution_plan(plan, graph, state, settings)
        t2 = time.perf_counter()
        ex = build_execution_plan(plan, graph, state, settings)
        t3 = time.perf_counter()
        build_ms.append((t1 - t0) * 1e3)
        cold_ms.append((t2 - t1) * 1e3)
        plan_ms.append((t3 - t2) * 1e3)
    assert ex is not None
    multi = sum(1 for leg in ex.legs if len(leg.hops) > 1)
    split = sum(1 for leg in ex.legs for h in leg.hops if len(h.shares) > 1)
    saving = sum((leg.direct_cost or 0.0) - leg.expected_cost for leg in ex.legs)
    result = {
        "benchmark": "route + split a rebalance",
        "markets": len(markets),
        "legs": len(ex.legs),
        "unrouted": len(ex.unrouted),
        "multi_hop_legs": multi,
        "split_hops": split,
        "expected_cost_usd": round(ex.expected_cost, 2),
        "saving_vs_best_direct_usd": round(saving, 2),
        "route_and_split_ms_median": round(statistics.median(cold_ms), 2),
        "route_and_split_ms_max": round(max(cold_ms), 2),
        "route_and_split_warm_cache_ms_median": round(statistics.median(plan_ms), 2),
        "graph_build_ms_median": round(statistics.median(build_ms), 2),
        "target_ms": 50,
        "runs": RUNS,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    return result


if __name__ == "__main__":
    res = main()
    out = HERE / "results" / "routing.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2) + "\n")
    sys.stdout.write(json.dumps(res) + "\n")
