"""How an MQTT client proves who it is and who the broker is: TLS and credentials from files.

The security keys of an ``[mqtt]`` section, shared by ``edge.toml`` and ``hub.toml``
(public interface, documented in docs/security.md):

``tls`` (default true), ``ca_file``, ``cert_file``, ``key_file``, ``username``,
``password_file``, ``insecure_plain_tcp`` (default false) and
``tls_insecure_skip_verify`` (default false).

Transport, decided once by ``parse_security``:

* TLS with the broker's certificate verified (against ``ca_file``, or the
  system's CAs) is the default.
* Plain TCP only when the config says ``insecure_plain_tcp = true``, or -- the
  migration rule for the configs of issue 2 -- when the broker host is a loopback
  address (``127.0.0.1``, ``::1``, ``localhost``) and the section names none of the
  TLS keys. Both log a warning at start.
* Verification off only with ``tls_insecure_skip_verify = true``, with a loud
  warning at start.

Secrets never live in the TOML or in these objects: ``password_file`` is read
when ``apply`` configures the client, and nothing here logs or prints its
content. Files are checked when the config is loaded, so ``check-config`` and a
service start report ``file: key: problem`` lines for a missing file or a key
or password file that other users can read.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lifeline.listen import is_loopback
from lifeline.tomlconfig import ConfigError, Section, config_path

__all__ = ["SECURITY_KEYS", "MqttSecurity", "apply", "describe", "is_loopback",
           "parse_security", "plain_loopback", "read_secret", "secret_file_problem",
           "shown_secret_path"]

log = logging.getLogger(__name__)

TLS_PORT = 8883
PLAIN_PORT = 1883
SECURITY_KEYS = ("tls", "ca_file", "cert_file", "key_file", "username", "password_file",
                 "insecure_plain_tcp", "tls_insecure_skip_verify")
_TLS_KEYS = ("tls", "ca_file", "cert_file", "key_file", "tls_insecure_skip_verify")
_MAX_SECRET_BYTES = 4096
_LOOPBACK_REASON = "no TLS keys and the broker {host} is on this machine"


@dataclass(frozen=True)
class MqttSecurity:
    """The security settings of one MQTT client. Holds paths, never a secret.

    ``plain_reason`` says why the transport is plain TCP (empty when TLS is on);
    ``origin`` is ``(file, section)`` for error lines raised at apply time.
    """

    tls: bool = True
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    username: str | None = None
    password_file: Path | None = None
    tls_insecure_skip_verify: bool = False
    plain_reason: str = ""
    origin: tuple[str, str] = ("", "mqtt")

    def __post_init__(self) -> None:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        if not self.tls and (self.ca_file or self.cert_file or self.tls_insecure_skip_verify):
            raise ValueError("TLS files or tls_insecure_skip_verify given with plain TCP")
        if not self.tls and not self.plain_reason:
            raise ValueError("plain TCP needs a reason (insecure_plain_tcp or a loopback broker)")
        if self.password_file is not None and not self.username:
            raise ValueError("password_file needs username")

    @property
    def default_port(self) -> int:
        """The broker port when the config names none: 8883 for TLS, 1883 for plain TCP."""
        return TLS_PORT if self.tls else PLAIN_PORT

    def warnings(self) -> list[str]:
        """What a start should warn about, as full sentences (no secrets)."""
        found: list[str] = []
        if not self.tls:
            found.append(f"MQTT over plain TCP ({self.plain_reason}): alerts"
                         f"{' and the password' if self.password_file else ''} are not encrypted "
                         "and the broker is not authenticated")
        if self.tls and self.tls_insecure_skip_verify:
            found.append("TLS WITHOUT VERIFYING THE BROKER (tls_insecure_skip_verify = true): "
                         "anyone on the path can pose as the broker, read every alert"
                         f"{' and the password' if self.password_file else ''} and drop or forge "
                         "messages; use ca_file instead")
        return found


def plain_loopback(host: str = "127.0.0.1") -> MqttSecurity:
    """What ``parse_security`` gives a section without security keys for a loopback ``host``
    (the default of config dataclasses whose default host is 127.0.0.1)."""
    if not is_loopback(host):
        raise ValueError(f"{host!r} is not a loopback host")
    return MqttSecurity(tls=False, plain_reason=_LOOPBACK_REASON.format(host=host))


def parse_security(section: Section, host: str, base: Path, *,
                   check_files: bool = True) -> MqttSecurity:
    """Read the security keys of ``section`` (the caller reads the others and calls ``finish``).

    ``host`` is the broker host already read from the section; relative paths
    resolve against ``base`` (the config file's directory). Problems are
    recorded on the section; the returned value is then a safe placeholder.
    """
    problems_before = len(section.problems)
    present = {key for key in _TLS_KEYS if key in section.data}
    tls_value = section.bool("tls", True)
    plain_opt_in = section.bool("insecure_plain_tcp", False)
    skip_verify = section.bool("tls_insecure_skip_verify", False)
    ca_file = _path(section, "ca_file", base)
    cert_file = _path(section, "cert_file", base)
    key_file = _path(section, "key_file", base)
    username = section.str("username", None, check=_username_check)
    password_file = _path(section, "password_file", base)

    plain_reason = ""
    if plain_opt_in:
        if "tls" in present and tls_value:
            section.problem("insecure_plain_tcp", "contradicts tls = true; remove one of them")
        plain_reason = "insecure_plain_tcp = true"
    elif "tls" in section.data and tls_value is False:
        if is_loopback(host):
            plain_reason = f"tls = false to the loopback broker {host}"
        else:
            section.problem("tls", f"false would send alerts and credentials to {host} "
                            "unencrypted; set insecure_plain_tcp = true as well if that is really "
                            "intended")
    elif not present and is_loopback(host):
        plain_reason = _LOOPBACK_REASON.format(host=host)
    tls = not plain_reason

    if not tls:
        for key in ("ca_file", "cert_file", "key_file", "tls_insecure_skip_verify"):
            if key in present and (key != "tls_insecure_skip_verify" or skip_verify):
                section.problem(key, "has no effect with plain TCP; remove it or use TLS")
    if (cert_file is None) != (key_file is None):
        missing = "key_file" if key_file is None else "cert_file"
        section.problem(missing, "is required with "
                        f"{'cert_file' if missing == 'key_file' else 'key_file'} "
                        "(a client certificate needs its private key)")
    if password_file is not None and not username:
        section.problem("username", "is required with password_file")
    if check_files:
        for key, path, secret in (("ca_file", ca_file, False), ("cert_file", cert_file, False),
                                  ("key_file", key_file, True),
                                  ("password_file", password_file, True)):
            if path is not None and (problem := _file_problem(path, secret)) is not None:
                section.problem(key, problem)
    if len(section.problems) > problems_before:
        return MqttSecurity(origin=(section.file, section.path))
    return MqttSecurity(
        tls=tls, ca_file=ca_file if tls else None, cert_file=cert_file if tls else None,
        key_file=key_file if tls else None, username=username, password_file=password_file,
        tls_insecure_skip_verify=bool(skip_verify) and tls, plain_reason=plain_reason,
        origin=(section.file, section.path))


def _username_check(text: str) -> str | None:
    if 1 <= len(text) <= 64 and text.isprintable() and not any(c in text for c in "+#/ "):
        return None
    return f"{text!r} is not a usable MQTT user name (1-64 characters, no '+', '#', '/' or spaces)"


def _path(section: Section, key: str, base: Path) -> Path | None:
    text = section.str(key, None, check=lambda t: None if t.strip() else "must not be empty")
    if not text or not text.strip():
        return None
    return config_path(text, base)


_PATHY = re.compile(r"^[A-Za-z0-9._~-]+$")


def _tokenish(part: str) -> bool:
    """A path component that reads like a generated secret rather than a file name: long,
    no dot, upper- and lower-case letters and digits mixed (``secrets.token_urlsafe``)."""
    return (len(part) >= 16 and "." not in part and any(c.isupper() for c in part)
            and any(c.islower() for c in part) and any(c.isdigit() for c in part))


def shown_secret_path(path: Path) -> str:
    """``path`` as an error or ``check-config`` may show it for a *secret* file key
    (``password_file``, ``key_file``): as it is when every component looks like a file
    name, else with the components from the first one that does not replaced by
    ``<not shown>`` -- a password pasted into ``password_file`` by mistake becomes a path
    (``/etc/lifeline/DknPZgos...``) that must not reach a log or a terminal.

    >>> shown_secret_path(Path("/etc/lifeline/edge-north-1.password"))
    '/etc/lifeline/edge-north-1.password'
    >>> shown_secret_path(Path("/etc/lifeline/DknPZgos8Yq2Lr0vJxWm3tHc"))
    '/etc/lifeline/<not shown: it may be the secret itself>'
    >>> shown_secret_path(Path("/etc/lifeline/hunter2!"))
    '/etc/lifeline/<not shown: it may be the secret itself>'
    """
    parts = path.parts
    for index, part in enumerate(parts):
        if part == path.anchor:
            continue
        if not _PATHY.match(part) or _tokenish(part):
            shown = Path(*parts[:index]) if index else Path()
            return f"{shown}/<not shown: it may be the secret itself>".removeprefix("./")
    return str(path)


def _file_problem(path: Path, secret: bool, name: str | None = None) -> str | None:
    """Why ``path`` is not a usable file, or None; messages name it ``name`` (the path)."""
    if secret:
        return secret_file_problem(path)
    name = str(path) if name is None else name
    try:
        info = path.stat()
    except FileNotFoundError:
        return f"the file {name} does not exist"
    except OSError as exc:
        return f"cannot check {name}: {exc.strerror}"
    if not stat.S_ISREG(info.st_mode):
        return f"{name} is not a regular file"
    if not os.access(path, os.R_OK):
        return f"{name} cannot be read by this user (uid {os.geteuid()})"
    return None


def secret_file_problem(path: Path, *, euid: int | None = None,
                        egid: int | None = None) -> str | None:
    """Why ``path`` is not a safe secret file, or None.

    Safe: a regular file we can read, that no other user can read or write: mode
    0600/0400 -- or 0640/0440 owned by root with the service's own group (the
    ``install -m 0640 -o root -g lifeline`` layout of hardware/install.md, where
    the service can read but not change its secret). Never group-writable, never
    world-accessible. The path is named as ``shown_secret_path`` shows it.
    """
    euid = os.geteuid() if euid is None else euid
    egid = os.getegid() if egid is None else egid
    name = shown_secret_path(path)
    problem = _file_problem(path, secret=False, name=name)
    if problem is not None:
        return problem
    info = path.stat()
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o007:
        return (f"{name} is accessible to every user (mode {mode:04o}); "
                f"run: chmod 600 {name}")
    if mode & 0o030:
        return f"{name} is writable by its group (mode {mode:04o}); run: chmod 600 {name}"
    if mode & 0o040 and not (info.st_uid == 0 and info.st_gid == egid):
        return (f"{name} is readable by its group (mode {mode:04o}); run: chmod 600 {name} "
                "(or make it root-owned with the service's own group, mode 0640)")
    if info.st_uid not in (euid, 0):
        return f"{name} belongs to another user (uid {info.st_uid}); it must be ours or root's"
    return None


def read_secret(path: Path, origin: tuple[str, str] = ("", "mqtt"),
                key: str = "password_file") -> str:
    """The one-line secret in ``path`` (a trailing newline is dropped).

    Raises ConfigError naming the file and key, never the content.
    """
    where = f"{origin[1]}.{key}" if origin[1] else key
    name = shown_secret_path(path)
    problem = secret_file_problem(path)
    if problem is None:
        try:
            with open(path, "rb") as handle:
                raw = handle.read(_MAX_SECRET_BYTES + 1)
        except OSError as exc:
            problem = f"cannot read {name}: {exc.strerror}"
        else:
            text = raw.decode("utf-8", errors="replace").removesuffix("\n").removesuffix("\r")
            if len(raw) > _MAX_SECRET_BYTES:
                problem = f"{name} is too large for a password ({_MAX_SECRET_BYTES} bytes at most)"
            elif not text:
                problem = f"{name} is empty"
            elif "\n" in text or "\r" in text:
                problem = f"{name} must hold the password on a single line"
            elif "\ufffd" in text:
                problem = f"{name} is not UTF-8 text"
            else:
                return text
    raise ConfigError([(origin[0], where, problem)])


def apply(client: Any, settings: MqttSecurity) -> None:
    """Configure a paho-mqtt ``Client`` before it connects: TLS, then user name and password.

    Logs the start warnings (plain TCP, verification off). Problems with the
    files (a key that does not match its certificate, an unreadable password)
    raise ConfigError lines naming the key; the password is read here, handed
    to paho and never logged.
    """
    import ssl  # here, not at the top: reading a config (``lifeline-hub incidents``) needs no TLS

    file, section = settings.origin
    for warning in settings.warnings():
        log.warning("%s", warning)
    if settings.tls:
        try:
            client.tls_set(
                ca_certs=None if settings.ca_file is None else str(settings.ca_file),
                certfile=None if settings.cert_file is None else str(settings.cert_file),
                keyfile=None if settings.key_file is None else str(settings.key_file),
                cert_reqs=ssl.CERT_NONE if settings.tls_insecure_skip_verify else ssl.CERT_REQUIRED,
                tls_version=ssl.PROTOCOL_TLS_CLIENT)
        except (ssl.SSLError, OSError, ValueError) as exc:
            key = "cert_file" if settings.cert_file is not None else "ca_file"
            raise ConfigError([(file, f"{section}.{key}",
                                f"cannot set up TLS with these files: {_ssl_reason(exc)}")]) from None
        if settings.tls_insecure_skip_verify:
            client.tls_insecure_set(True)
    if settings.username:
        password = (read_secret(settings.password_file, settings.origin)
                    if settings.password_file is not None else None)
        client.username_pw_set(settings.username, password)


def _ssl_reason(exc: BaseException) -> str:
    # An ssl.SSLError carries OpenSSL's reason (e.g. KEY_VALUES_MISMATCH); never file content.
    reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or type(exc).__name__
    return str(reason)


def describe(settings: MqttSecurity) -> str:
    """One line for ``check-config``: transport and identity, paths only, never a secret."""
    if settings.tls:
        trust = (f"CA {settings.ca_file}" if settings.ca_file else "the system's CAs")
        verify = ("WITHOUT verifying the broker" if settings.tls_insecure_skip_verify
                  else f"broker verified against {trust}")
        transport = f"TLS, {verify}"
    else:
        transport = f"plain TCP ({settings.plain_reason})"
    who = []
    if settings.cert_file:
        who.append(f"client certificate {settings.cert_file}")
    if settings.username:
        who.append(f"user {settings.username}"
                   + (f" with password from {shown_secret_path(settings.password_file)}"
                      if settings.password_file else ""))
    return f"{transport}; {', '.join(who) if who else 'no client credentials'}"


def diagnose_connect(host: str, port: int, settings: MqttSecurity, timeout: float = 3.0) -> str:
    """Why a connection to the broker fails before MQTT, in words a technician can act on.

    paho's connect-failure callback says only that it failed. This opens the same TCP
    connection and TLS handshake once, with the client's own settings, and names the real
    reason: refused or unreachable, a certificate issued for another name, an unknown CA,
    an expired certificate, a broker that does not speak TLS there. Credentials refused by
    the broker come later, in the CONNACK, and are logged there.
    """
    import socket
    import ssl  # as in apply(): only when a connection fails

    where = f"{host}:{port}"
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except ConnectionRefusedError:
        return f"connection refused: nothing listens on {where}"
    except TimeoutError:
        return f"no answer from {where} within {timeout:g} s (a firewall, or the wrong host)"
    except OSError as exc:
        return f"cannot reach {where}: {exc.strerror or exc}"
    with sock:
        if not settings.tls:
            return f"TCP to {where} works; the broker closed the MQTT connection"
        try:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            if settings.tls_insecure_skip_verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            elif settings.ca_file is not None:
                context.load_verify_locations(cafile=str(settings.ca_file))
            else:
                context.load_default_certs()
            if settings.cert_file is not None and settings.key_file is not None:
                context.load_cert_chain(str(settings.cert_file), str(settings.key_file))
            with context.wrap_socket(sock, server_hostname=host) as tls:
                tls.do_handshake()
        except ssl.SSLCertVerificationError as exc:
            return _certificate_problem(exc.verify_message or str(exc), host, settings)
        except ssl.SSLError as exc:
            reason = exc.reason or str(exc)
            if "WRONG_VERSION_NUMBER" in reason or "RECORD_LAYER" in reason:
                return (f"TLS handshake with {where} failed ({reason}): the broker does not "
                        "speak TLS on this port (plain MQTT is usually 1883, TLS 8883)")
            return f"TLS handshake with {where} failed: {reason}"
        except (ConnectionResetError, BrokenPipeError):
            return (f"{where} closed the connection during the TLS handshake: the broker does not "
                    "speak TLS on this port (plain MQTT is usually 1883, TLS 8883), or it wants a "
                    "client certificate (cert_file, key_file)")
        except OSError as exc:
            return f"TLS handshake with {where} failed: {exc.strerror or exc}"
    return f"TCP and TLS to {where} work; the broker closed the MQTT connection"


def _certificate_problem(message: str, host: str, settings: MqttSecurity) -> str:
    text = message.rstrip(".")
    if "Hostname mismatch" in text or "IP address mismatch" in text:
        return (f"the broker's certificate is not valid for the name {host!r} ({text}): connect "
                "with a name the certificate was issued for, or reissue it with that name "
                "(lifeline-hub make-ca --broker-name)")
    if "expired" in text:
        return f"the broker's certificate has expired ({text}): reissue it"
    if "not yet valid" in text:
        return f"the broker's certificate is not valid yet ({text}): check this machine's clock"
    if "issuer" in text or "self-signed" in text or "self signed" in text:
        ca = str(settings.ca_file) if settings.ca_file else "the system's CAs"
        return (f"the broker's certificate was signed by a CA we do not trust ({text}): ca_file "
                f"({ca}) must be the CA that signed it")
    return f"the broker's certificate was not accepted: {text}"
