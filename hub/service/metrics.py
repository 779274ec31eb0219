"""``lifeline-hub run``'s Prometheus metrics (``[metrics]`` in hub.toml).

Read from what the service counts anyway (the ingest counters, the inbox, the acks
waiting) when Prometheus scrapes; what lives in the store (incidents by grade and
status, the routing outbox) is read by the main loop every ``REFRESH_S``, on the
writer's own connection and thread, and kept here for the scrape. Imported only
when ``[metrics]`` is configured (prometheus_client with it, in lifeline/metrics.py).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import TYPE_CHECKING

from lifeline.grades import Grade
from lifeline.metrics import Family, Histogram, MetricsExporter, counter, gauge

if TYPE_CHECKING:
    from hub.service.run import Hub
    from hub.store import Store

__all__ = ["BATCH_BOUNDS", "HubMetrics", "REFRESH_S"]

REFRESH_S = 5.0
# a batch commits one fsync'd transaction: ms on an SSD, up to seconds on a slow SD card
BATCH_BOUNDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class HubMetrics:
    def __init__(self, service: Hub) -> None:
        self.service = service
        self.batch = Histogram(BATCH_BOUNDS)
        self.route_failures: Counter[str] = Counter()
        self.last_commit = 0.0
        self._lock = threading.Lock()
        self._incidents: dict[tuple[str, int, bool], int] = {}
        self._outbox: dict[str, tuple[int, int]] = {}
        self._next_refresh = 0.0
        self.exporter = MetricsExporter(service.config.metrics, self.collect)

    def committed(self, seconds: float, now: float) -> None:
        """A batch committed in ``seconds`` (wall time ``now``)."""
        self.batch.observe(seconds)
        self.last_commit = now

    def refresh(self, store: Store, mono: float) -> None:
        """Read the store's gauges, every REFRESH_S (the main loop calls this each turn)."""
        if mono < self._next_refresh:
            return
        self._next_refresh = mono + REFRESH_S
        incidents, outbox = store.active_incident_counts(), store.outbox.pending_by_route()
        with self._lock:
            self._incidents, self._outbox = incidents, outbox

    def collect(self) -> list[Family]:
        counters = self.service.ingest.counters
        inbox = self.service.inbox
        with self._lock:
            incidents, outbox = dict(self._incidents), dict(self._outbox)
        by_grade: dict[tuple[str, ...], float] = {}
        for each in Grade:  # every grade and status, 0 included: a rule can compare
            for status in ("open", "acknowledged"):
                by_grade[status, each.label] = 0
        latched: dict[tuple[str, ...], float] = {(each.label,): 0 for each in Grade}
        for (status, grade, is_latched), count in incidents.items():
            label = Grade(grade).label
            by_grade[status, label] = by_grade.get((status, label), 0) + count
            if is_latched:
                latched[label,] += count
        return [
            counter("lifeline_hub_messages_received", "MQTT messages the hub received "
                    "(alerts and statuses).", counters.received),
            counter("lifeline_hub_alerts_stored", "Alerts stored for the first time.",
                    counters.stored),
            counter("lifeline_hub_alerts_duplicate", "Alerts received again (already stored; "
                    "acknowledged again, not stored).", counters.duplicates),
            counter("lifeline_hub_messages_invalid", "Messages not in the wire contract, by "
                    "reason (counted, logged, acknowledged).",
                    {(k,): v for k, v in dict(counters.invalid).items()}, ("reason",)),
            counter("lifeline_hub_messages_refused", "Messages refused by the device registry, "
                    "by reason.", {(k,): v for k, v in dict(counters.refused).items()},
                    ("reason",)),
            counter("lifeline_hub_statuses", "Device status messages received.",
                    counters.statuses),
            counter("lifeline_hub_alerts_clock_skew", "Alerts whose own time was implausible "
                    "(fused at receipt time).", counters.clock_skew),
            gauge("lifeline_hub_incidents", "Active incidents by status and grade.", by_grade,
                  ("status", "grade")),
            gauge("lifeline_hub_incidents_latched", "Active latched (red) incidents by grade: "
                  "they stay until an operator resolves them.", latched, ("grade",)),
            self.batch.family("lifeline_hub_batch_commit_seconds", "Time to store, fuse and "
                              "commit one batch of messages."),
            gauge("lifeline_hub_last_commit_timestamp_seconds", "When the hub last committed a "
                  "batch (Unix time; 0: not yet).", self.last_commit),
            gauge("lifeline_hub_inbox_messages", "Messages received and waiting to be stored.",
                  inbox.queue.qsize()),
            gauge("lifeline_hub_acks_waiting", "Committed alert ids waiting to be acknowledged "
                  "to their edges.", inbox.acks_waiting),
            counter("lifeline_hub_acks_dropped", "Acks never sent because too many waited (the "
                    "edges resend those alerts).", inbox.acks_dropped),
            gauge("lifeline_hub_broker_connected", "1 while the hub is connected and subscribed "
                  "to the broker.", 1.0 if inbox.subscribed.is_set() else 0.0),
            gauge("lifeline_hub_outbox_pending", "Routed incident changes not delivered yet, by "
                  "route.", {(k,): v[0] for k, v in outbox.items()}, ("route",)),
            gauge("lifeline_hub_outbox_failing", "Undelivered routed changes whose delivery "
                  "failed at least once, by route.", {(k,): v[1] for k, v in outbox.items()},
                  ("route",)),
            counter("lifeline_hub_route_failures", "Failed webhook deliveries, by route (each "
                    "is retried with backoff).", {(k,): v for k, v in
                                                  dict(self.route_failures).items()},
                    ("route",)),
            gauge("lifeline_hub_start_time_seconds", "When this hub process started (Unix "
                  "time).", _START),
        ]


_START = time.time()
