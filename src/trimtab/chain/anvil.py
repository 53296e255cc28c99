"""A throwaway local anvil node: free loopback port, quiet, pinned clock, dies with its parent.

Process hygiene follows EVM-RECIPE.md pitfalls 1, 9 and 12: call the binary directly, send output to
DEVNULL, pin timestamps (deterministic gas), SIGTERM then wait then SIGKILL, PR_SET_PDEATHSIG on Linux.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from trimtab.chain.artifacts import anvil_binary
from trimtab.errors import VenueMisconfigured, VenueUnavailable

DEFAULT_TIMESTAMP = 1_700_000_000
DEFAULT_BLOCK_INTERVAL = 12
_PR_SET_PDEATHSIG = 1


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port the OS reports free right now (bind to port 0); the caller retries if it is taken later."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask the kernel to SIGTERM the child when the parent dies (a SIGKILLed pytest leaves no anvil).

    Linux ties this to the forking *thread*: start anvil from a thread that outlives it (e.g. the main one).
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _rpc(url: str, method: str, params: list[object], timeout: float = 2.0) -> object:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})  # noqa: S310 - ours
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - loopback URL we built
        answer = json.loads(resp.read())
    if "error" in answer:
        raise VenueUnavailable(f"{method}: {answer['error']}", venue="anvil", op=method)
    return answer.get("result")


class Anvil:
    """One anvil process; use as a context manager or call start()/stop()."""

    def __init__(
        self,
        *extra_args: str,
        binary: Path | None = None,
        host: str = "127.0.0.1",
        chain_id: int = 31337,
        timestamp: int | None = DEFAULT_TIMESTAMP,
        block_interval: int | None = DEFAULT_BLOCK_INTERVAL,
        balance_eth: int = 1_000_000,
        startup_timeout: float = 10.0,
    ) -> None:
        self.binary = binary
        self.host = host
        self.chain_id = chain_id
        self.timestamp = timestamp
        self.block_interval = block_interval
        self.balance_eth = balance_eth
        self.extra_args: Sequence[str] = extra_args
        self.startup_timeout = startup_timeout
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def _command(self, binary: Path) -> list[str]:
        cmd = [str(binary), "--host", self.host, "--port", str(self.port), "--chain-id", str(self.chain_id)]
        cmd += ["--quiet", "--balance", str(self.balance_eth)]
        if self.timestamp is not None:
            cmd += ["--timestamp", str(self.timestamp)]
        return [*cmd, *self.extra_args]

    def start(self) -> Self:
        """Launch anvil on a free port and wait for its first JSON-RPC answer; retry on a port race."""
        binary = self.binary or anvil_binary()
        if binary is None:
            raise VenueMisconfigured("anvil binary not found; run `make node` (npm ci)", venue="anvil", op="start")
        last: Exception | None = None
        for _ in range(3):
            self.port = free_port(self.host)
            self._proc = subprocess.Popen(  # noqa: S603 - our anvil binary and our arguments, no shell
                self._command(binary),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,  # noqa: PLW1509
            )
            try:
                self._wait_ready()
            except VenueUnavailable as exc:
                last = exc
                self.stop()
                continue
            if self.block_interval is not None:
                _rpc(self.url, "anvil_setBlockTimestampInterval", [self.block_interval])
            return self
        raise VenueUnavailable(f"anvil did not start: {last}", venue="anvil", op="start")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        if self._proc is None:
            raise RuntimeError("internal invariant broken: expected self._proc is not None")
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise VenueUnavailable(f"anvil exited with code {self._proc.returncode}", venue="anvil", op="start")
            with contextlib.suppress(OSError, urllib.error.URLError):
                _rpc(self.url, "eth_chainId", [], timeout=0.5)
                return
            time.sleep(0.01)
        raise VenueUnavailable(f"no answer on {self.url} within {self.startup_timeout} s", venue="anvil", op="start")

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM, wait, then SIGKILL; returns the exit code (None if it was never started)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        return proc.returncode

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
