"""The step's one-showcase ``parts`` is ``parts`` itself, bit for bit."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from models.learners.listwise import ListwiseSoftmax


@given(seed=st.integers(0, 100_000), n=st.integers(1, 60), scale=st.sampled_from([0.1, 1, 30]))
@settings(max_examples=100, deadline=None)
def testparts_of_one_is_parts(seed: int, n: int, scale: float) -> None:
    rng = np.random.default_rng(seed)
    model = ListwiseSoftmax(("a", "b", "c"), ("d", "e"))
    model.weights = rng.normal(0.0, scale, 5)
    x = rng.normal(0.0, scale, (n, 5))
    for fast, plain in zip(model.parts_of_one(x), model.parts(x), strict=True):
        np.testing.assert_array_equal(fast, plain)
