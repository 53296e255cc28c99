"""Gas awareness: wait for a low base fee until a deadline, and estimate batched vs separate execution gas.

Estimates come from eth_simulateV1 (one simulated block, state carried from call to call), so a buy
funded by an earlier sell simulates correctly; nodes without the method give no estimate.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from web3 import Web3

from trimtab.chain.tx import GWEI
from trimtab.core.execution.slicing import GasWait as SlicingGasWait


@dataclass(frozen=True)
class GasWait:
    """Execute once the base fee is <= max_base_fee (wei), polling every `poll` s; after `timeout` s go anyway.

    The FeePolicy's max-fee cap still applies when the deadline passes: above it nothing is sent.
    """

    max_base_fee: int
    timeout: float = 600.0
    poll: float = 12.0


@dataclass(frozen=True)
class GasWaitOutcome:
    base_fee: int
    waited: float
    polls: int
    below_cap: bool

    def note(self) -> str:
        fee = f"{self.base_fee / GWEI:.3f} gwei"
        if self.below_cap:
            return f"gas wait: base fee {fee} within the cap after {self.polls} poll(s), {self.waited:.1f} s"
        return f"gas wait: deadline passed after {self.waited:.1f} s with base fee {fee} above the cap; executing"


def base_fee(w3: Web3) -> int:
    """The latest block's base fee (wei); 0 on chains without EIP-1559."""
    return int(w3.eth.get_block("latest").get("baseFeePerGas", 0))


def wait_for_gas(
    w3: Web3,
    policy: GasWait,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> GasWaitOutcome:
    """Poll the base fee until the execution slicing rule (core.execution.slicing.GasWait) says go: gas within the
    cap, or
    the deadline passed (execute anyway)."""
    rule = SlicingGasWait(cap_gwei=policy.max_base_fee / GWEI, deadline_s=policy.timeout, execute_at_deadline=True)
    start = clock()
    polls = 0
    while True:
        fee = base_fee(w3)
        polls += 1
        elapsed = clock() - start
        if rule.should_execute(elapsed, fee / GWEI):
            return GasWaitOutcome(fee, elapsed, polls, fee <= policy.max_base_fee)
        sleep(max(0.0, min(policy.poll, policy.timeout - elapsed)))


@dataclass(frozen=True)
class GasComparison:
    """Simulated gas of the plan as one batch transaction and as one transaction per leg (None if unknown)."""

    batched: int | None
    separate: int | None
    legs: int

    @property
    def saving(self) -> float | None:
        if not self.batched or not self.separate:
            return None
        return 1 - self.batched / self.separate

    def note(self) -> str:
        def fmt(x: int | None) -> str:
            return f"{x:,}" if x is not None else "n/a"

        saving = f" ({self.saving:+.1%} saved)" if self.saving is not None else ""
        return f"estimated gas: batched {fmt(self.batched)} vs {self.legs} separate {fmt(self.separate)}{saving}"


Call = dict[str, Any]


def simulate_gas(w3: Web3, setup: Sequence[Call], calls: Sequence[Call]) -> list[int] | None:
    """gasUsed of each call in `calls`, run in order in one simulated block after the `setup` block.

    None when the node lacks eth_simulateV1 or any call fails (the estimate is then unknown, not zero).
    """
    blocks = ([{"calls": list(setup)}] if setup else []) + [{"calls": list(calls)}]
    try:
        answer = w3.provider.make_request("eth_simulateV1", [{"blockStateCalls": blocks}, "latest"])  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - an estimate is optional; any transport or node problem means unknown
        return None
    result = answer.get("result") if isinstance(answer, dict) else None
    if not isinstance(result, list) or not result:
        return None
    if any(int(c.get("status", "0x0"), 16) != 1 for block in result for c in block.get("calls", [])):
        return None
    return [int(c["gasUsed"], 16) for c in result[-1]["calls"]]
