"""The board's operators: names and scrypt password hashes in a file hub.toml names.

One line per operator, ``name:scrypt$N$r$p$salt$hash`` (salt and hash in base64);
``#`` starts a comment. The file holds no passwords, only hashes, but is written
0600 all the same. ``lifeline-hub board-user add NAME`` writes it (the password
read from the terminal, or a file with ``--password-file``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from lifeline.errors import HubError

__all__ = ["NAME", "UsersError", "hash_password", "load_users", "remove_user", "set_user",
           "verify_password"]

# scrypt at N=2**14, r=8, p=1 (the parameters OWASP names): 16 MiB and 122 ms a check
# on the shared 2-core dev machine (20 verify_password calls timed with time.perf_counter)
N, R, P = 2 ** 14, 8, 1
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD = 8


class UsersError(HubError):
    """The operators file cannot be read or written, or a request about it is wrong."""


@dataclass(frozen=True, slots=True)
class _Hash:
    n: int
    r: int
    p: int
    salt: bytes
    digest: bytes


def hash_password(password: str, salt: bytes | None = None, n: int = N) -> str:
    """``scrypt$N$r$p$salt$hash`` for ``password`` (a fresh random salt unless given).

    >>> h = hash_password("correct horse", salt=b"0123456789abcdef", n=2 ** 4)
    >>> h.split("$")[:4]
    ['scrypt', '16', '8', '1']
    >>> verify_password("correct horse", h), verify_password("wrong", h)
    (True, False)
    """
    salt = secrets.token_bytes(16) if salt is None else salt
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=R, p=P, dklen=32)
    return "$".join(("scrypt", str(n), str(R), str(P), base64.b64encode(salt).decode(),
                     base64.b64encode(digest).decode()))


def _parse(text: str) -> _Hash | None:
    parts = text.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return None
    try:
        return _Hash(int(parts[1]), int(parts[2]), int(parts[3]), base64.b64decode(parts[4]),
                     base64.b64decode(parts[5]))
    except ValueError:
        return None


def verify_password(password: str, stored: str) -> bool:
    """Does ``password`` match ``stored``? (constant-time comparison of the digests)"""
    found = _parse(stored)
    if found is None:
        return False
    digest = hashlib.scrypt(password.encode(), salt=found.salt, n=found.n, r=found.r,
                            p=found.p, dklen=len(found.digest), maxmem=64 * 1024 * 1024)
    return hmac.compare_digest(digest, found.digest)


def load_users(path: Path) -> dict[str, str]:
    """name -> stored hash; a missing file is no operators (the board stays read-only)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise UsersError(f"cannot read the board's operators file {path}: {exc}") from exc
    users: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, stored = line.partition(":")
        if not sep or not NAME.match(name) or _parse(stored) is None:
            raise UsersError(f"{path}:{number}: not 'name:scrypt$N$r$p$salt$hash'; write the "
                             "file with lifeline-hub board-user add NAME")
        users[name] = stored
    return users


def _write(path: Path, users: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("# lifeline-hub board operators: name:scrypt hash "
                     "(lifeline-hub board-user add NAME)\n")
        for name in sorted(users):
            handle.write(f"{name}:{users[name]}\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def set_user(path: Path, name: str, password: str) -> bool:
    """Add ``name`` or change its password; True if it was new."""
    if not NAME.match(name):
        raise UsersError(f"{name!r} is not an operator name (letters, digits, '.', '_', '@', "
                         "'-'; at most 64)")
    if len(password) < MIN_PASSWORD:
        raise UsersError(f"a password needs at least {MIN_PASSWORD} characters")
    users = load_users(path)
    new = name not in users
    users[name] = hash_password(password)
    _write(path, users)
    return new


def remove_user(path: Path, name: str) -> None:
    users = load_users(path)
    if name not in users:
        raise UsersError(f"there is no operator {name!r} in {path}")
    del users[name]
    _write(path, users)
