"""Fixtures for service tests: a local alert receiver and two paper portfolios replaying bundled prices."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.service.harness import Receiver, open_services, write_config

from trimtab.service.bootstrap import Services


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def two_portfolios(tmp_path: Path, receiver: Receiver | None = None, **top: object) -> Path:
    alerts = {}
    if receiver is not None:
        alerts = {
            "alerts": {
                "webhook": f"http://127.0.0.1:{receiver.port}/hook",
                "apprise": [f"json://127.0.0.1:{receiver.port}/apprise"],
                "advance_notice": "3d",
            }
        }
    return write_config(
        tmp_path,
        [
            {"name": "alpha", "strategy": "index-fund", "check_every": "1d", "initial_value": 100_000},
            {"name": "beta", "strategy": "ethereum", "check_every": "1d"},
        ],
        database_url=str(tmp_path / "svc.db"),
        **alerts,
        **top,
    )


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    s = open_services(two_portfolios(tmp_path))
    yield s
    s.close()
