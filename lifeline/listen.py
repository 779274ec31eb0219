"""``host:port`` addresses a service listens on (the board, the metrics endpoint). Pure.

Loopback unless configured: a non-loopback address is allowed, but only when a
configuration says so in so many words (the caller decides; ``is_loopback`` tells).
"""

from __future__ import annotations

import ipaddress

__all__ = ["is_loopback", "listen_problem", "parse_listen"]


def parse_listen(text: str) -> tuple[str, int]:
    """``"127.0.0.1:8080"`` -> ``("127.0.0.1", 8080)``; ``"[::1]:9108"`` -> ``("::1", 9108)``.

    >>> parse_listen("127.0.0.1:8080")
    ('127.0.0.1', 8080)
    >>> parse_listen("[::1]:9108")
    ('::1', 9108)
    >>> parse_listen("8080")
    Traceback (most recent call last):
    ...
    ValueError: '8080' is not host:port (e.g. 127.0.0.1:8080)
    """
    host, sep, port_text = text.strip().rpartition(":")
    if not sep or not host or not port_text.isdigit():
        raise ValueError(f"{text!r} is not host:port (e.g. 127.0.0.1:8080)")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    port = int(port_text)
    if not 0 <= port <= 65535:
        raise ValueError(f"{text!r}: port {port} is not 0..65535")
    return host, port


def listen_problem(text: str) -> str | None:
    """The problem with a ``listen`` value, or None (a config validator)."""
    try:
        parse_listen(text)
    except ValueError as exc:
        return str(exc)
    return None


def is_loopback(host: str) -> bool:
    """``localhost`` (and its usual aliases), 127.0.0.0/8 and ::1; no DNS lookup. The one
    test of "this machine" for listening services and for the MQTT broker's address.

    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
    (True, True, False)
    >>> is_loopback("[::1]"), is_loopback("ip6-localhost")
    (True, True)
    """
    if host.lower() in ("localhost", "localhost.localdomain", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
