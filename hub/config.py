"""Hub configuration: ``hub.toml`` -> frozen dataclasses, or ConfigError lines ``file: key: problem``.

The keys of issue 2 (``[mqtt] host port``, ``[store] path``) are public
interface; ``[fusion]`` holds the fusion rule's time constants. Relative store
paths resolve against the config file's directory, so a config and its store
travel together whatever the working directory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lifeline.mqtt_security import MqttSecurity, parse_security, plain_loopback
from lifeline.tomlconfig import Section, raise_if_problems, root

__all__ = ["FusionConfig", "HubConfig", "MqttConfig", "SecurityConfig", "StoreConfig",
           "load_hub_config"]


@dataclass(frozen=True)
class MqttConfig:
    host: str = "127.0.0.1"
    port: int = 1883
    client_id: str = "lifeline-hub"
    keepalive: int = 30
    # TLS and credentials (lifeline/mqtt_security.py, docs/security.md)
    security: MqttSecurity = field(default_factory=plain_loopback)


@dataclass(frozen=True)
class StoreConfig:
    path: Path = Path("lifeline-hub.db")


@dataclass(frozen=True)
class SecurityConfig:
    """``[security]``: the device registry (hub/registry.py); None accepts any device the
    broker admits (a warning at start)."""

    registry: Path | None = None


@dataclass(frozen=True)
class FusionConfig:
    """Time constants of the fusion rule (see hub/fusion.py), in seconds."""

    window_s: float = 300.0
    quiet_s: float = 120.0
    max_span_s: float = 21600.0


@dataclass(frozen=True)
class HubConfig:
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    security: SecurityConfig = field(default_factory=SecurityConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    source: Path | None = None


def _host_check(text: str) -> str | None:
    return None if text.strip() and " " not in text else f"{text!r} is not a host name or address"


def _client_id_check(text: str) -> str | None:
    if 1 <= len(text) <= 64 and not any(c in text for c in "+#/ "):
        return None
    return f"{text!r} is not a usable MQTT client id (1-64 characters, no '+', '#', '/' or spaces)"


def _mqtt(section: Section, base: Path) -> MqttConfig:
    defaults = MqttConfig()
    host = section.str("host", defaults.host, check=_host_check)
    security = parse_security(section, host, base)
    config = MqttConfig(
        host=host,
        port=section.int("port", security.default_port, min=1, max=65535),
        client_id=section.str("client_id", defaults.client_id, check=_client_id_check),
        keepalive=section.int("keepalive", defaults.keepalive, min=5, max=3600),
        security=security,
    )
    section.finish()
    return config


def _security(section: Section, base: Path) -> SecurityConfig:
    text = section.str("registry", None,
                       check=lambda t: None if t.strip() else "must not be empty")
    section.finish()
    if not text or not text.strip():
        return SecurityConfig()
    path = Path(text).expanduser()
    return SecurityConfig(registry=path if path.is_absolute() else base / path)


def _store(section: Section, base: Path) -> StoreConfig:
    text = section.str("path", str(StoreConfig.path),
                       check=lambda t: None if t.strip() else "must not be empty")
    section.finish()
    path = Path(text or str(StoreConfig.path)).expanduser()
    return StoreConfig(path=path if path.is_absolute() else base / path)


def _fusion(section: Section) -> FusionConfig:
    defaults = FusionConfig()
    config = FusionConfig(
        window_s=section.float("window_s", defaults.window_s, min=1.0, max=86400.0),
        quiet_s=section.float("quiet_s", defaults.quiet_s, min=1.0, max=7 * 86400.0),
        max_span_s=section.float("max_span_s", defaults.max_span_s, min=60.0, max=30 * 86400.0),
    )
    if config.max_span_s < config.window_s:
        section.problem("max_span_s", f"{config.max_span_s:g} is shorter than window_s "
                        f"{config.window_s:g}; an incident could not hold one window")
    section.finish()
    return config


def load_hub_config(path: str | Path) -> HubConfig:
    """Read and validate ``hub.toml``; raise ConfigError listing every problem at once."""
    top = root(path)
    base = Path(path).resolve().parent
    config = HubConfig(
        mqtt=_mqtt(top.section("mqtt", required=False), base),
        store=_store(top.section("store", required=False), base),
        security=_security(top.section("security", required=False), base),
        fusion=_fusion(top.section("fusion", required=False)),
        source=Path(path),
    )
    top.finish()
    raise_if_problems(top)
    return config
