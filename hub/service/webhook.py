"""Webhook delivery: HTTP POST of outbox rows, off the hub's main thread.

The main thread owns the store: it hands due rows to ``WebhookSender`` and
later collects the outcomes to record (``delivered`` or ``failed`` with the
backoff, see ``hub.service.routing``). A slow or dead endpoint never blocks ingest;
a hub restart resends what was not recorded as delivered (at least once: a
receiver should dedup on ``event`` + ``incident.id``).
"""

from __future__ import annotations

import logging
import queue
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass

from hub.store import OutboxRow

__all__ = ["Outcome", "WebhookSender", "post_json"]

log = logging.getLogger(__name__)

USER_AGENT = "lifeline-hub"


@dataclass(frozen=True, slots=True)
class Outcome:
    row: OutboxRow
    error: str | None  # None: delivered
    last: bool = False  # the last row of its batch


def post_json(url: str, body: str, timeout_s: float) -> None:
    """POST ``body`` as JSON; raise OSError (URLError, HTTPError, timeouts) unless it gets 2xx."""
    request = urllib.request.Request(url, data=body.encode(), method="POST", headers={
        "Content-Type": "application/json", "User-Agent": USER_AGENT})
    with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 (http/https checked in config)
        if not 200 <= response.status < 300:
            raise OSError(f"HTTP {response.status}")


class WebhookSender:
    """One worker thread posting batches of rows in order; outcomes come back through
    ``results()``. A batch is one route's oldest rows: the first failure ends the batch, so
    a route's changes arrive in order (the failed one is retried first)."""

    def __init__(self, timeouts: dict[str, float]) -> None:
        self.timeouts = timeouts
        self._todo: queue.Queue[list[OutboxRow] | None] = queue.Queue()
        self._done: queue.Queue[Outcome] = queue.Queue()
        self.in_flight: set[int] = set()
        self.busy_routes: set[str] = set()
        self._thread = threading.Thread(target=self._work, name="webhooks", daemon=True)
        self._thread.start()

    def submit(self, rows: list[OutboxRow]) -> None:
        self.in_flight.update(r.id for r in rows)
        self.busy_routes.add(rows[0].route)
        self._todo.put(rows)

    def results(self) -> list[Outcome]:
        out: list[Outcome] = []
        while True:
            try:
                outcome = self._done.get_nowait()
            except queue.Empty:
                return out
            self.in_flight.discard(outcome.row.id)
            if outcome.error is not None or outcome.last:
                self.busy_routes.discard(outcome.row.route)
            out.append(outcome)

    def stop(self) -> None:
        self._todo.put(None)
        self._thread.join(timeout=10)

    def _work(self) -> None:
        while (rows := self._todo.get()) is not None:
            for n, row in enumerate(rows):
                error = self._post(row)
                if error is not None:
                    for rest in rows[n:]:  # not tried: back to the main thread, untouched
                        self.in_flight.discard(rest.id)
                    self._done.put(Outcome(row, error))
                    break
                self._done.put(Outcome(row, None, last=n == len(rows) - 1))

    def _post(self, row: OutboxRow) -> str | None:
        try:
            post_json(row.url, row.body, self.timeouts.get(row.route, 5.0))
        except urllib.error.HTTPError as exc:
            return f"HTTP {exc.code} {exc.reason}"
        except (OSError, ValueError) as exc:
            return f"{type(exc).__name__}: {exc}"
        return None
