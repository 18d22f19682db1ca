"""Top ``k`` of an items × viewers block (``TopK``) against its readable twin ``_top_k``."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import models.ranking as ranking

PROPERTY = settings(
    max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY
@given(
    st.integers(1, 300),  # items: past 255 the equality weights are uint16
    st.integers(1, 40),  # viewers
    st.integers(1, 6),  # k (capped at items)
    st.sampled_from(["ties", "spread", "nan"]),
    st.integers(0, 2**32 - 1),
)
def test_top_k_of_columns_equals_argmax_passes(
    n_items: int, n_viewers: int, k: int, kind: str, seed: int
) -> None:
    """``TopK`` (items × viewers, max down columns) against ``_top_k`` (argmax along rows),
    ties to the lower index included: scores drawn from a few values tie often."""
    rng = np.random.default_rng(seed)
    k = min(k, n_items)
    if kind == "ties":
        score = rng.integers(0, 4, (n_viewers, n_items)).astype(np.float32)
        score[rng.random(score.shape) < 0.1] = -np.inf
    else:
        score = rng.random((n_viewers, n_items), dtype=np.float32)
    if kind == "nan":
        score[rng.random(score.shape) < 0.05] = np.nan
    expected = ranking._top_k(score.copy(), k)
    top_k = ranking.TopK(n_items, k, max(1, n_viewers // 2))  # grows its scratch on demand
    got = top_k(score.T.copy())  # TopK overwrites what it ranks
    assert got.shape == (n_viewers, k)
    assert np.array_equal(got, expected)
    again = top_k(score.T.copy())  # the scratch is reused safely
    assert np.array_equal(again, expected)
    for row, picked in zip(score, got, strict=True):
        assert len(set(picked.tolist())) == k  # never the same item twice
        # found by a red team (the river-fm learner's overflow): NaN was ranked first
        assert not any(np.isnan(row[a]) and not np.isnan(row[b])
                       for a, b in itertools.pairwise(picked))


@PROPERTY
@given(
    st.integers(1, 255),  # items: the index fits in the key's dropped bits
    st.integers(1, 40),  # viewers
    st.integers(1, 6),  # k (capped at items)
    st.sampled_from(["ties", "spread", "near", "zeros"]),
    st.integers(0, 2**32 - 1),
)
def test_packed_top_k_of_keys_equals_argmax_passes(
    n_items: int, n_viewers: int, k: int, kind: str, seed: int
) -> None:
    """``top_k_of_keys`` (the index packed into each rounded key's dropped bits) against
    ``_top_k`` on the same keys: ties to the lower index, keys equal after rounding but not
    before ("near"), and zeros, which a picked key's 0 must still lose to."""
    rng = np.random.default_rng(seed)
    k = min(k, n_items)
    if kind == "ties":
        score = rng.integers(0, 4, (n_viewers, n_items)).astype(np.float32) / 4
    elif kind == "near":  # a few ulps apart: the same key once rounded
        score = np.float32(0.3) + rng.integers(0, 8, (n_viewers, n_items)).astype(
            np.float32) * np.float32(2**-24)
    elif kind == "zeros":
        score = np.where(rng.random((n_viewers, n_items)) < 0.7, 0.0,
                         rng.random((n_viewers, n_items))).astype(np.float32)
    else:
        score = rng.random((n_viewers, n_items), dtype=np.float32)
    keys = ranking.order_key(score.copy(), finite=True)
    expected = ranking._top_k(keys.copy(), k)
    got = ranking.top_k_of_keys(np.ascontiguousarray(keys.T), k)
    assert got.shape == (n_viewers, k)
    assert np.array_equal(got, expected)


def test_packed_top_k_refuses_more_items_than_its_bits_hold() -> None:
    keys = np.zeros((256, 2), np.float32)
    with pytest.raises(ValueError, match="fewer than 256 items"):
        ranking.top_k_of_keys(keys, 1)
