"""One error hierarchy (issue 15): every error we raise on purpose has the side's base."""

from __future__ import annotations

import pytest

from edge.drivers.base import DecodeError, PortError
from edge.lines import LineError
from edge.replay import ReplayError
from hub.cli import UsageError
from hub.core.lifecycle import LifecycleError
from hub.core.silences import SilenceError
from hub.desk.commands import DeskError
from hub.desk.provision import ProvisionError
from hub.store import StoreError
from lifeline.errors import EdgeError, HubError, LifelineError
from lifeline.tomlconfig import ConfigError
from lifeline.wire import WireError


@pytest.mark.parametrize("error", [DecodeError, PortError, LineError, ReplayError])
def test_edge_errors_are_edge_errors(error: type[Exception]) -> None:
    assert issubclass(error, EdgeError) and issubclass(error, LifelineError)


@pytest.mark.parametrize("error", [UsageError, DeskError, LifecycleError, ProvisionError,
                                   SilenceError, StoreError])
def test_hub_errors_are_hub_errors(error: type[Exception]) -> None:
    assert issubclass(error, HubError) and issubclass(error, LifelineError)


@pytest.mark.parametrize(("error", "older_base"), [
    (WireError, ValueError), (DecodeError, ValueError), (PortError, OSError),
    (SilenceError, ValueError), (ConfigError, LifelineError)])
def test_the_older_bases_still_hold_for_callers_that_catch_them(
        error: type[Exception], older_base: type[Exception]) -> None:
    assert issubclass(error, older_base)
