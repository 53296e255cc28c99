"""Cycles on the per-cycle paper venue share one commit per scheduler pass (nothing of them leaves the process):
the real service on SQLite and PostgreSQL. A failing cycle leaves none of its writes while the others commit, no
other connection sees a cycle before the pass commits, and a venue-backed portfolio keeps its own transactions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event, text
from tests.service.harness import Receiver, open_services, write_config

from trimtab.errors import DataError
from trimtab.service.runner import Runner

NAMES = ("a", "b", "c")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.slow])])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return str(tmp_path / "svc.db") if request.param == "sqlite" else str(request.getfixturevalue("pg_url"))


def _services(tmp_path: Path, database: str, receiver: Receiver | None = None, **extra: Any) -> Any:
    ports = [{"name": n, "strategy": "index-fund", "check_every": "1d"} for n in NAMES]
    alerts = {"webhook": f"http://127.0.0.1:{receiver.port}/hook"} if receiver else {}
    return open_services(write_config(tmp_path, ports, database_url=database, alerts=alerts, **extra))


class Wrapped:
    """One portfolio's market data with `snapshot` replaced (the others keep the shared replay source)."""

    def __init__(self, market: Any, snapshot: Any) -> None:
        self._market, self.snapshot = market, snapshot

    def __getattr__(self, name: str) -> Any:
        return getattr(self._market, name)


def _commits(services: Any) -> list[int]:
    seen = [0]
    event.listen(services.ledger.engine, "commit", lambda conn: seen.__setitem__(0, seen[0] + 1))
    return seen


def test_a_pass_of_paper_cycles_commits_once_and_a_failure_leaves_none_of_its_writes(
    tmp_path: Path, database: str
) -> None:
    services = _services(tmp_path, database)
    try:
        rt = services.runtimes["b"]

        def broken(*args: Any, **kw: Any) -> Any:
            services.notifier.send("b", "rebalance_initial", "b: written, then the cycle fails", "")
            raise DataError("price of BTC is stale")

        rt.market = Wrapped(rt.market, broken)  # type: ignore[assignment]
        runner = Runner(services)
        commits = _commits(services)
        assert runner.run_once() == 3
        assert commits[0] == 2, "the claim, then one commit for the whole pass"
        for name in ("a", "c"):
            assert services.store.decisions(name, limit=1)[0]["status"] == "done"
            assert services.ledger.rebalances(name), name
        row = services.store.portfolio("b")
        assert row is not None and row.failures == 1 and services.store.decisions("b", limit=5) == []
        titles = [a["title"] for a in services.store.alerts("b", limit=10)]
        assert titles == ["b: cycle failed"], "the failed cycle's own alert was rolled back with it"
        assert services.ledger.rebalances("b") == []
    finally:
        services.close()


def test_nothing_of_a_pass_is_visible_before_it_commits(tmp_path: Path, database: str) -> None:
    services = _services(tmp_path, database)
    url = services.ledger.engine.url
    outside = create_engine(url)
    seen: dict[str, int] = {}
    try:
        rt = services.runtimes["c"]
        real = rt.market.snapshot

        def peek(*args: Any, **kw: Any) -> Any:  # the last cycle of the pass looks from another connection
            with outside.connect() as conn:
                seen["decisions"] = int(conn.execute(text("SELECT count(*) FROM decisions")).scalar_one())
                seen["rebalances"] = int(conn.execute(text("SELECT count(*) FROM rebalances")).scalar_one())
            return real(*args, **kw)

        rt.market = Wrapped(real.__self__, peek)  # type: ignore[assignment]
        Runner(services).run_once()
        assert seen == {"decisions": 0, "rebalances": 0}, "a and b ran first, but nothing is committed yet"
        assert len(services.store.decisions("a", limit=5)) == len(services.store.decisions("c", limit=5)) == 1
    finally:
        outside.dispose()
        services.close()


def test_alerts_of_a_pass_are_delivered_after_it_commits(tmp_path: Path) -> None:
    receiver = Receiver().start()
    services = _services(tmp_path, str(tmp_path / "svc.db"), receiver)
    try:
        Runner(services).run_once()
        services.notifier.flush()
        delivered = [m for m in receiver.on("/hook") if m["kind"] == "rebalance_initial"]
        assert sorted(m["portfolio"] for m in delivered) == list(NAMES)
        stored = {a["id"] for n in NAMES for a in services.store.alerts(n, limit=10)}
        assert {m["id"] for m in delivered} <= stored, "every delivered alert is one that was committed"
    finally:
        services.close()
        receiver.stop()


def test_a_venue_backed_portfolio_keeps_its_own_transactions(tmp_path: Path) -> None:
    ports = [
        {"name": "paper", "strategy": "index-fund", "check_every": "1d"},
        {"name": "durable", "strategy": "index-fund", "check_every": "1d", "paper_state": "x.sqlite"},
    ]
    services = open_services(write_config(tmp_path, ports, database_url="svc.db"))
    try:
        runner = Runner(services)
        assert runner.in_process("paper") and not runner.in_process("durable")
        commits = _commits(services)
        runner.run_once()
        assert commits[0] > 3, "the durable exchange's rebalance is journaled before its orders leave"
        assert services.ledger.rebalances("durable")[0].status.value == "done"
    finally:
        services.close()
