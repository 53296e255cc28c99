"""ERC-4626 vaults (OpenZeppelin) on anvil, share prices driven by the real Aave v3 liquidity indices:
deposit, accrue, migrate USDC -> USDT in one guarded transaction, atomic reverts, withdrawal limits."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from trimtab.adapters.rates import load_rates
from trimtab.chain.deploy import ChainEnv
from trimtab.chain.yield_vaults import (
    Step,
    YieldEnv,
    accrue,
    deploy_yield,
    guarded_step,
    migrate,
    set_liquidity,
    step_for_move,
)
from trimtab.core.base.ledger import balances_from, entries_for_fill
from trimtab.core.yields.migration import SwapCosts
from trimtab.errors import OrderRejected

pytestmark = pytest.mark.slow


@pytest.fixture
def y(chain: ChainEnv) -> YieldEnv:
    return deploy_yield(chain)


def _aave_ratios(start: str, days: int) -> list[tuple[str, Decimal, Decimal]]:
    """(date, USDC index ratio, USDT index ratio) day over day from the shipped Aave v3 file."""
    r = load_rates(start=start)
    i, j = r.column("USDC"), r.column("USDT")

    def ratio(t: int, c: int) -> Decimal:
        return Decimal(repr(float(r.index[t, c]))) / Decimal(repr(float(r.index[t - 1, c])))

    return [(str(r.times[t])[:10], ratio(t, i), ratio(t, j)) for t in range(1, days + 1)]


def test_deposit_accrue_by_the_real_index_and_migrate_atomically(y: YieldEnv) -> None:
    trader = y.chain.accounts.trader.address
    # deposit 100,000 USDC from the wallet into vUSDC (one guarded step)
    dep = migrate(y, [guarded_step(y, "USDC", "vUSDC", y.units("USDC", 100_000))])
    shares = y.balance("vUSDC", trader)
    assert dep.outputs[0][2] == shares == y.units("USDC", 100_000)  # share price 1 before any interest
    # 14 days of real Aave v3 interest (2023-03-01 ..): each vault's share price follows its reserve's index
    ratios = _aave_ratios("2023-03-01", 14)
    growth = {"vUSDC": Decimal(1), "vUSDT": Decimal(1)}
    for _, usdc, usdt in ratios:
        accrue(y, "vUSDC", usdc)
        accrue(y, "vUSDT", usdt)
        growth["vUSDC"] *= usdc
        growth["vUSDT"] *= usdt
    for v in ("vUSDC", "vUSDT"):
        assert float(y.share_price(v)) == pytest.approx(float(growth[v]), abs=2e-6)  # 6-decimal rounding
    value = y.vaults["vUSDC"].functions.previewRedeem(shares).call()
    assert value > y.units("USDC", 100_000)
    # migrate every vUSDC share to vUSDT: redeem, swap on the USDC/USDT pool, deposit, one transaction
    step = guarded_step(y, "vUSDC", "vUSDT", shares)
    pool_in, pool_out = _quote(y, value)
    rec = migrate(y, [step])
    assets, swapped, out = rec.outputs[0]
    assert assets == value and swapped >= step.min_swap_out and out >= step.min_out
    assert y.balance("vUSDC", trader) == 0 and y.balance("vUSDT", trader) == out
    assert all(y.balance(s, y.migrator.address) == 0 for s in ("USDC", "USDT", "vUSDC", "vUSDT"))  # no custody
    assert swapped == pool_out and pool_in == assets  # exactly the V2 constant-product quote (0.3% fee)
    assert 0 < rec.gas_used < 400_000
    # the legs as fills balance in the ledger: shares out, shares in, nothing left in the underlyings
    legs = [e for k, f in enumerate(rec.fills) for e in entries_for_fill(f, account="w", time=None, ref=str(k))]  # type: ignore[arg-type]
    net = {k: v for k, v in balances_from(legs).items() if v}
    assert net == {"vUSDC": -y.human(shares), "vUSDT": y.human(out)}


def _quote(y: YieldEnv, amount: int) -> tuple[int, int]:
    a, b = y.tokens["USDC"].address, y.tokens["USDT"].address
    amounts = y.chain.router.functions.getAmountsOut(amount, [a, b]).call()
    return int(amounts[0]), int(amounts[-1])


def test_a_failed_guard_reverts_the_whole_batch(y: YieldEnv) -> None:
    trader = y.chain.accounts.trader.address
    migrate(y, [guarded_step(y, "USDC", "vUSDC", y.units("USDC", 200_000))])
    shares = y.balance("vUSDC", trader)
    before = {s: y.balance(s, trader) for s in ("USDC", "USDT", "vUSDC", "vUSDT")}
    good = guarded_step(y, "vUSDC", "vUSDT", shares // 2)
    greedy = Step("vUSDC", "vUSDT", shares // 2, min_out=guarded_step(y, "vUSDC", "vUSDT", shares // 2).min_out * 2)
    with pytest.raises(OrderRejected, match="InsufficientOutput"):
        migrate(y, [good, greedy])
    assert {s: y.balance(s, trader) for s in before} == before  # the first step was undone too


def test_withdrawal_limit_blocks_the_exit_until_liquidity_returns(y: YieldEnv) -> None:
    trader = y.chain.accounts.trader.address
    migrate(y, [guarded_step(y, "USDC", "vUSDT", y.units("USDC", 100_000))])  # swap then deposit
    shares = y.balance("vUSDT", trader)
    assert shares > 0
    # the Aave USDT reserve on 2023-03-12: 100% utilised; the vault lets only 3,398 USDT leave
    set_liquidity(y, "vUSDT", y.units("USDT", 3_398))
    with pytest.raises(OrderRejected, match="ERC4626ExceededMaxRedeem"):
        migrate(y, [Step("vUSDT", "USDT", shares)])
    part = int(y.vaults["vUSDT"].functions.maxRedeem(trader).call())
    rec = migrate(y, [guarded_step(y, "vUSDT", "USDT", part)])  # a partial exit, like the backtest's risk move
    assert rec.outputs[0][2] <= y.units("USDT", 3_398)
    set_liquidity(y, "vUSDT", None)
    rest = y.balance("vUSDT", trader)
    migrate(y, [guarded_step(y, "vUSDT", "USDT", rest)])
    assert y.balance("vUSDT", trader) == 0


def test_only_the_owner_may_migrate(y: YieldEnv) -> None:
    from trimtab.chain.tx import FeePolicy, Sender

    attacker = Sender(y.chain.w3, y.chain.accounts.attacker, FeePolicy(max_fee_cap=100 * 10**9))
    call = y.migrator.functions.migrate([Step("USDC", "vUSDC", 1).tuple_for(y)], 2**48)
    with pytest.raises(OrderRejected, match="NotOwner"):
        attacker.transact(call)
    assert np.isfinite(float(y.share_price("vUSDC")))


def test_the_migration_rule_drives_the_vaults(chain: ChainEnv) -> None:
    """The core rule reads the real Aave rates, the chain carries out its move: on 2023-03-04 USDT (3.23%)
    beat USDC (2.06%); the rule's cost model is set to the chain's pool (V2: 0.3% fee, impact ~ amount / reserve)."""
    from trimtab.core.yields.migration import Market, MigrationRule, assess
    from trimtab.core.yields.positions import ReserveState, YieldPosition, cash_position

    y = deploy_yield(chain, pool_usd=Decimal(2_000_000_000))
    trader = y.chain.accounts.trader.address
    migrate(y, [guarded_step(y, "USDC", "vUSDC", y.units("USDC", 1_000_000))])
    rates = load_rates(start="2023-03-04", end="2023-03-04")
    positions = (
        cash_position("USDC"),
        YieldPosition("vUSDC", "USDC", "vault", "USDC"),
        YieldPosition("vUSDT", "USDT", "vault", "USDT"),
    )
    rule = MigrationRule(
        horizon_days=365, max_gas_fraction=0.01, swap=SwapCosts(fee_bps=30, slippage_bps=0, depth_usd=2e9)
    )
    states: dict[str, ReserveState | None] = {"USDC": None}
    values = {"USDC": 0.0}
    for p in positions[1:]:
        s = rates.state(0, p.reserve)
        assert s is not None
        states[p.name] = ReserveState(s.apr, float(y.share_price(p.name)), s.supplied, s.utilization)
        values[p.name] = float(y.human(y.vaults[p.name].functions.previewRedeem(y.balance(p.name, trader)).call()))
    (move,) = assess(rule, positions, values, Market(states, 4e-5)).moves
    assert (move.source, move.target) == ("vUSDC", "vUSDT") and "APY 2.06% -> 3.23%" in move.reason
    rec = migrate(y, [step_for_move(y, move)])
    assert y.balance("vUSDC", trader) == 0 and y.balance("vUSDT", trader) == rec.outputs[0][2]
    received = float(y.human(rec.outputs[0][1]))
    estimated = move.amount_usd - move.costs.fee - move.costs.slippage
    assert received == pytest.approx(estimated, rel=2e-4)  # the rule's cost estimate is the chain's fill, to 2 bp
