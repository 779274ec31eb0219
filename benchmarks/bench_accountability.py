"""What owners and deadlines cost the hub (issue 19): ``python benchmarks/bench_accountability.py``.

Prints two figures, each against its baseline in the same run:

* **fusion**: microseconds per alert through ``Fusion.alert`` (alerts spread over
  ``--zones`` zones, so several incidents grow at once) with owners and clocks stamped on
  every incident (``Fusion.accountable`` set, hub.toml's ``[[owners]]`` of ``make demo``)
  and without (the hub before issue 19): the ratio;
* **tick**: microseconds for the hub's escalation step over ``--incidents`` active
  incidents none of whose deadlines has come (the common case, every second), against
  ``Fusion.tick`` alone on the same incidents.

In process, no store (the store writes the same columns either way); CPU time of this
process, best of ``--repeat`` runs interleaved, so other load on the machine counts less.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hub.config import FusionConfig  # noqa: E402
from hub.core.accountability import Accountable  # noqa: E402
from hub.core.deadlines import DeadlinePolicy  # noqa: E402
from hub.core.fusion import Fusion  # noqa: E402
from hub.core.ownership import OwnerPolicy, OwnerRule  # noqa: E402
from lifeline import wire  # noqa: E402
from lifeline.grades import Grade  # noqa: E402

T0 = 1_800_000_000.0
OWNERS = OwnerPolicy((OwnerRule("gas-utility", hazards=("gas",),
                                escalation=("east-duty-officer", "city-command-centre")),
                      OwnerRule("water-utility", hazards=("water",),
                                escalation=("city-command-centre",))),
                     default=OwnerRule("control-room"))


def alerts(n: int, zones: int) -> list[wire.Alert]:
    grades = (Grade.YELLOW, Grade.ORANGE, Grade.RED)
    return [wire.Alert(id=f"a{k}", device=f"edge-{k % 50}", zone=f"z{k % zones}",
                       sensor="s", channel="c", kind="water.pressure", ts=T0 + k * 0.1,
                       value=1.0, score=1.0, grade=grades[k % 3], reason=wire.Reason.LIMIT,
                       seq=k) for k in range(n)]


def fuse(rows: list[wire.Alert], stamped: bool) -> tuple[float, Fusion]:
    fusion = Fusion(FusionConfig(window_s=3600.0, max_span_s=86400.0))
    if stamped:
        fusion.accountable = Accountable(OWNERS, DeadlinePolicy(), FusionConfig().topology)
    start = time.process_time()
    for alert in rows:
        fusion.alert(alert, alert.ts)
    return (time.process_time() - start) / len(rows) * 1e6, fusion


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=20000)
    parser.add_argument("--zones", type=int, default=20)
    parser.add_argument("--incidents", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rows = alerts(args.alerts, args.zones)
    plain, stamped = [], []
    for _ in range(args.repeat):  # interleaved: a busy machine slows both alike
        plain.append(fuse(rows, False)[0])
        stamped.append(fuse(rows, True)[0])
    base, with_owners = min(plain), min(stamped)
    print(f"fusion: {args.alerts} alerts over {args.zones} zones, best of {args.repeat}")
    print(f"  without owners/clocks  {base:8.1f} us/alert")
    print(f"  with owners/clocks     {with_owners:8.1f} us/alert   ratio {with_owners / base:.3f}")

    from hub.service.escalation import _due  # the per-incident check of every tick

    _, fusion = fuse(alerts(args.incidents, args.incidents), True)
    incidents = fusion.incidents
    now = T0 + 60.0  # nothing due yet
    times_due, times_tick = [], []
    for _ in range(args.repeat):
        start = time.process_time()
        assert not any(_due(i, now) for i in fusion.incidents)
        times_due.append(time.process_time() - start)
        start = time.process_time()
        fusion.tick(now)
        times_tick.append(time.process_time() - start)
    due, tick = min(times_due) * 1e6, min(times_tick) * 1e6
    print(f"tick: {len(incidents)} active incidents, nothing due, best of {args.repeat}")
    print(f"  Fusion.tick            {tick:8.0f} us")
    print(f"  escalation check       {due:8.0f} us   ratio {due / tick:.3f} of Fusion.tick")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
