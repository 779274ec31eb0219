"""hub.toml -> HubConfig, and the `file: key: problem` lines a technician sees when it is wrong."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hub.cli import main
from hub.config import HubConfig, load_hub_config
from lifeline.grades import Grade
from lifeline.tomlconfig import ConfigError

GOOD = """
[mqtt]
host = "broker.lan"
port = 8883
client_id = "hub-a"
keepalive = 60

[store]
path = "data/hub.db"

[fusion]
window_s = 120
quiet_s = 60.5
max_span_s = 7200
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hub.toml"
    path.write_text(text)
    return path


def test_good_config_loads_and_store_path_is_relative_to_the_file(tmp_path: Path) -> None:
    config = load_hub_config(write(tmp_path, GOOD))
    assert (config.mqtt.host, config.mqtt.port, config.mqtt.client_id,
            config.mqtt.keepalive) == ("broker.lan", 8883, "hub-a", 60)
    assert config.store.path == tmp_path.resolve() / "data" / "hub.db"
    assert (config.fusion.window_s, config.fusion.quiet_s, config.fusion.max_span_s) == (
        120.0, 60.5, 7200.0)


def test_the_issue_2_minimum_gets_defaults(tmp_path: Path) -> None:
    config = load_hub_config(write(tmp_path, '[mqtt]\nhost = "127.0.0.1"\nport = 1883\n\n'
                                             '[store]\npath = "/var/lib/lifeline/hub.db"\n'))
    assert config.store.path == Path("/var/lib/lifeline/hub.db")
    assert config.mqtt.client_id == "lifeline-hub"
    assert config.fusion == HubConfig().fusion


def test_the_example_config_in_the_repository_loads() -> None:
    config = load_hub_config(Path(__file__).parents[2] / "configs" / "hub.toml")
    assert config.fusion.window_s == 300.0


@pytest.mark.parametrize(("text", "message"), [
    ('[mqtt]\nprot = 1883\n',
     r"hub.toml: mqtt.prot: is not a valid option for \[mqtt\]; did you mean 'port'\?"),
    ('[fusion]\nquiet = 60\n',
     r"hub.toml: fusion.quiet: is not a valid option for \[fusion\]; did you mean 'quiet_s'\?"),
    ('[stor]\npath = "x.db"\n',
     r"hub.toml: stor: is not a valid option for \[the top level\]; did you mean 'store'\?"),
    ('[mqtt]\nport = "1883"\n', r"hub.toml: mqtt.port: expected an integer, found string '1883'"),
    ('[fusion]\nwindow_s = true\n', r"hub.toml: fusion.window_s: expected a number, found boolean"),
    ('[store]\npath = 3\n', r"hub.toml: store.path: expected a string, found number 3"),
    ('[mqtt]\nport = 70000\n', r"hub.toml: mqtt.port: 70000 is above the maximum 65535"),
    ('[mqtt]\nclient_id = "hub/1"\n', r"hub.toml: mqtt.client_id: 'hub/1' is not a usable"),
    ('[fusion]\nwindow_s = 600\nmax_span_s = 300\n',
     r"hub.toml: fusion.max_span_s: 300 is shorter than window_s 600"),
    ('mqtt = 5\n', r"hub.toml: mqtt: must be a table, found number 5"),
    ('[mqtt\n', r"hub.toml: \(syntax\): not valid TOML"),
])
def test_bad_config_names_file_key_and_problem(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_hub_config(write(tmp_path, text))


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_hub_config(write(tmp_path, '[mqtt]\nport = "x"\nhots = "a"\n'))
    assert [key for _, key, _ in caught.value.problems] == ["mqtt.port", "mqtt.hots"]


def test_cli_exits_2_with_the_problem_lines(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, '[fusion]\nquiet_s = "soon"\n')
    assert main(["incidents", "--config", str(path)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"{path}: fusion.quiet_s: expected a number, found string 'soon'")


def test_cli_exits_2_on_a_missing_file_and_on_usage_errors(tmp_path: Path) -> None:
    assert main(["run", "--config", str(tmp_path / "absent.toml")]) == 2
    assert main(["incidents"]) == 2
    assert main(["frobnicate"]) == 2


def test_incidents_before_the_hub_ever_ran_is_an_empty_list(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, '[store]\npath = "never.db"\n')
    assert main(["incidents", "--config", str(path), "--json"]) == 0
    assert capsys.readouterr().out.strip() == "[]"
    assert not (tmp_path / "never.db").exists()


def test_escalate_rate_takes_a_quoted_or_a_dotted_kind(tmp_path: Path) -> None:
    config = load_hub_config(write(tmp_path, '[rules.gas]\nescalate_rate = { "gas.methane" = 5 }\n'
                                             '[rules.water.escalate_rate]\n'
                                             'water.pressure = -20.5\n'))
    assert config.fusion.rule("gas").escalate_rate == (("gas.methane", 5.0),)
    assert config.fusion.rule("water").escalate_rate == (("water.pressure", -20.5),)
    assert config.fusion.rule("structure").escalate_rate == ()


@pytest.mark.parametrize(("text", "message"), [
    ('[rules.gas]\nescalate_rate = { "water.flow" = 5 }\n',
     r"hub.toml: rules.gas.escalate_rate.water.flow: 'water.flow' is not a gas kind"),
    ('[rules.gas]\nescalate_rate = { methane = 5 }\n',
     r"rules.gas.escalate_rate.methane: 'methane' is not a gas kind \(gas.<quantity>\)"),
    ('[rules.gas]\nescalate_rate = { "gas.methane" = 0 }\n',
     r"rules.gas.escalate_rate.gas.methane: expected a finite, non-zero number"),
    ('[rules.gas]\nescalate_rate = { "gas.methane" = "5/min" }\n',
     r"rules.gas.escalate_rate.gas.methane: expected a number of units per minute, found '5/min'"),
    ('[rules.gas]\nescalate_rate = 5\n',
     r"rules.gas.escalate_rate: must be a table, found number 5"),
    ('[rules.maintenance]\nescalate_rate = { "gas.methane" = 5 }\n',
     r"rules.maintenance.escalate_rate.gas.methane: maintenance incidents are not graded by rate"),
    ('[rules.gas]\nescalate_rates = { "gas.methane" = 5 }\n',
     r"rules.gas.escalate_rates: is not a valid option .*did you mean 'escalate_rate'\?"),
])
def test_bad_escalate_rate_names_the_kind(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_hub_config(write(tmp_path, text))


def test_the_commented_examples_in_the_example_config_are_valid(tmp_path: Path) -> None:
    # Given configs/hub.toml with every commented table and key after [fusion] uncommented
    text = (Path(__file__).parents[2] / "configs" / "hub.toml").read_text()
    head, tail = text.split("\n[fusion]\n", 1)
    example = re.compile(r"^# ((\[\[?[\w.-]+\]\]?|[\w\"]+ = ).*)$")
    lines = [m.group(1) if (m := example.match(line)) else line for line in tail.splitlines()]
    assert sum(line != original for line, original in zip(lines, tail.splitlines(),
                                                           strict=True)) > 30
    # When it is loaded, Then it is valid and the examples took effect
    config = load_hub_config(write(tmp_path, head + "\n[fusion]\n" + "\n".join(lines)))
    assert config.fusion.rule("gas").escalate_rate == (("gas.methane", 5.0),)
    assert config.fusion.rule("water").escalate_rate == (("water.pressure", -20.0),)
    assert config.fusion.topology.near("main-1", "main-2", "neighbours")
    assert config.fusion.topology.distance_m("gas-mh-1", "gas-mh-2") == 100.0
    assert [r.name for r in config.routing.routes] == ["water-utility"]
    assert config.board.users is not None and config.board.hosts() == {"board.example"}
    assert config.metrics.listen == ("127.0.0.1", 9108)
    assert config.fusion.topology.zones["main-1"].position == (0.0, 0.0)
    assert [r.department for r in config.owners.rules] == ["gas-utility"]
    assert config.owners.rules[0].zones == ("north",)  # a parent zone names its sub-zones
    assert config.deadlines.acknowledge_s[Grade.RED] == 300.0


@pytest.mark.parametrize(("value", "days"), [("30", 30.0), ("0.5", 0.5), ("365", 365.0)])
def test_retain_days_is_a_number_of_days(tmp_path: Path, value: str, days: float) -> None:
    config = load_hub_config(write(tmp_path, f'[store]\npath = "hub.db"\nretain_days = {value}\n'))
    assert config.store.retain_days == days
    assert config.store.retain_s == days * 86400.0


def test_without_retain_days_the_store_keeps_everything(tmp_path: Path) -> None:
    config = load_hub_config(write(tmp_path, '[store]\npath = "hub.db"\n'))
    assert config.store.retain_days is None and config.store.retain_s is None


@pytest.mark.parametrize(("value", "message"), [
    ("0", r"hub.toml: store.retain_days: 0 is not a number of days above 0; leave the key out "
          r"to keep everything"),
    ("-7", r"hub.toml: store.retain_days: -7 is not a number of days above 0"),
    ('"30d"', r"hub.toml: store.retain_days: expected a number, found string '30d'"),
    ("true", r"hub.toml: store.retain_days: expected a number, found boolean true"),
    ("inf", r"hub.toml: store.retain_days: expected a finite number"),
    ("100000", r"hub.toml: store.retain_days: 100000 is above the maximum 36500"),
])
def test_bad_retain_days_names_file_key_and_problem(tmp_path: Path, value: str,
                                                    message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_hub_config(write(tmp_path, f"[store]\nretain_days = {value}\n"))


def test_a_misspelt_retain_days_gets_a_suggestion(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"hub.toml: store.retain: is not a valid option for "
                                          r"\[store\]; did you mean 'retain_days'\?"):
        load_hub_config(write(tmp_path, "[store]\nretain = 30\n"))


def test_the_commented_retain_days_in_the_example_config_is_valid(tmp_path: Path) -> None:
    text = (Path(__file__).parents[2] / "configs" / "hub.toml").read_text()
    assert "\n# retain_days = 90 " in text
    config = load_hub_config(write(tmp_path, text.replace("\n# retain_days", "\nretain_days")))
    assert config.store.retain_days == 90.0
