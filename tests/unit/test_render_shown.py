"""``hub.desk.render.shown``: the one function that makes control characters visible (issue 13,
item 6), and the tail line it protects."""

from __future__ import annotations

import pytest

from hub.desk.render import event_line, shown


@pytest.mark.parametrize(("text", "expected"), [
    ("\x1b]0;pwned\x07\x1b[2J", "\\x1b]0;pwned\\x07\\x1b[2J"),
    ("ok\r\x1b[1A\x1b[2K\x1b[1A\x1b[2K", "ok\\x0d\\x1b[1A\\x1b[2K\\x1b[1A\\x1b[2K"),
    ("a\nb\tc\x00\x7f\x9b", "a\\x0ab\\x09c\\x00\\x7f\\x9b"),
    ("left\u202eright\u2066\u2028", "left\\u202eright\\u2066\\u2028"),
    ("201.5 kPa below low limit 250 — 20 °C ▁▂█", "201.5 kPa below low limit 250 — 20 °C ▁▂█"),
])
def test_shown_makes_every_control_character_visible(text: str, expected: str) -> None:
    assert shown(text) == expected


def test_a_tail_line_cannot_erase_the_lines_above_it() -> None:
    alert = {"device": "edge-a", "sensor": "s", "channel": "c", "value": 1.0,
             "unit": "ok\r\x1b[1A\x1b[2K", "reason": "limit", "grade": "red", "ts": "x",
             "message": "\x1b]0;pwned\x07"}
    payload = {"kind": "opened", "alert": alert,
               "incident": {"id": "INC-1", "hazard": "water", "zone": "north", "grade": "red"}}
    for colour in (False, True):
        line = event_line(0.0, payload, colour)
        body = line.removeprefix("\x1b[1;31m").removesuffix("\x1b[0m")  # our own colour only
        assert "\r" not in body and "\x1b" not in body and "ok\\x0d\\x1b[1A\\x1b[2K" in body
