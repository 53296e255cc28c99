"""BatchExecutor through Python: ordered simulation, per-leg guards, atomicity, deadline, owner-only, no custody."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from trimtab.chain.batch import (
    Mode,
    SwapLeg,
    execute_batch,
    guard_batch,
    leg_outputs,
    sign_batch,
    simulate_batch,
    with_min_outs,
)
from trimtab.chain.deploy import FAR_DEADLINE, ChainEnv
from trimtab.chain.scenario import rebalance_legs
from trimtab.chain.tx import Sender, confirm, send_signed
from trimtab.errors import OrderRejected, PlanError, VenueError

MODES: tuple[Mode, ...] = ("direct", "router")
SLIPPAGE = Decimal("0.005")


def _assert_executor_empty(chain: ChainEnv) -> None:
    ex = chain.executor.address
    assert chain.balances(ex) == dict.fromkeys(chain.tokens, 0)
    assert chain.w3.eth.get_balance(ex) == 0
    for token in chain.tokens.values():
        assert token.functions.allowance(ex, chain.router.address).call() == 0


@pytest.mark.parametrize("mode", MODES)
def test_four_leg_batch_fills_exactly_as_simulated(chain: ChainEnv, trader: Sender, mode: Mode) -> None:
    owner = trader.address
    legs = guard_batch(
        chain.executor, rebalance_legs(chain), sender=owner, deadline=FAR_DEADLINE, slippage=SLIPPAGE, mode=mode
    )
    simulated = simulate_batch(chain.executor, legs, sender=owner, deadline=FAR_DEADLINE, mode=mode)
    # leg 3 (WETH->LINK) and leg 4 (USDC->WETH->LINK) share a pool: leg 4 gets less than it would alone
    alone = simulate_batch(
        chain.executor, [replace(legs[3], min_out=0)], sender=owner, deadline=FAR_DEADLINE, mode=mode
    )
    assert simulated[3] < alone[0]
    before = chain.balances(owner)
    outcome = execute_batch(trader, chain.executor, legs, deadline=FAR_DEADLINE, mode=mode)
    after = chain.balances(owner)
    assert outcome.amounts_out == simulated
    assert all(leg.min_out == out * 995 // 1000 for leg, out in zip(legs, simulated, strict=True))
    spent = {s: before[s] - after[s] for s in before}
    assert spent["WBTC"] == legs[0].amount_in + legs[1].amount_in
    assert after["LINK"] - before["LINK"] == simulated[2] + simulated[3]
    assert spent["USDC"] == legs[3].amount_in - simulated[0]
    _assert_executor_empty(chain)


@pytest.mark.parametrize("mode", MODES)
def test_one_impossible_leg_reverts_the_whole_batch(chain: ChainEnv, trader: Sender, mode: Mode) -> None:
    owner = trader.address
    legs = list(
        guard_batch(
            chain.executor, rebalance_legs(chain), sender=owner, deadline=FAR_DEADLINE, slippage=SLIPPAGE, mode=mode
        )
    )
    legs[2] = replace(legs[2], min_out=legs[2].min_out * 2)
    expected = r"InsufficientOutput\(leg=2" if mode == "direct" else "INSUFFICIENT_OUTPUT_AMOUNT"
    with pytest.raises(OrderRejected, match=expected):
        simulate_batch(chain.executor, legs, sender=owner, deadline=FAR_DEADLINE, mode=mode)
    before = chain.balances(owner)
    with pytest.raises(OrderRejected, match="status 0"):  # forced on chain past the estimate
        execute_batch(trader, chain.executor, legs, deadline=FAR_DEADLINE, mode=mode, gas=1_500_000)
    assert chain.balances(owner) == before
    _assert_executor_empty(chain)


@pytest.mark.parametrize("mode", MODES)
def test_expired_deadline_reverts(chain: ChainEnv, trader: Sender, mode: Mode) -> None:
    now = chain.w3.eth.get_block("latest")["timestamp"]
    with pytest.raises(OrderRejected, match=r"Expired\(deadline=\d+, timestamp=\d+\)"):
        execute_batch(trader, chain.executor, rebalance_legs(chain), deadline=now - 1, mode=mode)


def test_non_owner_cannot_call(chain: ChainEnv, attacker: Sender) -> None:
    legs = rebalance_legs(chain)
    with pytest.raises(OrderRejected, match="NotOwner"):
        simulate_batch(chain.executor, legs, sender=attacker.address, deadline=FAR_DEADLINE)
    with pytest.raises(OrderRejected, match="NotOwner"):
        attacker.sign(chain.executor.functions.rescue(chain.address("USDC"), 1))
    signed = sign_batch(attacker, chain.executor, legs, deadline=FAR_DEADLINE, gas=500_000)
    with pytest.raises(OrderRejected, match="status 0"):
        confirm(chain.w3, send_signed(chain.w3, signed), what="attack")


def test_status_zero_receipt_is_a_failure_not_a_fill(chain: ChainEnv, trader: Sender) -> None:
    legs = guard_batch(
        chain.executor, rebalance_legs(chain), sender=trader.address, deadline=FAR_DEADLINE, slippage=SLIPPAGE
    )
    before = chain.balances(trader.address)
    nonce = chain.w3.eth.get_transaction_count(trader.address)
    with pytest.raises(VenueError, match="reverted on chain"):  # out of gas: the batch cannot fit in 60k
        execute_batch(trader, chain.executor, legs, deadline=FAR_DEADLINE, gas=60_000)
    assert chain.w3.eth.get_transaction_count(trader.address) == nonce + 1  # it was mined
    assert chain.balances(trader.address) == before


def test_rescue_returns_stray_tokens_to_the_owner(chain: ChainEnv, trader: Sender, attacker: Sender) -> None:
    usdc = chain.tokens["USDC"]
    attacker.transact(usdc.functions.transfer(chain.executor.address, 123))
    before = chain.balance("USDC", trader.address)
    trader.transact(chain.executor.functions.rescue(usdc.address, 123))
    assert chain.balance("USDC", trader.address) == before + 123
    _assert_executor_empty(chain)


def test_leg_outputs_reads_each_legs_payout(chain: ChainEnv, trader: Sender) -> None:
    legs = rebalance_legs(chain)
    receipt = trader.transact(chain.executor.functions.executeDirect([leg.as_abi() for leg in legs], FAR_DEADLINE))
    outs = leg_outputs(receipt, legs, trader.address)
    assert len(outs) == 4 and all(o > 0 for o in outs)
    with pytest.raises(OrderRejected, match="payouts"):
        leg_outputs(receipt, legs[:3], trader.address)


def test_min_outs_and_leg_validation() -> None:
    legs = [SwapLeg(("0x" + "11" * 20, "0x" + "22" * 20), 10**6)]
    assert with_min_outs(legs, [1000], Decimal("0.005"))[0].min_out == 995
    assert with_min_outs(legs, [999], Decimal("0"))[0].min_out == 999
    with pytest.raises(PlanError):
        with_min_outs(legs, [1000], Decimal("1"))
    with pytest.raises(PlanError):
        with_min_outs(legs, [1, 2], Decimal("0.01"))
    with pytest.raises(PlanError):
        SwapLeg(("0x" + "11" * 20,), 1)
    with pytest.raises(PlanError):
        SwapLeg(("0x" + "11" * 20, "0x" + "22" * 20), 0)
