"""Known sensor kinds: ``family.quantity``, checked on both sides with a did-you-mean.

An edge's ``kind = "water.presure"`` would publish alerts that the hub's rule
``signature = ["water.pressure", ...]`` never matches, silently. The edge refuses a
kind whose family is unknown or whose quantity is a near miss of a known one; a
quantity that resembles none is still accepted (a new kind of sensor), and
``check-config`` says it is not a known one. The hub's ``check-config`` warns about
signatures and rates naming no known kind. Pure; no I/O.
"""

from __future__ import annotations

import difflib

from lifeline.wire import FAMILIES

__all__ = ["KNOWN_KINDS", "QUANTITIES", "kind_problem", "kind_warning"]

# The quantities the shipped profiles, docs and detectors use, and their near relatives.
QUANTITIES: dict[str, tuple[str, ...]] = {
    "water": ("pressure", "flow", "level", "temperature", "turbidity", "chlorine",
              "conductivity", "ph", "leak_noise"),
    "gas": ("methane", "h2s", "co", "co2", "o2", "voc", "lel"),
    "structure": ("tilt", "crack", "vibration", "strain", "displacement", "settlement",
                  "temperature", "acceleration"),
}
KNOWN_KINDS: tuple[str, ...] = tuple(f"{family}.{quantity}"
                                     for family in FAMILIES for quantity in QUANTITIES[family])
# A quantity this close to a known one (difflib's ratio) is a typo, not a new kind:
# "presure" -> "pressure" 0.93, "flw" -> "flow" 0.86, while "nh3" -> "h2s" is 0.33.
_TYPO_CUTOFF = 0.75


def _closest(word: str, options: list[str], cutoff: float) -> str | None:
    close = difflib.get_close_matches(word, options, n=1, cutoff=cutoff)
    return close[0] if close else None


def kind_problem(kind: str) -> str | None:
    """Why ``kind`` is refused (None: it is accepted): an unknown family, or a quantity one
    typo away from a known one; each with a did-you-mean."""
    family, dot, quantity = kind.partition(".")
    if family not in FAMILIES:
        hint = _closest(family, list(FAMILIES), 0.6)
        guess = f"; did you mean '{hint}.{quantity}'?" if hint and dot else ""
        return (f"{kind!r} is not family.quantity with family one of {', '.join(FAMILIES)}"
                f"{guess}")
    if not dot or not quantity:
        return f"{kind!r} has no quantity: expected {family}.<quantity>, e.g. " \
               f"'{family}.{QUANTITIES[family][0]}'"
    known = QUANTITIES[family]
    if quantity in known:
        return None
    hint = _closest(quantity, list(known), _TYPO_CUTOFF)
    if hint is not None:
        return f"{kind!r} is not a known kind; did you mean '{family}.{hint}'?"
    return None


def kind_warning(kind: str) -> str | None:
    """For an accepted kind that is not a known one: say so, and what is known."""
    family = kind.partition(".")[0]
    if kind in KNOWN_KINDS or family not in FAMILIES:
        return None
    return (f"{kind!r} is not a known {family} kind (known: "
            f"{', '.join(f'{family}.{q}' for q in QUANTITIES[family])}); the hub's rules "
            "must name it exactly")
