"""Artifacts: pinned Uniswap bytecode from node_modules, ours from the committed build/ (reproducible)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from eth_utils.crypto import keccak

from tests.chain.support import require
from trimtab.chain.artifacts import BUILD_DIR, known_artifacts, load_artifact, node_modules_dir
from trimtab.chain.quote import pair_init_code_hash
from trimtab.errors import VenueMisconfigured

ROOT = Path(__file__).resolve().parents[2]
V2_PAIR_INIT_CODE_HASH = "96e8ac4277198ff8b6f785478aa9a39f403cb768dd02cbee326c3e7da348845f"  # mainnet V2
V3_POOL_INIT_CODE_HASH = "e34f199b19b2b4f47f68442619d555527d244f78a3297ea89325f843f87b8b54"  # mainnet V3


def test_init_code_hashes_match_the_periphery_constants() -> None:
    require(node_modules_dir() is not None, "node_modules missing: run `make node`")
    assert pair_init_code_hash().hex() == V2_PAIR_INIT_CODE_HASH
    assert keccak(load_artifact("UniswapV3Pool").bytecode).hex() == V3_POOL_INIT_CODE_HASH
    router = load_artifact("UniswapV2Router02").bytecode
    assert bytes.fromhex(V2_PAIR_INIT_CODE_HASH) in router


def test_every_known_artifact_loads_with_code_and_abi() -> None:
    require(node_modules_dir() is not None, "node_modules missing: run `make node`")
    for name in known_artifacts():
        art = load_artifact(name)
        assert art.bytecode and art.abi, name


def test_our_artifacts_are_committed_and_compiled_for_paris() -> None:
    for name in ("TestToken", "BatchExecutor"):
        art = load_artifact(name)
        assert art.source == BUILD_DIR / f"{name}.json"
        settings = json.loads(art.source.read_text())["compiler"]["settings"]
        assert settings["evmVersion"] == "paris" and "viaIR" not in settings  # runs on any EVM backend
    assert {e["name"] for e in load_artifact("BatchExecutor").abi if e["type"] == "error"} >= {
        "NotOwner",
        "Expired",
        "InsufficientOutput",
    }


def test_unknown_artifact_is_a_clear_error() -> None:
    with pytest.raises(VenueMisconfigured, match="unknown contract artifact"):
        load_artifact("NoSuchContract")


@pytest.mark.slow
def test_compile_script_reproduces_committed_build_byte_for_byte(tmp_path: Path) -> None:
    node = shutil.which("node")
    require(node is not None and node_modules_dir() is not None, "node or node_modules missing: run `make node`")
    assert node is not None
    subprocess.run(
        [node, str(ROOT / "scripts" / "compile_contracts.js"), str(tmp_path)], check=True, capture_output=True
    )
    committed = sorted(p.name for p in BUILD_DIR.glob("*.json"))
    assert sorted(p.name for p in tmp_path.glob("*.json")) == committed
    for name in committed:
        assert (tmp_path / name).read_bytes() == (BUILD_DIR / name).read_bytes(), name
