"""What a replay of the job's rooms shows the lab: the choice model's calibration and one
room's attention heat-map, as plain values."""

from __future__ import annotations

import numpy as np

from models.offline.hindsight import Heatmap, Replayed


def test_calibration_bins_every_probability_and_counts_the_chosen() -> None:
    replayed = Replayed()
    rng = np.random.default_rng(3)
    for _ in range(200):
        p = rng.dirichlet(np.ones(8))
        replayed.predicted.append((p, int(np.argmax(p))))  # the likeliest is always chosen
    bins = replayed.calibration()
    assert len(bins) == 10 and sum(n for _, _, n in bins) == 200 * 8
    predicted = [m for m, _, _ in bins]
    assert predicted == sorted(predicted) and all(0.0 <= m <= 1.0 for m in predicted)
    # the top decile holds the likeliest items, chosen far more often than the bottom one
    assert bins[-1][1] > 0.5 > bins[0][1] == 0.0
    assert Replayed().calibration() == []


def test_the_heatmap_record_is_plain_values() -> None:
    assert Replayed().heatmap_record() is None
    replayed = Replayed(heatmap=Heatmap("r", ["u1"], ["a", "b"], ["b", "c"],
                                        np.array([[0.4, 0.6]]), np.array([[0.7, 0.3]])))
    record = replayed.heatmap_record()
    assert record == {"room_id": "r", "users": ["u1"], "before_items": ["a", "b"],
                      "after_items": ["b", "c"], "before": [[0.4, 0.6]], "after": [[0.7, 0.3]]}
