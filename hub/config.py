"""Hub configuration: ``hub.toml`` -> frozen dataclasses, or ConfigError lines ``file: key: problem``.

The keys of issue 2 (``[mqtt] host port``, ``[store] path``) are public
interface, as is ``[store] retain_days`` (issue 8: how long the store keeps what is
over); ``[fusion]`` holds the fusion rule's time constants, ``[rules.<family>]``
the correlation rule of each hazard family, ``[zones.<name>]`` and
``[devices.<id>]`` the topology, ``[routing]`` and ``[[routes]]`` where incident
changes go. Relative store paths resolve against the config file's directory,
so a config and its store travel together whatever the working directory.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hub.board.config import BoardConfig, parse_board
from hub.core.deadlines import ACKNOWLEDGE, RESOLVE, DeadlinePolicy
from hub.core.ownership import OwnerPolicy, OwnerRule
from hub.core.silences import parse_duration
from hub.core.topology import REACHES, Topology, Zone
from lifeline.grades import GRADE_NAMES, Grade
from lifeline.metrics_config import MetricsConfig, parse_metrics
from lifeline.mqtt_config import MqttConfig, parse_mqtt
from lifeline.tomlconfig import Section, config_path, raise_if_problems, root, suggestion
from lifeline.wire import FAMILIES, family_of, share_group_problem

HUB_CLIENT_ID = "lifeline-hub"  # the hub's MQTT client id unless [mqtt] client_id says otherwise

__all__ = ["FusionConfig", "HubConfig", "MqttConfig", "RouteConfig", "RoutingConfig",
           "RuleConfig", "SecurityConfig", "StoreConfig", "load_hub_config"]

HAZARDS = (*FAMILIES, "maintenance", "device")


@dataclass(frozen=True)
class StoreConfig:
    """``[store]``: where the store is, and how long it keeps what is over.

    ``path``: the SQLite file (the default); ``url``: a PostgreSQL database instead
    (``postgresql://user@/db?host=/run/postgresql``), never both. ``retain_days`` None
    keeps everything; otherwise the hub prunes alerts, resolved incidents and their
    events once they are older than that (hub/store/retention.py)."""

    path: Path = Path("lifeline-hub.db")
    retain_days: float | None = None
    url: str | None = None

    @property
    def retain_s(self) -> float | None:
        return None if self.retain_days is None else self.retain_days * 86400.0

    @property
    def location(self) -> str:
        """The store, named for people: the SQLite file, or the PostgreSQL URL."""
        return str(self.path) if self.url is None else self.url


@dataclass(frozen=True)
class SecurityConfig:
    """``[security]``: the device registry (hub/registry.py); None accepts any device the
    broker admits (a warning at start)."""

    registry: Path | None = None


@dataclass(frozen=True)
class RuleConfig:
    """How alerts of one hazard family correlate and grade (``[rules.<family>]``).

    ``window_s`` None means ``fusion.window_s``; 0 turns a duration or count rule off.
    """

    window_s: float | None = None
    reach: str = "zone"
    radius_m: float = 0.0
    sensor_window_s: float = 0.0
    corroborate_devices: int = 2
    signature: tuple[str, ...] = ()
    escalate_after_s: float = 0.0
    # kind -> units per minute toward danger: positive rising, negative falling (sorted pairs)
    escalate_rate: tuple[tuple[str, float], ...] = ()
    growth_devices: int = 0
    confirm_after_s: float = 900.0
    absorb_downstream: bool = False
    flap_episodes: int = 3
    latch_red: bool = True


@dataclass(frozen=True)
class FusionConfig:
    """Time constants of the fusion rule (see hub/core/fusion.py), in seconds, rules and topology."""

    window_s: float = 300.0
    quiet_s: float = 120.0
    max_span_s: float = 21600.0
    flap_quiet_s: float = 900.0
    rules: Mapping[str, RuleConfig] = field(default_factory=dict)
    topology: Topology = field(default_factory=Topology)

    def rule(self, family: str) -> RuleConfig:
        """The rule of ``family`` with the window filled in (families without a table get defaults).

        Built once per family (the config is frozen): fusion asks for a rule several times
        per alert, and ``replace`` on every call was a tenth of the hub's time."""
        cache: dict[str, RuleConfig] = self.__dict__.setdefault("_rule_cache", {})
        found = cache.get(family)
        if found is None:
            found = self.rules.get(family, RuleConfig())
            if found.window_s is None:
                found = replace(found, window_s=self.window_s)
            cache[family] = found
        return found


ROUTE_FORMATS = ("generic", "alertmanager")  # a route's webhook body (docs/hub.md)

@dataclass(frozen=True)
class RouteConfig:
    """One webhook: incident changes of these hazards and zones, at or above ``min_grade``."""

    name: str
    url: str
    hazards: tuple[str, ...] = ()
    zones: tuple[str, ...] = ()
    min_grade: Grade = Grade.BLUE
    timeout_s: float = 5.0
    # the body's shape: "generic" (wire.IncidentChange) or "alertmanager" (hub/core/alertmanager.py)
    format: str = "generic"


@dataclass(frozen=True)
class RoutingConfig:
    routes: tuple[RouteConfig, ...] = ()
    mqtt_republish: bool = True
    retry_max_s: float = 300.0


@dataclass(frozen=True)
class HubConfig:
    mqtt: MqttConfig = field(default_factory=lambda: MqttConfig(client_id=HUB_CLIENT_ID))
    store: StoreConfig = field(default_factory=StoreConfig)
    security: SecurityConfig = field(default_factory=SecurityConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    routing: RoutingConfig = field(default_factory=RoutingConfig)
    owners: OwnerPolicy = field(default_factory=OwnerPolicy)
    deadlines: DeadlinePolicy = field(default_factory=DeadlinePolicy)
    source: Path | None = None
    board: BoardConfig = field(default_factory=BoardConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)


def _mqtt(section: Section, base: Path) -> MqttConfig:
    """``[mqtt]`` as the edge reads it, and the hub's own ``share_group``."""
    group = section.str("share_group", "", check=share_group_problem)
    config = parse_mqtt(section, base, default_client_id=HUB_CLIENT_ID)
    return replace(config, share_group=group)


def _security(section: Section, base: Path) -> SecurityConfig:
    text = section.str("registry", None,
                       check=lambda t: None if t.strip() else "must not be empty")
    section.finish()
    if not text or not text.strip():
        return SecurityConfig()
    return SecurityConfig(registry=config_path(text, base))


RETAIN_DAYS_MAX = 36500.0  # a hundred years: a bigger number is a typo, not a policy


def store_url_problem(text: str) -> str | None:
    """Why ``text`` cannot be ``[store] url``, or None.

    >>> store_url_problem("postgresql://lifeline@/lifeline?host=/run/postgresql") is None
    True
    >>> store_url_problem("mysql://db/lifeline")
    "'mysql://db/lifeline' is not a PostgreSQL URL (postgresql://user@host/database)"
    >>> store_url_problem("postgresql://hub:s3cret@db/lifeline")
    'must not hold a password: put it in a libpq password file (~/.pgpass, or passfile=... in the URL)'
    """
    try:
        parts = urlsplit(text)
        password = parts.password
    except ValueError:
        parts, password = None, None
    if parts is None or parts.scheme not in ("postgresql", "postgres"):
        return f"{text!r} is not a PostgreSQL URL (postgresql://user@host/database)"
    if password is not None or "password=" in parts.query:
        return ("must not hold a password: put it in a libpq password file (~/.pgpass, or "
                "passfile=... in the URL)")
    return None


def _store(section: Section, base: Path) -> StoreConfig:
    text = section.str("path", None,
                       check=lambda t: None if t.strip() else "must not be empty")
    url = section.str("url", None, check=store_url_problem)
    retain = section.float("retain_days", None, max=RETAIN_DAYS_MAX)
    if retain is not None and retain <= 0:
        section.problem("retain_days", f"{retain:g} is not a number of days above 0; leave "
                        "the key out to keep everything")
        retain = None
    if text is not None and url is not None:
        section.problem("url", "path and url are both set: path is a SQLite file, url a "
                        "PostgreSQL database; keep one of them")
    section.finish()
    return StoreConfig(path=config_path(text or str(StoreConfig.path), base), retain_days=retain,
                       url=url if text is None else None)


def _flatten(data: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """``{water = {pressure = 1}}`` -> ``[("water.pressure", 1)]``: an unquoted dotted key in
    TOML is a nested table, so ``water.pressure = -20`` and ``"water.pressure" = -20`` agree."""
    out: list[tuple[str, Any]] = []
    for key, value in data.items():
        if isinstance(value, dict):
            out.extend(_flatten(value, f"{prefix}{key}."))
        else:
            out.append((f"{prefix}{key}", value))
    return out


def _rates(parent: Section, family: str) -> tuple[tuple[str, float], ...]:
    """``escalate_rate``: a table of kind -> units per minute toward danger (signed)."""
    table = parent.section("escalate_rate", required=False)
    rates: list[tuple[str, float]] = []
    for kind, value in _flatten(table.data):
        if family not in FAMILIES:  # maintenance; an unknown family is reported by _fusion
            if family == "maintenance":
                table.problem(kind, "maintenance incidents are not graded by rate of change")
        elif family_of(kind) != family or "." not in kind:
            table.problem(kind, f"{kind!r} is not a {family} kind ({family}.<quantity>)")
        elif isinstance(value, bool) or not isinstance(value, int | float):
            table.problem(kind, f"expected a number of units per minute, found {value!r}")
        elif not math.isfinite(value) or value == 0:
            table.problem(kind, "expected a finite, non-zero number of units per minute "
                          "(positive: rising is dangerous, negative: falling); leave the kind "
                          "out to turn it off")
        else:
            rates.append((kind, float(value)))
    table.read.update(table.data)
    return tuple(sorted(rates))


def _rule(section: Section, family: str) -> RuleConfig:
    d = RuleConfig()
    window = section.float("window_s", None, min=1.0, max=86400.0)
    rule = RuleConfig(
        window_s=window,
        reach=section.str("reach", d.reach, choices=REACHES),
        radius_m=section.float("radius_m", d.radius_m, min=0.0, max=100_000.0),
        sensor_window_s=section.float("sensor_window_s", d.sensor_window_s, min=0.0,
                                      max=7 * 86400.0),
        corroborate_devices=section.int("corroborate_devices", d.corroborate_devices, min=0,
                                        max=1000),
        signature=section.str_list("signature", d.signature),
        escalate_after_s=section.float("escalate_after_s", d.escalate_after_s, min=0.0),
        escalate_rate=_rates(section, family),
        growth_devices=section.int("growth_devices", d.growth_devices, min=0, max=1000),
        confirm_after_s=section.float("confirm_after_s", d.confirm_after_s, min=0.0),
        absorb_downstream=section.bool("absorb_downstream", d.absorb_downstream),
        flap_episodes=section.int("flap_episodes", d.flap_episodes, min=0, max=1000),
        latch_red=section.bool("latch_red", d.latch_red),
    )
    section.finish()
    return rule


def _fusion(top: Section) -> FusionConfig:
    section = top.section("fusion", required=False)
    defaults = FusionConfig()
    window = section.float("window_s", defaults.window_s, min=1.0, max=86400.0)
    quiet = section.float("quiet_s", defaults.quiet_s, min=1.0, max=7 * 86400.0)
    span = section.float("max_span_s", defaults.max_span_s, min=60.0, max=30 * 86400.0)
    flap_quiet = section.float("flap_quiet_s", defaults.flap_quiet_s, min=1.0, max=7 * 86400.0)
    if span < window:
        section.problem("max_span_s", f"{span:g} is shorter than window_s "
                        f"{window:g}; an incident could not hold one window")
    section.finish()
    rules_section = top.section("rules", required=False)
    rules = {name: _rule(rules_section.section(name), name) for name in list(rules_section.data)}
    for name in rules:
        if name not in (*FAMILIES, "maintenance"):
            rules_section.problem(name, f"is not a hazard family; expected one of "
                                  f"{', '.join((*FAMILIES, 'maintenance'))}")
    rules_section.read.update(rules)
    return FusionConfig(window_s=window, quiet_s=quiet, max_span_s=span,
                        flap_quiet_s=flap_quiet, rules=rules, topology=_topology(top))


def _topology(top: Section) -> Topology:
    zones_section = top.section("zones", required=False)
    zones = []
    for name in list(zones_section.data):
        s = zones_section.section(name)
        x, y = s.float("x", None), s.float("y", None)  # the board's zone map
        if (x is None) != (y is None):
            s.problem("x" if x is None else "y", "give both x and y, or neither")
        zones.append(Zone(name=name, parent=s.str("parent", None),
                          neighbours=s.str_list("neighbours", ()),
                          downstream=s.str_list("downstream", ()),
                          position=None if x is None or y is None else (x, y)))
        s.finish()
    zones_section.read.update(zones_section.data)
    devices_section = top.section("devices", required=False)
    positions: dict[str, tuple[float, float]] = {}
    for name in list(devices_section.data):
        s = devices_section.section(name)
        x, y = s.float("x"), s.float("y")
        s.finish()
        if x is not None and y is not None:
            positions[name] = (x, y)
    devices_section.read.update(devices_section.data)
    return Topology.build(zones, positions)


def _url_check(text: str) -> str | None:
    parts = urlsplit(text)
    if parts.scheme in ("http", "https") and parts.netloc:
        return None
    return f"{text!r} is not an http:// or https:// URL"


def _routing(top: Section) -> RoutingConfig:
    section = top.section("routing", required=False)
    defaults = RoutingConfig()
    republish = section.bool("mqtt_republish", defaults.mqtt_republish)
    retry_max = section.float("retry_max_s", defaults.retry_max_s, min=1.0, max=86400.0)
    section.finish()
    routes = []
    for s in top.sections("routes"):
        grade = s.str("min_grade", "blue", choices=GRADE_NAMES)
        name, url = s.str("name"), s.str("url", check=_url_check)
        if name is None or url is None:
            s.read.update(s.data)  # the missing key is the one problem of this route
            continue
        routes.append(RouteConfig(
            name=name, url=url,
            hazards=s.str_list("hazards", ()), zones=s.str_list("zones", ()),
            min_grade=Grade.parse(grade) if grade in GRADE_NAMES else Grade.BLUE,
            timeout_s=s.float("timeout_s", 5.0, min=0.1, max=120.0),
            format=s.str("format", "generic", choices=ROUTE_FORMATS)))
        for hazard in routes[-1].hazards:
            if hazard not in HAZARDS:
                s.problem("hazards", f"{hazard!r} is not one of {', '.join(HAZARDS)}")
        s.finish()
    names = [r.name for r in routes]
    for name in {n for n in names if names.count(n) > 1}:
        top.problem("routes", f"route name {name!r} is used twice")
    return RoutingConfig(routes=tuple(routes), mqtt_republish=republish, retry_max_s=retry_max)


def _owners(top: Section, topology: Topology) -> OwnerPolicy:
    """``[[owners]]``: the department owning each (hazard, zone, grade); one entry without
    conditions is the default. No ``[[owners]]`` at all: one control room owns everything."""
    sections = top.sections("owners")
    if not sections:
        return OwnerPolicy()
    rules: list[OwnerRule] = []
    known_zones = {*topology.zones, *(z.parent for z in topology.zones.values() if z.parent)}
    for s in sections:
        department = s.str("department")
        hazards = s.str_list("hazards", ())
        zones = s.str_list("zones", ())
        grade = s.str("min_grade", "blue", choices=GRADE_NAMES)
        escalation = s.str_list("escalation", ())
        for hazard in hazards:
            if hazard not in HAZARDS:
                s.problem("hazards", f"{hazard!r} is not one of {', '.join(HAZARDS)}"
                          f"{suggestion(hazard, HAZARDS)}")
        for zone in zones:  # a zone of [zones], or a parent one of them names
            if known_zones and zone not in known_zones:
                s.problem("zones", f"{zone!r} is not a zone of [zones]"
                          f"{suggestion(zone, sorted(known_zones))}")
        if department is not None and department in escalation:
            s.problem("escalation", f"names the owner {department!r} itself")
        s.finish()
        if department is not None:
            rules.append(OwnerRule(department, hazards, zones,
                                   Grade.parse(grade) if grade in GRADE_NAMES else Grade.BLUE,
                                   escalation))
    defaults = [r for r in rules if r.unconditional]
    if not defaults:
        top.problem("owners", "no default owner: add an [[owners]] entry with only a "
                    "department (no hazards, zones or min_grade), so no incident is unowned")
        return OwnerPolicy(tuple(rules))
    if len(defaults) > 1:
        top.problem("owners", "more than one default owner (entries without hazards, zones "
                    f"or min_grade): {', '.join(r.department for r in defaults)}")
    return OwnerPolicy(tuple(r for r in rules if not r.unconditional), default=defaults[0])


def _deadlines(top: Section) -> DeadlinePolicy:
    """``[deadlines.acknowledge]`` and ``[deadlines.resolve]``: a duration per grade
    (``"5m"``, ``"4h"``) or ``"none"``; a grade left out keeps its default."""
    section = top.section("deadlines", required=False)
    defaults = DeadlinePolicy()
    tables = {}
    for what, default in ((ACKNOWLEDGE, defaults.acknowledge_s), (RESOLVE, defaults.resolve_s)):
        part = section.section(what, required=False)
        table = dict(default)
        for grade in Grade:
            text = part.str(grade.label, None)
            if text is None:
                continue
            if text.strip().lower() == "none":
                table[grade] = None
                continue
            try:
                table[grade] = parse_duration(text)
            except ValueError as exc:
                part.problem(grade.label, f"{exc} (or \"none\")")
        part.finish()
        tables[what] = table
    section.finish()
    return DeadlinePolicy(acknowledge_s=tables[ACKNOWLEDGE], resolve_s=tables[RESOLVE])


def load_hub_config(path: str | Path) -> HubConfig:
    """Read and validate ``hub.toml``; raise ConfigError listing every problem at once."""
    top = root(path)
    base = Path(path).resolve().parent
    fusion = _fusion(top)
    config = HubConfig(
        mqtt=_mqtt(top.section("mqtt", required=False), base),
        store=_store(top.section("store", required=False), base),
        security=_security(top.section("security", required=False), base),
        fusion=fusion,
        routing=_routing(top),
        owners=_owners(top, fusion.topology),
        deadlines=_deadlines(top),
        source=Path(path),
        board=parse_board(top.section("board", required=False), base),
        metrics=parse_metrics(top.section("metrics", required=False), base),
    )
    top.finish()
    raise_if_problems(top)
    return config
