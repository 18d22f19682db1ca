"""Differences of two rankers on the same actions, and their viewer-clustered error."""

from __future__ import annotations

import doctest
import math

from hypothesis import given
from hypothesis import strategies as st

import models.offline.paired
from models.offline.paired import Paired, paired, pooled

# per action: (viewer, a's hit, b's hit)
actions = st.lists(
    st.tuples(st.sampled_from("uvwxyz"), st.sampled_from((0.0, 1.0)), st.sampled_from((0.0, 1.0))),
    min_size=1, max_size=60,
)


def split(rows: list[tuple[str, float, float]]) -> tuple[dict, dict]:
    a = {str(n): (viewer, x) for n, (viewer, x, _) in enumerate(rows)}
    b = {str(n): (viewer, y) for n, (viewer, _, y) in enumerate(rows)}
    return a, b


def test_docstring_examples_run() -> None:
    assert doctest.testmod(models.offline.paired).failed == 0


@given(actions)
def test_the_difference_is_the_difference_of_the_hit_rates(rows: list) -> None:
    a, b = split(rows)
    d = paired(a, b)
    hr = [sum(v for _, v in side.values()) / len(side) for side in (a, b)]
    assert d.n == len(rows) and d.viewers == len({v for v, _, _ in rows})
    assert math.isclose(d.diff, hr[0] - hr[1], abs_tol=1e-12)
    back = paired(b, a)
    assert math.isclose(back.diff, -d.diff, abs_tol=1e-12)
    assert back.se == d.se or (math.isnan(back.se) and math.isnan(d.se))


@given(actions)
def test_one_action_per_viewer_gives_the_textbook_standard_error(rows: list) -> None:
    a = {str(n): (str(n), x) for n, (_, x, _) in enumerate(rows)}
    b = {str(n): (str(n), y) for n, (_, _, y) in enumerate(rows)}
    d = paired(a, b)
    if len(rows) < 2:
        assert math.isnan(d.se)
        return
    diffs = [x - y for _, x, y in rows]
    mean = sum(diffs) / len(diffs)
    sample_var = sum((x - mean) ** 2 for x in diffs) / (len(diffs) - 1)
    assert math.isclose(d.se, math.sqrt(sample_var / len(diffs)), rel_tol=1e-9, abs_tol=1e-12)


@given(actions)
def test_a_viewer_repeating_themselves_is_not_new_evidence(rows: list) -> None:
    """Every action twice over by the same viewer: actions counted as independent would
    shrink the error by √2; clustered by viewer it stays where it was."""
    a, b = split(rows)
    twice = rows + rows
    a2, b2 = split(twice)
    once, doubled = paired(a, b), paired(a2, b2)
    assert math.isclose(doubled.diff, once.diff, abs_tol=1e-12)
    if not math.isnan(once.se):
        assert math.isclose(doubled.se, once.se, rel_tol=1e-9, abs_tol=1e-12)


def test_only_actions_both_were_scored_on_count() -> None:
    a = {"1": ("u", 1.0), "2": ("v", 1.0)}
    b = {"2": ("v", 0.0), "3": ("w", 1.0)}
    assert paired(a, b).as_tuple()[::2] == (1.0, 1)
    assert paired(a, {}).n == 0 and math.isnan(paired(a, {}).diff)


def test_beyond_noise_needs_the_interval_to_exclude_zero() -> None:
    assert Paired(0.03, 0.01, 100, 50).beyond_noise
    assert not Paired(-0.015, 0.01, 100, 50).beyond_noise
    assert not Paired(0.5, math.nan, 1, 1).beyond_noise


def test_pooling_seeds_averages_them_and_narrows_the_error() -> None:
    runs = [Paired(0.02, 0.01, 100, 40), Paired(-0.01, 0.01, 80, 30), Paired(0.0, 0.0, 0, 0)]
    both = pooled(runs)  # the empty run is left out
    assert math.isclose(both.diff, 0.005) and math.isclose(both.se, math.sqrt(2) * 0.01 / 2)
    assert (both.n, both.viewers) == (180, 70)
    assert pooled([]).n == 0
