"""The error hierarchy: one base for the project, one per side.

``LifelineError`` is what our code raises on purpose; ``EdgeError`` and ``HubError`` are
the bases of each side's own errors. Lower-level errors (paho, sqlite3, OS) are converted
at the boundary that meets them (``raise ... from``). Each CLI's ``main`` maps them to exit
codes in one place: 0 ok, 1 runtime failure, 2 usage or configuration error.
"""

from __future__ import annotations

__all__ = ["EXIT_OK", "EXIT_RUNTIME", "EXIT_USAGE", "EdgeError", "HubError", "LifelineError"]

EXIT_OK = 0
EXIT_RUNTIME = 1  # something failed while running: the message says what
EXIT_USAGE = 2    # a bad command line or configuration file: nothing was started


class LifelineError(Exception):
    """Base of every error Lifeline raises on purpose."""


class EdgeError(LifelineError):
    """Base of the edge agent's errors."""


class HubError(LifelineError):
    """Base of the hub's errors."""
