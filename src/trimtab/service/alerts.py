"""Alerts: stored first (the API lists them), then delivered off the cycle thread to apprise URLs and a JSON webhook.

Channel URLs can hold secrets (bot tokens), so they are never logged or stored with the delivery status.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Mapping
from typing import Any

import httpx

from trimtab.adapters.storage.service_store import ServiceStore
from trimtab.errors import ConfigError
from trimtab.scrub import scrub
from trimtab.service.settings import AlertsSpec

log = logging.getLogger(__name__)


class Notifier:
    """Records every alert, then a daemon thread delivers it to each configured channel (at-most-once)."""

    def __init__(self, store: ServiceStore, spec: AlertsSpec) -> None:
        self._store = store
        self._spec = spec
        self._apprise: Any = None
        if spec.apprise:
            import apprise

            self._apprise = apprise.Apprise()
            for i, url in enumerate(spec.apprise):
                if not self._apprise.add(url.get_secret_value()):
                    raise ConfigError("apprise does not understand this URL", field=f"alerts.apprise[{i}]")
        self._queue: queue.Queue[tuple[int, dict[str, Any]] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._http = httpx.Client(timeout=spec.timeout_s)

    @property
    def has_channels(self) -> bool:
        return bool(self._apprise or self._spec.webhook)

    def start(self) -> Notifier:
        if self._thread is None and self.has_channels:
            self._thread = threading.Thread(target=self._run, name="trimtab-alerts", daemon=True)
            self._thread.start()
        return self

    def send(
        self, portfolio: str | None, kind: str, title: str, body: str, payload: Mapping[str, Any] | None = None
    ) -> int:
        """Store the alert and queue its delivery; returns its id."""
        payload = dict(payload or {})
        title, body = scrub(title), scrub(body)  # error text may quote URLs with credentials, or SQL
        delivery = "pending" if self.has_channels else "no channels"  # one write either way
        alert_id = self._store.add_alert(portfolio, kind, title, body, payload, delivery=delivery)
        message = {
            "id": alert_id,
            "portfolio": portfolio,
            "kind": kind,
            "title": title,
            "body": body,
            "payload": payload,
            "created_at": self._store.now().isoformat(),
        }
        if self.has_channels:  # delivered once stored for good (a batched cycle's alerts after its commit)
            self.start()
            self._store.after_commit(lambda: self._queue.put((alert_id, message)))
        return alert_id

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every queued alert has been delivered (or failed)."""
        done = threading.Event()
        self._queue.put((-1, {"_flush": done}))
        if self._thread is not None:
            done.wait(timeout)

    def close(self) -> None:
        if self._thread is not None:
            self.flush()
            self._queue.put(None)
            self._thread.join(5)
            self._thread = None
        self._http.close()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            alert_id, message = item
            if "_flush" in message:
                message["_flush"].set()
                continue
            results = []
            if self._spec.webhook:
                results.append(self._webhook(message))
            if self._apprise is not None:
                results.append(self._notify(message))
            try:
                self._store.set_delivery(alert_id, "; ".join(results))
            except Exception as err:  # noqa: BLE001  (a delivery thread must survive a database hiccup)
                log.warning("alert %s: cannot store delivery status: %s", alert_id, type(err).__name__)

    def _webhook(self, message: dict[str, Any]) -> str:
        if self._spec.webhook is None:
            raise RuntimeError("internal invariant broken: expected self._spec.webhook is not None")
        try:
            r = self._http.post(self._spec.webhook.get_secret_value(), json=message)
            return f"webhook: {r.status_code}" if r.is_success else f"webhook: failed with HTTP {r.status_code}"
        except httpx.HTTPError as err:
            log.warning("alert %s: webhook delivery failed: %s", message["id"], type(err).__name__)
            return f"webhook: failed ({type(err).__name__})"

    def _notify(self, message: dict[str, Any]) -> str:
        try:
            ok = bool(self._apprise.notify(title=message["title"], body=message["body"]))
        except Exception as err:  # noqa: BLE001  (plugins raise anything; a failed channel must not stop the rest)
            log.warning("alert %s: apprise failed: %s", message["id"], type(err).__name__)
            ok = False
        return "apprise: ok" if ok else "apprise: failed"
