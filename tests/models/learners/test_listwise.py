"""The listwise step is the gradient of log P(chosen) (checked numerically), and it learns."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from models.learners.listwise import ListwiseSoftmax


def _log_p(model: ListwiseSoftmax, x: np.ndarray, chosen: int) -> float:
    return float(np.log(model.probabilities(x)[chosen]))


@given(seed=st.integers(0, 10_000), n=st.integers(2, 12))
@settings(max_examples=60, deadline=None)
def test_step_follows_the_numerical_gradient(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, (n, 5))
    chosen = int(rng.integers(n))
    model = ListwiseSoftmax(("a", "b"), ("c", "d", "e"), lr=1e-3, l2=0.0, clip=1e9)
    model.weights = rng.normal(0.0, 1.0, 5)
    numerical = np.empty(5)
    for k in range(5):
        up, down = model.weights.copy(), model.weights.copy()
        up[k] += 1e-6
        down[k] -= 1e-6
        probe = ListwiseSoftmax(("a", "b"), ("c", "d", "e"))
        probe.weights = up
        high = _log_p(probe, x, chosen)
        probe.weights = down
        numerical[k] = (high - _log_p(probe, x, chosen)) / 2e-6
    before = model.weights.copy()
    model.learn_matrix(x, chosen)
    np.testing.assert_allclose((model.weights - before) / 1e-3, numerical, rtol=1e-4, atol=1e-6)


def test_non_finite_examples_are_refused_and_learn_nothing() -> None:
    model = ListwiseSoftmax(("a",), ("b",))
    before = model.weights.copy()
    model.learn_matrix(np.array([[np.nan, 0.0], [0.0, 1.0]]), 0)
    model.learn_matrix(np.array([[1.0, 0.0], [0.0, 1.0]]), 0, weight=float("inf"))
    assert model.refused == 2 and model.learned == 0
    np.testing.assert_array_equal(model.weights, before)


def test_it_recovers_a_choice_rule() -> None:
    """Viewers pick by 2·taste − 1·price among 8 items: the weights find the signs and the
    ranking agrees with the rule on fresh showcases far more often than chance."""
    rng = np.random.default_rng(3)
    model = ListwiseSoftmax(("taste",), ("price",), lr=0.1, initial={})
    for _ in range(3_000):
        x = rng.normal(0.0, 1.0, (8, 2))
        utility = 2.0 * x[:, 0] - 1.0 * x[:, 1]
        p = np.exp(utility - utility.max())
        model.learn_matrix(x, int(rng.choice(8, p=p / p.sum())))
    assert model.weights[0] > 1.0 and model.weights[1] < -0.5
    agree = 0
    for _ in range(200):
        x = rng.normal(0.0, 1.0, (8, 2))
        agree += int(np.argmax(model.probabilities(x)) == np.argmax(2.0 * x[:, 0] - x[:, 1]))
    assert agree > 150
