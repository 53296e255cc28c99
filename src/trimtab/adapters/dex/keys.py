"""The DEX venue's signing key: TRIMTAB_EVM_PRIVATE_KEY from the environment, or a key file; never shown."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from eth_account.signers.local import LocalAccount

from trimtab.chain.keys import KEY_ENV_VAR, load_account
from trimtab.errors import VenueMisconfigured


def load_signer(key_file: Path | str | None = None, env: Mapping[str, str] | None = None) -> LocalAccount:
    """The account from `key_file` (one 0x-hex key) if given, else from $TRIMTAB_EVM_PRIVATE_KEY."""
    if key_file is None:
        return load_account(env)
    path = Path(key_file)
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        raise VenueMisconfigured(f"{path}: key file not readable", op="keys") from None
    try:
        return load_account({KEY_ENV_VAR: text})
    except VenueMisconfigured:
        raise VenueMisconfigured(f"{path}: not a valid 32-byte hex private key", op="keys") from None
