"""The scheduler: lease due portfolios, run their cycles, sleep until the next one is due; stop between legs."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from trimtab.service.bootstrap import Services
from trimtab.service.cycle import failed_cycle, reconcile_leftovers, run_portfolio_cycle

log = logging.getLogger(__name__)
MAX_IDLE_S = 1.0  # re-check at least this often (other workers, API requests in other processes)


class Runner:
    """Runs every portfolio of `services` at its check interval; several Runners may share a PostgreSQL database."""

    def __init__(self, services: Services, *, batch: int | None = None) -> None:
        self.services = services
        self.batch = batch or services.settings.claim_batch
        self.names = sorted(services.runtimes)
        self.cycles = 0
        self._lease = timedelta(seconds=services.settings.lease_seconds)

    def startup(self) -> int:
        """Before any new plan: reconcile every portfolio's unfinished rebalances (under its lease)."""
        s = self.services
        n = 0
        for name in self.names:
            rt = s.runtimes[name]
            if not s.store.open_rebalances(rt.account):
                continue
            if not s.store.claim(name, s.worker_id, lease=self._lease):
                continue  # another live worker holds it and will reconcile before its next plan
            try:
                n += len(reconcile_leftovers(s, rt))
            finally:
                s.store.release(name, s.worker_id)
        return n

    def run_once(self) -> int:
        """Claim due portfolios and run them; returns how many cycles ran."""
        s = self.services
        if s.stop.is_set():
            return 0
        claimed = s.store.claim_due(s.worker_id, self.names, s.clock.now(), lease=self._lease, limit=self.batch)
        for i, name in enumerate(claimed):
            if s.stop.is_set():  # hand the rest back untouched
                for rest in claimed[i:]:
                    s.store.release(rest, s.worker_id)
                break
            self.process(name)
        return len(claimed)

    def process(self, name: str) -> None:
        s = self.services
        rt = s.runtimes[name]
        row = s.store.portfolio(name)
        if row is None:
            return
        with rt.lock:
            try:
                updates = run_portfolio_cycle(s, rt, row)
                decision = updates.pop("decision")
                s.store.release(name, s.worker_id, decision=decision, **updates)
            except Exception as err:  # noqa: BLE001  (one portfolio's failure must not stop the others)
                log.warning("%s: cycle failed: %s", name, err, exc_info=not hasattr(err, "detail"))
                updates = failed_cycle(s, rt, row, err)
                s.store.release(name, s.worker_id, next_check_at=rt.spec.every.after(s.clock.now(), 1), **updates)
        s.invalidate(name)
        self.cycles += 1

    def run_forever(self) -> None:
        """Loop until `services.stop` is set (SIGTERM): the running leg finishes, the rest is left for restart."""
        s = self.services
        self.startup()
        while not s.stop.is_set():
            try:
                ran = self.run_once()
            except Exception as err:  # noqa: BLE001  (database blips: log, back off, go on)
                log.warning("scheduler round failed: %s", err)
                ran = 0
                s.stop.wait(1.0)
            if ran:
                continue
            wait = MAX_IDLE_S
            nxt = s.store.next_due(self.names)
            if nxt is not None:
                wait = min(wait, max(0.0, s.clock.wall_seconds_until(nxt)))
            s.wake.wait(wait)
            s.wake.clear()

    def start_thread(self) -> threading.Thread:
        t = threading.Thread(target=self.run_forever, name="trimtab-runner", daemon=True)
        t.start()
        return t
