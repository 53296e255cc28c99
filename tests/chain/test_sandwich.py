"""A same-block sandwich on the local chain: the simulated-minOut guard turns a loss into a revert."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from hexbytes import HexBytes

from trimtab.chain.batch import BatchOutcome, SwapLeg, settle, sign_batch, simulate_batch, with_min_outs
from trimtab.chain.deploy import FAR_DEADLINE, ChainEnv
from trimtab.chain.node import mine, set_automine
from trimtab.chain.quote import quote_path
from trimtab.chain.tx import GWEI, Sender, send_signed
from trimtab.errors import OrderRejected

VICTIM_USDC = 50_000
ATTACK_USDC = 500_000


@dataclass(frozen=True)
class Sandwich:
    simulated: int
    victim: BatchOutcome | OrderRejected
    victim_gas_cost: int
    hashes: tuple[HexBytes, HexBytes, HexBytes]


def _run(chain: ChainEnv, trader: Sender, attacker: Sender, *, guarded: bool) -> Sandwich:
    w3, router = chain.w3, chain.router
    usdc, weth = chain.path("USDC", "WETH")
    leg = SwapLeg((usdc, weth), chain.units("USDC", VICTIM_USDC))
    simulated = simulate_batch(chain.executor, [leg], sender=trader.address, deadline=FAR_DEADLINE)
    legs = with_min_outs([leg], simulated, Decimal("0.005")) if guarded else [leg]
    # the victim signs first; the attacker sees it in the mempool and wraps it
    victim_tx = sign_batch(trader, chain.executor, legs, deadline=FAR_DEADLINE, priority_fee=2 * GWEI)
    front_in = chain.units("USDC", ATTACK_USDC)
    front_out = quote_path(w3, chain.factory.address, (usdc, weth), front_in)[-1]
    swap = router.functions.swapExactTokensForTokens
    front = attacker.sign(swap(front_in, 0, [usdc, weth], attacker.address, FAR_DEADLINE), priority_fee=10 * GWEI)
    back = attacker.sign(swap(front_out, 0, [weth, usdc], attacker.address, FAR_DEADLINE), priority_fee=1 * GWEI)
    eth_before = w3.eth.get_balance(trader.address)
    set_automine(w3, False)
    hashes = (send_signed(w3, front), send_signed(w3, victim_tx), send_signed(w3, back))
    mine(w3)
    set_automine(w3, True)
    receipt = w3.eth.get_transaction_receipt(hashes[1])
    victim: BatchOutcome | OrderRejected
    try:
        victim = settle(w3, hashes[1], legs, trader.address)
    except OrderRejected as exc:
        victim = exc
    gas_cost = eth_before - w3.eth.get_balance(trader.address)
    assert gas_cost == receipt["gasUsed"] * receipt["effectiveGasPrice"]
    return Sandwich(simulated=simulated[0], victim=victim, victim_gas_cost=gas_cost, hashes=hashes)


def _assert_one_block_in_order(chain: ChainEnv, hashes: tuple[HexBytes, ...]) -> None:
    receipts = [chain.w3.eth.get_transaction_receipt(h) for h in hashes]
    assert len({r["blockNumber"] for r in receipts}) == 1
    assert [r["transactionIndex"] for r in receipts] == [0, 1, 2]
    assert receipts[0]["status"] == receipts[2]["status"] == 1


def test_guarded_batch_reverts_and_loses_only_gas(chain: ChainEnv, trader: Sender, attacker: Sender) -> None:
    before = chain.balances(trader.address)
    result = _run(chain, trader, attacker, guarded=True)
    _assert_one_block_in_order(chain, result.hashes)
    assert isinstance(result.victim, OrderRejected)
    assert "status 0" in str(result.victim)
    assert chain.balances(trader.address) == before
    assert 0 < result.victim_gas_cost < 10**15  # < 0.001 ETH


def test_unguarded_batch_fills_at_the_manipulated_price(chain: ChainEnv, trader: Sender, attacker: Sender) -> None:
    attacker_usdc = chain.balance("USDC", attacker.address)
    attacker_weth = chain.balance("WETH", attacker.address)
    result = _run(chain, trader, attacker, guarded=False)
    _assert_one_block_in_order(chain, result.hashes)
    assert isinstance(result.victim, BatchOutcome)
    got = result.victim.amounts_out[0]
    loss = Decimal(result.simulated - got) / result.simulated
    assert loss > Decimal("0.005")  # worse than the guard would have allowed
    eth_lost_usd = Decimal(result.simulated - got) / 10**18 * chain.prices_usd["WETH"]
    profit_usdc = chain.balance("USDC", attacker.address) - attacker_usdc
    assert chain.balance("WETH", attacker.address) == attacker_weth
    assert profit_usdc > 0  # the attacker pockets part of the victim's loss
    assert Decimal(profit_usdc) / 10**6 < eth_lost_usd
    print(f"sandwich: victim lost {loss:.2%} (${eth_lost_usd:,.0f}); attacker made ${profit_usdc / 10**6:,.0f}")
