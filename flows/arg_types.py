"""Argument types of the subcommands' own flags (the settings table checks its own ranges):
numbers that must be finite, since NaN passes every comparison unnoticed."""

from __future__ import annotations

import argparse
import math


def finite_float(text: str) -> float:
    """An argparse type: a number, not NaN or infinite (``--minutes inf`` would overflow
    where the world is cut into event times, ``nan`` passes every comparison).

    >>> finite_float("2.5")
    2.5
    >>> finite_float("inf")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be a finite number, got 'inf'
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value
