"""The Newton learner (``models.learners.newton``): a room's choice model, with one prior
precision for every weight or one per feature."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.learners import newton
from models.learners.choice import choice_learner
from models.learners.listwise import ListwiseSoftmax, listwise_ranker
from models.learners.newton import NewtonSoftmax, solve

PROPERTY = settings(max_examples=60, deadline=None, database=None)
TASTE, POWER = ("a", "b", "c"), ("bias", "d")

showcases = st.integers(2, 6).flatmap(
    lambda n: st.tuples(
        st.lists(st.lists(st.floats(-2.0, 2.0), min_size=3, max_size=3), min_size=n,
                 max_size=n),
        st.integers(0, n - 1),
        st.lists(st.floats(-1.5, 1.5), min_size=3, max_size=3),
    )
)


def _log_p(w: np.ndarray, x: np.ndarray, chosen: int) -> float:
    logits = x @ w
    return float(logits[chosen] - np.log(np.exp(logits - logits.max()).sum()) - logits.max())


@PROPERTY
@given(case=showcases)
def test_the_evidence_added_is_the_curvature_of_the_choices_log_likelihood(
    case: tuple[list[list[float]], int, list[float]],
) -> None:
    """For attention alone (no power features) the information one choice adds to the
    precision is minus the Hessian of log P(chosen), here taken by finite differences."""
    rows, chosen, start = case
    x = np.array(rows)
    model = NewtonSoftmax(TASTE, (), initial=dict(zip(TASTE, start, strict=True)))
    before = model.precision.copy()
    w0 = model.weights.copy()
    model.learn_matrix(x, chosen)
    h, n = 1e-4, len(TASTE)
    hessian = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            e_i, e_j = np.eye(n)[i] * h, np.eye(n)[j] * h
            hessian[i, j] = (_log_p(w0 + e_i + e_j, x, chosen) - _log_p(w0 + e_i - e_j, x, chosen)
                             - _log_p(w0 - e_i + e_j, x, chosen)
                             + _log_p(w0 - e_i - e_j, x, chosen)) / (4 * h * h)
    np.testing.assert_allclose(model.precision - before, -hessian, atol=1e-5)


@PROPERTY
@given(case=showcases)
def test_a_step_is_the_gradient_through_the_posterior_precision(
    case: tuple[list[list[float]], int, list[float]],
) -> None:
    rows, chosen, start = case
    x = np.array(rows)
    model = NewtonSoftmax(TASTE, (), initial=dict(zip(TASTE, start, strict=True)),
                          prior_precision=2.0, clip=1e9)
    w0 = model.weights.copy()
    p = np.exp(x @ w0 - (x @ w0).max())
    p /= p.sum()
    grad = x[chosen] - p @ x
    fisher = x.T @ (p[:, None] * x) - np.outer(p @ x, p @ x)
    model.learn_matrix(x, chosen)
    np.testing.assert_allclose(model.weights - w0,
                               np.linalg.solve(2.0 * np.eye(3) + fisher, grad), atol=1e-9)


def test_learns_a_far_off_weight_in_fewer_choices_than_sgd() -> None:
    """The spotlight takes most choices but the starting weight says it is a mild hint."""
    rng = np.random.default_rng(1)
    sgd = ListwiseSoftmax(TASTE, POWER, initial={"d": 0.5})
    newton = NewtonSoftmax(TASTE, POWER, initial={"d": 0.5})
    for _ in range(60):
        x = np.zeros((8, 5))
        x[:, :3] = rng.normal(0, 1, (8, 3)) * 0.1
        x[:, 3] = 1.0
        x[0, 4] = 1.0  # the spotlight
        chosen = 0 if rng.random() < 0.6 else int(rng.integers(1, 8))
        sgd.learn_matrix(x, chosen)
        newton.learn_matrix(x, chosen)
    assert newton.weights[4] > 2.0 > 1.0 > sgd.weights[4]  # chosen 6 times in 10 of 8 items


def test_frozen_refused_ablated_and_restarted() -> None:
    x = np.array([[1.0, 0.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0, 1.0]])
    frozen = NewtonSoftmax(TASTE, POWER, lr=0.0)
    assert frozen.learn_matrix(x, 0) is not None
    assert (frozen.weights == frozen.prior).all() and (frozen.precision == 3.0 * np.eye(5)).all()
    model = NewtonSoftmax(TASTE, POWER)
    bad = x.copy()
    bad[0, 0] = math.nan
    assert model.learn_matrix(bad, 0) is None and model.refused == 1 and model.learned == 0
    model.learn_matrix(x, 0)  # a step with every weight free, before an ablation
    model.start_from([], off=frozenset({"a"}))
    for _ in range(10):
        model.learn_matrix(x, 0)
    assert model.weights[0] == 0.0 and model.weights[4] != model.prior[4]
    model.start_from([0.5] * 5)
    assert (model.weights == 0.5).all() and (model.precision == 3.0 * np.eye(5)).all()
    with pytest.raises(ValueError, match="prior precision must be > 0"):
        NewtonSoftmax(TASTE, POWER, prior_precision=0.0)


def test_a_weight_the_worlds_disagree_on_moves_and_one_they_agree_on_stays() -> None:
    """Per-feature precision: the same evidence moves a loosely held weight further."""
    x = np.array([[1.0, 0.0, 0.0, 1.0, 1.0], [0.0, 1.0, 0.0, 1.0, 0.0],
                  [0.0, 0.0, 1.0, 1.0, 0.0]])  # item 0 holds both a and d
    model = NewtonSoftmax(TASTE, POWER, prior_precision={"a": 25.0, "b": 3.0, "c": 3.0,
                                                          "bias": 3.0, "d": 1.0})
    assert model.precision.diagonal().tolist() == [25.0, 3.0, 3.0, 3.0, 1.0]
    for _ in range(10):
        model.learn_matrix(x, 0)
    moved = np.abs(model.weights - model.prior)
    assert moved[4] > 3 * moved[0] > 0  # d, loosely held, carries most of the lesson
    model.start_from([0.0] * 5)
    assert model.precision.diagonal().tolist() == [25.0, 3.0, 3.0, 3.0, 1.0]
    with pytest.raises(ValueError, match="prior precision missing for d"):
        NewtonSoftmax(TASTE, POWER, prior_precision={"a": 1.0, "b": 1.0, "c": 1.0, "bias": 1.0})
    with pytest.raises(ValueError, match="prior precision must be > 0"):
        NewtonSoftmax(TASTE, POWER, prior_precision={**dict.fromkeys(TASTE, 1.0), "bias": 1.0,
                                                     "d": math.nan})


def test_the_room_learner_is_newton_under_a_precision_and_sgd_without() -> None:
    newton = choice_learner("fast", TASTE, POWER, 0.05, {"a": -1.0}, prior_precision=3.0)
    assert isinstance(newton, NewtonSoftmax) and listwise_ranker(newton) is newton
    per_feature = choice_learner("fast", TASTE, POWER, 0.05,
                                 prior_precision=dict.fromkeys((*TASTE, *POWER), 2.0))
    assert isinstance(per_feature, NewtonSoftmax)
    sgd = choice_learner("fast", TASTE, POWER, 0.05)
    assert type(sgd) is ListwiseSoftmax and listwise_ranker(sgd) is sgd
    assert listwise_ranker(choice_learner("river", TASTE, POWER, 0.05)) is None


systems = st.integers(1, 20).flatmap(
    lambda n: st.tuples(
        st.lists(st.floats(-1e3, 1e3), min_size=n * n, max_size=n * n),
        st.lists(st.floats(-1e3, 1e3), min_size=n, max_size=n),
        st.floats(1e-3, 1e3),
    )
)


@PROPERTY
@given(case=systems)
def test_solve_is_numpys_solve_bit_for_bit(case: tuple[list[float], list[float], float]) -> None:
    """The step's fast path and its readable twin, on positive definite systems as the
    learner's (a precision: λ I plus a Gram matrix) and with numpy's own wrapper forced."""
    cells, b, lam = case
    n = len(b)
    m = np.array(cells).reshape(n, n)
    a = lam * np.eye(n) + m @ m.T
    expected = np.linalg.solve(a, np.array(b))
    assert np.array_equal(solve(a, np.array(b)), expected)
    fast = newton._SOLVE1
    try:
        newton._SOLVE1 = None
        assert np.array_equal(solve(a, np.array(b)), expected)
    finally:
        newton._SOLVE1 = fast


def test_a_choice_whose_curvature_overflows_is_refused_not_raised() -> None:
    """Finite features can still give an infinite precision (their squares overflow): the
    step is refused before the solve, and the model is as it was."""
    model = NewtonSoftmax(TASTE, POWER)
    model.learn_matrix(np.array([[1.0, 0.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0, 1.0]]), 0)
    weights, precision = model.weights.copy(), model.precision.copy()
    huge = np.array([[1e200, 0.0, 0.0, 1.0, 0.0], [0.0, 1e200, 0.0, 1.0, 1.0]])
    with np.errstate(over="ignore", invalid="ignore"):
        assert model.learn_matrix(huge, 0) is None
    assert model.refused == 1 and model.learned == 1
    assert np.array_equal(model.weights, weights) and np.array_equal(model.precision, precision)
