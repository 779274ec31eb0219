"""Prometheus metrics of ``lifeline-hub run`` and ``lifeline-edge run``: the exporter.

Only a configuration with ``[metrics]`` imports this module's users, and only this
module imports ``prometheus_client`` (an edge board has 512 MB; a hub or edge
without ``[metrics]`` never loads it). Each side gives a *collector*: a function
that reads the service's own counters when Prometheus scrapes (nothing is counted
twice, nothing is added to the hot path but what the service counts anyway) and
returns metric families. The exporter serves them over HTTP on a loopback port,
writes them for node_exporter's textfile collector every ``interval_s``, or both.

Names follow Prometheus' conventions: ``lifeline_<side>_..._total`` for counters,
base units (seconds, not ms), labels for what varies (``reason``, ``sensor``).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lifeline.metrics_config import MetricsConfig

__all__ = ["Family", "MetricsExporter", "Sample"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Sample:
    """One value of a family, with its labels (in the family's label order)."""

    value: float
    labels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Family:
    """A metric family a collector reports: ``kind`` counter, gauge or histogram.

    A counter's ``name`` is without ``_total`` (prometheus_client adds it). A histogram
    gives ``buckets`` ((upper bound, cumulative count), ..., (inf, count)) and ``sum``."""

    name: str
    help: str
    kind: str
    samples: Sequence[Sample] = ()
    labels: tuple[str, ...] = ()
    buckets: Sequence[tuple[float, float]] = ()
    sum: float = 0.0
    unit: str = ""


@dataclass
class Histogram:
    """A latency histogram the service observes into (thread-safe, no prometheus_client)."""

    bounds: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.counts = [0] * (len(self.bounds) + 1)

    def observe(self, value: float) -> None:
        with self._lock:
            self.total += value
            for index, bound in enumerate(self.bounds):
                if value <= bound:
                    self.counts[index] += 1
                    break
            else:
                self.counts[-1] += 1

    def family(self, name: str, help_text: str) -> Family:
        with self._lock:
            running, buckets = 0, []
            for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
                running += count
                buckets.append((bound, float(running)))
            return Family(name, help_text, "histogram", buckets=buckets, sum=self.total)


def counter(name: str, help_text: str, values: Mapping[tuple[str, ...], float] | float,
            labels: tuple[str, ...] = ()) -> Family:
    return _family(name, help_text, "counter", values, labels)


def gauge(name: str, help_text: str, values: Mapping[tuple[str, ...], float] | float,
          labels: tuple[str, ...] = ()) -> Family:
    return _family(name, help_text, "gauge", values, labels)


def _family(name: str, help_text: str, kind: str,
            values: Mapping[tuple[str, ...], float] | float, labels: tuple[str, ...]) -> Family:
    if isinstance(values, Mapping):
        samples = [Sample(float(v), k) for k, v in sorted(values.items())]
    else:
        samples = [Sample(float(values))]
    return Family(name, help_text, kind, samples, labels)


class _Collector:
    """prometheus_client's custom-collector protocol over our ``collect`` function."""

    def __init__(self, collect: Callable[[], Iterable[Family]]) -> None:
        self._collect = collect

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        for family in self._collect():
            if family.kind == "histogram":
                yield HistogramMetricFamily(family.name, family.help,
                                            buckets=[(_bound(b), c) for b, c in family.buckets],
                                            sum_value=family.sum)
                continue
            kinds = {"counter": CounterMetricFamily, "gauge": GaugeMetricFamily}
            metric = kinds[family.kind](family.name, family.help, labels=list(family.labels))
            for sample in family.samples:
                metric.add_metric(list(sample.labels), sample.value)
            yield metric


def _bound(value: float) -> str:
    return "+Inf" if value == float("inf") else repr(float(value))


class MetricsExporter:
    """Serves a collector's metrics as ``[metrics]`` says, until ``stop``."""

    def __init__(self, config: MetricsConfig, collect: Callable[[], Iterable[Family]]) -> None:
        from prometheus_client import CollectorRegistry, ProcessCollector

        self.config = config
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Collector(collect))
        ProcessCollector(registry=self.registry)  # process_resident_memory_bytes, cpu, fds
        self._server: Any = None
        self._stopping = threading.Event()
        self._writer: threading.Thread | None = None
        self.address: tuple[str, int] | None = None

    def start(self) -> None:
        from prometheus_client import start_http_server

        if self.config.listen is not None:
            host, port = self.config.listen
            self._server, _ = start_http_server(port, host, registry=self.registry)
            self.address = (host, int(self._server.server_port))
            log.info("metrics on http://%s:%d/metrics", host, self.address[1])
        if self.config.textfile is not None:
            self.write_textfile()
            self._writer = threading.Thread(target=self._write_loop, name="metrics-textfile",
                                            daemon=True)
            self._writer.start()
            log.info("metrics written to %s every %g s", self.config.textfile,
                     self.config.interval_s)

    def write_textfile(self) -> None:
        """Write the textfile atomically (node_exporter must never read half a file)."""
        from prometheus_client import write_to_textfile

        path = self.config.textfile
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_to_textfile(os.fspath(path), self.registry)
        except OSError as exc:  # counted by the scrape that finds the file old; logged here
            log.warning("cannot write metrics to %s: %s", path, exc)

    def _write_loop(self) -> None:
        while not self._stopping.wait(self.config.interval_s):
            self.write_textfile()

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self.config.textfile is not None:
            self.write_textfile()  # the last values, as the service stops
