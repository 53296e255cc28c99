"""service.yaml validation: one clear line naming the field; tokens from the environment or a file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from trimtab.errors import ConfigError
from trimtab.service.settings import load_settings, load_tokens

GOOD = {"portfolios": [{"name": "a", "strategy": "ethereum"}]}


def _shared(**changes: dict[str, object]) -> dict[str, object]:
    """Two portfolios on one ccxt account in netting group d, with `changes` per portfolio name."""
    base = {"strategy": "ethereum", "venue": "ccxt:binance", "url": "http://127.0.0.1:1", "holdings": {"ETH": "1"}}
    ports = [{"name": n, **base, **changes.get(n, {})} for n in ("a", "b")]
    return {
        "market_data": {"source": "venue"},
        "portfolios": [{k: v for k, v in p.items() if v is not None} for p in ports],
        "netting": [{"name": "d", "portfolios": ["a", "b"]}],
    }


SHARED = {k: v for k, v in _shared().items() if k != "netting"}


def _write(tmp_path: Path, doc: object) -> Path:
    p = tmp_path / "service.yaml"
    p.write_text(yaml.safe_dump(doc))
    return p


def test_defaults_bind_loopback_and_put_sqlite_next_to_the_file(tmp_path: Path) -> None:
    s = load_settings(_write(tmp_path, GOOD))
    assert s.api.host == "127.0.0.1" and s.db_url == f"sqlite:///{tmp_path.resolve()}/trimtab-service.db"
    assert s.portfolios[0].account_name == "a" and s.portfolios[0].every.seconds == 86_400


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"portfolios": []}, "portfolios: List should have at least 1 item"),
        ({"portfolios": [{"name": "a b", "strategy": "x"}]}, "portfolios.0.name: String should match pattern"),
        ({"portfolios": [{"name": "a", "strategy": "x", "venue": "kraken"}]}, "portfolios.0.venue: use 'paper'"),
        ({"portfolios": [{"name": "a", "strategy": "x", "check_every": "soon"}]}, "portfolios.0.check_every: invalid"),
        ({"portfolios": [{"name": "a", "strategy": "x"}] * 2}, "name 'a' appears twice"),
        (
            {"portfolios": [{"name": "a", "strategy": "x", "holdings": {"btc": "1", "BTC": "2"}}]},
            "holdings lists BTC twice",
        ),
        ({**GOOD, "alerts": {"webhook": "ftp://x"}}, "alerts.webhook: must be an http(s) URL"),
        ({**GOOD, "surprise": 1}, "surprise: unknown key"),
        ({**SHARED, "netting": [{"name": "d", "portfolios": ["a", "zz"]}]}, "netting.0.portfolios: no portfolio named"),
        (
            {**SHARED, "netting": [{"name": "d", "portfolios": ["a"]}]},
            "netting.0.portfolios: List should have at least",
        ),
        (
            {**SHARED, "netting": [{"name": "d", "portfolios": ["a", "b"]}] * 2},
            "netting.1.portfolios: a is already in netting group 'd'",
        ),
        (_shared(b={"venue": "paper"}), "b trades on paper; netting needs one ccxt exchange account"),
        (_shared(b={"holdings": None}), "b needs holdings: (its share of the shared account)"),
        (_shared(b={"url": "http://127.0.0.1:2"}), "b differs from a in url"),
        (_shared(b={"credentials": "other.yaml"}), "b differs from a in credentials"),
        (_shared(a={"account": "net.d"}), "netting.0.name: account 'net.d' is a portfolio's account"),
    ],
)
def test_bad_files_give_one_line_naming_the_field(tmp_path: Path, doc: object, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(_write(tmp_path, doc))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_tokens_from_env_or_file_and_admin_is_required(tmp_path: Path) -> None:
    s = load_settings(_write(tmp_path, GOOD))
    with pytest.raises(ConfigError, match="no admin token"):
        load_tokens(s, env={})
    with pytest.raises(ConfigError, match="at least 16"):
        load_tokens(s, env={"TRIMTAB_ADMIN_TOKEN": "short"})
    t = load_tokens(s, env={"TRIMTAB_ADMIN_TOKEN": "a" * 20})
    assert t.admin is not None and t.read is None and "a" * 20 not in repr(t)
    (tmp_path / "tokens.yaml").write_text("read: " + "r" * 20 + "\nadmin: " + "b" * 20 + "\n")
    s2 = load_settings(_write(tmp_path, {**GOOD, "api": {"token_file": "tokens.yaml"}}))
    t2 = load_tokens(s2, env={})
    assert t2.read is not None and t2.read.get_secret_value() == "r" * 20 and "r" * 20 not in str(t2)
