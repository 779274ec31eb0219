"""systemd's notify protocol (READY=1, WATCHDOG=1, STOPPING=1, STATUS=...), without a dependency.

With ``Type=notify`` systemd passes a datagram socket in ``$NOTIFY_SOCKET``;
outside systemd the variable is unset and every call is a no-op.
"""

from __future__ import annotations

import os
import socket


class Notifier:
    def __init__(self) -> None:
        address = os.environ.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):  # abstract namespace socket
            address = "\0" + address[1:]
        self.address = address
        usec = os.environ.get("WATCHDOG_USEC", "")
        self.watchdog_s = int(usec) / 1e6 if usec.isdigit() else 0.0

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def notify(self, *fields: str, wait_s: float = 1.0) -> bool:
        """Send ``fields`` (e.g. ``"READY=1"``); False when not under systemd or on failure.

        Never blocks the caller longer than ``wait_s``: a listener that stops reading
        its socket fills the datagram queue, and a blocking send would hang the main
        loop that is supposed to prove it is alive."""
        if not self.address:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.settimeout(wait_s)
                sock.sendto("\n".join(fields).encode(), self.address)
        except OSError:
            return False
        return True

    def ready(self, status: str = "") -> bool:
        return self.notify("READY=1", *([f"STATUS={status}"] if status else []))

    def watchdog(self) -> bool:
        # a ping that cannot go now is skipped, never waited for: the next one follows
        return self.notify("WATCHDOG=1", wait_s=0.0)

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")
