"""``--learner river`` runs River's own estimators inside the job and pushes what the fast
learners push (``tests/models/learners/test_contract.py`` holds the learner-level contract)."""

from __future__ import annotations

import pytest

from flows.settings import Settings
from tests.flows.helpers import run_lines, stable, world_lines


def test_river_learners_push_the_same_items_as_the_fast_ones() -> None:
    lines = world_lines(seed=3, rooms=4, viewers=150, minutes=8)
    fast, fast_letters = run_lines(lines, Settings.load({"learner": "fast"}, env={}))
    river, river_letters = run_lines(lines, Settings.load({"learner": "river"}, env={}))
    assert len(fast) > 500 and fast_letters == river_letters
    # Not vacuous: the learners moved away from their starting point (some viewer's
    # attention is no longer uniform, and some propensity is off the priors' values).
    attention = {item["attention"] for push in fast for item in push["items"]}
    assert len(attention) > 100
    assert stable(fast) == stable(river)


def test_unknown_learner_is_refused_with_the_flag_name() -> None:
    with pytest.raises(ValueError, match="--learner must be one of fast, river, not 'torch'"):
        Settings.load({"learner": "torch"}, env={})
