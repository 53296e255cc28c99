"""Uniswap V3 next to V2 on the same pair: QuoterV2 quote == SwapRouter fill, depths differ."""

from __future__ import annotations

from decimal import Decimal

import pytest

from trimtab.chain.deploy import FAR_DEADLINE, ChainEnv
from trimtab.chain.quote import quote_path
from trimtab.chain.tx import Sender
from trimtab.chain.v3 import V3Env, full_range_ticks, quote_exact_input_single, sqrt_price_x96, swap_exact_input_single
from trimtab.errors import OrderRejected

FEE = 3000


def _v3(chain: ChainEnv) -> V3Env:
    assert chain.v3 is not None
    return chain.v3


def test_pool_exists_at_the_real_price(chain: ChainEnv) -> None:
    v3 = _v3(chain)
    pool = v3.pools[("WETH", "USDC", FEE)]
    assert pool == v3.factory.functions.getPool(chain.address("WETH"), chain.address("USDC"), FEE).call()
    assert int(pool, 16) != 0


@pytest.mark.parametrize(("sym_in", "sym_out", "amount"), [("USDC", "WETH", 20_000), ("WETH", "USDC", 10)])
def test_quote_equals_executed_amount(chain: ChainEnv, trader: Sender, sym_in: str, sym_out: str, amount: int) -> None:
    v3 = _v3(chain)
    token_in, token_out = chain.address(sym_in), chain.address(sym_out)
    amount_in = chain.units(sym_in, amount)
    quoted = quote_exact_input_single(v3, token_in, token_out, FEE, amount_in)
    before = chain.balance(sym_out, trader.address)
    swap_exact_input_single(trader, v3, token_in, token_out, FEE, amount_in, quoted, FAR_DEADLINE)
    assert chain.balance(sym_out, trader.address) - before == quoted
    fair = Decimal(amount) * chain.prices_usd[sym_in] / chain.prices_usd[sym_out]
    assert Decimal("0.98") < Decimal(quoted) / 10 ** chain.decimals[sym_out] / fair < Decimal("0.997")


def test_v2_and_v3_quote_differently_for_the_same_pair(chain: ChainEnv) -> None:
    usdc, weth = chain.path("USDC", "WETH")
    amount_in = chain.units("USDC", 100_000)
    v3_out = quote_exact_input_single(_v3(chain), usdc, weth, FEE, amount_in)
    v2_out = quote_path(chain.w3, chain.factory.address, (usdc, weth), amount_in)[-1]
    assert v2_out > v3_out  # same 0.3% fee, the V2 pool is deeper ($5M vs $4M per side)


def test_v3_min_out_guard_reverts(chain: ChainEnv, trader: Sender) -> None:
    v3 = _v3(chain)
    usdc, weth = chain.path("USDC", "WETH")
    amount_in = chain.units("USDC", 1_000)
    quoted = quote_exact_input_single(v3, usdc, weth, FEE, amount_in)
    with pytest.raises(OrderRejected, match="Too little received"):
        swap_exact_input_single(trader, v3, usdc, weth, FEE, amount_in, quoted + 1, FAR_DEADLINE)


def test_full_range_and_price_math() -> None:
    assert full_range_ticks(3000) == (-887220, 887220)
    assert full_range_ticks(500) == (-887270, 887270)
    assert sqrt_price_x96(1, 1) == 2**96
    assert sqrt_price_x96(1, 4) == 2 * 2**96
