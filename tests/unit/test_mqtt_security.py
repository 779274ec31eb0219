"""The [mqtt] security keys: transport decision, file checks, apply() on a client, no secrets out."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest

from lifeline.mqtt_security import (
    MqttSecurity,
    apply,
    describe,
    is_loopback,
    parse_security,
    read_secret,
    secret_file_problem,
)
from lifeline.tomlconfig import ConfigError, Section

SECRET = "s3cret-Never-Shown"


def parse(tmp_path: Path, data: dict[str, Any], host: str = "broker.example.net",
          check_files: bool = True) -> tuple[MqttSecurity, list[tuple[str, str, str]]]:
    problems: list[tuple[str, str, str]] = []
    section = Section("edge.toml", "mqtt", data, problems)
    settings = parse_security(section, host, tmp_path, check_files=check_files)
    return settings, problems


def secret(tmp_path: Path, name: str = "edge.password", mode: int = 0o600) -> Path:
    path = tmp_path / name
    path.write_text(SECRET + "\n")
    path.chmod(mode)
    return path


@pytest.mark.parametrize(("host", "data", "tls", "reason"), [
    # issue-2 configs (no security keys) to a broker on this machine stay plain, with a reason
    ("127.0.0.1", {}, False, "no TLS keys and the broker 127.0.0.1 is on this machine"),
    ("localhost", {}, False, "no TLS keys and the broker localhost is on this machine"),
    ("::1", {}, False, "no TLS keys and the broker ::1 is on this machine"),
    # anywhere else TLS is the default
    ("broker.example.net", {}, True, ""),
    ("10.0.0.5", {}, True, ""),
    # any TLS key, or tls = true, means TLS even on loopback
    ("127.0.0.1", {"tls": True}, True, ""),
    ("127.0.0.1", {"ca_file": "ca.crt"}, True, ""),
    # plain TCP to a remote broker only when said explicitly
    ("broker.example.net", {"insecure_plain_tcp": True}, False, "insecure_plain_tcp = true"),
    ("127.0.0.1", {"tls": False}, False, "tls = false to the loopback broker 127.0.0.1"),
])
def test_transport_decision(tmp_path: Path, host: str, data: dict[str, Any], tls: bool,
                            reason: str) -> None:
    (tmp_path / "ca.crt").write_text("x")
    settings, problems = parse(tmp_path, data, host)
    assert problems == []
    assert (settings.tls, settings.plain_reason) == (tls, reason)
    assert settings.default_port == (8883 if tls else 1883)
    assert bool(settings.warnings()) == (not tls)


@pytest.mark.parametrize(("data", "key", "message"), [
    ({"tls": False}, "mqtt.tls", "false would send alerts and credentials to broker.example.net "
     "unencrypted; set insecure_plain_tcp = true"),
    ({"tls": True, "insecure_plain_tcp": True}, "mqtt.insecure_plain_tcp", "contradicts tls = true"),
    ({"insecure_plain_tcp": True, "ca_file": "ca.crt"}, "mqtt.ca_file", "has no effect with plain"),
    ({"cert_file": "c.crt"}, "mqtt.key_file", "is required with cert_file"),
    ({"password_file": "edge.password"}, "mqtt.username", "is required with password_file"),
    ({"tls": "yes"}, "mqtt.tls", "expected true or false, found string 'yes'"),
    ({"username": "a/b"}, "mqtt.username", "is not a usable MQTT user name"),
    ({"ca_file": ""}, "mqtt.ca_file", "must not be empty"),
])
def test_contradictions_name_the_key(tmp_path: Path, data: dict[str, Any], key: str,
                                     message: str) -> None:
    _, problems = parse(tmp_path, data, check_files=False)
    assert (problems[0][0], problems[0][1]) == ("edge.toml", key)
    assert message in problems[0][2]


def test_skip_verify_only_when_set_and_warns_loudly(tmp_path: Path) -> None:
    settings, problems = parse(tmp_path, {"tls_insecure_skip_verify": True})
    assert problems == [] and settings.tls and settings.tls_insecure_skip_verify
    assert any("WITHOUT VERIFYING THE BROKER" in w for w in settings.warnings())
    assert not parse(tmp_path, {})[0].tls_insecure_skip_verify


def test_relative_paths_resolve_against_the_config_directory(tmp_path: Path) -> None:
    secret(tmp_path)
    (tmp_path / "ca.crt").write_text("x")
    settings, problems = parse(tmp_path, {"ca_file": "ca.crt", "username": "edge-1",
                                          "password_file": "edge.password"})
    assert problems == []
    assert settings.ca_file == tmp_path / "ca.crt"
    assert settings.password_file == tmp_path / "edge.password"


@pytest.mark.parametrize(("mode", "message"), [
    (0o644, "is accessible to every user (mode 0644); run: chmod 600"),
    (0o604, "is accessible to every user"),
    (0o660, "is writable by its group (mode 0660)"),
])
def test_secret_files_others_can_read_are_refused(tmp_path: Path, mode: int, message: str) -> None:
    path = secret(tmp_path, mode=mode)
    _, problems = parse(tmp_path, {"username": "edge-1", "password_file": str(path)})
    assert [(k, message in p) for _, k, p in problems] == [("mqtt.password_file", True)]


def test_group_readable_secret_only_when_root_owned_with_the_services_group(tmp_path: Path) -> None:
    path = secret(tmp_path, mode=0o640)
    info = path.stat()
    # owned by root with our group: the install.md layout (root:lifeline 0640)
    ok = secret_file_problem(path, euid=info.st_uid, egid=info.st_gid)
    other_group = secret_file_problem(path, euid=info.st_uid, egid=info.st_gid + 1)
    assert other_group is not None and "is readable by its group" in other_group
    if info.st_uid == 0:
        assert ok is None
    else:
        assert ok is not None and "readable by its group" in ok


def test_missing_files_are_named(tmp_path: Path) -> None:
    _, problems = parse(tmp_path, {"ca_file": "nope.crt", "cert_file": "c.crt", "key_file": "k.key"})
    assert [k for _, k, _ in problems] == ["mqtt.ca_file", "mqtt.cert_file", "mqtt.key_file"]
    assert f"the file {tmp_path / 'nope.crt'} does not exist" == problems[0][2]


def test_read_secret_strips_one_newline_and_never_says_the_content(tmp_path: Path) -> None:
    assert read_secret(secret(tmp_path)) == SECRET
    two_lines = secret(tmp_path, "two.password")
    two_lines.write_text(f"{SECRET}\nmore\n")
    with pytest.raises(ConfigError, match="must hold the password on a single line") as caught:
        read_secret(two_lines, ("edge.toml", "mqtt"))
    assert SECRET not in str(caught.value)
    empty = secret(tmp_path, "empty.password")
    empty.write_text("\n")
    with pytest.raises(ConfigError, match=r"edge.toml: mqtt.password_file: .* is empty"):
        read_secret(empty, ("edge.toml", "mqtt"))


class FakeClient:
    """Records what apply() hands to paho."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def tls_set(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append(("tls_set", args, kwargs))

    def tls_insecure_set(self, value: bool) -> None:
        self.calls.append(("tls_insecure_set", (value,), {}))

    def username_pw_set(self, username: str, password: str | None) -> None:
        self.calls.append(("username_pw_set", (username, password), {}))


def test_apply_verifies_by_default_and_reads_the_password_late(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    password = secret(tmp_path)
    (tmp_path / "ca.crt").write_text("x")
    settings, problems = parse(tmp_path, {"ca_file": "ca.crt", "username": "edge-1",
                                          "password_file": "edge.password"})
    assert problems == []
    client = FakeClient()
    caplog.set_level("DEBUG")
    apply(client, settings)
    (name, _, kwargs), (name2, args2, _) = client.calls
    assert name == "tls_set" and kwargs["cert_reqs"] == ssl.CERT_REQUIRED
    assert kwargs["ca_certs"] == str(tmp_path / "ca.crt") and kwargs["certfile"] is None
    assert (name2, args2) == ("username_pw_set", ("edge-1", SECRET))
    assert caplog.records == []  # TLS with verification: nothing to warn about
    # the password is read at apply time: a rotated file is picked up on the next start
    password.write_text("rotated\n")
    client = FakeClient()
    apply(client, settings)
    assert client.calls[-1][1] == ("edge-1", "rotated")


def test_apply_with_skip_verify_warns_and_disables_checks(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings, _ = parse(tmp_path, {"tls_insecure_skip_verify": True})
    client = FakeClient()
    apply(client, settings)
    assert client.calls[0][2]["cert_reqs"] == ssl.CERT_NONE
    assert client.calls[1] == ("tls_insecure_set", (True,), {})
    assert "TLS WITHOUT VERIFYING THE BROKER" in caplog.text


def test_apply_plain_warns_and_sets_no_tls(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings, _ = parse(tmp_path, {}, host="127.0.0.1")
    client = FakeClient()
    apply(client, settings)
    assert client.calls == []
    assert "MQTT over plain TCP (no TLS keys and the broker 127.0.0.1 is on this machine)" in caplog.text


def test_apply_turns_a_bad_key_into_a_config_error(tmp_path: Path) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    (tmp_path / "c.crt").write_text("not a certificate")
    key = secret(tmp_path, "c.key")
    settings, problems = parse(tmp_path, {"cert_file": "c.crt", "key_file": str(key)})
    assert problems == []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="t")
    with pytest.raises(ConfigError, match=r"edge.toml: mqtt.cert_file: cannot set up TLS") as caught:
        apply(client, settings)
    assert SECRET not in str(caught.value)


def test_describe_shows_paths_never_secrets(tmp_path: Path) -> None:
    secret(tmp_path)
    settings, _ = parse(tmp_path, {"username": "edge-1", "password_file": "edge.password"})
    line = describe(settings)
    assert "TLS, broker verified against the system's CAs" in line
    assert f"user edge-1 with password from {tmp_path / 'edge.password'}" in line
    assert SECRET not in line and SECRET not in repr(settings)


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("[::1]", True),
    ("localhost", True), ("LOCALHOST", True), ("10.0.0.1", False), ("broker.lan", False),
    ("localhost.evil.net", False), ("0.0.0.0", False),
])
def test_is_loopback_needs_no_dns(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_value_object_rejects_inconsistent_settings() -> None:
    with pytest.raises(ValueError, match="cert_file and key_file go together"):
        MqttSecurity(cert_file=Path("c"))
    with pytest.raises(ValueError, match="plain TCP needs a reason"):
        MqttSecurity(tls=False)
    with pytest.raises(ValueError, match="password_file needs username"):
        MqttSecurity(password_file=Path("p"))


@pytest.mark.parametrize("pasted", ["DknPZgos8Yq2Lr0vJxWm3tHcQe5uBn7k-AsdF_ghJ1k",
                                    "Summer 2026!", "q3Lz/8kP+abcDEF123==", "hunter2!"])
@pytest.mark.parametrize("key", ["password_file", "key_file"])
def test_a_secret_pasted_as_a_file_name_is_never_echoed(tmp_path: Path, pasted: str,
                                                        key: str) -> None:
    # Given a password placed by mistake where the file name goes (missing, and present)
    data = {"username": "edge-1", key: pasted}
    if key == "key_file":
        (tmp_path / "edge.crt").write_text("x")
        data = {"cert_file": "edge.crt", key: pasted}
    _, problems = parse(tmp_path, data)
    # Then the error names the key and the directory, never the value
    assert problems and all(pasted not in p[2] and pasted.split("/")[-1] not in p[2]
                            for p in problems), problems
    assert any("<not shown" in p[2] for p in problems)
    target = tmp_path / pasted
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(SECRET + "\n")
    target.chmod(0o644)
    _, problems = parse(tmp_path, data)
    assert problems and all(pasted.split("/")[-1] not in p[2] for p in problems), problems
    with pytest.raises(ConfigError) as caught:
        read_secret(target)
    assert pasted.split("/")[-1] not in str(caught.value)


def test_an_ordinary_secret_path_is_still_named(tmp_path: Path) -> None:
    _, problems = parse(tmp_path, {"username": "edge-1", "password_file": "edge-north-1.password"})
    assert problems == [("edge.toml", "mqtt.password_file",
                         f"the file {tmp_path / 'edge-north-1.password'} does not exist")]
