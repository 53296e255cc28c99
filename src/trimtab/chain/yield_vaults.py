"""ERC-4626 yield vaults on the local chain and atomic migrations between them (docs/onchain.md, "Yield vaults").

Two OpenZeppelin ERC-4626 vaults (vUSDC over the test USDC, vUSDT over a test USDT) whose share prices the caller
drives from a real liquidity index (`accrue` mints the interest into the vault), a Uniswap V2 USDC/USDT pool, and
the trader's YieldMigrator: redeem, swap and deposit in one transaction, each stage with a minimum output.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Final

from web3.contract import Contract
from web3.exceptions import ContractLogicError
from web3.logs import DISCARD

from trimtab.chain.artifacts import load_artifact
from trimtab.chain.deploy import FAR_DEADLINE, MAX_UINT, ChainEnv
from trimtab.chain.quote import pair_address
from trimtab.chain.revert import describe_revert
from trimtab.chain.tx import GWEI, FeePolicy, Sender
from trimtab.core.base.types import ZERO, Fill, Side
from trimtab.core.yields.migration import Move
from trimtab.errors import OrderRejected

VAULTS: Final = {"vUSDC": "USDC", "vUSDT": "USDT"}  # vault -> underlying
SEED_DEPOSIT: Final = Decimal(1_000_000)  # the deployer's own deposit, so share prices never start from an empty vault


@dataclass(frozen=True)
class YieldEnv:
    """The chain plus the yield contracts: tokens by symbol (USDT added), vaults by name, pool, migrator."""

    chain: ChainEnv
    tokens: dict[str, Contract]
    vaults: dict[str, Contract]
    pair: Contract
    migrator: Contract

    def units(self, symbol: str, amount: Decimal | int | str) -> int:
        return int((Decimal(amount) * 10**6).to_integral_value(rounding=ROUND_DOWN))

    def human(self, units: int) -> Decimal:
        return Decimal(units) / 10**6

    def share_price(self, vault: str) -> Decimal:
        """Underlying per share (both have 6 decimals): convertToAssets(1e6) / 1e6."""
        return self.human(int(self.vaults[vault].functions.convertToAssets(10**6).call()))

    def balance(self, symbol: str, owner: str) -> int:
        c = self.vaults.get(symbol) or self.tokens[symbol]
        return int(c.functions.balanceOf(owner).call())


def deploy_yield(
    env: ChainEnv,
    *,
    pool_usd: Decimal = Decimal(20_000_000),
    trader_usdc: Decimal = Decimal(1_000_000),
    usdt_per_usdc: Decimal = Decimal(1),
) -> YieldEnv:
    """USDT token, a USDC/USDT V2 pool (`pool_usd` per side at `usdt_per_usdc`), the two vaults, the migrator."""
    fees = FeePolicy(max_fee_cap=50 * GWEI, priority_fee=1 * GWEI)
    dep = Sender(env.w3, env.accounts.deployer, fees)
    usdt = dep.deploy(load_artifact("TestToken"), "Tether USD (test)", "USDT", 6)
    tokens = {"USDC": env.tokens["USDC"], "USDT": usdt}
    a, b = u(pool_usd), u(pool_usd * usdt_per_usdc)
    dep.transact(tokens["USDC"].functions.mint(dep.address, a + u(SEED_DEPOSIT)), what="mint USDC")
    dep.transact(usdt.functions.mint(dep.address, b + u(SEED_DEPOSIT)), what="mint USDT")
    for t in tokens.values():
        dep.transact(t.functions.approve(env.router.address, MAX_UINT), what="approve router")
    dep.transact(
        env.router.functions.addLiquidity(tokens["USDC"].address, usdt.address, a, b, 0, 0, dep.address, FAR_DEADLINE),
        what="addLiquidity USDC/USDT",
    )
    pair = env.w3.eth.contract(
        address=pair_address(env.factory.address, tokens["USDC"].address, usdt.address),
        abi=load_artifact("UniswapV2Pair").abi,
    )
    vaults: dict[str, Contract] = {}
    for name, under in VAULTS.items():
        v = dep.deploy(load_artifact("TestYieldVault"), tokens[under].address, f"{name} vault (test)", name)
        dep.transact(tokens[under].functions.approve(v.address, MAX_UINT), what="approve vault")
        dep.transact(v.functions.deposit(u(SEED_DEPOSIT), dep.address), what=f"seed {name}")
        vaults[name] = v
    trader = Sender(env.w3, env.accounts.trader, fees)
    migrator = dep.deploy(load_artifact("YieldMigrator"), trader.address, env.router.address)
    dep.transact(tokens["USDC"].functions.mint(trader.address, u(trader_usdc)), what="fund trader")
    for c in [*tokens.values(), *vaults.values()]:  # the migrator pulls tokens and redeems shares for the owner
        trader.transact(c.functions.approve(migrator.address, MAX_UINT), what="approve migrator")
    return YieldEnv(env, tokens, vaults, pair, migrator)


def u(x: Decimal) -> int:
    """Human amount -> base units of a 6-decimal token (floored)."""
    return int((x * 10**6).to_integral_value(rounding=ROUND_DOWN))


def accrue(y: YieldEnv, vault: str, ratio: Decimal) -> int:
    """Grow `vault`'s share price by `ratio` (e.g. index_t / index_{t-1}) by minting the interest into it."""
    v = y.vaults[vault]
    total = int(v.functions.totalAssets().call())
    interest = int((Decimal(total) * (ratio - 1)).to_integral_value(rounding=ROUND_DOWN))
    if interest > 0:
        dep = Sender(y.chain.w3, y.chain.accounts.deployer, FeePolicy(max_fee_cap=50 * GWEI, priority_fee=1 * GWEI))
        dep.transact(y.tokens[VAULTS[vault]].functions.mint(v.address, interest), what=f"accrue {vault}")
    return interest


def set_liquidity(y: YieldEnv, vault: str, available: int | None) -> None:
    """The vault's withdrawal limit in underlying units (None: no limit), like a lending pool's free liquidity."""
    dep = Sender(y.chain.w3, y.chain.accounts.deployer, FeePolicy(max_fee_cap=50 * GWEI, priority_fee=1 * GWEI))
    dep.transact(y.vaults[vault].functions.setLiquidityCap(MAX_UINT if available is None else available), what="cap")


@dataclass(frozen=True)
class Step:
    """One guarded step: from a vault (shares) or the wallet (amount of `token`), to a vault or the wallet."""

    source: str  # vault name or token symbol (wallet)
    target: str
    amount: int  # shares when the source is a vault, token units otherwise
    min_assets: int = 0
    min_swap_out: int = 0
    min_out: int = 0

    def tuple_for(self, y: YieldEnv) -> tuple[object, ...]:
        src_vault = y.vaults.get(self.source)
        dst_vault = y.vaults.get(self.target)
        a = VAULTS.get(self.source, self.source)
        b = VAULTS.get(self.target, self.target)
        path = [y.tokens[a].address, y.tokens[b].address] if a != b else []
        return (
            src_vault.address if src_vault else ZERO_ADDRESS,
            self.amount if src_vault else 0,
            self.min_assets,
            0 if src_vault else self.amount,
            path,
            self.min_swap_out,
            dst_vault.address if dst_vault else ZERO_ADDRESS,
            self.min_out,
        )


ZERO_ADDRESS: Final = "0x" + "00" * 20


def guarded_step(y: YieldEnv, source: str, target: str, amount: int, tolerance: Decimal = Decimal("0.001")) -> Step:
    """A step whose minimum outputs are the current previews and V2 quote less `tolerance` (0.1%)."""
    keep = 1 - tolerance

    def floor(x: int) -> int:
        return int((Decimal(x) * keep).to_integral_value(rounding=ROUND_DOWN))

    assets = int(y.vaults[source].functions.previewRedeem(amount).call()) if source in y.vaults else amount
    a, b = VAULTS.get(source, source), VAULTS.get(target, target)
    out = assets
    if a != b:
        amounts = y.chain.router.functions.getAmountsOut(assets, [y.tokens[a].address, y.tokens[b].address]).call()
        out = int(amounts[-1])
    final = int(y.vaults[target].functions.previewDeposit(out).call()) if target in y.vaults else out
    return Step(
        source, target, amount, floor(assets) if source in y.vaults else 0, floor(out) if a != b else 0, floor(final)
    )


@dataclass(frozen=True)
class MigrationReceipt:
    """What one batch did: per step (assets in, swap out, final out), gas used, and the legs as Fills."""

    outputs: tuple[tuple[int, int, int], ...]
    gas_used: int
    fills: tuple[Fill, ...]


def migrate(y: YieldEnv, steps: list[Step], *, deadline: int = FAR_DEADLINE) -> MigrationReceipt:
    """Send the batch from the trader; a failed guard reverts everything (OrderRejected, nothing moved)."""
    trader = Sender(y.chain.w3, y.chain.accounts.trader, FeePolicy(max_fee_cap=100 * GWEI))
    call = y.migrator.functions.migrate([s.tuple_for(y) for s in steps], deadline)
    try:  # preflight, so a revert inside a vault or the pool is named with their ABIs too
        call.call({"from": trader.address})
    except ContractLogicError as exc:
        abis = [y.migrator.abi, load_artifact("TestYieldVault").abi, load_artifact("UniswapV2Router02").abi]
        raise OrderRejected(
            f"migrate would revert: {describe_revert(exc, abis)}", venue="evm", op="preflight"
        ) from None
    receipt = trader.transact(call, what="migrate")
    events = y.migrator.events.Migrated().process_receipt(receipt, errors=DISCARD)  # token / vault logs are not ours
    if len(events) != len(steps):
        raise OrderRejected(f"expected {len(steps)} Migrated events, got {len(events)}", venue="evm", op="migrate")
    outputs = tuple(
        (int(e["args"]["assetsIn"]), int(e["args"]["swapOut"]), int(e["args"]["amountOut"])) for e in events
    )
    fills: list[Fill] = []
    for s, (assets, swapped, out) in zip(steps, outputs, strict=True):
        fills.extend(_fills(y, s, assets, swapped, out))
    return MigrationReceipt(outputs, int(receipt["gasUsed"]), tuple(fills))


def _fills(y: YieldEnv, s: Step, assets: int, swapped: int, out: int) -> list[Fill]:
    """The step as withdraw / swap / deposit fills (human units; gas is reported per batch, not per leg)."""
    h = y.human
    a, b = VAULTS.get(s.source, s.source), VAULTS.get(s.target, s.target)
    legs: list[Fill] = []
    if s.source in y.vaults:
        legs.append(Fill(s.source, a, Side.SELL, h(s.amount), h(assets) / h(s.amount), ZERO, ZERO, gross=h(assets)))
    if a != b:
        legs.append(Fill(a, b, Side.SELL, h(assets), h(swapped) / h(assets), ZERO, ZERO, gross=h(swapped)))
    if s.target in y.vaults and out:
        legs.append(Fill(s.target, b, Side.BUY, h(out), h(swapped) / h(out), ZERO, ZERO, gross=h(swapped)))
    return legs


def step_for_move(y: YieldEnv, move: Move, tolerance: Decimal = Decimal("0.001")) -> Step:
    """The guarded step that carries out a core migration `Move` (positions named like the vaults or tokens):
    all of the source when the move covers its value, else the shares worth `amount_usd` at the share price."""
    owner = y.chain.accounts.trader.address
    held = y.balance(move.source, owner)
    if move.source in y.vaults:
        value = int(y.vaults[move.source].functions.previewRedeem(held).call())
        want = u(Decimal(repr(move.amount_usd)))
        amount = held if want >= value - 10 else int(y.vaults[move.source].functions.previewWithdraw(want).call())
    else:
        amount = min(held, u(Decimal(repr(move.amount_usd))))
    if amount <= 0:
        raise OrderRejected(f"nothing of {move.source} to move", venue="evm", op="migrate")
    return guarded_step(y, move.source, move.target, amount, tolerance)
