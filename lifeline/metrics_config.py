"""``[metrics]`` of hub.toml and edge.toml: where Prometheus metrics go. Pure parsing.

Either ``listen = "127.0.0.1:9108"`` (HTTP, scraped by Prometheus) or
``textfile = "/var/lib/prometheus/node-exporter/lifeline-edge.prom"`` (node_exporter's
textfile collector, rewritten every ``interval_s``), or both. No table: no metrics,
and prometheus_client is never imported (edge boards have 512 MB).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lifeline.listen import is_loopback, listen_problem, parse_listen
from lifeline.tomlconfig import Section, config_path

__all__ = ["MetricsConfig", "parse_metrics"]


@dataclass(frozen=True)
class MetricsConfig:
    """Where metrics go; ``enabled`` is False when neither is configured."""

    listen: tuple[str, int] | None = None
    textfile: Path | None = None
    interval_s: float = 15.0

    @property
    def enabled(self) -> bool:
        return self.listen is not None or self.textfile is not None


def parse_metrics(section: Section, base: Path) -> MetricsConfig:
    listen_text = section.str("listen", None, check=listen_problem)
    allow_remote = section.bool("allow_remote", False)
    textfile = section.str("textfile", None,
                           check=lambda t: None if t.strip().endswith(".prom") else
                           f"{t!r}: node_exporter reads only files ending in .prom")
    interval = section.float("interval_s", 15.0, min=1.0, max=3600.0)
    section.finish()
    listen = None
    if listen_text is not None and listen_problem(listen_text) is None:
        listen = parse_listen(listen_text)
        if not is_loopback(listen[0]) and not allow_remote:
            section.problem("listen", f"{listen[0]!r} is not a loopback address; metrics "
                            "stay on this machine unless allow_remote = true says otherwise")
    path = config_path(textfile, base) if textfile and textfile.strip().endswith(".prom") else None
    return MetricsConfig(listen=listen, textfile=path, interval_s=interval)
