"""The scheduler: lease due portfolios, run their cycles, sleep until the next one is due; stop between legs.

Each Runner registers its own fencing token (two processes with one worker id never share a lease), keeps a
heartbeat, and runs each cycle under a `LeaseGuard` (`leases.active_guard()`) the journal renews between legs.
A portfolio whose unfinished rebalance belongs to another live process is neither reconciled nor planned.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import ExitStack
from datetime import timedelta
from typing import Any

from trimtab.errors import LeaseLost
from trimtab.scrub import scrub
from trimtab.service.bootstrap import Services
from trimtab.service.cycle import failed_cycle, reconcile_leftovers, run_portfolio_cycle
from trimtab.service.leases import Heartbeat, LeaseGuard, active_guard, holding
from trimtab.service.netting import run_group_cycle
from trimtab.service.settings import NettingSpec
from trimtab.service.yield_cycle import run_yield_cycle

__all__ = ["LeaseGuard", "Runner", "active_guard"]
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
        self.token = services.store.register_worker(services.worker_id)
        self.heartbeat = Heartbeat(services.store, self.token, self._lease)
        self._deferred: dict[str, float] = {}  # name -> monotonic time before which it is not claimed

    def _active(self) -> list[str]:
        """Portfolios not deferred (a deferred one waits for a live peer's unfinished rebalance)."""
        now = time.monotonic()
        return [n for n in self.names if self._deferred.get(n, 0.0) <= now]

    def startup(self) -> int:
        """Before any new plan: reconcile every portfolio's unfinished rebalances (under its lease)."""
        s = self.services
        n = 0
        for name in self.names:
            rt = s.runtimes[name]
            left = s.store.leftovers(rt.account, self.token, stale_after=self._lease)
            if not left.reconcilable or left.busy:
                continue  # nothing to do, or a live process still executes one of them
            if not s.store.claim(name, s.worker_id, lease=self._lease, token=self.token):
                continue  # another live worker holds it and will reconcile before its next plan
            row = s.store.portfolio(name)
            try:
                n += len(reconcile_leftovers(s, rt))
            finally:
                s.store.release(name, s.worker_id, token=self.token, epoch=row.lease_epoch if row else None)
        return n

    def run_once(self) -> int:
        """Claim due portfolios and run them; returns how many cycles ran."""
        s = self.services
        if s.stop.is_set():
            return 0
        names = self._active()
        claimed = s.store.claim_due(
            s.worker_id, names, s.clock.now(), lease=self._lease, limit=self.batch, token=self.token
        )
        local = [n for n in claimed if self.in_process(n)]
        if local:  # nothing of these cycles leaves the process: one commit for all of them
            with s.store.batch():
                self._run(local, batched=True)
        self._run([n for n in claimed if n not in set(local)])
        return len(claimed)

    def _run(self, names: list[str], *, batched: bool = False) -> None:
        s = self.services
        for i, name in enumerate(names):
            if s.stop.is_set():  # hand the rest back untouched
                for rest in names[i:]:
                    s.store.release(rest, s.worker_id, token=self.token)
                break
            if not batched:
                self.process(name)
                continue
            try:
                with s.store.attempt():
                    self.process(name)
            except Exception as err:  # noqa: BLE001  (a database error of one: the others' cycles still commit)
                log.warning("%s: cycle not recorded: %s", name, scrub(err))  # its lease lapses; it runs again

    def in_process(self, name: str) -> bool:
        """A cycle whose venue is the per-cycle paper venue, sent unsliced and outside a netting group: nothing of
        it is seen outside the process before its writes commit, so it may share one commit with others."""
        rt = self.services.runtimes[name]
        twap = rt.strategy.execution.twap
        return rt.venue is None and twap is None and self.services.settings.group_of(name) is None

    def process(self, name: str) -> None:
        s = self.services
        group = s.settings.group_of(name)
        if group is not None:
            self.process_group(group, name)
            return
        rt = s.runtimes[name]
        row = s.store.portfolio(name)
        if row is None or row.lease_token != self.token:
            return  # lost between the claim and now
        left = s.store.leftovers(rt.account, self.token, stale_after=self._lease)
        if left.busy:  # another live process is mid-rebalance: do not reconcile or plan over it
            log.warning("%s: a rebalance of another live worker is unfinished; not planning", name)
            self._deferred[name] = time.monotonic() + min(self._lease.total_seconds(), 30.0)
            s.store.release(name, s.worker_id, token=self.token, epoch=row.lease_epoch)
            return
        guard = LeaseGuard(s.store, name, self.token, row.lease_epoch, self._lease)
        release: dict[str, Any] = {"token": self.token, "epoch": row.lease_epoch}
        with rt.lock, holding(guard):
            try:
                try:
                    with s.store.attempt():  # in a batch: a failed cycle leaves none of its writes
                        cycle = run_yield_cycle if rt.yields is not None else run_portfolio_cycle
                        updates = cycle(s, rt, row, left.reconcilable)
                        decision = updates.pop("decision")
                        s.store.release(name, s.worker_id, decision=decision, **release, **updates)
                except LeaseLost:
                    raise
                except Exception as err:  # noqa: BLE001  (one portfolio's failure must not stop the others)
                    log.warning("%s: cycle failed: %s", name, scrub(err))
                    log.debug("%s: cycle failure", name, exc_info=True)
                    updates = failed_cycle(s, rt, row, err)
                    s.store.release(
                        name, s.worker_id, next_check_at=rt.spec.every.after(s.clock.now(), 1), **release, **updates
                    )
            except LeaseLost as err:  # another worker owns the portfolio now: write nothing more
                log.warning("%s: %s", name, scrub(err))
                guard.abandon()  # what this process left unfinished is the new holder's to reconcile
        s.invalidate(name)
        self.cycles += 1

    def process_group(self, group: NettingSpec, first: str) -> None:
        """A netting group's cycle: lease every member that is not paused (or exits), or hand them all back."""
        s = self.services
        rows = self._lease_members(group, first)
        if rows is None:
            return
        guards = {n: LeaseGuard(s.store, n, self.token, r.lease_epoch, self._lease) for n, r in rows.items()}
        try:
            with ExitStack() as stack:
                for name in group.portfolios:
                    if name in rows:
                        stack.enter_context(s.runtimes[name].lock)
                stack.enter_context(holding(guards[first]))
                for name, cols in self._group_cycle(group, rows, guards).items():
                    decision = cols.pop("decision", None)
                    s.store.release(
                        name, s.worker_id, decision=decision, token=self.token, epoch=rows[name].lease_epoch, **cols
                    )
        except LeaseLost as err:
            log.warning("%s: %s", group.name, scrub(err))
            for g in guards.values():
                g.abandon()
        for name in rows:
            s.invalidate(name)
            self.cycles += 1

    def _group_cycle(
        self, group: NettingSpec, rows: dict[str, Any], guards: dict[str, LeaseGuard]
    ) -> dict[str, dict[str, Any]]:
        s = self.services
        try:
            return run_group_cycle(s, group, rows, guards)
        except LeaseLost:
            raise
        except Exception as err:  # noqa: BLE001  (the group's failure must not stop other portfolios)
            log.warning("%s: netting cycle failed: %s", group.name, scrub(err))
            log.debug("%s: netting cycle failure", group.name, exc_info=True)
            later = s.clock.now()
            return {
                n: {**failed_cycle(s, s.runtimes[n], r, err), "next_check_at": s.runtimes[n].spec.every.after(later, 1)}
                for n, r in rows.items()
            }

    def _lease_members(self, group: NettingSpec, first: str) -> dict[str, Any] | None:
        """Rows of the members this cycle runs (`first` already claimed), all leased; None when handed back."""
        s = self.services
        row = s.store.portfolio(first)
        if row is None or row.lease_token != self.token:
            return None
        rows = {first: row}
        for name in group.portfolios:
            other = s.store.portfolio(name) if name != first else None
            if other is None or (other.paused and other.exit_request is None):
                continue  # a paused member does not trade (its ledger still counts toward the shared balances)
            claimed = (
                s.store.portfolio(name)
                if s.store.claim(name, s.worker_id, lease=self._lease, token=self.token)
                else None
            )
            if claimed is None:
                self._hand_back(group, rows, "another worker holds member " + name)
                return None
            rows[name] = claimed
        accounts = [group.account, *(s.runtimes[n].account for n in rows)]
        if any(s.store.leftovers(a, self.token, stale_after=self._lease).busy for a in accounts):
            self._hand_back(group, rows, "a rebalance of another live worker is unfinished")
            return None
        return rows

    def _hand_back(self, group: NettingSpec, rows: dict[str, Any], why: str) -> None:
        s = self.services
        log.warning("%s: %s; not planning", group.name, why)
        for name, row in rows.items():
            s.store.release(name, s.worker_id, token=self.token, epoch=row.lease_epoch)
            self._deferred[name] = time.monotonic() + min(self._lease.total_seconds(), 30.0)

    def run_forever(self) -> None:
        """Loop until `services.stop` is set (SIGTERM): the running leg finishes, the rest is left for restart."""
        self.heartbeat.start()
        try:
            self._loop()
        finally:
            self.heartbeat.stop()

    def _loop(self) -> None:
        s = self.services
        self.startup()
        while not s.stop.is_set():
            try:
                ran = self.run_once()
            except Exception as err:  # noqa: BLE001  (database blips: log, back off, go on)
                log.warning("scheduler round failed: %s", scrub(err))
                ran = 0
                s.stop.wait(1.0)
            if ran:
                continue
            wait = MAX_IDLE_S
            active = self._active()
            nxt = s.store.next_due(active) if active else None
            if nxt is not None:
                wait = min(wait, max(0.0, s.clock.wall_seconds_until(nxt)))
            s.wake.wait(wait)
            s.wake.clear()

    def start_thread(self) -> threading.Thread:
        t = threading.Thread(target=self.run_forever, name="trimtab-runner", daemon=True)
        t.start()
        return t
