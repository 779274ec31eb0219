"""A real pseudo-terminal standing in for a serial sensor.

The test holds the master side and writes lines to it; the code under test
opens ``path`` with pyserial exactly as it would open ``/dev/ttyUSB0``.
"""

from __future__ import annotations

import os
import threading
import tty
from collections.abc import Callable


class PtySensor:
    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lines_written = 0

    def write(self, data: bytes) -> None:
        try:
            os.write(self.master, data)
            self.lines_written += 1
        except BlockingIOError:
            pass  # nobody reading yet: a real sensor keeps talking regardless

    def stream(self, line_at: Callable[[int], bytes], rate_hz: float) -> None:
        """Write ``line_at(n)`` for n = 0, 1, ... at ``rate_hz`` in a background thread."""
        def loop() -> None:
            n = 0
            while not self._stop.is_set():
                self.write(line_at(n))
                n += 1
                self._stop.wait(1.0 / rate_hz)
        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self) -> PtySensor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


