"""Signing keys: the operator's from the environment; anvil's public dev keys for local tests only.

A key is never logged, printed or put into an error message.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Final

from eth_account import Account
from eth_account.signers.local import LocalAccount

from trimtab.errors import VenueMisconfigured

KEY_ENV_VAR: Final = "TRIMTAB_EVM_PRIVATE_KEY"
LOCAL_CHAIN_IDS: Final = frozenset({31337, 1337})

# Anvil / hardhat accounts #0..#2 from the public mnemonic "test test ... junk". Worthless by design:
# anyone can sign with them. Used as deployer, trader and attacker on the local test chain only.
ANVIL_DEV_KEYS: Final = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
)


def dev_accounts() -> tuple[LocalAccount, LocalAccount, LocalAccount]:
    """Anvil's dev accounts #0, #1, #2 (deployer, trader, attacker) for local tests."""
    a, b, c = (Account.from_key(k) for k in ANVIL_DEV_KEYS)
    return a, b, c


def load_account(env: Mapping[str, str] | None = None, var: str = KEY_ENV_VAR) -> LocalAccount:
    """The signing account from `var` (0x-prefixed 32-byte hex); VenueMisconfigured if missing or malformed."""
    source = os.environ if env is None else env
    raw = source.get(var, "").strip()
    if not raw:
        raise VenueMisconfigured(f"{var} is not set (the EVM signing key comes from the environment)", op="keys")
    try:
        account: LocalAccount = Account.from_key(raw)
        return account
    except (ValueError, TypeError):
        raise VenueMisconfigured(f"{var} is not a valid 32-byte hex private key", op="keys") from None


def refuse_dev_key_off_local(account: LocalAccount, chain_id: int) -> None:
    """Refuse to sign with a public dev key on a chain that is not a local test chain."""
    dev = {Account.from_key(k).address for k in ANVIL_DEV_KEYS}
    if account.address in dev and chain_id not in LOCAL_CHAIN_IDS:
        raise VenueMisconfigured(f"public anvil dev key refused on chain id {chain_id}", op="keys")
