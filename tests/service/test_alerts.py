"""Alerts reach a local HTTP receiver (plain webhook + apprise json://); breakers and monthly summaries fire."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.service.harness import Receiver, free_port, open_services, wait_for, write_config

from trimtab.adapters.storage import SqlLedgerStore
from trimtab.adapters.storage.service_store import ServiceStore
from trimtab.errors import VenueUnavailable
from trimtab.service.alerts import Notifier
from trimtab.service.cycle import failed_cycle
from trimtab.service.replay import SimulatedClock
from trimtab.service.runner import Runner
from trimtab.service.settings import AlertsSpec


def test_each_alert_is_stored_then_delivered_to_every_channel(tmp_path: Path, receiver: Receiver) -> None:
    ledger = SqlLedgerStore(tmp_path / "a.db")
    store = ServiceStore(ledger.engine)
    spec = AlertsSpec(
        webhook=f"http://127.0.0.1:{receiver.port}/hook",
        apprise=[f"json://127.0.0.1:{receiver.port}/apprise?secret-in-url=1"],
    )
    notifier = Notifier(store, spec)
    ids = [notifier.send("p", "control", f"title {i}", f"body {i}", {"i": i}) for i in range(3)]
    notifier.flush()
    hooks = receiver.on("/hook")
    assert [m["id"] for m in hooks] == ids and hooks[2]["payload"] == {"i": 2} and hooks[0]["kind"] == "control"
    assert sorted(m["title"] for m in receiver.on("/apprise")) == ["title 0", "title 1", "title 2"]
    stored = store.alerts("p")
    assert all(a["delivery"] == "webhook: 200; apprise: ok" for a in stored)
    assert not any("secret" in a["delivery"] for a in stored)
    notifier.close()
    ledger.close()


def test_a_dead_channel_is_recorded_as_failed_not_raised(tmp_path: Path) -> None:
    ledger = SqlLedgerStore(tmp_path / "a.db")
    store = ServiceStore(ledger.engine)
    notifier = Notifier(store, AlertsSpec(webhook=f"http://127.0.0.1:{free_port()}/hook", timeout_s=1))
    alert = notifier.send(None, "failure", "t", "b")
    notifier.flush()
    assert store.alerts()[0]["id"] == alert and store.alerts()[0]["delivery"].startswith("webhook: failed")
    notifier.close()
    ledger.close()


def _config(tmp_path: Path, receiver: Receiver, **portfolio: object) -> Path:
    return write_config(
        tmp_path,
        [{"name": "alpha", "strategy": "index-fund", "check_every": "1d", **portfolio}],
        database_url="svc.db",
        market_data={"source": "replay", "start": "2022-01-20", "speed": 40 * 86_400},
        alerts={"webhook": f"http://127.0.0.1:{receiver.port}/hook"},
    )


def test_monthly_summary_on_schedule_attributes_returns_to_rebalancing(tmp_path: Path, receiver: Receiver) -> None:
    start = datetime(2022, 1, 20, tzinfo=UTC)
    clock = SimulatedClock(start)  # one check a day, however long the set-up takes in wall time
    services = open_services(_config(tmp_path, receiver), clock=clock)
    runner = Runner(services)
    for day in range(1, 30):
        runner.run_once()
        if services.store.alerts(kind="monthly_summary"):
            break
        clock.advance_to(start + timedelta(days=day))
    services.notifier.flush()
    summary = services.store.alerts(kind="monthly_summary")[0]["payload"]
    assert summary["month"] == "2022-01"
    decisions = services.store.decisions("alpha", limit=1000, newest_first=False)
    jan = [d for d in decisions if d["time"].month == 1]
    assert summary["checks"] == len(jan) and summary["end_value"] == pytest.approx(jan[-1]["value"])
    expected = jan[-1]["value"] / jan[0]["value"] - 1
    assert summary["return"] == pytest.approx(expected)
    assert summary["attribution"]["rebalancing"] == pytest.approx(summary["return"] - summary["buy_and_hold_return"])
    assert [m["payload"] for m in receiver.on("/hook") if m["kind"] == "monthly_summary"] == [summary]
    services.close()


def test_drawdown_breaker_pauses_and_alerts(tmp_path: Path, receiver: Receiver) -> None:
    services = open_services(_config(tmp_path, receiver, max_drawdown=0.03))
    runner = Runner(services)
    wait_for("the breaker", lambda: runner.run_once() >= 0 and services.store.portfolio("alpha").paused, timeout=15)
    row = services.store.portfolio("alpha")
    assert row is not None and row.paused_reason.startswith("circuit breaker: drawdown")
    values = [v for _, v, _, _ in services.store.equity_flows("alpha")]
    assert 1 - values[-1] / max(values) > 0.03
    n = services.store.count_decisions("alpha")
    time.sleep(0.2)
    runner.run_once()
    assert services.store.count_decisions("alpha") == n  # paused: no more cycles
    assert services.store.alerts(kind="circuit_breaker")[0]["payload"]["breaker"] == "max_drawdown"
    services.close()


def test_repeated_failures_trip_the_breaker(tmp_path: Path, receiver: Receiver) -> None:
    services = open_services(_config(tmp_path, receiver, max_failures=3))
    rt = services.runtimes["alpha"]
    err = VenueUnavailable("timeout", venue="paper", op="execute")
    for _ in range(3):
        row = services.store.portfolio("alpha")
        assert row is not None
        services.store.update_portfolio("alpha", **failed_cycle(services, rt, row, err))
    row = services.store.portfolio("alpha")
    assert row is not None and row.paused and row.failures == 3
    assert [a["kind"] for a in services.store.alerts()][:2] == ["circuit_breaker", "failure"]
    assert "timeout" in services.store.alerts(kind="failure")[0]["body"]
    services.close()


def test_month_summary_reads_only_its_month_and_the_value_before_it(tmp_path: Path, receiver: Receiver) -> None:
    from trimtab.service import reports

    services = open_services(_config(tmp_path, receiver))
    runner = Runner(services)
    wait_for(
        "two month boundaries",
        lambda: runner.run_once() >= 0 and len(services.store.alerts(kind="monthly_summary")) >= 2,
        timeout=20,
        every=0.02,
    )
    start, end = reports.month_bounds("2022-02")
    window = services.store.decisions_between("alpha", start, end)
    everything = services.store.decisions("alpha", limit=100_000, newest_first=False)
    feb = [d for d in everything if start <= d["time"] < end]
    assert window[0]["time"] < start and window[1:] == feb and len(feb) >= 5
    assert reports.monthly_summary("alpha", "2022-02", window) == reports.monthly_summary(
        "alpha", "2022-02", everything
    )
    services.close()
