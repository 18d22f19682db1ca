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


MAX_WORLD_MINUTES = 10_080  # a week: longer than any live show, and a world this long fits


def world_minutes(text: str) -> float:
    """``--minutes`` of a simulated world: finite and at most a week. The simulator holds a
    world's schedule as it goes, so ``1e12`` minutes grew without end and wrote nothing, and
    ``1e308`` overflowed where the world is cut into event times.

    >>> world_minutes("30")
    30.0
    >>> world_minutes("1e12")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be at most 10080 (a week), got '1e12'
    """
    value = finite_float(text)
    if value > MAX_WORLD_MINUTES:
        raise argparse.ArgumentTypeError(
            f"must be at most {MAX_WORLD_MINUTES} (a week), got {text!r}")
    return value
