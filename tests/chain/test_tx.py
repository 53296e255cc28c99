"""EIP-1559 fees stay under the cap, transactions are signed locally, send failures keep the nonce in sync."""

from __future__ import annotations

import pytest
from web3.exceptions import Web3RPCError

from trimtab.chain.deploy import ChainEnv
from trimtab.chain.tx import GWEI, FeePolicy, Sender, fee_fields
from trimtab.errors import VenueUnavailable


def test_fees_follow_base_fee_and_respect_the_cap(chain: ChainEnv) -> None:
    base = chain.w3.eth.get_block("latest")["baseFeePerGas"]
    fees = fee_fields(chain.w3, FeePolicy(max_fee_cap=100 * GWEI, priority_fee=GWEI))
    assert fees == {"maxFeePerGas": 2 * base + GWEI, "maxPriorityFeePerGas": GWEI}
    capped = fee_fields(chain.w3, FeePolicy(max_fee_cap=base + GWEI, priority_fee=GWEI))
    assert capped["maxFeePerGas"] == base + GWEI
    with pytest.raises(VenueUnavailable, match="exceeds the max-fee cap"):
        fee_fields(chain.w3, FeePolicy(max_fee_cap=base, priority_fee=GWEI))


def test_sent_transaction_is_type_2_under_the_cap(chain: ChainEnv) -> None:
    cap = 5 * GWEI
    sender = Sender(chain.w3, chain.accounts.trader, FeePolicy(max_fee_cap=cap))
    receipt = sender.transact(chain.tokens["USDC"].functions.transfer(chain.accounts.attacker.address, 1))
    tx = chain.w3.eth.get_transaction(receipt["transactionHash"])
    assert tx["type"] == 2 and tx["maxFeePerGas"] <= cap
    assert tx["from"] == chain.accounts.trader.address
    assert receipt["effectiveGasPrice"] <= cap


def test_failed_send_resyncs_the_nonce(chain: ChainEnv) -> None:
    sender = Sender(chain.w3, chain.accounts.trader, FeePolicy(priority_fee=GWEI))
    start = sender.nonce
    call = chain.tokens["USDC"].functions.transfer(chain.accounts.attacker.address, 1)
    with pytest.raises(Web3RPCError):  # below the 21k intrinsic gas: refused by the node
        sender.transact(call, gas=20_000)
    assert sender.nonce == start
    sender.transact(call)
    assert sender.nonce == start + 1
