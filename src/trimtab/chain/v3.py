"""Uniswap V3 on the local chain: factory, SwapRouter, QuoterV2, position manager, full-range pools.

A full-range V3 position behaves like a V2 pool of the same amounts (Adams et al. 2021, "Uniswap v3
Core", section 6.2), so a later router can compare V2 and V3 quotes for the same pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import isqrt
from typing import Final

from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.types import TxReceipt

from trimtab.chain.artifacts import load_artifact
from trimtab.chain.quote import sort_tokens
from trimtab.chain.tx import Sender

MAX_TICK: Final = 887272
TICK_SPACING: Final = {500: 10, 3000: 60, 10000: 200}


@dataclass(frozen=True)
class V3Env:
    """Deployed V3 contracts and the pools created on them, keyed by (symbol, symbol, fee) sorted by symbol."""

    factory: Contract
    router: Contract
    quoter: Contract
    position_manager: Contract
    pools: dict[tuple[str, str, int], str]


def full_range_ticks(fee: int) -> tuple[int, int]:
    """The widest (tickLower, tickUpper) allowed for the fee tier's tick spacing."""
    spacing = TICK_SPACING[fee]
    top = MAX_TICK // spacing * spacing
    return -top, top


def sqrt_price_x96(amount0: int, amount1: int) -> int:
    """sqrt(amount1/amount0) in Q64.96, the pool's initial price for a token1-per-token0 ratio."""
    return isqrt((amount1 << 192) // amount0)


def _deploy(sender: Sender, name: str, *args: object) -> Contract:
    return sender.deploy(load_artifact(name), *args)


def deploy_v3(sender: Sender, weth: str) -> V3Env:
    """Deploy the V3 factory (fee tiers 500/3000/10000 enabled), SwapRouter, QuoterV2 and the position manager."""
    factory = _deploy(sender, "UniswapV3Factory")
    router = _deploy(sender, "SwapRouter", factory.address, weth)
    quoter = _deploy(sender, "QuoterV2", factory.address, weth)
    # The token descriptor is only read by tokenURI; any address works (EVM-RECIPE section 3).
    npm = _deploy(sender, "NonfungiblePositionManager", factory.address, weth, sender.address)
    return V3Env(factory=factory, router=router, quoter=quoter, position_manager=npm, pools={})


def add_full_range_pool(
    sender: Sender, v3: V3Env, token_a: str, amount_a: int, token_b: str, amount_b: int, fee: int, deadline: int
) -> str:
    """Create and initialise the pool at amount_b/amount_a, then mint a full-range position; returns the pool."""
    token0, token1 = sort_tokens(token_a, token_b)
    amount0, amount1 = (amount_a, amount_b) if token0.lower() == token_a.lower() else (amount_b, amount_a)
    npm = v3.position_manager
    sender.transact(
        npm.functions.createAndInitializePoolIfNecessary(token0, token1, fee, sqrt_price_x96(amount0, amount1)),
        what="create V3 pool",
    )
    lower, upper = full_range_ticks(fee)
    params = (token0, token1, fee, lower, upper, amount0, amount1, 0, 0, sender.address, deadline)
    sender.transact(npm.functions.mint(params), what="mint V3 position")
    return str(v3.factory.functions.getPool(token0, token1, fee).call())


def quote_exact_input_single(v3: V3Env, token_in: str, token_out: str, fee: int, amount_in: int) -> int:
    """QuoterV2's exact output for an exact-input single-pool swap (simulated by eth_call)."""
    result = v3.quoter.functions.quoteExactInputSingle((token_in, token_out, amount_in, fee, 0)).call()
    return int(result[0])


def exact_input_single(
    v3: V3Env, token_in: str, token_out: str, fee: int, recipient: str, deadline: int, amount_in: int, min_out: int
) -> ContractFunction:
    """The SwapRouter.exactInputSingle call (no price limit); sign and send it with a Sender."""
    params = (token_in, token_out, fee, recipient, deadline, amount_in, min_out, 0)
    return v3.router.functions.exactInputSingle(params)


def swap_exact_input_single(
    sender: Sender, v3: V3Env, token_in: str, token_out: str, fee: int, amount_in: int, min_out: int, deadline: int
) -> TxReceipt:
    """Swap on V3 for the sender, paying out to the sender; raises OrderRejected on any revert."""
    call = exact_input_single(v3, token_in, token_out, fee, sender.address, deadline, amount_in, min_out)
    return sender.transact(call, what="V3 exactInputSingle")
