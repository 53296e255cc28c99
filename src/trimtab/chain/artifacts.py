"""Contract artifacts (ABI + creation bytecode): Uniswap's from the pinned npm packages, ours from build/.

Uniswap bytecode is never recompiled: the V2 pair and V3 pool init-code hashes baked into the
periphery contracts must match the factories (see docs/onchain.md).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final

from trimtab.errors import VenueMisconfigured

BUILD_DIR: Final = Path(__file__).resolve().parent / "build"
ANVIL_PACKAGE: Final = "@foundry-rs/anvil-linux-amd64"

# name -> (npm package, path inside the package); V2 ships truffle JSON, V3 hardhat JSON.
_NPM: Final[dict[str, tuple[str, str]]] = {
    "WETH9": ("@uniswap/v2-periphery", "build/WETH9.json"),
    "UniswapV2Factory": ("@uniswap/v2-core", "build/UniswapV2Factory.json"),
    "UniswapV2Pair": ("@uniswap/v2-core", "build/UniswapV2Pair.json"),
    "UniswapV2Router02": ("@uniswap/v2-periphery", "build/UniswapV2Router02.json"),
    "UniswapV3Factory": ("@uniswap/v3-core", "artifacts/contracts/UniswapV3Factory.sol/UniswapV3Factory.json"),
    "UniswapV3Pool": ("@uniswap/v3-core", "artifacts/contracts/UniswapV3Pool.sol/UniswapV3Pool.json"),
    "SwapRouter": ("@uniswap/v3-periphery", "artifacts/contracts/SwapRouter.sol/SwapRouter.json"),
    "QuoterV2": ("@uniswap/v3-periphery", "artifacts/contracts/lens/QuoterV2.sol/QuoterV2.json"),
    "NonfungiblePositionManager": (
        "@uniswap/v3-periphery",
        "artifacts/contracts/NonfungiblePositionManager.sol/NonfungiblePositionManager.json",
    ),
}
_OURS: Final = ("TestToken", "BatchExecutor", "TestYieldVault", "YieldMigrator")


@dataclass(frozen=True)
class Artifact:
    """ABI and creation bytecode of one contract, plus where it was read from."""

    name: str
    abi: tuple[dict[str, Any], ...]
    bytecode: bytes
    source: Path


def _candidate_roots() -> list[Path]:
    """Directories that may hold node_modules: $TRIMTAB_NODE_MODULES's parent, cwd and this file's ancestors."""
    roots: list[Path] = []
    env = os.environ.get("TRIMTAB_NODE_MODULES")
    if env:
        roots.append(Path(env).resolve().parent)
    roots.extend([Path.cwd(), *Path.cwd().parents])
    roots.extend(Path(__file__).resolve().parents)
    return roots


@cache
def node_modules_dir() -> Path | None:
    """The project's node_modules (the first one holding the pinned Uniswap packages), or None."""
    for root in _candidate_roots():
        candidate = root / "node_modules"
        if (candidate / "@uniswap" / "v2-core").is_dir():
            return candidate
    return None


def anvil_binary() -> Path | None:
    """Path of the pinned anvil binary (called directly, not through the npm wrapper), or None if absent."""
    env = os.environ.get("TRIMTAB_ANVIL")
    if env:
        path = Path(env)
        return path if path.is_file() and os.access(path, os.X_OK) else None
    nm = node_modules_dir()
    if nm is None:
        return None
    path = nm / ANVIL_PACKAGE / "bin" / "anvil"
    return path if path.is_file() and os.access(path, os.X_OK) else None


def _hex_bytes(value: str, source: Path) -> bytes:
    text = value[2:] if value.startswith("0x") else value
    if not text:
        raise VenueMisconfigured(f"{source}: artifact has no bytecode (abstract contract or interface?)", venue="evm")
    return bytes.fromhex(text)


def _read(name: str, path: Path) -> Artifact:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise VenueMisconfigured(
            f"{path}: artifact missing; run `make node` (npm ci) or `node scripts/compile_contracts.js`",
            venue="evm",
        ) from None
    raw = data.get("bytecode")
    if isinstance(raw, dict):  # some truffle outputs nest the object
        raw = raw.get("object", "")
    return Artifact(name=name, abi=tuple(data["abi"]), bytecode=_hex_bytes(str(raw or ""), path), source=path)


@cache
def load_artifact(name: str) -> Artifact:
    """Load a contract by name: ours from build/, Uniswap's from node_modules (cached per process)."""
    if name in _OURS:
        return _read(name, BUILD_DIR / f"{name}.json")
    if name not in _NPM:
        raise VenueMisconfigured(f"unknown contract artifact {name!r}", venue="evm")
    nm = node_modules_dir()
    if nm is None:
        raise VenueMisconfigured("node_modules with the Uniswap packages not found; run `make node`", venue="evm")
    package, rel = _NPM[name]
    return _read(name, nm / package / rel)


def known_artifacts() -> tuple[str, ...]:
    """Every contract name load_artifact accepts."""
    return (*_OURS, *_NPM)
