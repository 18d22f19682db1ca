"""The weights file ``roomrank fit`` writes and ``--choice-weights`` reads."""

from __future__ import annotations

import math

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from models import choice_weights
from models.choice_features import FEATURES, PRIORS

finite = st.floats(-choice_weights.LIMIT, choice_weights.LIMIT, allow_nan=False)


@given(st.lists(finite, min_size=len(FEATURES), max_size=len(FEATURES)))
def test_weights_come_back_in_feature_order(weights: list[float]) -> None:
    assert choice_weights.loads(choice_weights.dumps(weights, {"choices": 1})) == tuple(weights)


def body(**weights: object) -> bytes:
    return orjson.dumps({"format": choice_weights.FORMAT, "version": choice_weights.VERSION,
                         "weights": weights})


def test_a_feature_the_file_does_not_name_keeps_its_prior() -> None:
    loaded = dict(zip(FEATURES, choice_weights.loads(body(spotlight=2.5)), strict=True))
    assert loaded["spotlight"] == 2.5
    assert all(loaded[n] == PRIORS.get(n, 0.0) for n in FEATURES if n != "spotlight")


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "not a weights file"),
        (orjson.dumps({"format": choice_weights.FORMAT, "version": 9, "weights": {}}),
         "version 9; this release reads 1"),
        (orjson.dumps({"format": choice_weights.FORMAT, "version": 1, "weights": [1]}),
         '"weights" must be an object'),
        (body(spotlite=1.0), "unknown feature 'spotlite'"),
        (body(spotlight="high"), "must be a number, not 'high'"),
        (body(spotlight=True), "must be a number, not True"),
        (body(spotlight=1e6), "beyond ±20"),
        (b'{"format": "roomrank-choice-weights", "version": 1, "weights": {"bias": NaN}}',
         "not JSON"),
        # found by a red team: these turned the warm start off without a word
        (orjson.dumps({"format": choice_weights.FORMAT, "version": 1, "weights": {}}),
         '"weights" names no feature'),
        (orjson.dumps({"format": choice_weights.FORMAT, "version": True, "weights": {}}),
         "version True; this release reads 1"),
        (orjson.dumps({"format": choice_weights.FORMAT, "version": 1.0, "weights": {}}),
         "version 1.0; this release reads 1"),
    ],
)
def test_a_file_the_job_cannot_use_is_refused_saying_what_to_fix(data: bytes, says: str) -> None:
    with pytest.raises(ValueError) as err:
        choice_weights.loads(data)
    assert says in str(err.value)


def test_a_fit_that_did_not_converge_is_not_written() -> None:
    weights = [0.0] * len(FEATURES)
    weights[3] = math.nan
    with pytest.raises(ValueError, match="not finite"):
        choice_weights.dumps(weights, {})


def test_read_names_the_file() -> None:
    with pytest.raises(ValueError) as err:
        choice_weights.read("/nonexistent/w.json")
    assert str(err.value) == "--choice-weights '/nonexistent/w.json': No such file or directory"
