"""The fixed 4-leg rebalance used by the chain tests and benchmarks (one leg multi-hop).

The trader holds 2 WBTC, 30 WETH, 50k USDC and 3k LINK (~$200k at 2023-11-30 prices) and moves
towards equal weights: sell BTC for USDC and ETH, ETH for LINK, and USDC for LINK through WETH.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from trimtab.chain.batch import SwapLeg
from trimtab.chain.deploy import FAR_DEADLINE, ChainEnv
from trimtab.chain.tx import Sender

REBALANCE: Final = (
    (("WBTC", "USDC"), Decimal("0.5")),
    (("WBTC", "WETH"), Decimal("0.4")),
    (("WETH", "LINK"), Decimal("15")),
    (("USDC", "WETH", "LINK"), Decimal("15000")),
)


def rebalance_legs(env: ChainEnv) -> list[SwapLeg]:
    """The four unguarded legs (min_out 0) in execution order."""
    return [SwapLeg(path=env.path(*symbols), amount_in=env.units(symbols[0], amount)) for symbols, amount in REBALANCE]


def warm_pools(env: ChainEnv, sender: Sender) -> None:
    """One tiny router swap per V2 pool, so later trades pay warm-pool (non-first-trade) storage costs."""
    for a, b in env.pairs:
        amount = env.units(a, Decimal(10) / env.prices_usd[a])  # ~$10
        call = env.router.functions.swapExactTokensForTokens(
            amount, 0, list(env.path(a, b)), sender.address, FAR_DEADLINE
        )
        sender.transact(call, what=f"warm {a}/{b}")
