"""``lifeline-edge run``'s Prometheus metrics (``[metrics]`` in edge.toml).

Read from what the agent counts (readings and bad reads per sensor, time in the
detectors, the outbox, alerts by reason, the broker link, the last delivery the
hub acknowledged) when Prometheus scrapes or the textfile is written. Imported
only when ``[metrics]`` is configured: without it an edge board never loads
prometheus_client (512 MB boards).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from lifeline.metrics import Family, MetricsExporter, counter, gauge

if TYPE_CHECKING:
    from edge.agent import Agent

__all__ = ["EdgeMetrics"]


class EdgeMetrics:
    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.exporter = MetricsExporter(agent.config.metrics, self.collect)

    def collect(self) -> list[Family]:
        agent = self.agent
        sensors = dict(agent.sensors)
        delivery = dict(agent.delivery.counters)
        return [
            counter("lifeline_edge_readings", "Readings decoded, by sensor.",
                    {(s,): r.readings for s, r in sensors.items()}, ("sensor",)),
            counter("lifeline_edge_bad_reads", "Reads that could not be used (garbled, "
                    "checksum, non-finite...), by sensor and reason.",
                    {(s, why): n for (s, why), n in dict(agent.bad_reads).items()},
                    ("sensor", "reason")),
            counter("lifeline_edge_detector_seconds", "CPU time spent in detection, by sensor "
                    "(rate() of it: the share of a core).",
                    {(s,): r.detect_s for s, r in sensors.items()}, ("sensor",)),
            counter("lifeline_edge_alerts", "Alerts emitted, by reason.",
                    {(k,): v for k, v in dict(agent.alerts_by_reason).items()}, ("reason",)),
            counter("lifeline_edge_alerts_dropped", "Alerts dropped because the outbox was "
                    "full (lower grades first).", agent.counters.get("dropped", 0)),
            gauge("lifeline_edge_outbox_alerts", "Alerts in the outbox, not yet acknowledged "
                  "by the hub.", agent.outbox.depth),
            gauge("lifeline_edge_outbox_capacity_alerts", "How many alerts the outbox holds at "
                  "most ([outbox] max_alerts).", agent.outbox.max_alerts),
            counter("lifeline_edge_alerts_sent", "Alert publications (first sends).",
                    delivery.get("sent", 0)),
            counter("lifeline_edge_alerts_resent", "Alert publications repeated after a "
                    "timeout or reconnect.", delivery.get("resent", 0)),
            counter("lifeline_edge_alerts_acknowledged", "Alerts the hub acknowledged (stored).",
                    delivery.get("acked", 0)),
            gauge("lifeline_edge_broker_connected", "1 while connected to the broker.",
                  1.0 if agent.link.connected.is_set() else 0.0),
            gauge("lifeline_edge_last_delivery_timestamp_seconds", "When the hub last "
                  "acknowledged an alert of this device (Unix time; 0: not since start).",
                  agent.last_delivery),
            gauge("lifeline_edge_start_time_seconds", "When this agent process started (Unix "
                  "time).", _START),
        ]


_START = time.time()
