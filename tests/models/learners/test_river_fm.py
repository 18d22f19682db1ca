"""River's ``FMClassifier`` peer (``--learner river-fm``): its array scoring is River's own
output, it learns what River learns, and its snapshot restores it exactly."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from river import facto, optim

from models.learners.choice import choice_learner
from models.learners.river_fm import STATE_LIMIT, PointwiseFM, RiverFM
from tests.models.learners.pointwise import feed_same_choices

PROPERTY = settings(max_examples=60, deadline=None, database=None)
NAMES = tuple(f"f{n}" for n in range(5))
PRIORS = {"f0": 0.5, "f3": -0.25}

rows = st.lists(st.lists(st.floats(-3.0, 3.0), min_size=len(NAMES), max_size=len(NAMES)),
                min_size=1, max_size=6)


def _trained(seed: int, n: int = 40) -> PointwiseFM:
    model = PointwiseFM(NAMES[:2], NAMES[2:], lr=0.05, initial=PRIORS, n_factors=3)
    rng = np.random.default_rng(seed)
    for _ in range(n):
        model.learn_matrix(rng.normal(0, 1, (4, len(NAMES))), int(rng.integers(4)))
    return model


@PROPERTY
@given(x=rows, seed=st.integers(0, 5))
def test_array_scores_are_rivers_own_predictions(x: list[list[float]], seed: int) -> None:
    model = _trained(seed)
    _, propensity = model.parts(np.array(x))
    expected = [model.model.predict_one(dict(zip(NAMES, r, strict=True))) for r in x]
    np.testing.assert_allclose(propensity, expected, rtol=1e-9, atol=1e-12)


def test_scores_any_leading_shape_as_one_showcase_at_a_time() -> None:
    """A room ranks viewers × items × features at once."""
    model = _trained(1)
    x = np.random.default_rng(2).normal(0, 1, (3, 4, len(NAMES)))
    attention, propensity = model.parts(x)
    for v in range(3):
        np.testing.assert_allclose(propensity[v], model.parts(x[v])[1], rtol=1e-12)
    np.testing.assert_allclose(attention, 0.25)


def test_learns_what_rivers_fm_classifier_learns() -> None:
    """The same pointwise examples (each item on show, chosen or not) into River's own
    ``FMClassifier`` whose latents were drawn in the same order give the same model."""
    peer = PointwiseFM(NAMES[:2], NAMES[2:], lr=0.05, initial=PRIORS, n_factors=3)
    river = facto.FMClassifier(n_factors=3, weight_optimizer=optim.SGD(0.05),
                               latent_optimizer=optim.SGD(0.05), intercept_lr=0.01, seed=0)
    for name in NAMES:
        river.weights[name] = PRIORS.get(name, 0.0)
        river.latents[name]  # drawn in the same order
    feed_same_choices(peer, river, NAMES, 60)
    coef, intercept, latents = peer.model.state()
    np.testing.assert_allclose(coef, [river.weights[n] for n in NAMES], rtol=1e-12)
    assert intercept == pytest.approx(river.intercept, rel=1e-12)
    np.testing.assert_allclose(latents, [river.latents[n] for n in NAMES], rtol=1e-12)
    assert peer.learned == 60


def test_snapshot_weights_restore_the_model_exactly() -> None:
    trained, fresh = _trained(3), PointwiseFM(NAMES[:2], NAMES[2:], n_factors=3)
    fresh.weights = trained.weights.copy()
    x = np.random.default_rng(4).normal(0, 1, (5, len(NAMES)))
    np.testing.assert_array_equal(fresh.parts(x)[1], trained.parts(x)[1])
    assert trained.weights.shape == (len(NAMES) + 1 + len(NAMES) * 3,)
    step = np.random.default_rng(6).normal(0, 1, (4, len(NAMES)))
    trained.learn_matrix(step, 2)
    fresh.learn_matrix(step, 2)
    np.testing.assert_array_equal(fresh.weights, trained.weights)


def test_latents_do_not_depend_on_which_feature_came_first() -> None:
    a = RiverFM(NAMES, seed=0, n_factors=3)
    b = RiverFM(NAMES, seed=0, n_factors=3)
    b.learn_values([0.0, 0.0, 0.0, 0.0, 1.0], True)  # River would draw f4's vector first
    a.learn_values([0.0, 0.0, 0.0, 0.0, 1.0], True)
    np.testing.assert_array_equal(a.state()[2], b.state()[2])
    assert choice_learner("river-fm", NAMES[:2], NAMES[2:], 0.05).weights.shape == (
        len(NAMES) + 1 + len(NAMES) * 10,)  # River's default of 10 factors


def test_a_step_that_would_overflow_is_refused_and_undone() -> None:
    model = RiverFM(NAMES, lr=0.05, initial=PRIORS, n_factors=3)
    before = model.state()
    model.learn_values([1e200] * len(NAMES), False, 1e12)
    model.learn_values([math.nan, 0, 0, 0, 0], True)
    assert model.refused == 2
    after = model.state()
    np.testing.assert_array_equal(after[0], before[0])
    np.testing.assert_array_equal(after[2], before[2])
    assert after[1] == before[1]


def test_a_diverging_model_stays_bounded_and_ranks_with_numbers() -> None:
    # found by a red team: hostile prices and attrs (features near their bound of tens) made
    # River's SGD diverge while every number stayed finite, until ``raw`` squared the latents
    # into inf - inf and most propensities were NaN
    model = PointwiseFM(NAMES[:2], NAMES[2:], lr=0.05, initial=PRIORS)
    x = np.full((6, len(NAMES)), 27.6)
    x[::2] *= -1
    for step in range(300):
        model.learn_matrix(x, step % 6)
    assert np.abs(model.weights).max() <= STATE_LIMIT
    with np.errstate(all="raise"):  # no overflow on the way either
        attention, propensity = model.parts(x)
    assert np.isfinite(propensity).all() and np.isfinite(attention).all()
