"""The yield venue on anvil: core migration plans (execute_move + as_plan) as one guarded migrate transaction,
fills equal to what moved on chain, whole-batch reverts, opening from a deployment file, the journal around it."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from trimtab.adapters.storage import SqlLedgerStore
from trimtab.chain.deploy import ChainEnv
from trimtab.chain.keys import ANVIL_DEV_KEYS
from trimtab.chain.yield_vaults import YieldEnv, accrue, deploy_yield, guarded_step, set_liquidity
from trimtab.chain.yield_venue import YieldChainVenue, open_yield_chain, write_yield_deployment
from trimtab.core.base.ports import AtomicVenue
from trimtab.core.base.types import ZERO, TradePlan, asset_symbol
from trimtab.core.yields.migration import Market, MigrationRule, make_move
from trimtab.core.yields.positions import ReserveState, YieldPosition, cash_position
from trimtab.core.yields.trades import apply_fills, as_plan, execute_move
from trimtab.engine import ledger_entries
from trimtab.errors import ConfigError, VenueMisconfigured
from trimtab.pipeline.journal import JournaledVenue, JournalLedger, TrackedVenue

pytestmark = pytest.mark.slow

POSITIONS = {
    "USDC": cash_position("USDC"),
    "USDT": cash_position("USDT"),
    "vUSDC": YieldPosition("vUSDC", "USDC", "vault", "USDC"),
    "vUSDT": YieldPosition("vUSDT", "USDT", "vault", "USDT"),
}
RULE = MigrationRule()
T0 = datetime(2023, 3, 4, tzinfo=UTC)


@pytest.fixture
def y(chain: ChainEnv) -> YieldEnv:
    return deploy_yield(chain)


def plan_for(
    venue: YieldChainVenue, source: str, target: str, usd: float, plan_id: str = "p", *, canonical: bool = False
) -> TradePlan:
    """The core's plan for one move, priced at the vaults' share prices and run against the venue's balances;
    `canonical`: positions named as the service's ledgers key them (VUSDC)."""
    name = asset_symbol if canonical else str
    positions = {name(k): replace(p, name=name(p.name)) for k, p in POSITIONS.items()}
    prices, balances = venue.share_prices(), venue.balances()  # keyed by canonical symbols
    states: dict[str, ReserveState | None] = {
        n: None if p.is_cash else ReserveState(0.03, float(prices[asset_symbol(n)]), 1e9, 0.5)
        for n, p in positions.items()
    }
    held = {n: balances.get(asset_symbol(n), ZERO) for n in positions}
    move = make_move(RULE, "opportunistic", positions[name(source)], positions[name(target)], usd, Market(states, 4e-5))
    ex = execute_move(move, positions, states, held, RULE, 4e-5, ref=f"{plan_id}-")
    return as_plan(ex, plan_id=plan_id)


def run(venue: YieldChainVenue, plan: TradePlan) -> tuple[dict[str, Decimal], Any]:
    """Execute, and check the chain moved exactly by the fills (Decimal, zeros dropped), one fill per leg in order."""
    before = venue.balances()
    report = venue.execute(plan)
    assert report.complete, report.failures
    assert [(f.asset, f.quote, f.side) for f in report.fills] == [(o.asset, o.quote, o.side) for o in plan.orders]
    canonical = tuple(replace(f, asset=asset_symbol(f.asset), quote=asset_symbol(f.quote)) for f in report.fills)
    expected = {k: v for k, v in apply_fills(before, canonical).items() if v}
    after = venue.balances()
    assert after == expected
    assert all(f.gas == ZERO for f in report.fills) and "ETH" in report.notes[0]
    for i, f in enumerate(report.fills):
        assert venue.find_fill(venue.client_id(plan, i), plan.orders[i]) == f
    return after, report


def test_deposit_then_migrate_vault_to_vault_moves_exactly_the_fills(y: YieldEnv) -> None:
    venue = YieldChainVenue(y)
    assert isinstance(venue, AtomicVenue)
    tracked: TrackedVenue = venue  # the protocol the journal needs (checked by mypy)
    assert tracked.name == "evm-yield"
    deposit = plan_for(venue, "USDC", "vUSDC", 100_000)
    assert [(o.asset, o.quote, o.side.value) for o in deposit.orders] == [("vUSDC", "USDC", "buy")]
    held, _ = run(venue, deposit)
    assert held["VUSDC"] > 0 and held["USDC"] < Decimal(1_000_000)
    accrue(y, "vUSDC", Decimal("1.0004"))  # a share is now worth more than 1 USDC
    assert venue.share_prices()["VUSDC"] > 1
    migration = plan_for(venue, "vUSDC", "vUSDT", 1e9)  # all of it: withdraw, swap, deposit
    assert [o.side.value for o in migration.orders] == ["sell", "sell", "buy"]
    shares = y.units("vUSDC", migration.orders[0].quantity)
    assert venue.steps(migration) == [guarded_step(y, "vUSDC", "vUSDT", shares)]  # the chain's own guard rule
    after, report = run(venue, migration)
    assert "VUSDC" not in after and after["VUSDT"] > 0
    withdraw, swap, dep = report.fills
    assert withdraw.quote_amount == swap.quantity and dep.quote_amount == swap.quote_delta  # legs chain exactly
    assert swap.fee > 0 and swap.quote_delta == swap.quote_amount - swap.fee  # the pool's 0.3% fee split out


def test_a_plan_that_cannot_pass_its_guards_reverts_whole(y: YieldEnv) -> None:
    venue = YieldChainVenue(y)
    run(venue, plan_for(venue, "USDC", "vUSDC", 200_000))
    set_liquidity(y, "vUSDC", y.units("USDC", 1_000))  # the vault lets only 1,000 USDC leave
    exit_all = plan_for(venue, "vUSDC", "vUSDT", 1e9)
    fund_first = plan_for(venue, "USDC", "vUSDT", 50_000)  # a good move ahead of it in the same batch
    plan = TradePlan(fund_first.orders + exit_all.orders, "two moves", plan_id="both")
    before, nonce = venue.balances(), y.chain.w3.eth.get_transaction_count(venue.contracts.trader.address)
    report = venue.execute(plan)
    assert report.fills == () and len(report.failures) == len(plan.orders) == 5
    assert all("ERC4626ExceededMaxRedeem" in f.reason for f in report.failures)
    assert venue.balances() == before  # the first move was not made either
    assert y.chain.w3.eth.get_transaction_count(venue.contracts.trader.address) == nonce  # nothing was sent
    set_liquidity(y, "vUSDC", None)
    run(venue, plan)


def test_a_leg_no_migration_has_fails_the_plan(y: YieldEnv) -> None:
    venue = YieldChainVenue(y)
    plan = plan_for(venue, "USDC", "vUSDC", 1_000)
    (o,) = plan.orders
    bad = TradePlan((o.__class__(o.asset, "USDT", o.side, o.quantity, o.price, o.exec_price, o.cost),), "x")
    report = venue.execute(bad)
    assert not report.fills and "no withdraw, swap or deposit" in report.failures[0].reason


def test_two_moves_in_one_plan_are_one_transaction(y: YieldEnv) -> None:
    venue = YieldChainVenue(y)
    run(venue, plan_for(venue, "USDC", "vUSDC", 400_000))
    # both swap USDC -> USDT on the same pool: the second's guard must see the pool as the first leaves it
    first = plan_for(venue, "vUSDC", "vUSDT", 300_000)
    second = plan_for(venue, "USDC", "vUSDT", 400_000)
    plan = TradePlan(first.orders + second.orders, "two moves", plan_id="two")
    fresh = guarded_step(y, "USDC", "vUSDT", y.units("USDC", second.orders[0].quantity))  # quoted on today's pool
    w3, trader = y.chain.w3, venue.contracts.trader.address
    nonce, block = w3.eth.get_transaction_count(trader), w3.eth.block_number
    _, report = run(venue, plan)
    assert w3.eth.get_transaction_count(trader) == nonce + 1 and w3.eth.block_number == block + 1
    assert len(w3.eth.get_block("latest")["transactions"]) == 1
    assert len({f.order_id.rsplit(":", 1)[0] for f in report.fills}) == 1 and "2 move(s)" in report.notes[0]
    assert report.fills[-1].quantity < Decimal(fresh.min_out) / 10**6  # a fresh quote's guard would have reverted


def test_open_from_a_written_deployment(y: YieldEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, key = tmp_path / "yield.json", tmp_path / "trader.key"
    write_yield_deployment(y, path)
    key.write_text(ANVIL_DEV_KEYS[1] + "\n")
    rpc = y.chain.w3.provider.endpoint_uri  # type: ignore[attr-defined]
    venue = open_yield_chain(rpc, path, key, Decimal("0.001"))
    usdc = y.human(y.balance("USDC", y.chain.accounts.trader.address))
    assert venue.balances() == YieldChainVenue(y).balances() == {"USDC": usdc}
    run(venue, plan_for(venue, "USDC", "vUSDT", 10_000))
    monkeypatch.setenv("TRIMTAB_EVM_PRIVATE_KEY", ANVIL_DEV_KEYS[1])
    assert open_yield_chain(rpc, path, None, Decimal("0.001")).balances() == venue.balances()
    doc = json.loads(path.read_text())
    assert set(doc) >= {"chain_id", "tokens", "vaults", "pair", "migrator", "router", "trader"}
    assert set(doc["tokens"]) == {"USDC", "USDT"} and set(doc["vaults"]) == {"vUSDC", "vUSDT"}


def _broken(doc: dict[str, Any], case: str) -> str | bytes:
    nowhere = "0x" + "11" * 20
    if case == "not-json":
        return b"{not json"
    if case == "list":
        return "[]"
    edits = {
        "missing-vault": lambda d: d["vaults"].pop("vUSDT"),
        "bad-address": lambda d: d.update(pair="0x1234"),
        "no-code": lambda d: d.update(migrator=nowhere),
        "wrong-chain": lambda d: d.update(chain_id=1),
        "token-not-vault-asset": lambda d: d["tokens"].update(USDT=d["tokens"]["USDC"]),
        "other-trader": lambda d: d.update(trader=nowhere),
    }
    edits[case](doc)
    return json.dumps(doc)


@pytest.mark.parametrize(
    ("case", "field"),
    [
        ("missing-file", "deployment"),
        ("not-json", "deployment"),
        ("list", "deployment"),
        ("missing-vault", "vaults.vUSDT"),
        ("bad-address", "pair"),
        ("no-code", "migrator"),
        ("wrong-chain", "chain_id"),
        ("token-not-vault-asset", "vaults.vUSDT"),
        ("other-trader", "trader"),
    ],
)
def test_a_bad_deployment_file_names_the_field(y: YieldEnv, tmp_path: Path, case: str, field: str) -> None:
    path, key = tmp_path / "yield.json", tmp_path / "trader.key"
    write_yield_deployment(y, path)
    key.write_text(ANVIL_DEV_KEYS[1])
    if case == "missing-file":
        path = tmp_path / "none.json"
    else:
        text = _broken(json.loads(path.read_text()), case)
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ConfigError) as err:
        open_yield_chain(y.chain.w3.provider.endpoint_uri, path, key, Decimal("0.001"))  # type: ignore[attr-defined]
    assert err.value.field == field and ANVIL_DEV_KEYS[1][2:] not in str(err.value)


def test_a_bad_key_file_never_shows_the_key(y: YieldEnv, tmp_path: Path) -> None:
    path, key = tmp_path / "yield.json", tmp_path / "trader.key"
    write_yield_deployment(y, path)
    key.write_text(ANVIL_DEV_KEYS[1][:-2])
    with pytest.raises(VenueMisconfigured) as err:
        open_yield_chain(y.chain.w3.provider.endpoint_uri, path, key, Decimal("0.001"))  # type: ignore[attr-defined]
    assert ANVIL_DEV_KEYS[1][2:-2] not in str(err.value)
    with pytest.raises(ConfigError, match="tolerance"):
        YieldChainVenue(y, tolerance=Decimal(1))


def test_the_journal_records_the_batch_and_the_ledger_equals_the_chain(y: YieldEnv, tmp_path: Path) -> None:
    venue = YieldChainVenue(y)
    run(venue, plan_for(venue, "USDC", "vUSDC", 100_000))
    ledger = SqlLedgerStore(tmp_path / "ledger.db")  # it keys VUSDC (canonical), as the venue's balances do
    ledger.open_account("w", venue.balances(), time=T0)
    jv = JournaledVenue(venue, ledger, "w", T0)
    plan = plan_for(venue, "vUSDC", "vUSDT", 60_000, canonical=True)  # part of the position: three legs, one batch
    assert {o.asset for o in plan.orders} == {"VUSDC", "USDC", "VUSDT"}
    report = jv.execute(plan)
    assert report.complete and len(report.fills) == len(plan.orders) == 3
    JournalLedger(ledger, jv).append(ledger_entries(report, account="w", time=T0, rebalance_id=jv.rebalance_id or ""))
    row = ledger.rebalance(jv.rebalance_id or "")
    assert row.status.value == "done"
    legs = json.loads(row.plan_json)["legs"]
    found = [venue.find_fill(leg["client_id"], o) for leg, o in zip(legs, plan.orders, strict=True)]
    assert found == list(report.fills)  # the journaled client ids find the batch's fills (as reconcile would)
    assert {a: q for a, q in ledger.balances("w").items() if q} == {
        asset_symbol(k): q for k, q in venue.balances().items()
    }


def test_chain_deploy_with_yield_deployment_writes_a_file_the_venue_opens(chain: ChainEnv, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from trimtab.cli import app

    rpc = chain.w3.provider.endpoint_uri  # type: ignore[attr-defined]
    dex, vaults, key = tmp_path / "deployment.json", tmp_path / "yield.json", tmp_path / "trader.key"
    args = ["chain", "deploy", "--rpc", rpc, "--deployment", str(dex), "--yield-deployment", str(vaults)]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    assert dex.is_file() and f"wrote {vaults}" in r.output.replace("\n", "")
    key.write_text(ANVIL_DEV_KEYS[1])
    venue = open_yield_chain(rpc, vaults, key, Decimal("0.001"))
    assert venue.share_prices() == {"VUSDC": Decimal(1), "VUSDT": Decimal(1)}
    run(venue, plan_for(venue, "USDC", "vUSDT", 5_000))


def test_a_send_whose_reply_is_lost_is_unknown_and_found_by_its_hash(
    y: YieldEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The node takes the batch but the connection drops before it answers: not failed, unknown, and its fills are
    found once the transaction is mined (one more block here)."""
    import requests

    from trimtab.chain import yield_venue
    from trimtab.errors import OrderOutcomeUnknown

    venue = YieldChainVenue(y)
    plan = plan_for(venue, "USDC", "vUSDC", 100_000, plan_id="lost")
    before = venue.balances()
    real = yield_venue.send_signed

    def lost_reply(w3: Any, signed: Any) -> Any:
        real(w3, signed)
        raise requests.ConnectionError("connection reset by peer")

    monkeypatch.setattr(yield_venue, "send_signed", lost_reply)
    with pytest.raises(OrderOutcomeUnknown, match="may have reached the node"):
        venue.execute(plan)
    y.chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]  (it is in a block by now)
    fill = venue.find_fill(venue.client_id(plan, 0), plan.orders[0])
    assert fill is not None and fill.asset == "vUSDC" and fill.side.value == "buy"
    assert venue.balances()["VUSDC"] == before.get("VUSDC", ZERO) + fill.quantity
