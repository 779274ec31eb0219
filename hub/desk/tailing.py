"""``lifeline-hub tail``: follow the store's events feed, filtered, folded in a storm.

Filters (all that are given must match): ``--zone`` (any of the incident's
zones, or a zone above them), ``--hazard``, ``--min-grade`` (the line's grade:
the alert's for alert lines, the incident's otherwise), ``--device``.
``--since 10m`` replays that much recent history first, then follows.

A change that a silence in force at the time covers -- one routing held back
from the webhooks -- is marked: ``[silenced #2]`` at the end of its line, and
``"silenced": true, "silences": [2]`` in ``--json`` (``false``, ``[]`` otherwise).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from dataclasses import dataclass
from types import FrameType
from typing import Any

from hub.config import HubConfig
from hub.core.silences import covering_change
from hub.core.topology import Topology
from hub.desk.commitwatch import CommitWatch
from hub.desk.render import Folder, event_line, use_colour
from hub.store import Event, Store
from lifeline.grades import Grade
from lifeline.wire import parse_incident_id

__all__ = ["TailFilter", "follow"]

# tail asks the store whether anything was committed (Store.data_version, a few microseconds)
# every POLL_S for HOT_S after SQLite wrote a file beside the store (inotify,
# hub/desk/commitwatch.py: a commit is visible only once its WAL write is synced, a few ms after
# that write), and otherwise sleeps until such a write, or for WATCHED_POLL_S at most (the
# storm folder's summaries are due on time). So it notices a commit within POLL_S and costs
# next to nothing while the hub is quiet; without inotify it asks every POLL_S. The feed is
# read only after a commit. OPEN_POLL_S: how often to look for a store not created yet.
POLL_S = 0.005
HOT_S = 0.25
WATCHED_POLL_S = 0.1
OPEN_POLL_S = 0.05


@dataclass(frozen=True)
class TailFilter:
    zone: str | None = None
    hazard: str | None = None
    min_grade: Grade = Grade.BLUE
    device: str | None = None

    def wants(self, payload: dict[str, Any], topology: Topology) -> bool:
        incident = payload["incident"]
        alert = payload.get("alert") if isinstance(payload.get("alert"), dict) else None
        if self.hazard and incident["hazard"] != self.hazard:
            return False
        if self.zone:
            zones = incident.get("zones") or [incident["zone"]]
            if alert is not None:
                zones = [*zones, alert["zone"]]
            if not any(self.zone in topology.ancestors(z) for z in zones):
                return False
        if self.device:
            devices = list(incident.get("devices") or [])
            if alert is not None:
                devices.append(alert["device"])
            if self.device not in devices:
                return False
        grade = alert["grade"] if alert is not None else incident["grade"]
        return Grade.parse(grade) >= self.min_grade


def _silenced(store: Store, event: Event, topology: Topology) -> list[int]:
    """Ids of the silences in force when the change happened that cover it (routing held
    it back from webhooks); the incident's sensors are read only for a silence naming one."""
    silences = [s for s in store.silences.all() if s.active_at(event.at)]
    sensors: set[str] = set()
    if any(s.sensor for s in silences) and event.payload.get("incident"):
        label = str(event.payload["incident"].get("id", ""))
        incident = store.incident(number) if (number := parse_incident_id(label)) is not None else None
        sensors = {key.split("/")[1] for key in incident.evidence} if incident else set()
    return covering_change(silences, event.payload, event.at, sensors, topology)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def follow(config: HubConfig, *, as_json: bool, from_start: bool, since_s: float | None,
           wanted: TailFilter, fold: bool = True, keep_following: bool = True) -> int:
    """Print events as the hub commits them until Ctrl-C; the hub may start before or after.

    ``keep_following=False`` (``--no-follow``): print what is stored now -- the history
    ``from_start`` or ``since_s`` asks for, else nothing -- and return."""
    signal.signal(signal.SIGTERM, _interrupt)
    colour = use_colour(sys.stdout)
    folder = Folder(colour) if fold and not as_json else None
    topology = config.fusion.topology
    store, last = None, 0
    events: list[Event] = []
    seen_version: int | None = None
    watch: CommitWatch | None = None
    hot_until = 0.0

    def emit(event: Event) -> None:
        if not wanted.wants(event.payload, topology):
            return
        hushed: list[int] = _silenced(store, event, topology) if store is not None else []
        payload = {**event.payload, "silenced": bool(hushed), "silences": hushed}
        if as_json:
            print(json.dumps({"event": event.id, "at": event.to_json()["at"], **payload}))
        elif folder is not None:
            for line in folder.feed(event.at, payload):
                print(line)
        else:
            print(event_line(event.at, payload, colour))

    try:
        while True:
            if store is None:
                store = Store.open_reader(config.store.path)
                if store is not None and since_s is not None:
                    backlog = store.events_since(time.time() - since_s)
                    for event in backlog:
                        emit(event)
                    last = backlog[-1].id if backlog else store.last_event_id()
                elif store is not None and not from_start:
                    last = store.last_event_id()
                if store is not None and keep_following:
                    watch = CommitWatch(config.store.path.parent, POLL_S)
            if store is None:
                if not keep_following:
                    return 0  # no store yet: nothing is stored
                events = []
            else:
                # read the feed after a commit, and again after a read that found some (more
                # may wait); the version is taken first, so a commit meanwhile is not missed
                version = store.data_version()
                if events or version != seen_version:
                    seen_version = version
                    events = store.events_after(last)
                else:
                    events = []
            for event in events:
                emit(event)
                last = event.id
            if folder is not None:
                for line in folder.flush(time.time()):
                    print(line)
            if not events and not keep_following:
                if folder is not None:
                    for line in folder.close(time.time()):
                        print(line)
                sys.stdout.flush()
                return 0
            sys.stdout.flush()
            if not events:
                if watch is None:
                    time.sleep(OPEN_POLL_S)
                elif not watch.watching or time.monotonic() < hot_until:
                    time.sleep(POLL_S)
                elif watch.wait(WATCHED_POLL_S):
                    hot_until = time.monotonic() + HOT_S
    except BrokenPipeError:  # `tail | head`: the reader left, so do we
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        if watch is not None:
            watch.close()
        if store is not None:
            store.close()
