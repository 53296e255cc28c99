"""Revert payloads decode to readable text: Error(string), Panic, custom errors with arguments."""

from __future__ import annotations

from eth_abi.abi import encode
from eth_utils.crypto import keccak
from web3.exceptions import ContractCustomError, ContractLogicError

from trimtab.chain.artifacts import load_artifact
from trimtab.chain.revert import decode_revert_data, describe_revert, error_selectors

EXECUTOR_ABI = load_artifact("BatchExecutor").abi


def _selector(sig: str) -> bytes:
    return keccak(text=sig)[:4]


def test_custom_error_with_arguments() -> None:
    data = _selector("InsufficientOutput(uint256,uint256,uint256)") + encode(["uint256"] * 3, [2, 5, 9])
    assert decode_revert_data(data, [EXECUTOR_ABI]) == "InsufficientOutput(leg=2, amountOut=5, minOut=9)"
    exc = ContractCustomError("0x" + data.hex(), data="0x" + data.hex())
    assert describe_revert(exc, [EXECUTOR_ABI]) == "InsufficientOutput(leg=2, amountOut=5, minOut=9)"


def test_error_string_and_panic() -> None:
    msg = _selector("Error(string)") + encode(["string"], ["UniswapV2: K"])
    assert decode_revert_data(msg) == "UniswapV2: K"
    assert decode_revert_data(_selector("Panic(uint256)") + encode(["uint256"], [0x11])) == "Panic(0x11)"
    exc = ContractLogicError("execution reverted: UniswapV2Router: EXPIRED", data="0x" + msg.hex())
    assert describe_revert(exc) == "UniswapV2Router: EXPIRED"


def test_unknown_and_empty_payloads() -> None:
    assert decode_revert_data(b"") == "reverted without data"
    assert decode_revert_data(bytes.fromhex("deadbeef"), [EXECUTOR_ABI]) == "unknown error 0xdeadbeef"
    truncated = _selector("InsufficientOutput(uint256,uint256,uint256)") + b"\x01"
    assert decode_revert_data(truncated, [EXECUTOR_ABI]).startswith("unknown error 0x")


def test_selector_table_covers_every_executor_error() -> None:
    names = {name for name, _, _ in error_selectors([EXECUTOR_ABI]).values()}
    assert names == {e["name"] for e in EXECUTOR_ABI if e["type"] == "error"}
    assert _selector("NotOwner()") in error_selectors([EXECUTOR_ABI])
