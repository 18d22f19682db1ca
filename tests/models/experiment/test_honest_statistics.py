"""The readout's statistics on a synthetic stream with known true conversion rates.

Each push goes to its own viewer; the viewer buys a pushed item within the conversion window
with the arm's true probability. The stream goes through ``read_experiment`` as files would
(attribution included), so the intervals tested are the ones the report prints.
"""

from __future__ import annotations

import random

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
