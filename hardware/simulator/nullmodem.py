"""A null-modem cable between two pseudo-terminals, with a hand on the wire.

A Modbus peer (pymodbus's RTU server) and the code under test both want to
*open a serial device by path*; one ``os.openpty()`` pair gives only one path.
``NullModem`` opens two pairs and copies bytes between their master sides in a
background thread, so ``a_path`` and ``b_path`` behave like two RS-485 adapters
wired together. Faults are injected on the wire, where they happen in the field:

* ``mode = "pass"``   – bytes go through unchanged;
* ``mode = "drop"``   – everything is swallowed (a device that stopped answering);
* ``mode = "garble"`` – every byte from B to A is flipped (noise on the line).

``close_a()`` makes side A vanish (USB adapter unplugged): opening ``a_path``
fails from then on, as for a real unplugged device. Used by the demo simulator
and the driver tests.
"""

from __future__ import annotations

import os
import select
import threading
import tty


class NullModem:
    def __init__(self) -> None:
        self.a_master, self.a_slave = os.openpty()
        self.b_master, self.b_slave = os.openpty()
        for fd in (self.a_slave, self.b_slave):
            tty.setraw(fd)
        self.a_path = os.ttyname(self.a_slave)
        self.b_path = os.ttyname(self.b_slave)
        self.mode = "pass"
        self.bytes_copied = 0
        self._stop = threading.Event()
        self._a_open = True
        self._thread = threading.Thread(target=self._run, name="nullmodem", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            fds = [self.b_master] + ([self.a_master] if self._a_open else [])
            try:
                ready, _, _ = select.select(fds, [], [], 0.1)
            except (OSError, ValueError):
                return
            for fd in ready:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    continue
                if not data or self.mode == "drop":
                    continue
                if fd == self.b_master:
                    if self.mode == "garble":
                        data = bytes(b ^ 0x5A for b in data)
                    target = self.a_master if self._a_open else None
                else:
                    target = self.b_master
                if target is None:
                    continue
                try:
                    os.write(target, data)
                    self.bytes_copied += len(data)
                except OSError:
                    pass  # the far side's buffer is full or gone: a real line loses bytes too

    def close_a(self) -> None:
        """Side A vanishes: its path no longer opens, like an unplugged USB adapter."""
        if self._a_open:
            self._a_open = False
            for fd in (self.a_master, self.a_slave):
                try:
                    os.close(fd)
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.close_a()
        for fd in (self.b_master, self.b_slave):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self) -> NullModem:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
