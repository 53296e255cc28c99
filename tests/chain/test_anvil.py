"""The anvil launcher: free port, clean stop, dies with its parent, clear error without the binary."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.chain.support import require
from trimtab.chain.anvil import Anvil, free_port
from trimtab.chain.artifacts import anvil_binary
from trimtab.chain.node import connect
from trimtab.errors import VenueMisconfigured

CHILD = """
import sys, time
from trimtab.chain.anvil import Anvil
node = Anvil().start()
print(node.pid, flush=True)
time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def test_start_answers_and_stop_exits_cleanly() -> None:
    require(anvil_binary() is not None, "anvil binary not found: run `make node`")
    node = Anvil(timestamp=1_700_000_000, block_interval=12).start()
    try:
        w3 = connect(node.url)
        assert w3.eth.chain_id == 31337
        assert node.url.startswith("http://127.0.0.1:")
        assert len(w3.eth.accounts) == 10
        assert w3.eth.get_balance(w3.eth.accounts[0]) == 1_000_000 * 10**18
    finally:
        assert node.stop() == 0
    assert node.stop() is None  # idempotent


def test_missing_binary_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIMTAB_ANVIL", str(tmp_path / "no-such-anvil"))
    assert anvil_binary() is None
    with pytest.raises(VenueMisconfigured, match="anvil binary not found"):
        Anvil().start()


def test_free_port_is_bindable() -> None:
    port = free_port()
    assert 1024 <= port <= 65535


@pytest.mark.slow
def test_anvil_dies_with_a_killed_parent() -> None:
    require(anvil_binary() is not None, "anvil binary not found: run `make node`")
    parent = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        pid = int(parent.stdout.readline())
        assert _alive(pid)
        parent.send_signal(signal.SIGKILL)
        parent.wait(5)
        deadline = time.monotonic() + 5
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not _alive(pid), "anvil outlived its SIGKILLed parent"
    finally:
        if parent.poll() is None:
            parent.kill()
