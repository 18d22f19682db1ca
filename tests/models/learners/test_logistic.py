"""models.learners.logistic.LogisticRegression against River's own LogisticRegression."""

from __future__ import annotations

import numpy as np
import pytest
from river import linear_model, optim

from models.learners.logistic import LogisticRegression

NAMES = tuple(f"f{n}" for n in range(12))


@pytest.mark.parametrize(("l2", "scale"), [(0.0, 1.0), (1e-3, 1.0), (1e-4, 25.0)])
def test_same_stream_same_model_as_river(l2: float, scale: float) -> None:
    """Scale 25 drives raw scores past River's ±18 cut-offs of the log-loss gradient."""
    rng = np.random.default_rng(int(l2 * 1e4) + int(scale))
    priors = {"f0": 1.0, "f3": -0.5}
    river = linear_model.LogisticRegression(optimizer=optim.SGD(0.05), l2=l2)
    for name, weight in priors.items():
        river._weights[name] = weight
    ours = LogisticRegression(NAMES, lr=0.05, l2=l2, initial=priors)
    for _ in range(3_000):
        x = dict(zip(NAMES, (rng.normal(0, scale, len(NAMES))).tolist(), strict=True))
        y, w = bool(rng.random() < 0.3), float(rng.choice([0.5, 1.0, 2.0]))
        assert ours.predict_proba_one(x)[True] == pytest.approx(
            river.predict_proba_one(x)[True], abs=1e-9
        )
        river.learn_one(x, y, w=w)
        ours.learn_one(x, y, w)
    assert ours.intercept == pytest.approx(river.intercept, abs=1e-9)
    learned = river.weights
    coef, _ = ours.weights()
    for name, weight in zip(NAMES, coef.tolist(), strict=True):
        assert weight == pytest.approx(learned.get(name, 0.0), abs=1e-9), name


def test_incomplete_examples_are_refused() -> None:
    """River would leave the missing features' weights unregularised: no silent difference."""
    model = LogisticRegression(NAMES, l2=0.1)
    with pytest.raises(KeyError, match="exactly the features"):
        model.learn_one({"f0": 1.0}, True)
