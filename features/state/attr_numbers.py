"""An attr value (viewer or item ``attrs``: ``{str: str | number}``) read as a number.

Platforms send numbers as strings too (``"4.8"``, ``"3"``): a spend tier or a rating read
nowhere would be evidence lost, so a string that spells a finite number within the
contract's bound for attr numbers counts as that number; any other string is a label.
"""

from __future__ import annotations

import math

from features.contract.events import AttrValue
from features.contract.limits import MAX_ATTR


def attr_number(value: AttrValue | None) -> float | None:
    """``value`` as a number, or None if it is not one (a label, NaN, ±inf, past the bound).

    >>> attr_number(3), attr_number(" 4.5 "), attr_number("gold"), attr_number("nan")
    (3.0, 4.5, None, None)
    >>> attr_number("1e300"), attr_number(None)
    (None, None)
    """
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, int | float) and math.isfinite(value) and abs(value) <= MAX_ATTR:
        return float(value)
    return None
