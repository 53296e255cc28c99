"""`trimtab serve` on the DEX venue: a uniswap portfolio in the real service on the local anvil chain, with the
strategy's `dex:` settings and guards, prices from the pools, every fill in the service ledger."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.service.harness import open_services
from trimtab.adapters.dex import deployment_of
from trimtab.chain.deploy import ChainEnv
from trimtab.chain.keys import ANVIL_DEV_KEYS
from trimtab.service.runner import Runner

pytestmark = pytest.mark.slow

STRATEGY = """\
name: onchain-service
quote: USDC
targets: {BTC: 0.25, ETH: 0.25, LINK: 0.25, USDC: 0.25}
trigger: {kind: threshold, band: 0.05}
costs: {fee_bps: 30, slippage_bps: 100, gas_usd_per_trade: 0}
constraints: {min_trade_usd: 10}
dex: {slippage: 0.01, deadline: 5m}
"""
DECIMALS = {"BTC": 8, "ETH": 18, "LINK": 18, "USDC": 6}


def _config(tmp_path: Path, chain: ChainEnv, strategy: str) -> Path:
    deployment = tmp_path / "deployment.json"
    deployment_of(chain).save(deployment)
    (tmp_path / "s.yaml").write_text(strategy)
    url = chain.w3.provider.endpoint_uri  # type: ignore[attr-defined]
    doc = {
        "market_data": {"source": "venue"},
        "database_url": "svc.db",
        "portfolios": [
            {
                "name": "dex",
                "strategy": "s.yaml",
                "venue": "uniswap",
                "rpc": url,
                "deployment": "deployment.json",
                "check_every": "1h",
            }
        ],
    }
    path = tmp_path / "service.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _on_chain(chain: ChainEnv) -> dict[str, int]:
    trader = chain.accounts.trader.address
    return {
        "BTC": chain.balance("WBTC", trader),
        "ETH": chain.balance("WETH", trader),
        "LINK": chain.balance("LINK", trader),
        "USDC": chain.balance("USDC", trader),
    }


def test_a_uniswap_portfolio_rebalances_in_the_service(
    chain: ChainEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIMTAB_EVM_PRIVATE_KEY", ANVIL_DEV_KEYS[1])
    services = open_services(_config(tmp_path, chain, STRATEGY))
    try:
        rt = services.runtimes["dex"]
        assert rt.venue is not None and rt.venue.name == "uniswap"
        assert rt.venue.dex.settings.deadline_seconds == 300  # the strategy's dex block reached the venue
        Runner(services).run_once()
        decision = services.store.decisions("dex", limit=1)[0]
        assert decision["traded"], decision
        fills = decision["report"]["fills"]
        assert len(fills) >= 2 and len({f["order_id"].rsplit(":", 1)[0] for f in fills}) == 1, "one atomic batch"
        booked = services.ledger.balances("dex")
        assert {a: int(q.scaleb(DECIMALS[a])) for a, q in booked.items() if q} == _on_chain(chain)
    finally:
        services.close()


def test_a_guard_blocks_the_uniswap_cycle_before_any_transaction(
    chain: ChainEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIMTAB_EVM_PRIVATE_KEY", ANVIL_DEV_KEYS[1])
    before = _on_chain(chain)
    services = open_services(_config(tmp_path, chain, STRATEGY + "guards: {max_turnover_per_rebalance: 0.01}\n"))
    try:
        Runner(services).run_once()
        assert _on_chain(chain) == before
        alerts = services.store.alerts("dex", limit=20)
        assert any(a["kind"] == "failure" and "turnover_limit" in a["body"] for a in alerts), alerts
    finally:
        services.close()


def test_a_uniswap_portfolio_on_replayed_prices_is_refused(chain: ChainEnv, tmp_path: Path) -> None:
    from trimtab.errors import ConfigError

    config = _config(tmp_path, chain, STRATEGY)
    doc = yaml.safe_load(config.read_text())
    doc["market_data"] = {"source": "replay"}
    config.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError, match="replayed prices"):
        open_services(config)
