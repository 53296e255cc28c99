"""Keys come from the environment, errors never echo them, dev keys stay on local chains."""

from __future__ import annotations

import pytest

from trimtab.chain.keys import ANVIL_DEV_KEYS, KEY_ENV_VAR, dev_accounts, load_account, refuse_dev_key_off_local
from trimtab.errors import VenueMisconfigured

SECRET = "0x" + "ab" * 32


def test_loads_the_key_from_the_environment() -> None:
    account = load_account({KEY_ENV_VAR: SECRET})
    assert account.address.startswith("0x") and len(account.address) == 42
    assert SECRET not in repr(account) and SECRET[2:] not in repr(account)


def test_missing_key_names_the_variable() -> None:
    with pytest.raises(VenueMisconfigured, match=KEY_ENV_VAR):
        load_account({})


@pytest.mark.parametrize("bad", ["0x1234", "zz" * 32, "0x" + "00" * 32])
def test_malformed_key_is_not_echoed(bad: str) -> None:
    with pytest.raises(VenueMisconfigured) as info:
        load_account({KEY_ENV_VAR: bad})
    assert bad not in str(info.value)
    assert "valid 32-byte hex private key" in str(info.value)


def test_dev_keys_are_refused_off_local_chains() -> None:
    deployer, _, _ = dev_accounts()
    refuse_dev_key_off_local(deployer, 31337)
    with pytest.raises(VenueMisconfigured, match="dev key"):
        refuse_dev_key_off_local(deployer, 1)
    refuse_dev_key_off_local(load_account({KEY_ENV_VAR: SECRET}), 1)
    assert len(set(ANVIL_DEV_KEYS)) == 3
