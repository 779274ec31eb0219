"""Retention (``[store] retain_days``): delete what is over, a little at a time, between batches.

The hub calls ``Pruner.step`` from its main loop, between two ingest batches, on the
same connection: each step is one short write transaction that deletes at most
``limit`` rows in all (incident memberships, alerts, events, incidents, outbox rows),
so a batch waits at most one step. Every step is a set of idempotent deletes whose
conditions are checked inside its transaction: a crash or restart in the middle just
leaves less to do for the next one.

What goes, once older than the retention (``cut = now - retain_s``):

* a **resolved** incident -- resolved and last updated before ``cut``, and before
  ``max_span_s`` ago (until then fusion may still reopen it), every alert of it
  read and received before ``cut``, every event of it recorded before ``cut`` and
  already routed -- with its alerts, its memberships, its events (its timeline)
  and the incidents merged into it (deepest first, so what is left stays connected);
  the incident row goes last, when nothing of it is left;
* an alert of no incident, read and received before ``cut``;
* an event of no incident (security events), recorded before ``cut`` and routed;
* an outbox row delivered before ``cut``.

What stays: every incident that is not resolved (open, acknowledged, latched, a
device still offline) with all its alerts and its whole timeline, however old;
merged incidents while the incident they merged into stays; devices' last
statuses; silences (the operators' record). The id of every deleted alert is kept
in ``pruned_alerts`` so a resend of it is still a duplicate, and the highest deleted
incident id in ``meta`` so incident ids are never given out twice.

Alerts and loose events are found by walking the table in rowid order from a
cursor held in memory (rowids grow with arrival), stopping at the first row that
is not old yet: no index on times, no full scans between steps, and a restart just
walks the old rows that are kept once more. (A clock stepped back only delays the
walk until the row it stopped at is old too.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hub.store.queries import Store

__all__ = ["STEP_ROWS", "PruneCounts", "Pruner"]

STEP_ROWS = 1000       # rows deleted per step, at most
SCAN_FACTOR = 4        # rows examined per step by the alert and event walks: STEP_ROWS * this
RESOLVE_MARGIN_S = 60  # beyond max_span_s: fusion forgets a resolved incident on its next tick


@dataclass
class PruneCounts:
    """Rows deleted, by kind; ``busy`` says a step did something (deleted or walked on)."""

    alerts: int = 0
    memberships: int = 0  # incident_alerts rows: one per alert of an incident
    incidents: int = 0
    events: int = 0
    outbox: int = 0
    busy: bool = False

    @property
    def rows(self) -> int:
        return self.alerts + self.memberships + self.incidents + self.events + self.outbox

    def add(self, other: PruneCounts) -> None:
        self.alerts += other.alerts
        self.memberships += other.memberships
        self.incidents += other.incidents
        self.events += other.events
        self.outbox += other.outbox

    def line(self) -> str:
        return (f"alerts={self.alerts} incidents={self.incidents} events={self.events} "
                f"outbox={self.outbox}")


def _marks(values: Sequence[object]) -> str:
    return ",".join("?" * len(values))


class Pruner:
    """Deletes what ``retain_s`` says is over, at most ``limit`` rows per ``step``.

    Alert memberships count as rows: an alert of an incident is two rows deleted
    (and one id written to ``pruned_alerts``)."""

    def __init__(self, store: Store, retain_s: float, limit: int = STEP_ROWS) -> None:
        if retain_s <= 0 or limit < 2:
            raise ValueError("retain_s must be above 0 and limit at least 2")
        self.store = store
        self.retain_s = retain_s
        self.limit = limit
        self.total = PruneCounts()
        self._alert_rowid = 0   # the walks' cursors: every row up to here was looked at
        self._event_id = 0

    def step(self, now: float, keep_resolved_s: float) -> PruneCounts:
        """One bounded transaction; ``keep_resolved_s`` is fusion's ``max_span_s``."""
        cut = now - self.retain_s
        resolved_cut = min(cut, now - keep_resolved_s - RESOLVE_MARGIN_S)
        done = PruneCounts()
        with self.store.transaction():
            routed = self.store.routed_event() or 0
            self._incidents(cut, resolved_cut, routed, done)
            if done.rows < self.limit:
                self._loose_alerts(cut, done)
            if done.rows < self.limit:
                self._loose_events(cut, routed, done)
            if done.rows < self.limit:
                done.outbox = self.store.db.execute(
                    "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE delivered_at"
                    " IS NOT NULL AND delivered_at < ? LIMIT ?)",
                    (cut, self.limit - done.rows)).rowcount
            # a deleted last alert frees its rowid for the next insert: keep the walk behind it
            highest = self.store.db.execute("SELECT coalesce(max(rowid), 0) FROM alerts")
            self._alert_rowid = min(self._alert_rowid, int(highest.fetchone()[0]))
        done.busy = done.busy or done.rows > 0
        self.total.add(done)
        return done

    # -- incidents ---------------------------------------------------------------
    def _incidents(self, cut: float, resolved_cut: float, routed: int,
                   done: PruneCounts) -> None:
        db = self.store.db
        tried: set[int] = set()
        while done.rows < self.limit:
            row = db.execute(
                "SELECT i.id FROM incidents i WHERE i.status = 'resolved' AND i.resolved_at < ?"
                " AND i.updated_at < ? AND NOT EXISTS (SELECT 1 FROM incident_alerts m"
                " JOIN alerts a ON a.device = m.device AND a.id = m.alert_id"
                " WHERE m.incident_id = i.id"
                " AND (a.ts >= ? OR a.received_at >= ?)) AND NOT EXISTS (SELECT 1 FROM events e"
                " WHERE e.incident_id = i.id AND (e.at >= ? OR e.id > ?))"
                " ORDER BY i.resolved_at, i.id LIMIT 1",
                (resolved_cut, cut, cut, cut, cut, routed)).fetchone()
            if row is None or row[0] in tried:
                return
            tried.add(row[0])
            self._family(row[0], cut, routed, done)

    def _family(self, root: int, cut: float, routed: int, done: PruneCounts) -> None:
        """Delete ``root`` and the incidents merged into it, children first, within budget."""
        db = self.store.db
        family = [(r[0], r[1]) for r in db.execute(
            "WITH RECURSIVE fam(id, depth) AS (SELECT CAST(? AS BIGINT), 0 UNION SELECT i.id,"
            " f.depth + 1"
            " FROM incidents i JOIN fam f ON i.merged_into = f.id WHERE f.depth < 64)"
            " SELECT id, max(depth) FROM fam GROUP BY id ORDER BY max(depth) DESC, id",
            (root,))]
        ids = [i for i, _ in family]
        marks = _marks(ids)
        pairs = (self.limit - done.rows) // 2
        if pairs:
            members = [(r[0], r[1]) for r in db.execute(
                f"SELECT device, alert_id FROM incident_alerts WHERE incident_id IN ({marks})"
                " LIMIT ?", (*ids, pairs))]
            self._drop_alerts(members, done)
        if db.execute(f"SELECT 1 FROM incident_alerts WHERE incident_id IN ({marks}) LIMIT 1",
                      ids).fetchone() is not None:
            return
        budget = self.limit - done.rows
        if budget > 0:
            done.events += db.execute(
                f"DELETE FROM events WHERE id IN (SELECT id FROM events WHERE incident_id IN "
                f"({marks}) AND at < ? AND id <= ? LIMIT ?)", (*ids, cut, routed, budget)).rowcount
        if db.execute(f"SELECT 1 FROM events WHERE incident_id IN ({marks}) LIMIT 1",
                      ids).fetchone() is not None:
            return
        gone = ids[:max(0, self.limit - done.rows)]  # deepest first, the root last
        if gone:
            db.execute(f"DELETE FROM incidents WHERE id IN ({_marks(gone)})", gone)
            db.execute(f"DELETE FROM incident_state WHERE incident_id IN ({_marks(gone)})", gone)
            # citizens' contacts are personal data: they go with their incident
            db.execute(f"DELETE FROM citizen_contacts WHERE incident_id IN ({_marks(gone)})",
                       gone)
            done.incidents += len(gone)
            floor = int(self.store.meta("incident_id_floor", "0"))
            self.store.set_meta("incident_id_floor", str(max(floor, *gone)))

    def _drop_alerts(self, alerts: list[tuple[str, str]], done: PruneCounts) -> None:
        """Delete these (device, id) alerts and their memberships; remember them."""
        if not alerts:
            return
        db = self.store.db
        # the keys as a subquery: SQLite then looks each one up by its primary key, where
        # ``(device, id) IN (VALUES ...)`` scanned the whole table (on 10 M alerts, seconds
        # per step, inside the hub's write transaction)
        keys = f"(SELECT column1, column2 FROM (VALUES {','.join('(?,?)' for _ in alerts)}) AS k)"
        flat = [part for pair in alerts for part in pair]
        db.execute(self.store.sql.insert_ignore(
            "pruned_alerts (device, id)",
            f"SELECT device, id FROM alerts WHERE (device, id) IN {keys}"), flat)
        done.memberships += db.execute(
            f"DELETE FROM incident_alerts WHERE (device, alert_id) IN {keys}", flat).rowcount
        done.alerts += db.execute(f"DELETE FROM alerts WHERE (device, id) IN {keys}",
                                  flat).rowcount

    # -- the walks ---------------------------------------------------------------
    def _loose_alerts(self, cut: float, done: PruneCounts) -> None:
        """Walk alerts by rowid: delete old ones of no incident, step over old members."""
        db = self.store.db
        rows = db.execute(
            "SELECT a.rowid, a.device, a.id, a.ts, a.received_at, EXISTS (SELECT 1 FROM"
            " incident_alerts m WHERE m.device = a.device AND m.alert_id = a.id) FROM alerts a"
            " WHERE a.rowid > ? ORDER BY a.rowid LIMIT ?",
            (self._alert_rowid, self.limit * SCAN_FACTOR))
        loose: list[tuple[str, str]] = []
        for rowid, device, alert_id, ts, received_at, member in rows:  # read lazily
            if ts >= cut or received_at >= cut or done.rows + len(loose) >= self.limit:
                break
            if not member:
                loose.append((device, alert_id))
            self._alert_rowid = rowid
            done.busy = True
        rows.close()  # before deleting from the table it reads
        self._drop_alerts(loose, done)

    def _loose_events(self, cut: float, routed: int, done: PruneCounts) -> None:
        """Walk events by id: delete old routed ones of no incident (security events)."""
        db = self.store.db
        rows = db.execute(
            "SELECT e.id, e.at, e.incident_id IS NULL OR NOT EXISTS (SELECT 1 FROM incidents i"
            " WHERE i.id = e.incident_id) FROM events e WHERE e.id > ? ORDER BY e.id LIMIT ?",
            (self._event_id, self.limit * SCAN_FACTOR))
        loose: list[int] = []
        for event_id, at, orphan in rows:
            if at >= cut or event_id > routed or done.rows + len(loose) >= self.limit:
                break
            if orphan:
                loose.append(event_id)
            self._event_id = event_id
            done.busy = True
        rows.close()
        if loose:
            done.events += db.execute(f"DELETE FROM events WHERE id IN ({_marks(loose)})",
                                      loose).rowcount
