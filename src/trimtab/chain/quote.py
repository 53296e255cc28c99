"""Uniswap V2 quoting in exact integer math, identical to UniswapV2Library.getAmountOut/getAmountsOut.

Constant product x*y=k with the input fee taken first (Adams, Zinsmeister, Robinson 2020, "Uniswap v2
Core", section 3.2.1): out = in*997*R_out / (R_in*1000 + in*997), floored.
"""

from __future__ import annotations

from collections.abc import Sequence

from eth_typing import ChecksumAddress
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3 import Web3

from trimtab.chain.artifacts import load_artifact
from trimtab.errors import OrderRejected

FEE_NUMERATOR = 997  # 0.3% LP fee on the input
FEE_DENOMINATOR = 1000


def get_amount_out(amount_in: int, reserve_in: int, reserve_out: int) -> int:
    """Output of one V2 hop for an exact input, floored exactly as the Solidity library does."""
    if amount_in <= 0:
        raise OrderRejected("UniswapV2Library: INSUFFICIENT_INPUT_AMOUNT", venue="uniswap-v2", op="quote")
    if reserve_in <= 0 or reserve_out <= 0:
        raise OrderRejected("UniswapV2Library: INSUFFICIENT_LIQUIDITY", venue="uniswap-v2", op="quote")
    amount_in_with_fee = amount_in * FEE_NUMERATOR
    return (amount_in_with_fee * reserve_out) // (reserve_in * FEE_DENOMINATOR + amount_in_with_fee)


def get_amounts_out(amount_in: int, reserves: Sequence[tuple[int, int]]) -> tuple[int, ...]:
    """Amounts along a multi-hop path given each hop's (reserve_in, reserve_out); first item is amount_in."""
    amounts = [amount_in]
    for reserve_in, reserve_out in reserves:
        amounts.append(get_amount_out(amounts[-1], reserve_in, reserve_out))
    return tuple(amounts)


def pair_init_code_hash() -> bytes:
    """keccak256 of the pinned UniswapV2Pair creation code (what the factory's CREATE2 uses)."""
    return keccak(load_artifact("UniswapV2Pair").bytecode)


def sort_tokens(token_a: str, token_b: str) -> tuple[ChecksumAddress, ChecksumAddress]:
    """(token0, token1) ordered by address, as the pair stores them."""
    if token_a.lower() == token_b.lower():
        raise OrderRejected("UniswapV2Library: IDENTICAL_ADDRESSES", venue="uniswap-v2", op="quote")
    a, b = to_checksum_address(token_a), to_checksum_address(token_b)
    return (a, b) if int(a, 16) < int(b, 16) else (b, a)


def pair_address(factory: str, token_a: str, token_b: str, init_code_hash: bytes | None = None) -> ChecksumAddress:
    """CREATE2 address of the factory's pair (UniswapV2Library.pairFor), computed without an RPC call."""
    token0, token1 = sort_tokens(token_a, token_b)
    salt = keccak(bytes.fromhex(token0[2:]) + bytes.fromhex(token1[2:]))
    code_hash = init_code_hash if init_code_hash is not None else pair_init_code_hash()
    raw = keccak(b"\xff" + bytes.fromhex(to_checksum_address(factory)[2:]) + salt + code_hash)
    return to_checksum_address(raw[12:])


def hop_reserves(w3: Web3, factory: str, token_in: str, token_out: str) -> tuple[int, int]:
    """(reserve_in, reserve_out) of the pair for one hop, read from the chain."""
    pair = w3.eth.contract(address=pair_address(factory, token_in, token_out), abi=load_artifact("UniswapV2Pair").abi)
    if not w3.eth.get_code(pair.address):
        raise OrderRejected(f"no V2 pair for {token_in}/{token_out}", venue="uniswap-v2", op="quote")
    r0, r1, _ = pair.functions.getReserves().call()
    token0, _t1 = sort_tokens(token_in, token_out)
    return (int(r0), int(r1)) if token0 == to_checksum_address(token_in) else (int(r1), int(r0))


def quote_path(w3: Web3, factory: str, path: Sequence[str], amount_in: int) -> tuple[int, ...]:
    """getAmountsOut computed locally from on-chain reserves (no trade in between -> exact)."""
    if len(path) < 2:
        raise OrderRejected("UniswapV2Library: INVALID_PATH", venue="uniswap-v2", op="quote")
    reserves = [hop_reserves(w3, factory, a, b) for a, b in zip(path[:-1], path[1:], strict=True)]
    return get_amounts_out(amount_in, reserves)


def mid_price(reserve_in: int, reserve_out: int) -> float:
    """Marginal price out-per-in before fees (for price-impact reporting only, not for amounts)."""
    return reserve_out / reserve_in
