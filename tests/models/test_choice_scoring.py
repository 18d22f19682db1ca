"""The fast logits (``models.choice_scoring``) equal the feature table times the weights."""

from __future__ import annotations

import numpy as np
import pytest

from flows.bench.ranking import RankingRoom
from models.choice_features import TASTE, features_row
from models.choice_scoring import logits
from tests.models.choice_rooms import replayed_room


def _check(room, now: int, weights: np.ndarray, temperature: float = 1.0) -> None:  # type: ignore[no-untyped-def]
    scene = room.context(now).scene()
    rows = room.viewers.present_rows(now)
    x = np.stack([features_row(scene, row) for row in rows.tolist()])
    t = len(TASTE)
    taste, power = logits(scene, rows, weights, temperature)  # items down, viewers across
    np.testing.assert_allclose(taste.T, x[:, :, :t] @ weights[:t] / temperature, rtol=2e-4,
                               atol=2e-4)
    np.testing.assert_allclose(power.T, x[:, :, t:] @ weights[t:], rtol=2e-4, atol=2e-4)


@pytest.mark.parametrize("seed", range(10))
def test_fast_logits_equal_the_table_on_random_rooms(seed: int) -> None:
    rng = np.random.default_rng(seed)
    bench = RankingRoom(80, 25, seed=seed)
    event = bench.show(int(rng.integers(2, 26)))
    weights = rng.normal(0.0, 1.0, len(bench.room.model.weights))
    weights[rng.random(len(weights)) < 0.2] = 0.0  # zero weights skip work: same result
    _check(bench.room, event.ts, weights, temperature=float(rng.choice([1.0, 0.5, 2.0])))


def test_fast_logits_equal_the_table_in_a_replayed_room() -> None:
    room = replayed_room()
    _check(room, room.clock, room.model.weights + 0.3)


@pytest.mark.parametrize("seed", range(6))
def test_segments_without_evidence_drop_out_of_the_product(seed: int) -> None:
    """Segment slots no one has chosen in (all their keys zero) leave the query; categories
    not on show too. The logits are the table's whichever slots remain, none included."""
    rng = np.random.default_rng(seed)
    bench = RankingRoom(60, 25, seed=seed)
    event = bench.show(int(rng.integers(2, 12)))  # few items: few category slots on show
    room, items = bench.room.choices, bench.room.items
    quiet = rng.random(room.seg_chosen.shape[0]) < [0.3, 0.7, 1.0][seed % 3]
    room.own("seg_exposed", "seg_chosen")
    room.seg_chosen[quiet] = 0.0
    room.seg_exposed[quiet] = 0.0
    items.seg_chosen[:, quiet] = 0
    items.seg_exposed[:, quiet] = 0
    weights = bench.room.model.weights.copy()
    _check(bench.room, event.ts, weights)
