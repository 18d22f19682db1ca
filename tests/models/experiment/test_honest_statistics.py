"""The readout's statistics on a synthetic stream with known true conversion rates.

Each push goes to its own viewer; the viewer buys a pushed item within the conversion window
with the arm's true probability. The stream goes through ``read_experiment`` as files would
(attribution included), so the intervals tested are the ones the report prints.
"""

from __future__ import annotations

import random

import numpy as np

from models.experiment.readout import Readout, read_experiment

SEEDS = range(20)
PUSHES_PER_ARM = 1_500


def _readout(rates: dict[str, float], seed: int) -> Readout:
    rnd = random.Random(seed)
    pushes, events = [], []
    for arm, rate in rates.items():
        for n in range(PUSHES_PER_ARM):
            user, ts = f"{arm}-{n}", 1_000 * n
            pushes.append({"arm": arm, "rec_id": f"rec-{arm}-{n}", "room_id": "r",
                           "user_id": user, "ts": ts, "trigger_id": f"t-{n}",
                           "items": [{"item_id": "i1"}, {"item_id": "i2"}]})
            if rnd.random() < rate:
                events.append({"event_id": f"e-{arm}-{n}", "type": "purchase", "room_id": "r",
                               "user_id": user, "item_id": rnd.choice(["i1", "i2"]),
                               "ts": ts + 60_000, "amount": 10.0})
    return read_experiment(events, pushes, seed=seed)


def test_95_percent_intervals_cover_the_true_rate_in_at_least_17_of_20_seeds() -> None:
    rates = {"attention": 0.05, "control": 0.04}
    covered = {arm: 0 for arm in rates}
    for seed in SEEDS:
        readout = _readout(rates, seed)
        for arm, rate in rates.items():
            a = readout.arms[arm]
            assert a.pushes == PUSHES_PER_ARM
            covered[arm] += a.low <= rate <= a.high
    assert all(n >= 17 for n in covered.values()), covered


def test_an_aa_test_read_once_declares_a_winner_in_at_most_1_of_20_seeds() -> None:
    winners = sum(
        _readout({"a": 0.05, "b": 0.05}, seed).winner is not None for seed in SEEDS
    )
    assert winners <= 1


def test_a_real_difference_is_declared() -> None:
    readout = _readout({"a": 0.08, "b": 0.04}, seed=1)
    assert readout.winner == "a"


def _rooms_differ(seed: int, rate: float = 0.05, rooms: int = 20) -> Readout:
    """Viewers randomised between two equal arms within each room; each room converts at its
    own rate (its items, host and audience), the rooms' rates averaging ``rate``."""
    rnd = random.Random(seed)
    pushes, events = [], []
    for r in range(rooms):
        room_rate = rate * rnd.uniform(0.2, 1.8)
        for n in range(300):
            arm, user, ts = "ab"[n % 2], f"u{r}-{n}", 1_000 * n
            pushes.append({"arm": arm, "rec_id": f"rec-{r}-{n}", "room_id": f"r{r}",
                           "user_id": user, "ts": ts, "trigger_id": f"t-{n}",
                           "items": [{"item_id": "i1"}]})
            if rnd.random() < room_rate:
                events.append({"event_id": f"e-{r}-{n}", "type": "purchase", "room_id": f"r{r}",
                               "user_id": user, "item_id": "i1", "ts": ts + 1, "amount": 1.0})
    return read_experiment(events, pushes, seed=seed)


def test_intervals_cover_the_rate_across_rooms_when_rooms_differ() -> None:
    """Pushes in one room are not independent draws of the arm's rate: the interval counts
    rooms as clusters (the design effect) and covers the rate the rooms average."""
    covered, naive, effects = 0, 0, []
    for seed in SEEDS:
        for a in _rooms_differ(seed).arms.values():
            covered += a.low <= 0.05 <= a.high
            effects.append(a.design_effect)
            iid = np.random.default_rng(seed).beta(1 + a.converted, 1 + a.pushes - a.converted,
                                                   20_000)
            low, high = np.percentile(iid, [2.5, 97.5])
            naive += low <= 0.05 <= high
    assert covered >= 34, (covered, naive)  # of 40 intervals (2 arms × 20 seeds)
    assert naive < covered and min(effects) > 1.0
