"""Starting weights pooled over worlds: each simulator weighs the same, whatever its size."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import models.offline.pooled_prior
from models.offline.pooled_prior import CEILING, FLOOR, FittedWorld, pooled, precision

weights = st.lists(st.floats(-5, 5), min_size=3, max_size=3)
worlds = st.lists(
    st.tuples(st.sampled_from("abc"), st.sampled_from("xyz"), st.integers(0, 9), weights),
    min_size=1, max_size=30,
)


def test_docstring_examples_run() -> None:
    assert doctest.testmod(models.offline.pooled_prior).failed == 0


@given(worlds, st.integers(1, 4))
def test_more_seeds_of_the_same_fits_change_nothing(rows: list, copies: int) -> None:
    """A world type's seeds are averaged first: repeating them does not make it heavier."""
    fits = [FittedWorld(*row) for row in rows]
    repeated = [FittedWorld(s, w, seed + 10 * n, x) for n in range(copies)
                for s, w, seed, x in rows]
    np.testing.assert_allclose(pooled(repeated), pooled(fits), atol=1e-9)


@given(worlds)
def test_order_does_not_matter_and_the_mean_stays_within_the_fits(rows: list) -> None:
    fits = [FittedWorld(*row) for row in rows]
    mean = pooled(fits)
    np.testing.assert_allclose(pooled(fits[::-1]), mean, atol=1e-9)
    stacked = np.array([f.weights for f in fits])
    assert (mean >= stacked.min(axis=0) - 1e-9).all() and (mean <= stacked.max(axis=0) + 1e-9).all()


def test_a_simulator_with_many_variants_does_not_outvote_one_with_few() -> None:
    many = [FittedWorld("big", f"v{n}", 1, (0.0,)) for n in range(9)]
    assert pooled([*many, FittedWorld("small", "only", 1, (1.0,))]).tolist() == [0.5]


def test_leaving_out_every_simulator_or_mixing_feature_tables_is_an_error() -> None:
    fit = FittedWorld("ours", "default", 1, (1.0, 2.0))
    with pytest.raises(ValueError, match="no fitted worlds to pool without 'ours'"):
        pooled([fit], leave_out="ours")
    with pytest.raises(ValueError, match="different lengths"):
        pooled([fit, FittedWorld("ours", "default", 2, (1.0,))])


@given(worlds, st.floats(-3, 3))
def test_precision_is_bounded_order_free_and_blind_to_where_the_worlds_sit(
    rows: list, shift: float
) -> None:
    """How sure a room may be depends on how the worlds spread, not on where they sit."""
    fits = [FittedWorld(*row) for row in rows]
    if len({(f.simulator, f.world) for f in fits}) < 2:
        with pytest.raises(ValueError, match="at least two world types"):
            precision(fits)
        return
    sure = precision(fits)
    assert ((sure >= FLOOR) & (sure <= CEILING)).all()
    np.testing.assert_allclose(precision(fits[::-1]), sure, rtol=1e-6)
    moved = [f._replace(weights=[w + shift for w in f.weights]) for f in fits]
    np.testing.assert_allclose(precision(moved), sure, rtol=1e-6, atol=1e-6)


def test_worlds_that_disagree_more_leave_a_room_less_sure() -> None:
    near = [FittedWorld("s", w, 1, (x, 0.0)) for w, x in zip("xyz", (0.0, 0.3, 0.6), strict=True)]
    far = [f._replace(weights=(3 * f.weights[0], 0.0)) for f in near]
    assert precision(far)[0] < precision(near)[0] and precision(near)[1] == CEILING
