"""The board in a real browser: Debian's chromium driven by Playwright (issue 18).

Real processes throughout: Mosquitto, ``lifeline-hub run``, ``lifeline-hub board``;
alerts published by a paho client as an edge device would. Playwright drives
Debian's ``/usr/bin/chromium`` through ``executable_path`` (no browser download).
Screenshots for a person to look at go to build/test-output/board/.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from lifeline.grades import Grade
from lifeline.localbroker import Broker, free_port
from tests.integration.test_hub import BOUND_S, edge_client, wait_subscribed
from tests.support.board import (
    PASSWORD,
    Rig,
    board_rig,
    chromium_path,
    gas,
    incident_json,
    output_dir,
    water,
    write_config,
)
from tests.support.processes import running, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]
STEP_MS = 15_000  # the longest any one expectation waits
expect.set_options(timeout=STEP_MS)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    path = chromium_path()
    if path is None:
        pytest.fail("Debian's chromium is missing: make test installs it "
                    "(scripts/ensure-system-packages.sh chromium=chromium)")
    with sync_playwright() as play:
        launched = play.chromium.launch(executable_path=path, headless=True,
                                        args=["--no-sandbox", "--disable-gpu"])
        yield launched
        launched.close()


def open_board(browser: Browser, rig: Rig, outside: list[str], query: str = "",
               theme: str = "dark") -> Page:
    """A new page on the board that records any request not to the board itself."""
    context = browser.new_context(viewport={"width": 1400, "height": 860},
                                  color_scheme="light" if theme == "light" else "dark",
                                  permissions=["notifications"])
    page = context.new_page()
    page.set_default_timeout(STEP_MS)
    page.on("request", lambda r: None if r.url.startswith(rig.url) else outside.append(r.url))
    page.goto(rig.url + query)
    expect(page.locator("#badge")).to_have_text("LIVE")
    return page


def started(log: Path, times: int) -> None:
    """Wait until the board has printed its address ``times`` times (it listens then)."""
    wait_for(lambda: log.exists() and log.read_text().count("board: http://") >= times,
             BOUND_S, "the board to listen")


def log_in(page: Page, user: str = "alice") -> None:
    page.fill("#login-user", user)
    page.fill("#login-password", PASSWORD)
    page.click("#login button[type=submit]")
    expect(page.locator("#who")).to_have_text(f"operator: {user}")


def test_alert_appears_live_and_an_ack_reaches_the_desk_and_a_second_browser(
        tmp_path: Path, broker: Broker, browser: Browser) -> None:
    outside: list[str] = []
    shots = output_dir("board")
    with board_rig(tmp_path, broker) as rig:
        # Given two browsers on the board, one with an operator logged in
        operator = open_board(browser, rig, outside)
        watcher = open_board(browser, rig, outside, theme="light")
        log_in(operator)
        expect(operator.locator("#empty")).to_be_visible()
        # (the operator turns the sound on: a sample tone plays at once)
        operator.check("#sound")
        expect(operator.locator("body")).to_have_attribute("data-beeps", "1")
        operator.check("#notify")  # and desktop notifications (the browser allows them)
        expect(operator.locator("#notify")).to_be_checked()
        # When alerts reach the hub through the broker
        now = time.time()
        rig.publish(water("edge-water-1", "main-1", Grade.ORANGE, now - 30))
        rig.publish(water("edge-water-2", "main-2", Grade.RED, now - 20))
        rig.publish(gas("edge-gas-1", "gas-east-1", Grade.YELLOW, now - 10))
        # Then they appear on both open boards without a reload, red first
        for page in (operator, watcher):
            expect(page.locator("#rows tr")).to_have_count(2)
            expect(page.locator("#rows tr").first).to_have_class("g-red unacked")
        first = operator.locator("#rows tr").first
        expect(first.locator(".chip")).to_have_text("RED I")
        # And the operator's board sounded the orange and the red, not the yellow
        expect(operator.locator("body")).to_have_attribute("data-last-beep", "red")
        # (the sample tone, then one or two for the water incident: when the hub takes the
        # orange and the red alerts in one batch it opens red at once; the yellow never)
        assert operator.locator("body").get_attribute("data-beeps") in ("2", "3", "4")
        assert operator.locator("body").get_attribute("data-notified") in ("1", "2", "3")
        assert watcher.locator("body").get_attribute("data-notified") is None  # not opted in
        # (the zones in the order the incident took them: the red alert alone in the first
        # batch opens it in main-2)
        expect(first.locator(".zone-cell")).to_have_text(
            re.compile(r"^(main-1, main-2|main-2, main-1)$"))
        # And the zone map is filled by the worst open incident, up to the parent zone
        expect(operator.locator('#map .zone[data-zone="main-2"]')).to_have_class("zone g-red")
        expect(operator.locator('#map .zone[data-zone="north"]')).to_have_class("zone g-red")
        expect(operator.locator('#map .zone[data-zone="gas-east-1"]')).to_have_class(
            "zone g-yellow")
        expect(operator.locator('#map .zone[data-zone="east"]')).to_have_class("zone g-yellow")
        label = first.locator(".id").inner_text()
        # And the detail panel shows the timeline and a sparkline of the alerts' context
        first.click()
        expect(operator.locator("#timeline li").first).to_contain_text("opened")
        expect(operator.locator("#sensors svg.spark polyline")).to_have_count(2)
        # (with its owning department and its deadline to acknowledge, issue 19)
        expect(first.locator(".status .owner")).to_contain_text("control-room · ack by ")
        expect(operator.locator("#detail dl")).to_contain_text("acknowledge by ")
        operator.screenshot(animations="disabled", path=str(shots / "board-dark-red-incident.png"))
        watcher.screenshot(animations="disabled", path=str(shots / "board-light.png"))
        operator.locator("#map").screenshot(animations="disabled", path=str(shots / "zone-map.png"))
        # When the operator acknowledges it from the board with the keyboard
        operator.keyboard.press("Escape")
        operator.locator("body").press("a")
        # Then `lifeline-hub incidents show` has it, under the operator's name
        expect(operator.locator("#rows tr").first.locator(".status")).to_contain_text(
            "acknowledged")
        shown = incident_json(rig, label)
        assert shown["incident"]["status"] == "acknowledged"
        assert [e["by"] for e in shown["timeline"] if e["kind"] == "acknowledged"] == ["alice"]
        # And the second browser sees who acknowledged it, without a reload
        row = watcher.locator(f'#rows tr[data-id="{label}"]')
        expect(row.locator(".status")).to_contain_text("acknowledged")
        expect(row.locator(".acked")).to_contain_text("alice")
        # When the operator selects every row and acknowledges them in bulk
        operator.check("#select-all")
        operator.click("#bulk-ack")
        # Then the other incident is acknowledged too (the red one was already: refused, said)
        expect(watcher.locator("#rows tr.unacked")).to_have_count(0)
        # When the operator resolves one with a note (r, then the dialog)
        operator.locator("body").press("r")
        operator.fill("#note-text", "valve 12 closed, pressure back")
        operator.click("#note-ok")
        # Then it leaves the list for the recently-resolved strip on both boards
        for page in (operator, watcher):
            expect(page.locator("#rows tr")).to_have_count(1)
            expect(page.locator("#resolved li")).to_have_count(1)
        watcher.screenshot(animations="disabled", path=str(shots / "board-light-after-actions.png"))
        # When the operator files a resident's call from the board's form, zone misspelt
        gas_label = operator.locator("#rows tr .id").first.inner_text()
        expect(watcher.locator("#citizen-open")).to_be_hidden()  # read-only: no form
        operator.click("#citizen-open")
        expect(operator.locator("#citizen-zones option[value=north]")).to_have_count(1)
        operator.fill("#citizen-zone", "nort")
        operator.select_option("#citizen-hazard", "gas")
        operator.fill("#citizen-text", "smell of gas in the stairwell, 4 Quay Street")
        operator.fill("#citizen-contact", "flat 2, Ms Example")
        operator.click("#citizen-submit")
        # Then the form says why it was refused and keeps what was typed
        expect(operator.locator("#citizen-error")).to_contain_text("did you mean 'north'")
        expect(operator.locator("#citizen-text")).to_have_value(
            "smell of gas in the stairwell, 4 Quay Street")
        operator.screenshot(animations="disabled", path=str(shots / "board-citizen-form.png"))
        # When the zone is corrected, Then it opens a blue incident, on both boards, live
        operator.fill("#citizen-zone", "north")
        operator.click("#citizen-submit")
        expect(operator.locator("#toast")).to_contain_text("citizen's report opened INC-")
        expect(operator.locator("#citizen-dialog")).not_to_be_visible()
        for page in (operator, watcher):
            expect(page.locator("#rows tr")).to_have_count(2)
            expect(page.locator("#rows tr.g-blue .zone-cell")).to_have_text("north")
        # And a report in the gas incident's zone joins it (and confirms it: sensors saw it)
        operator.click("#citizen-open")
        operator.fill("#citizen-zone", "gas-east-1")
        operator.select_option("#citizen-hazard", "gas")
        operator.fill("#citizen-text", "smell of gas by the bakery")
        operator.click("#citizen-submit")
        expect(operator.locator("#toast")).to_contain_text(
            f"citizen's report joined {gas_label} (now confirmed")
        expect(operator.locator("#timeline")).to_contain_text("smell of gas by the bakery")
    # And no page asked anything of another host (no CDN, no fonts, no beacons)
    assert outside == []


def test_device_text_is_shown_as_text_and_the_read_only_board_refuses(
        tmp_path: Path, broker: Broker, browser: Browser) -> None:
    outside: list[str] = []
    with board_rig(tmp_path, broker, users=False) as rig:
        page = open_board(browser, rig, outside)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        # Given an alert whose message carries markup and terminal escapes
        message = "<script>window.pwned=1</script><img src=x onerror=window.pwned=2> \x1b[2J\x1b]0;x\x07"
        rig.publish(water("edge-water-1", "main-1", Grade.ORANGE, time.time() - 5,
                          message=message))
        expect(page.locator("#rows tr")).to_have_count(1)
        page.locator("#rows tr").first.click()
        # Then the detail panel shows it as text, escapes made visible, nothing run
        msg = page.locator("#sensors .msg")
        expect(msg).to_contain_text("<script>window.pwned=1</script>")
        expect(msg).to_contain_text("\\x1b[2J")
        assert page.evaluate("typeof window.pwned") == "undefined"
        assert page.locator("#sensors script, #sensors img, #timeline script").count() == 0
        # And a read-only board offers no actions, and refuses one sent anyway (403)
        expect(page.locator("#detail-actions")).to_be_hidden()
        status = page.evaluate("""async () => (await fetch('/api/incidents/INC-1/ack', {
            method: 'POST', headers: {'Content-Type': 'application/json'},
            body: '{}'})).status""")
        assert status == 403
        assert errors == []
    assert outside == []


def test_filters_live_in_the_url_and_a_restarted_board_resumes_without_a_reload(
        tmp_path: Path, broker: Broker, browser: Browser) -> None:
    outside: list[str] = []
    config = write_config(tmp_path, broker, keepalive_s=1.0)
    port = free_port()
    board_args = ["board", "--config", str(config), "--listen", f"127.0.0.1:{port}"]
    hub_log, board_log = tmp_path / "hub.log", tmp_path / "board.log"
    with running("lifeline-hub", ["run", "--config", str(config)], hub_log), \
            edge_client(broker) as edge:
        wait_subscribed(hub_log)
        rig = Rig(config=config, url=f"http://127.0.0.1:{port}/", edge=edge, hub_log=hub_log,
                  board_log=board_log)
        now = time.time()
        rig.publish(water("edge-water-1", "main-1", Grade.ORANGE, now - 20))
        rig.publish(gas("edge-gas-1", "gas-east-1", Grade.YELLOW, now - 10))
        with running("lifeline-hub", board_args, board_log) as board:
            started(board_log, 1)
            # Given a board opened with a filter in its address
            page = open_board(browser, rig, outside, query="?hazard=gas")
            expect(page.locator("#rows tr")).to_have_count(1)
            expect(page.locator("#rows tr .id")).to_have_text("INC-2")
            expect(page.locator("#f-hazard")).to_have_value("gas")
            # When the filter is cleared and a zone of the map is clicked
            page.select_option("#f-hazard", "")
            expect(page.locator("#rows tr")).to_have_count(2)
            page.click('#map .zone[data-zone="north"]')
            # Then only the incidents under that zone are listed, and the address says so
            expect(page.locator("#rows tr")).to_have_count(1)
            expect(page.locator("#rows tr .id")).to_have_text("INC-1")
            assert "zone=north" in page.url and "hazard" not in page.url
            # And a reload (a bookmark) opens the same view
            page.reload()
            expect(page.locator("#rows tr")).to_have_count(1)
            expect(page.locator("#f-zone")).to_have_value("north")
            page.click("#f-clear")
            expect(page.locator("#rows tr")).to_have_count(2)
            # When the view is grouped by zone: a header per zone, worst first, in the address
            page.select_option("#f-group", "zone")
            expect(page.locator("#rows tr.group")).to_have_count(2)
            expect(page.locator("#rows tr.group").first).to_contain_text("main-1 · 1 incident")
            expect(page.locator("#rows tr[data-id]")).to_have_count(2)
            assert "group=zone" in page.url
            page.screenshot(animations="disabled", path=str(output_dir("board") /
                                                             "board-by-zone.png"))
            page.select_option("#f-group", "")
            page.evaluate("window.notReloaded = true")
            # When the board hangs (stopped, its connection still open): STALE, not LIVE
            os.killpg(board.pid, signal.SIGSTOP)
            expect(page.locator("#badge")).to_have_text("STALE")
            os.killpg(board.pid, signal.SIGCONT)
            expect(page.locator("#badge")).to_have_text("LIVE")
        # When the board stops, an alert arrives meanwhile, and the board starts again
        expect(page.locator("#badge")).to_have_text("RECONNECTING")
        rig.publish(water("edge-water-9", "dma-9", Grade.RED, time.time() - 2))
        wait_for(lambda: rig.hub("incidents", "show", "INC-3").returncode == 0, BOUND_S,
                 "the hub to store the new incident")
        with running("lifeline-hub", board_args, board_log):
            started(board_log, 2)
            # Then the page is LIVE again and shows what it missed, without a reload
            expect(page.locator("#badge")).to_have_text("LIVE")
            expect(page.locator("#rows tr")).to_have_count(3)
            expect(page.locator("#rows tr").first.locator(".id")).to_have_text("INC-3")
            assert page.evaluate("window.notReloaded") is True
    assert outside == []
