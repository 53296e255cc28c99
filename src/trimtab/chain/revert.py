"""Turn EVM revert payloads into readable text: Error(string), Panic(uint256) and ABI custom errors.

web3 raises revert strings as ContractLogicError but Solidity custom errors only as a raw selector
(ContractCustomError); this decodes them against the contract ABIs (EVM-RECIPE pitfall 3).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from eth_abi.abi import decode
from eth_utils.crypto import keccak
from web3.exceptions import ContractLogicError

_ERROR_STRING = bytes.fromhex("08c379a0")
_PANIC = bytes.fromhex("4e487b71")


def _type_str(param: Mapping[str, Any]) -> str:
    """Canonical ABI type of one input, expanding tuples."""
    typ = str(param["type"])
    if typ.startswith("tuple"):
        inner = ",".join(_type_str(c) for c in param.get("components", []))
        return f"({inner}){typ[5:]}"
    return typ


def error_selectors(abis: Iterable[Iterable[Mapping[str, Any]]]) -> dict[bytes, tuple[str, list[str], list[str]]]:
    """selector -> (error name, input names, input types) for every `error` entry in the ABIs."""
    table: dict[bytes, tuple[str, list[str], list[str]]] = {}
    for abi in abis:
        for item in abi:
            if item.get("type") != "error":
                continue
            types = [_type_str(p) for p in item.get("inputs", [])]
            names = [str(p.get("name", "")) for p in item.get("inputs", [])]
            sig = f"{item['name']}({','.join(types)})"
            table[keccak(text=sig)[:4]] = (str(item["name"]), names, types)
    return table


def _as_bytes(data: object) -> bytes | None:
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, bytes):
        return data
    if isinstance(data, str) and data.startswith("0x"):
        try:
            return bytes.fromhex(data[2:])
        except ValueError:
            return None
    return None


def decode_revert_data(data: bytes, abis: Iterable[Iterable[Mapping[str, Any]]] = ()) -> str:
    """Readable text for raw revert data, e.g. 'InsufficientOutput(leg=0, amountOut=5, minOut=9)'."""
    if not data:
        return "reverted without data"
    selector, body = data[:4], data[4:]
    try:
        if selector == _ERROR_STRING:
            return str(decode(["string"], body)[0])
        if selector == _PANIC:
            return f"Panic(0x{decode(['uint256'], body)[0]:02x})"
        known = error_selectors(abis).get(selector)
        if known is not None:
            name, names, types = known
            values = decode(types, body)
            args = ", ".join(f"{n}={v}" if n else str(v) for n, v in zip(names, values, strict=True))
            return f"{name}({args})"
    except Exception:  # noqa: BLE001, S110 - malformed payload: fall through to the raw hex
        pass
    return f"unknown error 0x{data.hex()}"


def describe_revert(exc: ContractLogicError, abis: Iterable[Iterable[Mapping[str, Any]]] = ()) -> str:
    """Readable text for a web3 revert exception (custom errors decoded against `abis`)."""
    raw = _as_bytes(exc.data)
    if raw is not None and raw[:4] != _ERROR_STRING:
        return decode_revert_data(raw, abis)
    message = exc.message or str(exc)
    return message.removeprefix("execution reverted: ")
