"""Experiment arms: a stable split of viewers between ranking strategies.

A viewer's arm is a pure function of ``(experiment, user_id)``, so it is the same in every
room, process, replay and restart, and changing the experiment name reshuffles everyone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from features.contract.ids import unit_hash

KNOWN_ARMS: Final = ("attention", "control")


@dataclass(frozen=True, slots=True)
class Arms:
    """Arm names with their shares (summing to 1).

    >>> arms = Arms.parse("attention=0.9,control=0.1")
    >>> arms.names, arms.assign("u-42", "exp") in arms.names
    (('attention', 'control'), True)
    >>> Arms.parse("attention=1").assign("anyone", "exp")
    'attention'
    """

    names: tuple[str, ...]
    shares: tuple[float, ...]

    @classmethod
    def parse(cls, text: str) -> Arms:
        """Parse ``name=share,...``; shares are normalised to sum to 1."""
        names: list[str] = []
        shares: list[float] = []
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            name, sep, value = part.partition("=")
            name = name.strip()
            if name not in KNOWN_ARMS:
                raise ValueError(
                    f"unknown arm {name!r} in {text!r}; arms are: {', '.join(KNOWN_ARMS)}"
                )
            if name in names:
                raise ValueError(f"arm {name!r} is given twice in {text!r}")
            try:
                share = float(value) if sep else 1.0
            except ValueError:
                raise ValueError(f"share of arm {name!r} must be a number, got {value!r}") from None
            if not (math.isfinite(share) and share >= 0):
                raise ValueError(f"share of arm {name!r} must be >= 0, got {value!r}")
            names.append(name)
            shares.append(share)
        total = sum(shares)
        if not math.isfinite(total):
            raise ValueError(f"shares in {text!r} are too large to add up; use fractions")
        if not names or total <= 0:
            raise ValueError(
                f"no arm with a positive share in {text!r} (e.g. attention=0.9,control=0.1)"
            )
        return cls(tuple(names), tuple(s / total for s in shares))

    def assign(self, user_id: str, experiment: str) -> str:
        return self.names[self.index(user_id, experiment)]

    def index(self, user_id: str, experiment: str) -> int:
        point = unit_hash("arm", experiment, user_id)
        cumulative = 0.0
        for n, share in enumerate(self.shares):
            cumulative += share
            if point < cumulative:
                return n
        return max(n for n, share in enumerate(self.shares) if share > 0)

    def __str__(self) -> str:
        return ",".join(f"{n}={s:g}" for n, s in zip(self.names, self.shares, strict=True))
