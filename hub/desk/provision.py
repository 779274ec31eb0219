"""Device credentials: a project CA, certificates, Mosquitto password entries, the registry.

``lifeline-hub make-ca --out DIR --broker-name NAME`` creates the project CA and
the broker's TLS certificate. ``lifeline-hub provision-device DEVICE_ID --zone Z``
gives one device its credentials (a random password in a Mosquitto password
entry, and/or a client certificate signed by the project CA), registers it in
the hub's device registry and prints the ``edge.toml`` snippet. Secrets go to
files of mode 0600, never to stdout, the log, or a command line (the password
reaches ``mosquitto_passwd`` on its standard input).

``lifeline-hub revoke-device DEVICE_ID`` takes a device's credentials away: the
registry lists it as revoked (the hub refuses its messages within a second, or
at once on SIGHUP), its password entry leaves Mosquitto's password file, and
with ``--ca`` the project CA signs a new certificate revocation list (CRL) with
the serial of every revoked device's certificate, for the broker's ``crlfile``.

The certificate functions are pure apart from key generation: time is an
argument, so tests make expired certificates with the same code.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import secrets
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hub.registry import (
    AUTH_KINDS,
    RESERVED_IDS,
    DeviceEntry,
    add_device,
    load_registry,
    name_problem,
    revoke_device,
)
from lifeline.errors import HubError
from lifeline.wire import format_ts

if TYPE_CHECKING:
    from hub.config import HubConfig

__all__ = ["Issued", "add_consumer_arguments", "add_make_ca_arguments", "add_provision_arguments",
           "add_revoke_arguments", "certificate_serial", "issue_certificate", "make_ca", "make_crl",
           "mosquitto_passwd", "provision_consumer", "provision_device", "revoke",
           "run_consumer", "run_make_ca", "run_provision", "run_revoke", "write_private"]

CA_DAYS = 3650
CERT_DAYS = 825
MOSQUITTO_PASSWD = "/usr/bin/mosquitto_passwd"
DEFAULT_PASSWD_FILE = Path("/etc/mosquitto/lifeline/passwd")
DEFAULT_CRL_FILE = Path("/etc/mosquitto/lifeline/crl.pem")
DEFAULT_ACL_FILE = Path("/etc/mosquitto/lifeline/acl")
CONSUMER_PREFIX = "consumer/"  # a '/' keeps Mosquitto's device patterns off these users
# A CRL past its next update makes OpenSSL refuse every client certificate: the broker's
# list is valid as long as the CA, and re-signed at every revocation.
CRL_DAYS = CA_DAYS


class ProvisionError(HubError):
    """Provisioning cannot go on; the message says what to do."""


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key, both PEM."""

    cert_pem: bytes
    key_pem: bytes


def _key_and_name(common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Name]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Lifeline"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    return key, name


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_ca(common_name: str, now: datetime, days: int = CA_DAYS) -> Issued:
    """A self-signed CA certificate (may sign end-entity certificates only)."""
    key, name = _key_and_name(common_name)
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=True, crl_sign=True,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256()))
    return Issued(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def issue_certificate(ca: Issued, common_name: str, now: datetime, *, days: int = CERT_DAYS,
                      server_names: tuple[str, ...] = (),
                      not_before: datetime | None = None) -> Issued:
    """A certificate for ``common_name`` signed by ``ca``: a server certificate (with
    ``server_names`` as DNS names / IP addresses) if any are given, else a client one."""
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem)
    ca_key = serialization.load_pem_private_key(ca.key_pem, password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ProvisionError("the CA key is not an EC key made by make-ca")
    key, name = _key_and_name(common_name)
    start = not_before if not_before is not None else now - timedelta(minutes=5)
    builder = (x509.CertificateBuilder()
               .subject_name(name).issuer_name(ca_cert.subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(now + timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                            key_encipherment=False, data_encipherment=False,
                                            key_agreement=True, key_cert_sign=False,
                                            crl_sign=False, encipher_only=False,
                                            decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                              critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                   ca_key.public_key()), critical=False))
    if server_names:
        alt: list[x509.GeneralName] = []
        for item in server_names:
            try:
                alt.append(x509.IPAddress(ipaddress.ip_address(item)))
            except ValueError:
                alt.append(x509.DNSName(item))
        builder = (builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                                  critical=False))
    else:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    return Issued(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def certificate_serial(cert_pem: bytes) -> str:
    """The serial number of a PEM certificate, in lower-case hex (as the registry keeps it)."""
    return format(x509.load_pem_x509_certificate(cert_pem).serial_number, "x")


def make_crl(ca: Issued, revoked: list[tuple[str, datetime]], now: datetime,
             days: int = CRL_DAYS) -> bytes:
    """A CRL signed by ``ca`` listing ``revoked`` (hex serial, revocation time), PEM."""
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem)
    ca_key = serialization.load_pem_private_key(ca.key_pem, password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ProvisionError("the CA key is not an EC key made by make-ca")
    builder = (x509.CertificateRevocationListBuilder()
               .issuer_name(ca_cert.subject).last_update(now - timedelta(minutes=5))
               .next_update(now + timedelta(days=days)))
    for serial, when in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(int(serial, 16))
            .revocation_date(when).build())
    return builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def write_private(path: Path, data: bytes, *, replace: bool = False) -> None:
    """Write a secret with mode 0600 from the first byte (never briefly world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if replace else os.O_EXCL)
    try:
        handle = os.open(path, flags, 0o600)
    except FileExistsError as exc:
        raise ProvisionError(f"{path} already exists; use --force to replace it") from exc
    with os.fdopen(handle, "wb") as out:
        os.fchmod(out.fileno(), 0o600)
        out.write(data)


def write_public(path: Path, data: bytes, *, replace: bool = False) -> None:
    if path.exists() and not replace:
        raise ProvisionError(f"{path} already exists; use --force to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(0o644)


def mosquitto_passwd(passwd_file: Path, username: str, password: str,
                     program: str = MOSQUITTO_PASSWD) -> None:
    """Add or update ``username`` in a Mosquitto password file (PBKDF2-SHA512 hash).

    The password goes to mosquitto_passwd's standard input, never its command line
    (which any user can read in /proc).
    """
    found = shutil.which(program) or shutil.which("mosquitto_passwd")
    if not found:
        raise ProvisionError("mosquitto_passwd is not installed; run: apt-get install -y mosquitto")
    args = [found] + ([] if passwd_file.exists() else ["-c"]) + [str(passwd_file), username]
    done = subprocess.run(args, input=f"{password}\n{password}\n".encode(), capture_output=True,
                          timeout=30, check=False)
    if done.returncode != 0:
        # mosquitto_passwd's own message names the file, never the password
        raise ProvisionError(f"mosquitto_passwd failed for {passwd_file}: "
                             f"{done.stderr.decode(errors='replace').strip()}")
    if passwd_file.stat().st_mode & 0o007:
        passwd_file.chmod(0o640)


@dataclass(frozen=True)
class Provisioned:
    """What provisioning wrote; ``snippet`` is the edge.toml text to give the technician."""

    files: tuple[Path, ...]
    snippet: str


def provision_device(device: str, zone: str, *, registry: Path, out_dir: Path, auth: str,
                     now: datetime, broker_host: str, broker_port: int,
                     passwd_file: Path | None = None, ca_dir: Path | None = None,
                     edge_dir: Path = Path("/etc/lifeline"), replace: bool = False,
                     program: str = MOSQUITTO_PASSWD) -> Provisioned:
    """Create ``device``'s credentials, register it, and return the files and the snippet."""
    for what, value in (("device id", device), ("zone", zone)):
        if name_problem(value):
            raise ProvisionError(f"{what} {value!r} is not valid (letters, digits, '.', '_', "
                                 "'-'; at most 64, starting with a letter or digit)")
    if device in RESERVED_IDS:
        raise ProvisionError(f"{device!r} is reserved for the hub; choose another device id")
    if auth not in AUTH_KINDS:
        raise ProvisionError(f"--auth must be one of {', '.join(AUTH_KINDS)}")
    current = load_registry(registry)
    known = current.devices
    if device in known and not replace:
        raise ProvisionError(f"device {device!r} is already registered in {registry} (zone "
                             f"{known[device].zone!r}); use --force to issue new credentials")
    if device in current.revoked and not replace:
        raise ProvisionError(f"device {device!r} was revoked ({current.revoked[device].revoked})"
                             f" in {registry}; use --force to give it new credentials")
    files: list[Path] = []
    serial = ""
    # Files of an unregistered device are leftovers of an attempt that failed before it
    # registered (say mosquitto_passwd could not write): a retry replaces them.
    replace = replace or device not in known
    mqtt = [f'host = "{broker_host}"', f"port = {broker_port}"]
    if auth in ("certificate", "both"):
        if ca_dir is None:
            raise ProvisionError("--auth certificate needs --ca DIR (made by lifeline-hub make-ca)")
        try:
            ca = Issued((ca_dir / "ca.crt").read_bytes(), (ca_dir / "ca.key").read_bytes())
        except OSError as exc:
            raise ProvisionError(f"cannot read the CA in {ca_dir}: {exc.strerror}") from exc
        issued = issue_certificate(ca, device, now)
        serial = certificate_serial(issued.cert_pem)
        write_public(out_dir / f"{device}.crt", issued.cert_pem, replace=replace)
        write_private(out_dir / f"{device}.key", issued.key_pem, replace=replace)
        files += [out_dir / f"{device}.crt", out_dir / f"{device}.key"]
        mqtt += [f'cert_file = "{edge_dir / (device + ".crt")}"',
                 f'key_file = "{edge_dir / (device + ".key")}"']
    mqtt.insert(2, f'ca_file = "{edge_dir / "ca.crt"}"')
    if auth in ("password", "both"):
        password = secrets.token_urlsafe(32)
        # the broker first: if it fails, nothing of this password is left behind
        mosquitto_passwd(passwd_file or DEFAULT_PASSWD_FILE, device, password, program)
        write_private(out_dir / f"{device}.password", f"{password}\n".encode(), replace=replace)
        files.append(out_dir / f"{device}.password")
        mqtt += [f'username = "{device}"',
                 f'password_file = "{edge_dir / (device + ".password")}"']
    add_device(registry, device, DeviceEntry(zone=zone, auth=auth, provisioned=format_ts(
        now.timestamp()), certificate_serial=serial), replace=True)
    snippet = "\n".join([f'[device]\nid = "{device}"\nzone = "{zone}"\n', "[mqtt]", *mqtt, ""])
    return Provisioned(tuple(files), snippet)


# -- command line (registered in hub/cli.py's table) ---------------------------------------
# (--config and --log-level are added to every command by lifeline/clicommon.normalise_common)

def add_provision_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("device", metavar="DEVICE_ID", help="the new device's id")
    parser.add_argument("--zone", required=True, help="the zone the device is installed in")
    parser.add_argument("--auth", choices=AUTH_KINDS, default="password",
                        help="password (default), certificate, or both")
    parser.add_argument("--out", type=Path, default=Path("."),
                        help="directory for the device's secret files (default: .)")
    parser.add_argument("--mosquitto-passwd", type=Path, default=DEFAULT_PASSWD_FILE,
                        help=f"Mosquitto password file to add the device to "
                             f"(default: {DEFAULT_PASSWD_FILE})")
    parser.add_argument("--ca", type=Path, help="directory with ca.crt and ca.key (make-ca)")
    parser.add_argument("--broker-host", default=None,
                        help="broker host name as the device reaches it (default: this host)")
    parser.add_argument("--broker-port", type=int, default=8883, help="default: 8883")
    parser.add_argument("--edge-dir", type=Path, default=Path("/etc/lifeline"),
                        help="where the files will live on the board (default: /etc/lifeline)")
    parser.add_argument("--force", action="store_true",
                        help="issue new credentials for a device already registered")


def run_provision(args: argparse.Namespace, config: HubConfig) -> int:
    registry = config.security.registry
    if registry is None:
        print(f"{args.config}: security.registry: is required to provision devices "
              '(e.g. registry = "devices.toml")', file=sys.stderr)
        return 2
    try:
        done = provision_device(
            args.device, args.zone, registry=registry, out_dir=args.out, auth=args.auth,
            now=datetime.now(UTC), broker_host=args.broker_host or socket.getfqdn(),
            broker_port=args.broker_port, passwd_file=args.mosquitto_passwd, ca_dir=args.ca,
            edge_dir=args.edge_dir, replace=args.force)
    except ProvisionError as exc:
        print(f"lifeline-hub: {exc}", file=sys.stderr)
        return 1
    print(f"# device {args.device} registered in {registry} (zone {args.zone}).")
    print(f"# Copy to the board's {args.edge_dir}/, owner root, group lifeline, mode 0640:")
    for path in done.files:
        print(f"#   {path}")
    print(f"#   and the project CA's certificate as {args.edge_dir / 'ca.crt'} (mode 0644)")
    if args.auth in ("password", "both"):
        print("# Reload the broker to accept the new password: sudo systemctl reload mosquitto")
    print("# edge.toml:")
    print(done.snippet, end="")
    return 0


def add_make_ca_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, type=Path,
                        help="directory for ca.crt, ca.key, broker.crt, broker.key, hub.crt, hub.key")
    parser.add_argument("--broker-name", action="append", default=[], required=True,
                        help="a DNS name or IP address devices use for the broker (repeatable)")
    parser.add_argument("--force", action="store_true",
                        help="start over with a new CA (every certificate it signed is void); "
                             "without it, existing files are kept and reused")


def certificate_names(cert_pem: bytes) -> set[str]:
    """The DNS names and IP addresses a server certificate is valid for."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    try:
        alt = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return ({str(n) for n in alt.get_values_for_type(x509.DNSName)}
            | {str(a) for a in alt.get_values_for_type(x509.IPAddress)})


def signed_by(cert_pem: bytes, ca: Issued) -> bool:
    """True if ``cert_pem`` names ``ca`` as its issuer (by subject and key identifier)."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem)
    if cert.issuer != ca_cert.subject:
        return False
    try:
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return True
    return aki.key_identifier == ski.digest


def make_ca_files(out: Path, broker_names: tuple[str, ...], now: datetime, *,
                  force: bool = False) -> list[str]:
    """Create what is missing in ``out`` (CA, broker and hub certificates, an empty CRL) and
    say what was done, one line each. Re-runnable: an existing CA is kept and reused, so
    adding a broker name later reissues only ``broker.crt``/``broker.key`` (the devices'
    certificates stay valid); ``force`` starts over with a new CA."""
    done: list[str] = []
    if not force and (out / "ca.crt").exists() and (out / "ca.key").exists():
        try:
            ca = Issued((out / "ca.crt").read_bytes(), (out / "ca.key").read_bytes())
        except OSError as exc:
            raise ProvisionError(f"cannot read the CA in {out}: {exc.strerror}") from exc
        done.append(f"kept the existing CA ({out}/ca.crt)")
    else:
        ca = make_ca("Lifeline project CA", now)
        write_public(out / "ca.crt", ca.cert_pem, replace=force)
        write_private(out / "ca.key", ca.key_pem, replace=force)
        done.append(f"wrote a new CA: {out}/ca.crt, ca.key (keep ca.key away from the broker)")
        force = True  # everything signed by an older CA is void now
    broker_crt = out / "broker.crt"
    wanted = set(broker_names)
    if not force and broker_crt.exists() and (out / "broker.key").exists() \
            and wanted <= certificate_names(broker_crt.read_bytes()) \
            and signed_by(broker_crt.read_bytes(), ca):
        done.append(f"kept broker.crt (valid for {', '.join(sorted(wanted))})")
    else:
        names = tuple(dict.fromkeys([*broker_names, *(
            sorted(certificate_names(broker_crt.read_bytes())) if broker_crt.exists()
            and not force else [])]))
        broker = issue_certificate(ca, broker_names[0], now, server_names=names)
        write_public(broker_crt, broker.cert_pem, replace=True)
        write_private(out / "broker.key", broker.key_pem, replace=True)
        done.append(f"wrote broker.crt and broker.key for {', '.join(names)} (restart or reload "
                    "the broker to use them)")
    if not force and (out / "hub.crt").exists() and (out / "hub.key").exists():
        done.append("kept hub.crt and hub.key")
    else:
        hub = issue_certificate(ca, "lifeline-hub", now)
        write_public(out / "hub.crt", hub.cert_pem, replace=True)
        write_private(out / "hub.key", hub.key_pem, replace=True)
        done.append("wrote hub.crt and hub.key (the hub's client certificate, CN lifeline-hub)")
    if not force and (out / "crl.pem").exists():
        done.append("kept crl.pem")
    else:
        write_public(out / "crl.pem", make_crl(ca, [], now), replace=True)
        done.append("wrote crl.pem (no certificate revoked yet: for the broker's crlfile)")
    return done


def run_make_ca(args: argparse.Namespace, config: HubConfig | None) -> int:
    """``config`` is not read: make-ca runs before hub.toml's TLS files exist."""
    try:
        done = make_ca_files(args.out, tuple(args.broker_name), datetime.now(UTC),
                             force=args.force)
    except ProvisionError as exc:
        print(f"lifeline-hub: {exc}", file=sys.stderr)
        return 1
    for line in done:
        print(f"# {line}")
    return 0


# -- revocation ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Revoked:
    """What ``revoke`` did: the password entry removed, the CRL written (paths or None)."""

    password_removed: bool
    crl: Path | None
    certificate_serial: str
    certificate_unknown: bool = False  # provisioned with a certificate, serial not recorded


def revoke(device: str, *, registry: Path, now: datetime, why: str = "",
           passwd_file: Path | None = None, ca_dir: Path | None = None,
           crl_file: Path = DEFAULT_CRL_FILE, program: str = "mosquitto_passwd") -> Revoked:
    """Revoke ``device``: registry first (the hub refuses it from then on), then its password
    entry (if ``passwd_file`` holds one), then -- with ``ca_dir`` -- the CRL of every revoked
    device's certificate."""
    before = load_registry(registry).devices.get(device)
    try:
        entry = revoke_device(registry, device, format_ts(now.timestamp()), why)
    except ValueError as exc:
        raise ProvisionError(str(exc)) from exc
    unknown = (before is not None and before.auth in ("certificate", "both")
               and not entry.certificate_serial)
    removed = False
    if passwd_file is not None and passwd_file.exists() and any(
            line.split(":", 1)[0] == device for line in passwd_file.read_text().splitlines()):
        found = shutil.which(program) or shutil.which("mosquitto_passwd")
        if not found:
            raise ProvisionError("mosquitto_passwd is not installed; run: apt-get install -y "
                                 "mosquitto")
        done = subprocess.run([found, "-D", str(passwd_file), device], capture_output=True,
                              timeout=30, check=False)
        if done.returncode != 0:
            raise ProvisionError(f"mosquitto_passwd -D failed for {passwd_file}: "
                                 f"{done.stderr.decode(errors='replace').strip()}")
        removed = True
    crl = None
    if ca_dir is not None:
        try:
            ca = Issued((ca_dir / "ca.crt").read_bytes(), (ca_dir / "ca.key").read_bytes())
        except OSError as exc:
            raise ProvisionError(f"cannot read the CA in {ca_dir}: {exc.strerror}") from exc
        listed = [(r.certificate_serial, _when(r.revoked, now))
                  for r in load_registry(registry).revoked.values() if r.certificate_serial]
        write_public(crl_file, make_crl(ca, listed, now), replace=True)
        crl = crl_file
    return Revoked(removed, crl, entry.certificate_serial, unknown)


def _when(text: str, default: datetime) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return default


def add_revoke_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("device", metavar="DEVICE_ID", help="the device to revoke")
    parser.add_argument("--why", default="", help="reason, kept in the registry")
    parser.add_argument("--mosquitto-passwd", type=Path, default=DEFAULT_PASSWD_FILE,
                        help="Mosquitto password file to remove the device from "
                             f"(default: {DEFAULT_PASSWD_FILE})")
    parser.add_argument("--ca", type=Path, help="directory with ca.crt and ca.key (make-ca): "
                        "sign a new CRL listing every revoked device's certificate")
    parser.add_argument("--crl", type=Path, default=DEFAULT_CRL_FILE,
                        help=f"where the CRL goes, the broker's crlfile (default: {DEFAULT_CRL_FILE})")


def run_revoke(args: argparse.Namespace, config: HubConfig) -> int:
    registry = config.security.registry
    if registry is None:
        print(f"{args.config}: security.registry: is required to revoke devices", file=sys.stderr)
        return 2
    try:
        done = revoke(args.device, registry=registry, now=datetime.now(UTC), why=args.why,
                      passwd_file=args.mosquitto_passwd, ca_dir=args.ca, crl_file=args.crl)
    except ProvisionError as exc:
        print(f"lifeline-hub: {exc}", file=sys.stderr)
        return 1
    print(f"# device {args.device} revoked in {registry}: the running hub refuses its messages "
          "within a second (at once on SIGHUP).")
    if done.password_removed:
        print(f"# its password entry was removed from {args.mosquitto_passwd}.")
    if done.crl is not None:
        print(f"# {done.crl} lists every revoked certificate"
              + (f" (this device's: serial {done.certificate_serial})."
                 if done.certificate_serial else "."))
    elif done.certificate_serial:
        print(f"# its certificate (serial {done.certificate_serial}) is NOT in a CRL yet: run "
              "again with --ca DIR to sign one for the broker's crlfile.")
    if done.certificate_unknown:
        print(f"# WARNING: it has a certificate whose serial the registry does not know (issued "
              "before serials were recorded): add certificate_serial = \"<hex>\" (openssl x509 "
              f"-noout -serial -in {args.device}.crt, lower case) to its [revoked] entry in "
              f"{registry} and run this again with --ca DIR.")
    print("# Make the broker drop it too: sudo systemctl reload mosquitto")
    return 0


# -- read-only consumers -----------------------------------------------------------------------

def consumer_block(name: str) -> str:
    """The ACL lines of consumer ``name``: read the incident stream, nothing else."""
    from lifeline.wire import INCIDENT_TOPIC

    return f"user {CONSUMER_PREFIX}{name}\ntopic read {INCIDENT_TOPIC}\n"


def provision_consumer(name: str, *, acl_file: Path, passwd_file: Path, out_dir: Path,
                       replace: bool = False, program: str = MOSQUITTO_PASSWD) -> Path:
    """Give read-only consumer ``name`` a password (user ``consumer/NAME``) and its ACL
    block; return the file holding the password (mode 0600)."""
    if name_problem(name):
        raise ProvisionError(f"consumer name {name!r} is not valid (letters, digits, '.', '_', "
                             "'-'; at most 64, starting with a letter or digit)")
    try:
        acl = acl_file.read_text()
    except OSError as exc:
        raise ProvisionError(f"cannot read the broker's ACL {acl_file}: {exc.strerror}") from exc
    block = consumer_block(name)
    present = block in acl
    if present and not replace:
        raise ProvisionError(f"consumer {name!r} is already in {acl_file}; use --force to give "
                             "it a new password")
    password = secrets.token_urlsafe(32)
    secret = out_dir / f"consumer-{name}.password"
    write_private(secret, f"{password}\n".encode(), replace=replace)
    mosquitto_passwd(passwd_file, CONSUMER_PREFIX + name, password, program)
    if not present:
        with open(acl_file, "a") as out:
            out.write(("" if acl.endswith("\n") else "\n") + f"\n# consumer {name}: "
                      "lifeline-hub provision-consumer\n" + block)
    return secret


def add_consumer_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME",
                        help=f"the consumer; its broker user is {CONSUMER_PREFIX}NAME")
    parser.add_argument("--acl", type=Path, default=DEFAULT_ACL_FILE,
                        help=f"the broker's ACL file to add it to (default: {DEFAULT_ACL_FILE})")
    parser.add_argument("--mosquitto-passwd", type=Path, default=DEFAULT_PASSWD_FILE,
                        help=f"Mosquitto password file (default: {DEFAULT_PASSWD_FILE})")
    parser.add_argument("--out", type=Path, default=Path("."),
                        help="directory for the consumer's password file (default: .)")
    parser.add_argument("--force", action="store_true", help="give an existing consumer a new "
                        "password")


def run_consumer(args: argparse.Namespace, config: HubConfig) -> int:
    from lifeline.wire import INCIDENT_TOPIC

    try:
        secret = provision_consumer(args.name, acl_file=args.acl, passwd_file=args.mosquitto_passwd,
                                    out_dir=args.out, replace=args.force)
    except ProvisionError as exc:
        print(f"lifeline-hub: {exc}", file=sys.stderr)
        return 1
    print(f"# consumer {args.name}: broker user {CONSUMER_PREFIX}{args.name}, may read "
          f"{INCIDENT_TOPIC} only (added to {args.acl}).")
    print(f"# Its password is in {secret} (mode 0600): give it to the consumer's MQTT client "
          "with the project CA's ca.crt; never put it on a command line.")
    print("# Reload the broker: sudo systemctl reload mosquitto")
    return 0
