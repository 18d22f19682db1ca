"""Allocation that learns: Thompson sampling in its probability-matching form, or River's
Bayes-UCB, per room.

Each room keeps, per arm, its pushes and the purchases that converted them (Beta(1, 1)
prior), and assigns each new viewer of the room once (sticky), at the viewer's first push
there, with probabilities:

* arms whose ranker is ``control`` or that are a ``holdout`` keep their configured share (the
  floor that keeps an honest baseline);
* the rest of the mass goes to the other arms in proportion to their posterior probability
  of being best (Thompson sampling's choice probabilities), estimated from seeded draws; or,
  with ``bayes-ucb``, mostly to the arm River's ``bandit.BayesUCB`` ranks first (the highest
  upper quantile of its Beta posterior), the others keeping ``UCB_EXPLORE`` of it between them
  so that every arm's assignments can still be weighted by their probability;
* with ``half_life_ms``, pushes and purchases count less as they age (halved every half-life
  of event time): a live show changes as it goes, and what converted an hour ago says less
  about now than what converted a minute ago; River's policies have no such decay;
* nothing moves until every adaptive arm has ``min_pushes`` pushes (configured shares until
  then; with decay, recent pushes: a room whose evidence has aged away goes back to them), and
  an arm whose conversion is credibly worse than the leader's (probability above
  ``stop_loss``, once it has ``STOP_LOSS_FACTOR × min_pushes`` pushes) is cut: it gets no new
  viewers.

The draw that picks the arm is a hash of (experiment, room, user), and the probabilities
are recomputed from the counts every ``RECOMPUTE_EVERY`` pushes with a generator seeded by
(room, version): the allocation is a pure function of the room's events in order, so it
replays exactly from a snapshot or on another process. Each assignment records its
probability, so that estimates after adaptive allocation can be inverse-probability weighted.

Why not River's ``bandit.ThompsonSampling`` itself: its ``pull`` returns one arm without the
probability it was chosen with, its posterior takes each reward at once (a push's purchase
arrives minutes later, after many other pulls), and it has no floors or stop-loss. Its
posterior is the same Beta–Bernoulli one. Bayes-UCB's index is deterministic given the
counts, so River's own ``BayesUCB.compute_index`` is used on posteriors set from them.

>>> a = Allocator.create((0.5, 0.5), (False, False), min_pushes=10, stop_loss=0.999, seed="r")
>>> a.assign(0.2), a.assign(0.7)
((0, 0.5), (1, 0.5))
>>> a.pushed(0, 1000); a.pushed(1, 1000); a.converted(0, 100); a.converted(1, 40)
>>> index, probability = a.assign(0.2)
>>> index, probability > 0.99, bool(a.cut[1])
(0, True, True)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Final

import numpy as np
from river import bandit, proba

from features.contract.ids import unit_hash
from models.params import RoomParams

RECOMPUTE_EVERY: Final = 50  # pushes between two recomputations of the probabilities
DRAWS: Final = 2_000
# A cut is for good: it waits for this many times ``min_pushes`` on the arm, since checking
# after every batch of pushes (continuous monitoring) makes early noise look credible.
STOP_LOSS_FACTOR: Final = 5
# bayes-ucb: the share of the adaptive mass the arms behind the leader keep between them. A
# deterministic policy gives the others nothing, and an arm never assigned can neither be
# estimated (no probability to weight by) nor recover.
UCB_EXPLORE: Final = 0.2


@dataclass(slots=True)
class Allocator:
    shares: np.ndarray  # configured shares
    fixed: np.ndarray  # bool: keeps its configured share (control, holdout)
    min_pushes: int
    stop_loss: float
    seed: str
    pushes: np.ndarray
    wins: np.ndarray
    cut: np.ndarray
    probabilities: np.ndarray
    version: int = 0
    stale: int = 0  # pushes since the probabilities were computed
    policy: str = "thompson"  # or "bayes-ucb"
    half_life_ms: int = 0  # 0: no decay
    clock: int = 0  # event time the counts were last aged to

    @classmethod
    def create(
        cls, shares: tuple[float, ...], fixed: tuple[bool, ...], min_pushes: int,
        stop_loss: float, seed: str, policy: str = "thompson", half_life_ms: int = 0,
    ) -> Allocator:
        n = len(shares)
        return cls(np.array(shares, float), np.array(fixed, bool), min_pushes, stop_loss, seed,
                   np.zeros(n, np.float64), np.zeros(n, np.float64), np.zeros(n, bool),
                   np.array(shares, float), policy=policy, half_life_ms=half_life_ms)

    def assign(self, point: float) -> tuple[int, float]:
        """The arm for a viewer whose hash point is ``point`` in [0, 1), and its probability."""
        if self.stale >= RECOMPUTE_EVERY:
            self._recompute()
        cumulative = np.cumsum(self.probabilities)
        index = int(np.searchsorted(cumulative, point * cumulative[-1], side="right"))
        index = min(index, len(cumulative) - 1)
        while self.probabilities[index] <= 0:  # rounding at the top end
            index -= 1
        return index, float(self.probabilities[index] / cumulative[-1])

    def pushed(self, arm: int, n: int = 1, now: int = 0) -> None:
        self._age(now)
        self.pushes[arm] += n
        self.stale += n

    def pushed_arms(self, names: tuple[str, ...], arms: list[str], now: int) -> None:
        """A trigger's pushes, by arm name."""
        for arm, n in Counter(arms).items():
            self.pushed(names.index(arm), n, now)

    def converted(self, arm: int, n: int = 1, now: int = 0) -> None:
        self._age(now)
        self.wins[arm] = min(self.wins[arm] + n, self.pushes[arm])
        self.stale += RECOMPUTE_EVERY  # a conversion is news: recompute at the next assignment

    def _age(self, now: int) -> None:
        """Counts as of event time ``now``: each push and purchase weighs 2^(-age/half-life).
        Event time only (never the wall clock), so a replay ages them alike."""
        if self.half_life_ms <= 0 or now <= self.clock:
            return
        if self.clock:
            factor = 0.5 ** ((now - self.clock) / self.half_life_ms)
            self.pushes = self.pushes * factor
            self.wins = self.wins * factor
        self.clock = now

    def _recompute(self) -> None:
        self.stale = 0
        self.version += 1
        adaptive = ~self.fixed & (self.shares > 0)
        probabilities = np.where(self.fixed, self.shares, 0.0)
        mass = 1.0 - float(probabilities.sum())
        live = adaptive & ~self.cut
        if not live.any() or (self.pushes[adaptive] < self.min_pushes).any():
            probabilities[live] = self.shares[live]
            self.probabilities = probabilities
            return
        arms = np.flatnonzero(live)
        rng = np.random.default_rng([int(unit_hash("allocation", self.seed) * 2**32),
                                     self.version])
        draws = rng.beta(1 + self.wins[arms], 1 + self.pushes[arms] - self.wins[arms],
                         size=(DRAWS, len(arms)))
        leader = int(np.argmax((1 + self.wins[arms]) / (2 + self.pushes[arms])))
        for n, arm in enumerate(arms):
            if n == leader or self.pushes[arm] < STOP_LOSS_FACTOR * self.min_pushes:
                continue
            if float(np.mean(draws[:, n] < draws[:, leader])) > self.stop_loss:
                self.cut[arm] = True
        keep = ~self.cut[arms]
        if self.policy == "bayes-ucb":
            probabilities[arms] = mass * self._ucb_shares(arms, keep)
        else:
            best = np.bincount(np.argmax(np.where(keep, draws, -1.0), axis=1),
                               minlength=len(arms))
            probabilities[arms] = mass * best / DRAWS
        self.probabilities = probabilities

    def _ucb_shares(self, arms: np.ndarray, keep: np.ndarray) -> np.ndarray:
        """Shares of the adaptive mass: most to River's Bayes-UCB leader among the arms not
        cut, ``UCB_EXPLORE`` spread evenly over the others (all to the leader when alone)."""
        policy = bandit.BayesUCB()
        # River's policy learns one reward at a time; a room has counts. Its posteriors and
        # pull count are where those rewards would have gone, so they are set from the counts.
        policy._n = int(self.pushes[arms].sum())
        # River annotates whole counts; decayed ones are fractional, and its index (scipy's
        # betaincinv) takes any positive parameters.
        for n, arm in enumerate(arms):
            policy._posteriors[n] = proba.Beta(
                1.0 + float(self.wins[arm]),  # type: ignore[arg-type]
                1.0 + float(self.pushes[arm] - self.wins[arm]),  # type: ignore[arg-type]
            )
        index = np.array([policy.compute_index(n) if keep[n] else -np.inf
                          for n in range(len(arms))])
        leader = int(np.argmax(index))  # ties: the first arm, not River's random choice
        others = int(keep.sum()) - 1
        shares = np.where(keep, UCB_EXPLORE / max(others, 1), 0.0)
        shares[leader] = 1.0 - UCB_EXPLORE if others else 1.0
        return shares


@dataclass(slots=True)
class Assignments:
    """Viewers of one room assigned an arm at one trigger, with the probabilities used."""

    room_id: str
    trigger_id: str
    ts: int
    user_ids: list[str]
    arms: list[str]
    probabilities: list[float]

    def records(self) -> list[dict[str, object]]:
        return [
            {"kind": "assignment", "room_id": self.room_id, "user_id": user, "arm": arm,
             "probability": round(p, 6), "trigger_id": self.trigger_id, "ts": self.ts}
            for user, arm, p in zip(self.user_ids, self.arms, self.probabilities, strict=True)
        ]


def assign_fresh(
    allocator: Allocator, params: RoomParams, room_id: str, arm: np.ndarray, ids: np.ndarray,
    rows: np.ndarray, trigger_id: str, ts: int,
) -> Assignments | None:
    """Draw an arm for each viewer of ``rows`` who has none yet (``arm`` < 0, written in
    place), once: sticky per room, at the viewer's first push there. ``ids``: the viewers'
    user ids by row. None when every viewer already had one.

    >>> a = Allocator.create((0.5, 0.5), (False, False), 10, 0.999, "r")
    >>> from models.params import RoomParams
    >>> arm = np.array([-1, 1, -1])
    >>> out = assign_fresh(a, RoomParams(), "r", arm, np.array(["u0", "u1", "u2"]),
    ...                    np.array([0, 1, 2]), "t", 5)
    >>> out.user_ids, bool((arm >= 0).all())
    (['u0', 'u2'], True)
    >>> assign_fresh(a, RoomParams(), "r", arm, np.array(["u0", "u1", "u2"]),
    ...              np.array([0, 1, 2]), "t", 6) is None
    True
    """
    fresh = rows[arm[rows] < 0]
    if fresh.size == 0:
        return None
    names, experiment = params.arms.names, params.experiment
    users: list[str] = ids[fresh].tolist()
    arms, probabilities = [], []
    for row, user in zip(fresh.tolist(), users, strict=True):
        index, probability = allocator.assign(unit_hash("allocation", experiment, room_id, user))
        arm[row] = index
        arms.append(names[index])
        probabilities.append(probability)
    return Assignments(room_id, trigger_id, ts, users, arms, probabilities)


def new_allocator(params: RoomParams, room_id: str) -> Allocator | None:
    """The room's allocator, or None for a fixed split (``--allocation fixed``)."""
    if params.allocation == "fixed":
        return None
    specs = params.arms.specs
    fixed = tuple(s.holdout or s.ranker == "control" for s in specs)
    return Allocator.create(params.arms.shares, fixed, params.allocation_min_pushes,
                            params.allocation_stop_loss, room_id, params.allocation,
                            params.allocation_half_life_ms)
