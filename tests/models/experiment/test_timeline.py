"""The timeline ends where the readout ends, and its allocation shares sum to one."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from models.experiment.timeline import experiment_timeline

PUSHES = st.dictionaries(
    st.sampled_from(["attention", "control", "holdout"]),
    st.lists(st.tuples(st.integers(0, 3_600_000), st.booleans()), min_size=1, max_size=40),
    min_size=1,
)


@given(PUSHES, st.integers(1, 30))
def test_last_point_is_the_whole_experiment_and_shares_sum_to_one(
    pushed: dict[str, list[tuple[int, bool]]], bins: int
) -> None:
    t = experiment_timeline(pushed, [], bins=bins)
    assert len(t.ends) == bins and t.allocation_of == "pushes"
    for arm, rows in pushed.items():
        s, n = sum(c for _, c in rows), len(rows)
        assert t.conversion[arm][-1] == round((1 + s) / (2 + n), 6)
        assert all(lo <= hi for lo, hi in zip(t.low[arm], t.high[arm], strict=True))
    for b in range(bins):
        shares = [t.allocation[a][b] for a in pushed]
        assert all(math.isnan(v) for v in shares) or math.isclose(sum(shares), 1.0, abs_tol=1e-5)


def test_adaptive_allocation_is_read_from_the_assignments() -> None:
    assigned = [{"ts": ts, "arm": arm} for ts, arm in
                ((0, "a"), (10, "a"), (20, "b"), (90, "b"), (95, "b"), (100, "b"))]
    t = experiment_timeline({"a": [(0, False)], "b": [(100, True)]}, assigned, bins=2)
    assert t.allocation_of == "assignments"
    assert t.allocation == {"a": [0.666667, 0.0], "b": [0.333333, 1.0]}
