"""The lease a running cycle holds, as the journal sees it: renew between legs, abort when lost.

`LeaseGuard` is fenced by (process token, claim epoch): once another worker has claimed the portfolio every
renew/bind raises LeaseLost, so the cycle sends no further leg and writes nothing. The runner makes the guard of
the cycle in progress available through `active_guard()`; a `Heartbeat` thread keeps the process marked alive.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from trimtab.adapters.storage.service_store import ServiceStore

log = logging.getLogger(__name__)
_active: contextvars.ContextVar[LeaseGuard | None] = contextvars.ContextVar("trimtab_lease", default=None)


@dataclass(frozen=True)
class LeaseGuard:
    """One claimed lease: call it (or `renew`) before each leg; `bind` a journaled rebalance to it."""

    store: ServiceStore
    name: str
    token: str
    epoch: int
    lease: timedelta

    def renew(self) -> datetime:
        """Extend the lease to database now + lease; LeaseLost if another worker took over."""
        return self.store.renew(self.name, self.token, self.epoch, lease=self.lease)

    __call__ = renew

    def renew_in(self, conn: Any) -> datetime:
        """`renew` inside the caller's transaction on the service database (one commit with the journal's mark)."""
        return self.store.renew_on(conn, self.name, self.token, self.epoch, lease=self.lease)

    def bind(self, rebalance_id: str) -> None:
        """This process executes `rebalance_id`: no live peer reconciles or re-plans it (LeaseLost if lost)."""
        self.store.bind_rebalance(rebalance_id, self.name, self.token, self.epoch)

    def abandon(self) -> None:
        """After LeaseLost: hand this process's unfinished rebalances over (the new holder reconciles them)."""
        self.store.abandon_rebalances(self.name, self.token)


def active_guard() -> LeaseGuard | None:
    """The lease of the cycle running on this thread (None outside the runner, e.g. one-off commands)."""
    return _active.get()


@contextmanager
def holding(guard: LeaseGuard) -> Iterator[LeaseGuard]:
    reset = _active.set(guard)
    try:
        yield guard
    finally:
        _active.reset(reset)


class Heartbeat:
    """A daemon thread marking this process alive and extending its leases every `lease / 4`."""

    def __init__(self, store: ServiceStore, token: str, lease: timedelta) -> None:
        self._store, self._token, self._lease = store, token, lease
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.interval = min(10.0, max(0.05, lease.total_seconds() / 4))

    def beat(self) -> None:
        try:
            self._store.heartbeat(self._token, lease=self._lease)
        except Exception as err:  # noqa: BLE001  (a database blip: the next beat tries again)
            log.warning("heartbeat failed: %s", type(err).__name__)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.beat()

    def start(self) -> Heartbeat:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="trimtab-heartbeat", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
