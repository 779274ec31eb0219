"""Issue 14 item 2: a device in maintenance. Pure rules with a fake clock (time is an argument):
its outage and sensor faults are a maintenance incident, never a device one, and the mark
ends by itself -- a device still offline then has its device incident opened."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from hub.core.fusion import Fusion, IncidentStatus, Joined, Merged, Opened, Resolved
from hub.core.maintenance import DEVICE_MAX_S, Mark, from_status
from hub.service.ingest import Ingest
from lifeline import wire
from lifeline.wire import Reason, Status
from tests.support.ingest import ingesting
from tests.unit.test_fusion_rules import CONFIG, T0, alert

DEVICE = "edge-9"


def status(state: str, at: float, until: float | None = None) -> Status:
    return Status(device=DEVICE, zone="east", state=state, ts=T0 + at,
                  maintenance_until=None if until is None else T0 + until)


def in_maintenance(until: float, since: float = 0.0, ended_at: float | None = None) -> Fusion:
    fusion = Fusion(CONFIG)
    fusion.set_maintenance([Mark(DEVICE, since=T0 + since, until=T0 + until, comment="probe",
                                 by="desk:ana",
                                 ended_at=None if ended_at is None else T0 + ended_at)])
    return fusion


def hazards(fusion: Fusion) -> list[tuple[str, str]]:
    return [(i.hazard, i.status.value) for i in fusion.incidents]


@pytest.mark.parametrize(("now", "active"), [
    (-1.0, False), (0.0, True), (1799.9, True), (1800.0, False), (99999.0, False)])
def test_a_mark_covers_its_time_only(now: float, active: bool) -> None:
    assert Mark(DEVICE, since=T0, until=T0 + 1800).active(T0 + now) is active


def test_an_ended_mark_covers_nothing_after_it_was_ended() -> None:
    mark = Mark(DEVICE, since=T0, until=T0 + 1800, ended_at=T0 + 60)
    assert (mark.active(T0 + 59), mark.active(T0 + 60), mark.end) == (True, False, T0 + 60)


def test_a_device_may_mark_itself_for_a_bounded_time_only() -> None:
    # a status asking for a week gets DEVICE_MAX_S from when the hub heard it
    mark = from_status(status("offline", 0, until=7 * 86400), now=T0 + 5)
    assert mark is not None and mark.until == T0 + 5 + DEVICE_MAX_S and mark.by == "device"
    assert from_status(status("offline", 0, until=10), now=T0 + 10) is None  # already over
    assert from_status(status("offline", 0), now=T0) is None  # asks for none


def test_an_outage_in_maintenance_is_a_maintenance_incident_not_a_device_one() -> None:
    # Given a device in maintenance for 30 minutes
    fusion = in_maintenance(until=1800)
    # When it goes offline (the technician stopped its agent to probe)
    [opened] = fusion.status(status("offline", 10), T0 + 11)
    # Then a maintenance incident opens, saying why; no device incident
    assert isinstance(opened, Opened) and opened.device == DEVICE
    assert opened.incident.hazard == "maintenance" and opened.incident.confirmed
    assert "in maintenance until" in opened.incident.reasons[0]
    assert "desk:ana: probe" in opened.incident.reasons[0]
    # a redelivered retained offline changes nothing; its sensor faults are maintenance too
    assert fusion.status(status("offline", 10), T0 + 12) == []
    fusion.alert(alert(20, "east", DEVICE, reason=Reason.SENSOR_FAULT), now=T0 + 21)
    assert {h for h, _ in hazards(fusion)} == {"maintenance"}
    # and quiet does not resolve it while the device is offline
    assert not any(isinstance(c, Resolved) for c in fusion.tick(T0 + 1000))
    # When it comes back within the mark
    [back] = fusion.status(status("online", 600), T0 + 601)
    assert isinstance(back, Joined) and "online again" in back.why
    # Then the maintenance incident resolves by quiet, and the mark ending opens nothing
    assert [type(c) for c in fusion.tick(T0 + 601 + CONFIG.quiet_s + 1)] == [Resolved]
    assert fusion.tick(T0 + 1801) == []
    assert hazards(fusion) == [("maintenance", "resolved")]


def test_a_device_still_offline_when_the_mark_ends_gets_its_device_incident() -> None:
    # Given a device that went offline during a 30-minute maintenance
    fusion = in_maintenance(until=1800)
    fusion.status(status("offline", 10), T0 + 11)
    # When the mark has not ended yet, nothing moves
    assert not any(isinstance(c, Opened) for c in fusion.tick(T0 + 1799))
    # When the hub's clock passes the end and the device is still offline
    changes = fusion.tick(T0 + 1800)
    # Then its device incident opens and takes in the maintenance incident
    assert [type(c) for c in changes] == [Opened, Merged]
    assert changes[0].incident.hazard == "device"
    assert "maintenance ended at" in changes[0].incident.reasons[0]
    assert hazards(fusion) == [("device", "open")]
    # and only once
    assert fusion.tick(T0 + 1801) == []
    # it resolves when the device is back, as any outage
    [resolved] = fusion.status(status("online", 2000), T0 + 2001)
    assert isinstance(resolved, Resolved)


def test_ending_a_mark_by_hand_puts_an_offline_device_back_on_watch() -> None:
    fusion = in_maintenance(until=1800)
    fusion.status(status("offline", 10), T0 + 11)
    # the operator ends it at +100 (the store's mark, as the hub reloads it)
    fusion.set_maintenance([Mark(DEVICE, since=T0, until=T0 + 1800, by="desk:ana",
                                 ended_at=T0 + 100)])
    changes = fusion.tick(T0 + 101)
    assert changes and isinstance(changes[0], Opened) and changes[0].incident.hazard == "device"


def test_after_the_mark_an_outage_is_a_device_incident_again() -> None:
    fusion = in_maintenance(until=1800)
    fusion.tick(T0 + 1801)
    [opened] = fusion.status(status("offline", 1900), T0 + 1901)
    assert isinstance(opened, Opened) and opened.incident.hazard == "device"


def test_an_offline_device_seen_before_a_restart_is_still_put_back_on_watch() -> None:
    # Given a hub restarted while a device was offline in maintenance (the store's word)
    fusion = in_maintenance(until=1800)
    fusion.set_offline([(DEVICE, "east", T0 + 10)])
    # When the mark ends, the device incident opens even though no status came since
    [opened] = fusion.tick(T0 + 1800)
    assert isinstance(opened, Opened) and opened.incident.hazard == "device"


def test_an_outage_that_began_before_the_mark_stays_a_device_incident() -> None:
    fusion = Fusion(CONFIG)
    fusion.status(status("offline", 10), T0 + 11)
    fusion.set_maintenance([Mark(DEVICE, since=T0 + 20, until=T0 + 1800)])
    assert fusion.status(status("offline", 10), T0 + 30) == []
    [resolved] = fusion.status(status("online", 100), T0 + 101)
    assert isinstance(resolved, Resolved) and resolved.incident.hazard == "device"


def test_the_status_wire_form_carries_the_mark_only_when_set() -> None:
    plain = wire.encode(status("online", 0))
    assert b"maintenance" not in plain
    marked = status("offline", 0, until=1800)
    again = wire.decode_status(wire.encode(marked))
    assert (again.maintenance_until, again.maintenance_comment) == (T0 + 1800, "")
    with pytest.raises(wire.WireError, match="maintenance_until"):
        wire.decode_status(plain.replace(b'"version"', b'"maintenance_until": "soon", "version"'))


# -- through the hub's ingest path, on a real store ------------------------------------------
def send_status(ingest: Ingest, state: str, now: float, until: float | None) -> list[str]:
    message = Status(device=DEVICE, zone="east", state=state, ts=now,
                     maintenance_until=until, maintenance_comment="probe")
    result = ingest.batch([(wire.status_topic(DEVICE), wire.encode(message))], now)
    return [f"{c.kind} {c.incident.hazard}" for c in result.changes]


def test_a_device_request_is_granted_once_and_an_ended_one_stays_ended(tmp_path: Path) -> None:
    with ingesting(tmp_path, T0) as ingest:
        # Given a device whose status asks for maintenance until +30 min
        send_status(ingest, "online", T0, T0 + 1800)
        mark = ingest.store.maintenance.mark(DEVICE)
        assert mark is not None and (mark.until, mark.by, mark.comment) == (
            T0 + 1800, "device", "probe")
        # When an operator ends it, and the agent repeats its status a minute later
        with ingest.store.transaction():
            ingest.store.maintenance.end(DEVICE, T0 + 60, "desk:ana")
            ingest.store.bump_desk_revision()
        send_status(ingest, "online", T0 + 120, T0 + 1800)
        # Then the mark stays ended: going offline opens a device incident
        assert ingest.store.maintenance.mark(DEVICE).ended_at == T0 + 60  # type: ignore[union-attr]
        assert send_status(ingest, "offline", T0 + 130, T0 + 1800) == ["opened device"]


def test_a_request_beyond_the_cap_is_not_extended_by_repeating_it(tmp_path: Path) -> None:
    with ingesting(tmp_path, T0) as ingest:
        send_status(ingest, "online", T0, T0 + 7 * 86400)
        send_status(ingest, "online", T0 + 3600, T0 + 7 * 86400)
        mark = ingest.store.maintenance.mark(DEVICE)
        assert mark is not None and mark.until == T0 + DEVICE_MAX_S
        # and an outage after the capped end is a device incident again
        ingest.tick(T0 + DEVICE_MAX_S + 1)
        assert send_status(ingest, "offline", T0 + DEVICE_MAX_S + 2, T0 + 7 * 86400) == [
            "opened device"]


def test_a_mark_that_ended_is_handled_once_even_when_handed_in_again() -> None:
    # Given a mark that ended with the device offline: its device incident opened
    fusion = in_maintenance(until=1800)
    fusion.status(status("offline", 10), T0 + 11)
    assert [type(c) for c in fusion.tick(T0 + 1800)] == [Opened, Merged]
    [device] = [i for i in fusion.incidents if i.hazard == "device"]
    # and an operator resolved that incident by hand
    fusion.reload([dataclasses.replace(device, status=IncidentStatus.RESOLVED,
                                       resolved_at=T0 + 1900)])
    # When the store's marks are handed in again (any desk action), Then nothing reopens
    fusion.set_maintenance([Mark(DEVICE, since=T0, until=T0 + 1800, by="desk:ana")])
    assert fusion.tick(T0 + 1901) == []
