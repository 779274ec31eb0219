"""Sensor kinds: a typo of a known kind is refused with a did-you-mean; a new quantity is not."""

from __future__ import annotations

import pytest

from lifeline.kinds import KNOWN_KINDS, kind_problem, kind_warning


@pytest.mark.parametrize(("kind", "problem"), [
    ("water.presure", "'water.presure' is not a known kind; did you mean 'water.pressure'?"),
    ("water.flw", "'water.flw' is not a known kind; did you mean 'water.flow'?"),
    ("gas.methan", "did you mean 'gas.methane'?"),
    ("structure.tlt", "did you mean 'structure.tilt'?"),
    ("watr.pressure", "family one of water, gas, structure; did you mean 'water.pressure'?"),
    ("fire.smoke", "'fire.smoke' is not family.quantity with family one of water, gas, "
                   "structure"),
])
def test_a_typo_is_refused_with_a_suggestion(kind: str, problem: str) -> None:
    found = kind_problem(kind)
    assert found is not None and problem in found


@pytest.mark.parametrize("kind", [*KNOWN_KINDS, "gas.nh3", "water.nitrate", "structure.creep"])
def test_known_kinds_and_new_quantities_are_accepted(kind: str) -> None:
    assert kind_problem(kind) is None


def test_only_a_new_quantity_gets_a_warning() -> None:
    assert kind_warning("water.pressure") is None
    warning = kind_warning("gas.nh3")
    assert warning is not None and warning.startswith("'gas.nh3' is not a known gas kind")
