"""A strategy's guards block a service cycle before any order, with an alert: a stale price, a depeg, a turnover
cap and a second source that disagrees (real service, real SQLite, bundled real prices on the replay clock)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.service.harness import open_services, write_config

from trimtab.service.runner import Runner


def _run_once(
    tmp_path: Path, strategy: str, start: str = "2022-03-01", speed: float = 1.0
) -> tuple[object, list[dict[str, object]]]:
    (tmp_path / "s.yaml").write_text(strategy)
    config = write_config(
        tmp_path,
        [{"name": "g", "strategy": "s.yaml", "check_every": "1d", "initial_value": 100_000}],
        market_data={"source": "replay", "start": start, "speed": speed},
    )
    services = open_services(config)
    try:
        Runner(services).run_once()
        entries = services.ledger.entries("g")
        alerts = services.store.alerts("g", limit=50)
        return entries, alerts
    finally:
        services.close()


BASE = """
name: guarded
quote: USDC
targets: {BTC: 0.5, ETH: 0.3, USDC: 0.2}
trigger: {kind: threshold, band: 0.05}
"""


@pytest.mark.parametrize(
    ("guards", "expect", "start"),
    [
        ("{max_price_age: 1m}", "stale_price", "2022-03-01"),  # one simulated day per second: the close is minutes old
        ("{max_turnover_per_rebalance: 0.1}", "turnover_limit", "2022-03-01"),  # the initial buy is 80% of the value
        ("{stablecoin_peg_tolerance: 0.02}", "stablecoin_peg", "2023-03-12"),  # the USDC depeg: 0.966 that close
    ],
)
def test_a_guard_blocks_the_cycle_before_any_order(tmp_path: Path, guards: str, expect: str, start: str) -> None:
    strategy = BASE + f"guards: {guards}\n"
    if expect == "stablecoin_peg":  # hold USDC against a USDT quote on the day of the depeg
        strategy = strategy.replace("quote: USDC", "quote: USDT").replace("USDC: 0.2", "USDC: 0.2, USDT: 0")
    entries, alerts = _run_once(tmp_path, strategy, start, 86_400.0 if expect == "stale_price" else 1.0)
    assert [e.kind for e in entries] == ["deposit"], "nothing may be traded"  # type: ignore[attr-defined]
    failure = [a for a in alerts if a["kind"] == "failure"]
    assert failure and expect in failure[0]["body"], alerts


def test_a_second_source_that_disagrees_blocks_the_cycle(tmp_path: Path) -> None:
    (tmp_path / "ref.csv").write_text("time,BTC,ETH,USDC\n2022-02-27,80000,2700,1\n2022-02-28,80000,2700,1\n")
    strategy = BASE + "guards: {price_tolerance: 0.02, reference: {file: ref.csv}}\n"
    entries, alerts = _run_once(tmp_path, strategy)
    assert [e.kind for e in entries] == ["deposit"]  # type: ignore[attr-defined]
    assert any(a["kind"] == "failure" and "price_disagreement" in a["body"] for a in alerts), alerts


def test_the_same_strategy_trades_when_the_sources_agree(tmp_path: Path) -> None:
    (tmp_path / "ref.csv").write_text("time,BTC,ETH,USDC\n2022-02-28,43000,2900,1\n2022-03-01,44300,2970,1\n")
    strategy = BASE + "guards: {price_tolerance: 0.10, reference: {file: ref.csv}, max_turnover_per_day: 2.0}\n"
    entries, _ = _run_once(tmp_path, strategy)
    assert {e.kind for e in entries} >= {"deposit", "trade"}  # type: ignore[attr-defined]


def test_price_tolerance_without_a_second_source_is_refused_at_validation(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from trimtab.cli import app

    (tmp_path / "s.yaml").write_text(BASE + "guards: {price_tolerance: 0.02}\n")
    r = CliRunner().invoke(app, ["validate", str(tmp_path / "s.yaml")])
    assert r.exit_code == 2 and "guards" in r.output and "reference" in r.output
