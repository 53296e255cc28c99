"""Chain fixtures: one anvil + full deploy per session, every test inside its own evm_snapshot.

Without the anvil binary the chain tests skip with a hint, except in CI (CI=true), where they fail.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.chain.support import PRICE_FILE_NAME, price_file, require
from trimtab.chain.anvil import Anvil
from trimtab.chain.artifacts import anvil_binary
from trimtab.chain.deploy import ChainEnv, DevAccounts, deploy
from trimtab.chain.keys import dev_accounts
from trimtab.chain.node import connect, revert_to, set_automine, snapshot
from trimtab.chain.seed import load_seed_prices
from trimtab.chain.tx import FeePolicy, Sender


@pytest.fixture(scope="session")
def chain() -> Iterator[ChainEnv]:
    """Anvil on a free port with pinned timestamps, Uniswap V2 + V3, test tokens and the executor."""
    require(anvil_binary() is not None, "anvil binary not found: run `make node` (npm ci) to install it")
    prices = price_file()
    require(prices is not None, f"{PRICE_FILE_NAME} not found in trimtab/data")
    assert prices is not None
    node = Anvil().start()
    try:
        w3 = connect(node.url)
        accounts = DevAccounts(*dev_accounts())
        roles = [accounts.deployer.address, accounts.trader.address, accounts.attacker.address]
        assert roles == list(w3.eth.accounts[:3]), "dev keys do not match anvil's accounts"
        yield deploy(w3, accounts, load_seed_prices(prices))
    finally:
        node.stop()


@pytest.fixture(autouse=True)
def _isolate(request: pytest.FixtureRequest) -> Iterator[None]:
    """Run each chain test from the freshly seeded state (snapshots are single use: one per test)."""
    if "chain" not in request.fixturenames:
        yield
        return
    env: ChainEnv = request.getfixturevalue("chain")
    snap = snapshot(env.w3)
    yield
    set_automine(env.w3, True)
    revert_to(env.w3, snap)


@pytest.fixture
def trader(chain: ChainEnv) -> Sender:
    """Signs for the executor's owner (local signing, EIP-1559 under a 100 gwei cap)."""
    return Sender(chain.w3, chain.accounts.trader, FeePolicy(max_fee_cap=100 * 10**9))


@pytest.fixture
def attacker(chain: ChainEnv) -> Sender:
    return Sender(chain.w3, chain.accounts.attacker, FeePolicy(max_fee_cap=100 * 10**9))
