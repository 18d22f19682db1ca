"""The one-viewer push's shortcuts against the block path's functions they stand for."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from features.state.catalog import Showcase, no_attrs
from models.push import why_codes, why_one
from models.ranking import Ranked, TopK, _top_k, order_key, top_of_one

_values = st.sampled_from([0.0, -0.0, 0.25, 0.5, 1.0, 3.0, float("nan"), float("inf"),
                           float("-inf")])
_keys = arrays(np.float32, st.integers(1, 30), elements=_values)


@given(key=_keys, k=st.integers(1, 5))
def test_top_of_one_equals_top_k(key: np.ndarray, k: int) -> None:
    k = min(k, len(key))
    np.testing.assert_array_equal(top_of_one(key.copy(), k), _top_k(key[None, :].copy(), k))


@given(heat=arrays(np.float32, 6, elements=st.sampled_from([0.0, 1.0, 2.5, 7.0])),
       top=st.lists(st.integers(0, 5), min_size=0, max_size=3, unique=True),
       attention=st.floats(0.0, 1.0, width=32), spotlight=st.integers(-1, 5),
       warm=st.booleans(), known=st.booleans())
def test_why_one_equals_why_codes(heat: np.ndarray, top: list[int], attention: float,
                                  spotlight: int, warm: bool, known: bool) -> None:
    showcase = Showcase("s", 0, [f"i{n}" for n in range(6)], np.arange(6), spotlight,
                        np.arange(6)[::-1].copy(), no_attrs(6))
    k = len(top)
    ranked = Ranked(np.array([top], np.int64).reshape(1, k),
                    np.zeros((1, k), np.float32), np.full((1, k), attention, np.float32),
                    np.zeros((1, k), np.float32))
    codes = why_codes(showcase, heat, ranked, np.array([warm]),
                      np.array([float(known)], np.float32))
    assert why_one(showcase, heat, ranked, warm, known) == int(codes[0])


_finite_scores = arrays(np.float32, st.tuples(st.integers(1, 12), st.integers(1, 20)),
                        elements=st.sampled_from([0.0, 1e-7, 0.1, 0.1000001, 0.5, 1.0]))


@given(score=_finite_scores, k=st.integers(1, 4))
def test_known_finite_scores_skip_no_step(score: np.ndarray, k: int) -> None:
    """``order_key`` and ``TopK`` told the scores are finite give what they give unaided."""
    k = min(k, score.shape[0])
    top_k = TopK(score.shape[0], k, score.shape[1])
    plain = order_key(score.copy())
    told = order_key(score.copy(), finite=True)
    np.testing.assert_array_equal(told.view(np.uint32), plain.view(np.uint32))
    np.testing.assert_array_equal(top_k(told, finite=True), top_k(plain))
