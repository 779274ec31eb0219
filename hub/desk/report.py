"""``lifeline-hub report``: the response report, as a table, JSON or CSV.

The store reads each incident's facts (``Store.response_facts``), ``hub.core.report``
aggregates them per owner, hazard or zone, or (``--by detector``) gathers the operators'
verdicts per alert reason; this module only reads and prints.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import sys
import time
from typing import TYPE_CHECKING, Any

from hub.core.report import BY_DETECTOR, GROUPINGS, ReportRow, VerdictRow, aggregate, verdicts
from hub.desk.render import countdown, shown
from hub.store import Store
from lifeline.wire import format_ts

if TYPE_CHECKING:
    from hub.config import HubConfig

__all__ = ["GROUPINGS", "report", "report_table", "verdict_table"]

_HEADER = ("INCIDENTS", "ACKED", "ACK MEDIAN", "ACK P90", "RESOLVED", "RESOLVE MEDIAN",
           "RESOLVE P90", "MISSED", "ESCALATIONS", "FALSE ALARMS")


def _span(seconds: float | None) -> str:
    return "-" if seconds is None else countdown(seconds)


def report_table(rows: list[ReportRow], by: str) -> str:
    """A fixed-width table: one line per group, the total last."""
    header = (by.upper(), *_HEADER)
    cells = [(shown(r.group), str(r.incidents), str(r.acknowledged), _span(r.ack_median_s),
              _span(r.ack_p90_s), str(r.resolved), _span(r.resolve_median_s),
              _span(r.resolve_p90_s), str(r.deadlines_missed), str(r.escalations),
              str(r.false_alarms)) for r in rows]
    widths = [max(len(header[c]), *(len(row[c]) for row in cells)) for c in range(len(header))]
    line = "  ".join(f"{{:{'<' if c == 0 else '>'}{w}}}" for c, w in enumerate(widths)).format
    return "\n".join(line(*row).rstrip() for row in (header, *cells))


_VERDICT_HEADER = ("INCIDENTS", "RESOLVED", "REAL", "FALSE ALARMS", "MAINTENANCE", "TEST",
                   "NO OUTCOME", "PRECISION")


def verdict_table(rows: list[VerdictRow]) -> str:
    """The detectors' verdicts as a fixed-width table: one line per reason, the total last."""
    header = ("DETECTOR", *_VERDICT_HEADER)
    cells = [(shown(r.group), str(r.incidents), str(r.resolved), str(r.real),
              str(r.false_alarms), str(r.maintenance), str(r.test), str(r.no_outcome),
              "-" if r.precision is None else f"{r.precision:.2f}") for r in rows]
    widths = [max(len(header[c]), *(len(row[c]) for row in cells)) for c in range(len(header))]
    line = "  ".join(f"{{:{'<' if c == 0 else '>'}{w}}}" for c, w in enumerate(widths)).format
    return "\n".join(line(*row).rstrip() for row in (header, *cells))


def _plain(row: ReportRow | VerdictRow) -> dict[str, Any]:
    """The row as JSON or CSV has it: seconds to the millisecond."""
    return {k: round(v, 3) if isinstance(v, float) else v
            for k, v in dataclasses.asdict(row).items()}


def report(config: HubConfig, since_s: float, by: str, as_json: bool, as_csv: bool) -> int:
    """Print the report of incidents opened in the last ``since_s`` seconds, by ``by``."""
    now = time.time()
    store = Store.reader(config.store)
    try:
        facts = [] if store is None else store.response_facts(now - since_s)
    finally:
        if store is not None:
            store.close()
    rows: list[ReportRow | VerdictRow]
    if by == BY_DETECTOR:
        detector_rows = verdicts(facts)
        rows = [*detector_rows]
        heading = ("by the reason of their alerts (operators' outcomes; precision: real / "
                   "(real + false alarms))")
        table = verdict_table(detector_rows)
    else:
        response_rows = aggregate(facts, by)
        rows = [*response_rows]
        heading = f"by {by} (times: median and p90 from opening)"
        table = report_table(response_rows, by)
    if as_json:
        data: dict[str, Any] = {"since": format_ts(now - since_s), "by": by,
                                "groups": [_plain(r) for r in rows[:-1]],
                                "all": _plain(rows[-1])}
        print(json.dumps(data, indent=2))
    elif as_csv:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        names = [f.name for f in dataclasses.fields(rows[-1])]
        writer.writerow([by if n == "group" else n for n in names])
        writer.writerows([_plain(r)[n] for n in names] for r in rows)
        sys.stdout.write(out.getvalue())
    else:
        print(f"incidents opened since {format_ts(now - since_s)}, {heading}")
        print(table)
    return 0
