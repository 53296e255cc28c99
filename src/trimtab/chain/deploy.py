"""Deploy and seed the local test chain: WETH, Uniswap V2 (+ V3), test tokens, the batch executor.

Pools are seeded at real USD prices (seed.py); deployer, trader and attacker are anvil dev accounts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Final

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract

from trimtab.chain.artifacts import load_artifact
from trimtab.chain.quote import pair_address, pair_init_code_hash
from trimtab.chain.seed import SeedPrices
from trimtab.chain.tx import GWEI, FeePolicy, Sender
from trimtab.chain.v3 import V3Env, add_full_range_pool, deploy_v3

MAX_UINT: Final = 2**256 - 1
FAR_DEADLINE: Final = 2**48
TEST_TOKENS: Final = {
    "USDC": ("USD Coin (test)", 6),
    "WBTC": ("Wrapped BTC (test)", 8),
    "LINK": ("ChainLink (test)", 18),
}
V2_POOLS: Final = (("WBTC", "USDC"), ("WETH", "USDC"), ("LINK", "WETH"), ("WBTC", "WETH"))
V3_POOLS: Final = (("WETH", "USDC", 3000),)
TRADER_HOLDINGS: Final = {"WBTC": Decimal(2), "WETH": Decimal(30), "USDC": Decimal(50_000), "LINK": Decimal(3_000)}
ATTACKER_HOLDINGS: Final = {
    "WBTC": Decimal(20),
    "WETH": Decimal(1_000),
    "USDC": Decimal(2_000_000),
    "LINK": Decimal(100_000),
}


@dataclass(frozen=True)
class DevAccounts:
    """The three local-chain roles: deploys and seeds pools, owns the executor, attacks the trader."""

    deployer: LocalAccount
    trader: LocalAccount
    attacker: LocalAccount


@dataclass(frozen=True)
class ChainEnv:
    """Everything a chain test or benchmark needs, as deployed by deploy()."""

    w3: Web3
    accounts: DevAccounts
    tokens: dict[str, Contract]  # symbol -> ERC20 (WETH included)
    decimals: dict[str, int]
    weth: Contract
    factory: Contract
    router: Contract
    executor: Contract
    pairs: dict[tuple[str, str], Contract]  # as listed in V2_POOLS
    prices_usd: dict[str, Decimal]
    seed_date: str
    pair_init_code_hash: bytes
    v3: V3Env | None
    block_number: int  # chain head right after deploy and seeding

    def address(self, symbol: str) -> str:
        return str(self.tokens[symbol].address)

    def path(self, *symbols: str) -> tuple[str, ...]:
        """Token addresses for a swap path given by symbols, e.g. path('LINK', 'WETH', 'WBTC')."""
        return tuple(self.address(s) for s in symbols)

    def units(self, symbol: str, amount: Decimal | int | str) -> int:
        """Human amount -> integer base units (floored)."""
        scaled = Decimal(amount) * (Decimal(10) ** self.decimals[symbol])
        return int(scaled.to_integral_value(rounding=ROUND_DOWN))

    def balance(self, symbol: str, owner: str) -> int:
        return int(self.tokens[symbol].functions.balanceOf(owner).call())

    def balances(self, owner: str) -> dict[str, int]:
        return {s: self.balance(s, owner) for s in self.tokens}

    def pair(self, a: str, b: str) -> Contract:
        return self.pairs[(a, b)] if (a, b) in self.pairs else self.pairs[(b, a)]


def _deploy(sender: Sender, name: str, *args: object) -> Contract:
    return sender.deploy(load_artifact(name), *args)


def _units(amount: Decimal, decimals: int) -> int:
    return int((amount * (Decimal(10) ** decimals)).to_integral_value(rounding=ROUND_DOWN))


def _pool_amounts(
    prices: dict[str, Decimal], decimals: dict[str, int], a: str, b: str, usd: Decimal
) -> tuple[int, int]:
    """Base units of each side worth `usd`, so the pool's mid price equals the real USD price ratio."""
    return _units(usd / prices[a], decimals[a]), _units(usd / prices[b], decimals[b])


def _seed_amounts(
    prices: dict[str, Decimal], decimals: dict[str, int], pool_usd: Decimal, v3_usd: Decimal | None
) -> tuple[dict[tuple[str, str], tuple[int, int]], dict[tuple[str, str, int], tuple[int, int]]]:
    v2 = {(a, b): _pool_amounts(prices, decimals, a, b, pool_usd) for a, b in V2_POOLS}
    v3 = {} if v3_usd is None else {(a, b, f): _pool_amounts(prices, decimals, a, b, v3_usd) for a, b, f in V3_POOLS}
    return v2, v3


def _fund(
    sender: Sender, tokens: dict[str, Contract], decimals: dict[str, int], to: str, holdings: dict[str, Decimal]
) -> None:
    """Mint the test tokens in `holdings` to `to` (WETH is wrapped by the holder itself)."""
    for symbol, amount in holdings.items():
        if symbol != "WETH":
            sender.transact(tokens[symbol].functions.mint(to, _units(amount, decimals[symbol])), what=f"mint {symbol}")


def _approve_all(sender: Sender, tokens: dict[str, Contract], spenders: Sequence[str]) -> None:
    for spender in spenders:
        for token in tokens.values():
            sender.transact(token.functions.approve(spender, MAX_UINT), what="approve")


def _wrap(sender: Sender, weth: Contract, amount: int) -> None:
    if amount > 0:
        sender.transact(weth.functions.deposit(), value=amount, what="wrap ETH")


def deploy(
    w3: Web3,
    accounts: DevAccounts,
    prices: SeedPrices,
    *,
    pool_usd: Decimal = Decimal(5_000_000),
    v3_pool_usd: Decimal | None = Decimal(4_000_000),
) -> ChainEnv:
    """Deploy everything, seed V2 pools with `pool_usd` per side (V3 full range with `v3_pool_usd`), fund accounts."""
    fees = FeePolicy(max_fee_cap=50 * GWEI, priority_fee=1 * GWEI)
    dep = Sender(w3, accounts.deployer, fees, cache_fees=True)
    weth = _deploy(dep, "WETH9")
    factory = _deploy(dep, "UniswapV2Factory", accounts.deployer.address)
    router = _deploy(dep, "UniswapV2Router02", factory.address, weth.address)
    tokens: dict[str, Contract] = {"WETH": weth}
    decimals = {"WETH": 18}
    for symbol, (name, dec) in TEST_TOKENS.items():
        tokens[symbol] = _deploy(dep, "TestToken", name, symbol, dec)
        decimals[symbol] = dec
    init_hash = pair_init_code_hash()
    executor = _deploy(dep, "BatchExecutor", accounts.trader.address, router.address, factory.address, init_hash)
    v3 = deploy_v3(dep, weth.address) if v3_pool_usd is not None else None

    usd = dict(prices.usd)
    pairs = _seed_pools(dep, tokens, decimals, usd, router, factory.address, v3, pool_usd, v3_pool_usd)
    _setup_holder(
        w3,
        dep,
        tokens,
        decimals,
        accounts.trader,
        TRADER_HOLDINGS,
        fees,
        [router.address, executor.address] + ([v3.router.address] if v3 else []),
    )
    _setup_holder(w3, dep, tokens, decimals, accounts.attacker, ATTACKER_HOLDINGS, fees, [router.address])
    return ChainEnv(
        w3=w3,
        accounts=accounts,
        tokens=tokens,
        decimals=decimals,
        weth=weth,
        factory=factory,
        router=router,
        executor=executor,
        pairs=pairs,
        prices_usd=usd,
        seed_date=prices.date,
        pair_init_code_hash=init_hash,
        v3=v3,
        block_number=int(w3.eth.block_number),
    )


def _setup_holder(
    w3: Web3,
    dep: Sender,
    tokens: dict[str, Contract],
    decimals: dict[str, int],
    holder: LocalAccount,
    holdings: dict[str, Decimal],
    fees: FeePolicy,
    spenders: Sequence[str],
) -> None:
    """Mint the holder's tokens, let it wrap its own ETH, and approve the spenders once (max allowance)."""
    _fund(dep, tokens, decimals, holder.address, holdings)
    own = Sender(w3, holder, fees, cache_fees=True)
    _wrap(own, tokens["WETH"], _units(holdings.get("WETH", Decimal(0)), 18))
    _approve_all(own, tokens, spenders)


def _seed_pools(
    dep: Sender,
    tokens: dict[str, Contract],
    decimals: dict[str, int],
    usd: dict[str, Decimal],
    router: Contract,
    factory: str,
    v3: V3Env | None,
    pool_usd: Decimal,
    v3_pool_usd: Decimal | None,
) -> dict[tuple[str, str], Contract]:
    """Mint (with a 1% buffer), approve and add liquidity to every V2 pool and the V3 full-range pools."""
    v2_amounts, v3_amounts = _seed_amounts(usd, decimals, pool_usd, v3_pool_usd)
    need = dict.fromkeys(tokens, 0)
    for (a, b), (x, y) in [*v2_amounts.items(), *(((k[0], k[1]), v) for k, v in v3_amounts.items())]:
        need[a] += x
        need[b] += y
    buffered = {s: n + n // 100 for s, n in need.items()}  # pitfall 7: never mint exactly the liquidity
    for symbol, amount in buffered.items():
        if symbol != "WETH":
            dep.transact(tokens[symbol].functions.mint(dep.address, amount), what=f"mint {symbol}")
    _wrap(dep, tokens["WETH"], buffered["WETH"])
    _approve_all(dep, tokens, [router.address] + ([v3.position_manager.address] if v3 else []))

    pairs: dict[tuple[str, str], Contract] = {}
    pair_abi = load_artifact("UniswapV2Pair").abi
    for (a, b), (x, y) in v2_amounts.items():
        token_a, token_b = tokens[a].address, tokens[b].address
        call = router.functions.addLiquidity(token_a, token_b, x, y, 0, 0, dep.address, FAR_DEADLINE)
        dep.transact(call, what=f"addLiquidity {a}/{b}")
        pairs[(a, b)] = dep.w3.eth.contract(address=pair_address(factory, token_a, token_b), abi=pair_abi)
    if v3 is not None:
        for (a, b, fee), (x, y) in v3_amounts.items():
            v3.pools[(a, b, fee)] = add_full_range_pool(
                dep, v3, tokens[a].address, x, tokens[b].address, y, fee, FAR_DEADLINE
            )
    return pairs
