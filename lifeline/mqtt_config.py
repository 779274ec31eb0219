"""``[mqtt]``: the one MQTT client configuration of both sides, and its one parser.

The edge and the hub read the same keys with the same checks (a host name, a client id
the broker can use, TLS and credentials through lifeline/mqtt_security.py); only the
default client id differs, so it is an argument.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lifeline.mqtt_security import MqttSecurity, parse_security, plain_loopback
from lifeline.tomlconfig import Section

__all__ = ["MqttConfig", "parse_mqtt"]


@dataclass(frozen=True)
class MqttConfig:
    """Where the broker is and who we are to it. ``client_id`` empty: the side picks one."""

    host: str = "127.0.0.1"
    port: int = 1883
    client_id: str = ""
    keepalive: int = 30
    # TLS and credentials (lifeline/mqtt_security.py, docs/security.md)
    security: MqttSecurity = field(default_factory=plain_loopback)
    # the hub's ``[mqtt] share_group`` (hub/config.py): alerts through an MQTT 5 shared
    # subscription of this group; "" subscribes them plainly. The edge has no such key.
    share_group: str = ""


def host_problem(text: str) -> str | None:
    """Why ``text`` cannot be a broker host, or None.

    >>> host_problem("bad host name/with#")
    "'bad host name/with#' is not a host name or address"
    >>> host_problem("broker.example") is None
    True
    """
    if text.strip() and not any(c in text for c in " /#+?"):
        return None
    return f"{text!r} is not a host name or address"


def client_id_problem(text: str) -> str | None:
    """Why ``text`` cannot be an MQTT client id, or None (empty means: the default)."""
    if not text or (len(text) <= 64 and not any(c in text for c in "+#/ ")):
        return None
    return f"{text!r} is not a usable MQTT client id (1-64 characters, no '+', '#', '/' or spaces)"


def parse_mqtt(section: Section, base: Path, default_client_id: str = "") -> MqttConfig:
    """The ``[mqtt]`` table (every key has a default); files are relative to ``base``."""
    host = section.str("host", "127.0.0.1", check=host_problem)
    security = parse_security(section, host, base)
    config = MqttConfig(
        host=host,
        port=section.int("port", security.default_port, min=1, max=65535),
        client_id=section.str("client_id", default_client_id, check=client_id_problem),
        keepalive=section.int("keepalive", 30, min=5, max=3600),
        security=security,
    )
    section.finish()
    return config
