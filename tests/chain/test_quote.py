"""Exact V2 quoting: local x*y=k == Router02.getAmountsOut == what a swap really pays."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trimtab.chain.batch import SwapLeg, execute_batch
from trimtab.chain.deploy import FAR_DEADLINE, ChainEnv
from trimtab.chain.quote import get_amount_out, get_amounts_out, hop_reserves, quote_path
from trimtab.chain.tx import Sender
from trimtab.errors import OrderRejected

reserve = st.integers(min_value=1, max_value=2**112 - 1)
amount = st.integers(min_value=1, max_value=2**100)


@given(amount_in=amount, reserve_in=reserve, reserve_out=reserve)
def test_constant_product_never_decreases(amount_in: int, reserve_in: int, reserve_out: int) -> None:
    out = get_amount_out(amount_in, reserve_in, reserve_out)
    assert 0 <= out < reserve_out
    # the pair's K check (with the 0.3% fee) must accept the quoted output
    assert (reserve_in * 1000 + amount_in * 997) * (reserve_out - out) >= reserve_in * reserve_out * 1000


@given(a=amount, b=amount, reserve_in=reserve, reserve_out=reserve)
def test_more_in_never_gives_less_out(a: int, b: int, reserve_in: int, reserve_out: int) -> None:
    small, big = sorted((a, b))
    assert get_amount_out(small, reserve_in, reserve_out) <= get_amount_out(big, reserve_in, reserve_out)


def test_bad_inputs_are_rejected_like_the_library() -> None:
    with pytest.raises(OrderRejected, match="INSUFFICIENT_INPUT_AMOUNT"):
        get_amount_out(0, 10, 10)
    with pytest.raises(OrderRejected, match="INSUFFICIENT_LIQUIDITY"):
        get_amount_out(1, 0, 10)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(amount_in=amount, reserve_in=reserve, reserve_out=reserve)
def test_matches_solidity_get_amount_out(chain: ChainEnv, amount_in: int, reserve_in: int, reserve_out: int) -> None:
    solidity = chain.router.functions.getAmountOut(amount_in, reserve_in, reserve_out).call()
    assert get_amount_out(amount_in, reserve_in, reserve_out) == solidity
    assert chain.executor.functions.getAmountOut(amount_in, reserve_in, reserve_out).call() == solidity


def _received(chain: ChainEnv, symbol: str, before: int) -> int:
    return chain.balance(symbol, chain.accounts.trader.address) - before


def test_local_quote_equals_router_equals_executed(chain: ChainEnv, trader: Sender) -> None:
    path = chain.path("WBTC", "USDC")
    amount_in = chain.units("WBTC", Decimal("0.5"))
    local = quote_path(chain.w3, chain.factory.address, path, amount_in)
    router = tuple(chain.router.functions.getAmountsOut(amount_in, list(path)).call())
    before = chain.balance("USDC", chain.accounts.trader.address)
    call = chain.router.functions.swapExactTokensForTokens(
        amount_in, local[-1], list(path), trader.address, FAR_DEADLINE
    )
    trader.transact(call)
    assert local == router
    assert _received(chain, "USDC", before) == local[-1]
    # a real trade: about $18.9k for 0.5 BTC, less the 0.3% fee and ~0.4% price impact
    usd = Decimal(local[-1]) / 10**6 * chain.prices_usd["USDC"]
    assert Decimal("0.99") < usd / (chain.prices_usd["WBTC"] / 2) < Decimal("0.997")


def test_multi_hop_link_weth_wbtc(chain: ChainEnv, trader: Sender) -> None:
    path = chain.path("LINK", "WETH", "WBTC")
    amount_in = chain.units("LINK", 1000)
    reserves = [hop_reserves(chain.w3, chain.factory.address, a, b) for a, b in zip(path, path[1:], strict=False)]
    local = get_amounts_out(amount_in, reserves)
    router = tuple(chain.router.functions.getAmountsOut(amount_in, list(path)).call())
    before = chain.balance("WBTC", chain.accounts.trader.address)
    outcome = execute_batch(trader, chain.executor, [SwapLeg(path, amount_in, local[-1])], deadline=FAR_DEADLINE)
    assert local == router
    assert outcome.amounts_out == (local[-1],) == (_received(chain, "WBTC", before),)
    # the intermediate WETH went pair to pair: neither the trader nor the executor ever held it
    assert chain.balance("WETH", chain.accounts.trader.address) == chain.units("WETH", 30)
    assert chain.balance("WETH", chain.executor.address) == 0
