"""Simulator regimes: worlds that differ in mechanism, not only in seed.

A model tuned on one generative story learns that story. The regimes change *how* behaviour
arises, so a ranker that wins on all of them has learned something about viewers, not about
one simulator: where taste lives (the item's own style or its category), whether the platform's
spend tier reveals the budget, whether likes and comments carry taste or are noise, and whether
a viewer's taste holds across sessions. They were fixed before any tuning against them.

``held-out`` mixes every mechanism at other strengths; it is scored only at the end of a piece
of model work, never while tuning (``docs/evaluation.md`` keeps its figures apart).

>>> REGIMES["default"] == Regime("default")
True
>>> regime("item-taste").category_weight < REGIMES["default"].category_weight
True
>>> regime("nope")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: unknown regime 'nope'; regimes are: default, item-taste, ..., held-out
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Regime:
    """The mechanism knobs. Defaults are today's world, byte for byte for a seed."""

    name: str
    # how much an item's hidden style follows its category (vs its own style)
    category_weight: float = 0.6
    # noise of the lens through which the spend tier shows the budget (z-score units)
    tier_noise: float = 0.6
    # how much likes/comments about the item on stage follow the viewer's taste for it
    # (0: engagement is noise about taste)
    engagement_taste: float = 0.0
    # how far a viewer's taste moves between sessions (0: stable taste)
    drift: float = 0.0
    # spread of the appeal every viewer shares, in utility units
    appeal_spread: float = 0.6


REGIMES: dict[str, Regime] = {
    r.name: r
    for r in (
        Regime("default"),
        Regime("item-taste", category_weight=0.1),
        Regime("category-taste", category_weight=2.0),
        Regime("hidden-budget", tier_noise=6.0),
        Regime("taste-engagement", engagement_taste=3.0),
        Regime("drifting-taste", drift=0.9),
        Regime(
            "held-out",
            category_weight=0.3,
            tier_noise=1.5,
            engagement_taste=1.5,
            drift=0.5,
            appeal_spread=0.9,
        ),
    )
}
TUNING_REGIMES = tuple(name for name in REGIMES if name != "held-out")


def regime(name: str) -> Regime:
    """The regime called ``name``; a clear error naming the known ones otherwise."""
    try:
        return REGIMES[name]
    except KeyError:
        raise ValueError(
            f"unknown regime {name!r}; regimes are: {', '.join(REGIMES)}"
        ) from None
