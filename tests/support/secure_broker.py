"""A Mosquitto run with the shipped hardware/mosquitto config: TLS listener, passwords, ACL.

The test broker uses ``hardware/mosquitto/mosquitto.conf`` and ``acl`` as shipped (the ACL
copied into the broker's directory), with only the paths, the port and the log destination
rewritten, so the tests
check the configuration a hub server really runs. Certificates come from
``hub.desk.provision`` (the code ``make-ca`` and ``provision-device`` use).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from hub.desk.provision import Issued, issue_certificate, make_ca, make_crl, mosquitto_passwd, write_private
from lifeline.localbroker import find_mosquitto, free_port, stop_process

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "hardware" / "mosquitto"
HUB_USER = "lifeline-hub"


@dataclass
class SecureBroker:
    """Shipped config in ``workdir``; ``require_certificate`` switches the listener's mode."""

    workdir: Path
    require_certificate: bool = False
    port: int = 0
    plain_port: int = 0           # an extra plain listener, only if asked for (0 = none)
    process: subprocess.Popen[bytes] | None = None
    passwords: dict[str, str] = field(default_factory=dict)
    server_names: tuple[str, ...] = ("localhost", "127.0.0.1")
    ca_given: Issued | None = None   # a project CA to trust (default: a fresh one)
    ca: Issued = field(init=False)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        now = datetime.now(UTC)
        self.ca = self.ca_given or make_ca("Lifeline test CA", now)
        broker = issue_certificate(self.ca, self.server_names[0], now,
                                   server_names=self.server_names)
        (self.workdir / "ca.crt").write_bytes(self.ca.cert_pem)
        write_private(self.workdir / "ca.key", self.ca.key_pem)
        (self.workdir / "broker.crt").write_bytes(broker.cert_pem)
        write_private(self.workdir / "broker.key", broker.key_pem)
        (self.workdir / "passwd").touch(mode=0o600)
        # the shipped ACL, copied: provision-consumer appends to it as on a server
        (self.workdir / "acl").write_text((SHIPPED / "acl").read_text())

    @property
    def ca_file(self) -> Path:
        return self.workdir / "ca.crt"

    @property
    def log_path(self) -> Path:
        return self.workdir / "mosquitto.log"

    def add_user(self, name: str, password: str) -> None:
        """A Mosquitto password entry, via mosquitto_passwd (as provision-device does)."""
        mosquitto_passwd(self.workdir / "passwd", name, password)
        self.passwords[name] = password

    def client_certificate(self, name: str) -> tuple[Path, Path]:
        """A client certificate for ``name`` signed by the broker's CA: (cert, key) files."""
        issued = issue_certificate(self.ca, name, datetime.now(UTC))
        cert, key = self.workdir / f"{name}.crt", self.workdir / f"{name}.key"
        cert.write_bytes(issued.cert_pem)
        write_private(key, issued.key_pem, replace=True)
        return cert, key

    def config_text(self) -> str:
        text = (SHIPPED / "mosquitto.conf").read_text()
        text = text.replace("/etc/mosquitto/lifeline/", f"{self.workdir}/")
        text = re.sub(r"(?m)^listener 8883$", f"listener {self.port} 127.0.0.1", text)
        if self.require_certificate:
            text = re.sub(r"(?m)^require_certificate false$", "require_certificate true", text)
            text = re.sub(r"(?m)^#use_identity_as_username true$", "use_identity_as_username true",
                          text)
            text = re.sub(r"(?m)^#crlfile ", "crlfile ", text)
            if not (self.workdir / "crl.pem").exists():  # as make-ca writes it: none revoked
                (self.workdir / "crl.pem").write_bytes(make_crl(self.ca, [], datetime.now(UTC)))
        text += f"\npersistence_location {self.workdir}/\nlog_dest file {self.log_path}\n"
        if os.geteuid() == 0:  # as root, mosquitto would switch to user mosquitto: keep root
            text += "user root\n"
        if self.plain_port:
            text += f"\nlistener {self.plain_port} 127.0.0.1\n"
        return text

    def start(self, timeout: float = 10.0) -> None:
        config = self.workdir / "mosquitto.conf"
        config.write_text(self.config_text())
        self.process = subprocess.Popen([find_mosquitto(), "-c", str(config)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                error = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"mosquitto exited with {self.process.returncode}: {error}")
            if self.log_path.exists() and f"port {self.port}" in self.log_path.read_text():
                time.sleep(0.05)
                return
            time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen on port {self.port} within {timeout} s")

    def reload(self) -> None:
        """SIGHUP: Mosquitto re-reads the password file and the ACL."""
        assert self.process is not None
        self.process.send_signal(signal.SIGHUP)
        time.sleep(0.3)

    def stop(self) -> None:
        if self.process is None:
            return
        stop_process(self.process)
        if self.process.stderr:
            self.process.stderr.close()
        self.process = None
