"""``_finite`` (the one-push encoder's guard) is ``np.nan_to_num`` of the rounded values."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from features.contract.messages import _finite


@given(values=arrays(st.sampled_from([np.float32, np.float64]),
                     st.tuples(st.integers(0, 4), st.integers(0, 4)),
                     elements=st.floats(allow_nan=True, allow_infinity=True, width=32)))
def test_finite_equals_nan_to_num(values: np.ndarray) -> None:
    rounded = np.round(np.asarray(values, dtype=np.float64), 6)
    twin = np.nan_to_num(rounded, nan=0.0, posinf=0.0, neginf=0.0)
    np.testing.assert_array_equal(_finite(values).view(np.uint64), twin.view(np.uint64))
