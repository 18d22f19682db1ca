"""The fast steps of ``models.choice_scoring`` against their plain forms."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from features.state.viewers import CATEGORY_SLOTS
from flows.bench.ranking import RankingRoom
from models.choice_features import FEATURES, TASTE, features_one
from models.choice_scoring import _FLOAT16, logits
from models.push import chosen_any


def test_the_float16_table_is_numpys_cast_for_every_bit_pattern() -> None:
    """Exhaustive: all 65,536 float16 values (NaNs with their payloads, infinities, -0.0,
    subnormals) convert to the same float32 bits as ``astype``."""
    bits = np.arange(2**16, dtype=np.uint16)
    cast = bits.view(np.float16).astype(np.float32)
    np.testing.assert_array_equal(_FLOAT16.take(bits).view(np.uint32), cast.view(np.uint32))


@given(seed=st.integers(0, 10_000), viewers=st.integers(1, 60), items=st.integers(2, 30))
@settings(max_examples=40, deadline=None)
def test_room_logits_equal_the_plain_table(seed: int, viewers: int, items: int) -> None:
    """``logits`` (taste: the q·Kᵀ product, intent by cells; power) against ``features_one``,
    the plain-Python table, times the weights, on random rooms."""
    rng = np.random.default_rng(seed)
    bench = RankingRoom(viewers, 30, seed=seed)
    event = bench.show(items)
    scene = bench.room.context(event.ts).scene()
    rows = bench.room.viewers.present_rows(event.ts)
    weights = rng.normal(0.0, 1.0, len(FEATURES))
    weights[rng.random(len(weights)) < 0.2] = 0.0
    x = np.array([features_one(scene, row) for row in rows.tolist()])
    taste, power = logits(scene, rows, weights)
    t = len(TASTE)
    np.testing.assert_allclose(taste.T, x[:, :, :t] @ weights[:t], rtol=2e-4, atol=2e-4)
    np.testing.assert_allclose(power.T, x[:, :, t:] @ weights[t:], rtol=2e-4, atol=2e-4)


_counts = arrays(np.float16, st.tuples(st.integers(1, 40), st.just(CATEGORY_SLOTS)),
                 elements=st.sampled_from([0.0, -0.0, 1.0, 3.0, 2048.0, float("nan")]))


@given(counts=_counts, data=st.data())
def test_chosen_any_equals_any_along_rows(counts: np.ndarray, data: st.DataObject) -> None:
    rows = np.array(data.draw(st.lists(st.integers(0, len(counts) - 1), max_size=50)), np.int64)
    twin = counts.view(np.uint16).take(rows, axis=0).any(axis=1)
    np.testing.assert_array_equal(chosen_any(counts, rows), twin)


@given(seed=st.integers(0, 10_000), viewers=st.integers(1, 40), items=st.integers(2, 30))
@settings(max_examples=30, deadline=None)
def test_negated_power_logits_are_the_negatives(seed: int, viewers: int, items: int) -> None:
    rng = np.random.default_rng(seed)
    bench = RankingRoom(viewers, 30, seed=seed)
    event = bench.show(items)
    scene = bench.room.context(event.ts).scene()
    rows = bench.room.viewers.present_rows(event.ts)
    weights = rng.normal(0.0, 1.0, len(FEATURES))
    weights[rng.random(len(weights)) < 0.3] = 0.0
    taste, power = logits(scene, rows, weights)
    same_taste, minus = logits(scene, rows, weights, negated=True)
    np.testing.assert_array_equal(same_taste, taste)
    np.testing.assert_array_equal(-minus, power)  # bit for bit, but for the sign of a zero
