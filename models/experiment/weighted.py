"""Converted viewers per assigned viewer, weighted by the probability of the assignment.

Under an adaptive allocation an arm's viewers are not a random sample of the audience: an
arm that took the lead late got mostly late viewers. When the audience changes during a
show, as live audiences do, plain per-arm means then mix the arm's effect with *when* its
viewers came. Every assignment records the probability ``p`` it was made with, so each
assigned viewer can be weighted by ``1 / p``: the Hájek estimate Σ y/p ÷ Σ 1/p over the arm's
viewers estimates what the arm would give the whole assigned audience. Under a fixed split
(every ``p`` the arm's share) it is the plain mean. The interval is a seeded Bayesian
bootstrap over the arm's viewers (exponential weights), 95 %; P(best) is the share of
draws (the arms' drawn independently) in which the arm's weighted mean is the highest (a tie
shared among the tied arms: arms that all drew 0 are not "best" for the first of them).

A viewer is a (room, user) pair with its first assignment there (a viewer forgotten by
the room and assigned again keeps the first); ``y`` is what the caller attributed to the
viewer: the readout gives 1 when a push of theirs (a ghost push for a holdout) converted, else
0, so that one account, however many orders it posts, moves its arm as one viewer does.

>>> rows = [{"room_id": "r", "user_id": u, "trigger_id": "t", "ts": 0, "arm": "a",
...          "probability": p} for u, p in (("u1", 0.5), ("u2", 0.25))]
>>> est = weighted_purchases(rows, {("r", "u1"): 1})["a"]
>>> est.plain, round(est.weighted, 4)  # u2 stands for 4 viewers, u1 for 2
(0.5, 0.3333)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

DRAWS = 1_000
# The least evidence per arm before the readout declares any winner (``Readout.winner``,
# ``Readout.weighted_winner``): assigned viewers here, effective pushes (pushes / design
# effect) per push. A bootstrap over one viewer has no spread at all (every draw is that
# viewer's count, so P(best) is 0 or 1), and over a handful it cannot draw what it did not
# see and is too narrow; 30 is the usual floor below which neither a bootstrap nor a normal
# interval is trusted. Fixed before any closed-loop seed was read, not tuned to one.
MIN_PER_ARM = 30
_CHUNK = 50  # bootstrap draws per vectorised step (memory: _CHUNK × viewers floats)


@dataclass(frozen=True, slots=True)
class Weighted:
    arm: str
    viewers: int
    plain: float  # the viewers' mean ``y`` (the readout: converted viewers), unweighted
    weighted: float  # the same, each viewer weighted by 1 / assignment probability
    low: float
    high: float
    p_best: float  # share of the bootstrap draws in which this arm's weighted mean is highest


def weighted_purchases(
    assignments: Iterable[dict[str, Any]],
    purchases: Mapping[tuple[str, str], int],
    seed: int = 0,
) -> dict[str, Weighted]:
    """Per arm, from the experiment log's assignment records and the attributed purchases
    per (room, user); arms by name, empty without assignments."""
    first: dict[tuple[str, str], tuple[int, str, str, float]] = {}
    for a in assignments:
        if a.get("kind", "assignment") != "assignment":
            continue
        key = (a["room_id"], a["user_id"])
        row = (int(a["ts"]), str(a["trigger_id"]), str(a["arm"]), float(a["probability"]))
        if key not in first or row < first[key]:
            first[key] = row
    per_arm: dict[str, list[tuple[float, float]]] = {}
    for key in sorted(first):
        _, _, arm, p = first[key]
        per_arm.setdefault(arm, []).append((float(purchases.get(key, 0)), p))
    rng = np.random.default_rng(seed)
    arms = sorted(per_arm)
    if not arms:
        return {}
    yw = [(np.array([r[0] for r in per_arm[arm]]),
           1.0 / np.clip(np.array([r[1] for r in per_arm[arm]]), 1e-6, 1.0)) for arm in arms]
    draws = np.stack([_draws(y, w, rng) for y, w in yw])
    top = draws == draws.max(axis=0)
    best = (top / top.sum(axis=0)).sum(axis=1) / DRAWS
    out = {}
    for n, (arm, (y, w)) in enumerate(zip(arms, yw, strict=True)):
        low, high = np.percentile(draws[n], [2.5, 97.5])
        out[arm] = Weighted(arm, len(y), round(float(y.mean()), 6),
                            round(float(w @ y / w.sum()), 6), round(float(low), 6),
                            round(float(high), 6), round(float(best[n]), 4))
    return out


def _draws(y: np.ndarray, w: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``DRAWS`` Bayesian-bootstrap draws of the weighted mean of ``y`` (weights ``w``)."""
    chunks = []
    for _ in range(DRAWS // _CHUNK):
        g = rng.exponential(size=(_CHUNK, len(y))) * w
        chunks.append((g @ y) / g.sum(axis=1))
    return np.concatenate(chunks)
