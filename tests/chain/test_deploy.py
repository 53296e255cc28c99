"""The deployed chain: roles, real-price pools, funded accounts, and per-test snapshot isolation."""

from __future__ import annotations

from decimal import Decimal

import pytest

from trimtab.chain.deploy import TRADER_HOLDINGS, V2_POOLS, ChainEnv
from trimtab.chain.quote import pair_address
from trimtab.chain.tx import Sender


def test_executor_is_owned_by_the_trader(chain: ChainEnv) -> None:
    ex = chain.executor.functions
    assert ex.owner().call() == chain.accounts.trader.address
    assert ex.router().call() == chain.router.address
    assert ex.factory().call() == chain.factory.address


@pytest.mark.parametrize(("a", "b"), V2_POOLS)
def test_pools_sit_at_real_price_ratios(chain: ChainEnv, a: str, b: str) -> None:
    pair = chain.pair(a, b)
    assert pair.address == chain.factory.functions.getPair(chain.address(a), chain.address(b)).call()
    assert pair.address == pair_address(chain.factory.address, chain.address(a), chain.address(b))
    r0, r1, _ = pair.functions.getReserves().call()
    token0 = pair.functions.token0().call()
    ra, rb = (r0, r1) if token0 == chain.address(a) else (r1, r0)
    human_a = Decimal(ra) / 10 ** chain.decimals[a]
    human_b = Decimal(rb) / 10 ** chain.decimals[b]
    expected = chain.prices_usd[a] / chain.prices_usd[b]
    assert abs(human_b / human_a / expected - 1) < Decimal("1e-6")
    assert abs(human_a * chain.prices_usd[a] / 5_000_000 - 1) < Decimal("1e-6")


def test_seed_prices_come_from_the_real_data(chain: ChainEnv) -> None:
    assert chain.seed_date == "2023-11-30"
    assert Decimal(30_000) < chain.prices_usd["WBTC"] < Decimal(45_000)
    assert Decimal(1_500) < chain.prices_usd["WETH"] < Decimal(2_500)


def test_trader_is_funded(chain: ChainEnv) -> None:
    got = chain.balances(chain.accounts.trader.address)
    assert got == {s: chain.units(s, TRADER_HOLDINGS[s]) for s in got}


def test_blocks_have_pinned_timestamps(chain: ChainEnv, attacker: Sender) -> None:
    before = chain.w3.eth.get_block("latest")["timestamp"]
    attacker.transact(chain.tokens["USDC"].functions.transfer(chain.accounts.deployer.address, 1))
    after = chain.w3.eth.get_block("latest")["timestamp"]
    assert after - before == 12
    assert chain.w3.eth.get_block(1)["timestamp"] >= 1_700_000_000


def test_isolation_a_trade_changes_state(chain: ChainEnv, trader: Sender) -> None:
    usdc = chain.tokens["USDC"]
    trader.transact(usdc.functions.transfer(chain.accounts.attacker.address, chain.units("USDC", 1000)))
    assert chain.w3.eth.block_number == chain.block_number + 1
    assert chain.balance("USDC", chain.accounts.trader.address) == chain.units("USDC", 49_000)


def test_isolation_b_next_test_sees_fresh_state(chain: ChainEnv) -> None:
    # runs after test_isolation_a (file order): the snapshot revert must have undone its transfer
    assert chain.w3.eth.block_number == chain.block_number
    assert chain.balance("USDC", chain.accounts.trader.address) == chain.units("USDC", 50_000)
