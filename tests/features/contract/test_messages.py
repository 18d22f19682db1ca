"""``encode_pushes`` (fragments joined, numbers in bulk) against its readable twin ``push_dicts``.

The oracle is ``orjson.dumps`` of each ``push_dicts`` entry: values must be the same bytes (same
keys in the same order, same escaping, same float text), and so parse back to the same dict,
floats included. Keys are the ``user_id`` bytes, as the contract says.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import features.contract.messages as messages
from features.contract.ids import rec_id
from features.contract.messages import WHY_TEXT, PushBatch, encode_pushes, push_dicts
from features.contract.schemas import load

SLOW = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture]

# Characters JSON must escape, or that a careless encoder might: quotes, backslashes, control
# characters, DEL, line/paragraph separators, non-ASCII and astral (4-byte UTF-8) characters.
ODD = '"\\/\x00\x01\x08\t\n\r\x1f\x7f\u2028\u2029é中😀,:{}[]'
odd_text = st.text(
    alphabet=st.one_of(st.sampled_from(ODD), st.characters(codec="utf-8")),
    min_size=1,
    max_size=12,
)
# Values that exercise the float text: zero and negative zero, what rounds to 0 or to 1e-06,
# integral values, long fractions, float32 neighbours.
SPECIAL = [0.0, -0.0, 1e-7, 4.99e-7, 5e-7, 1e-6, 1.0, 2.0, 0.1, 1 / 3, 0.5000005, 123456.7, 1e15]
float64s = st.one_of(
    st.sampled_from(SPECIAL), st.floats(-1e12, 1e12, allow_nan=False, allow_infinity=False)
)
float32s = st.one_of(
    st.sampled_from(SPECIAL),
    st.floats(width=32, allow_nan=False, allow_infinity=False),
)


def _arrays(draw: st.DrawFn, shape: tuple[int, int]) -> np.ndarray:
    if draw(st.booleans()):
        return draw(hnp.arrays(np.float32, shape, elements=float32s))
    return draw(hnp.arrays(np.float64, shape, elements=float64s))


@st.composite
def batches(draw: st.DrawFn, ids: st.SearchStrategy[str] = odd_text) -> PushBatch:
    n = draw(st.integers(0, 6))
    item_ids = draw(st.lists(ids, min_size=0, max_size=5))
    k = draw(st.integers(0, 4)) if item_ids else 0
    arm_pool = draw(st.lists(ids, min_size=1, max_size=3))
    shape = (n, k)
    return PushBatch(
        room_id=draw(ids),
        trigger=draw(st.one_of(st.sampled_from(["showcase", "enter"]), ids)),
        trigger_id=draw(ids),
        ts=draw(st.integers(0, 2**63 - 1)),
        user_ids=draw(st.lists(ids, min_size=n, max_size=n)),
        arms=draw(st.lists(st.sampled_from(arm_pool), min_size=n, max_size=n)),
        item_ids=item_ids,
        top=draw(hnp.arrays(np.int64, shape, elements=st.integers(0, max(len(item_ids) - 1, 0)))),
        score=_arrays(draw, shape),
        attention=_arrays(draw, shape),
        propensity=_arrays(draw, shape),
        why=draw(hnp.arrays(np.int8, (n,), elements=st.integers(0, len(WHY_TEXT) - 1))),
    )


@pytest.fixture(params=["fragments", "dicts"], autouse=True)
def encoder_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs on both of encode_pushes' paths: the fragments (forced for batches of
    any size) and the dict-per-push path it takes for small batches."""
    monkeypatch.setattr(messages, "FRAGMENTS_FROM", 0 if request.param == "fragments" else 10**9)
    return str(request.param)


@settings(suppress_health_check=SLOW)
@given(batch=batches(), emitted_at=st.integers(0, 2**63 - 1))
def test_encode_pushes_is_orjson_of_push_dicts(batch: PushBatch, emitted_at: int) -> None:
    encoded = encode_pushes(batch, emitted_at)
    pushes = push_dicts(batch, emitted_at)
    assert [key for key, _ in encoded] == [str(p["user_id"]).encode() for p in pushes]
    for (_, value), push in zip(encoded, pushes, strict=True):
        assert orjson.loads(value) == push
        assert value == orjson.dumps(push)


@settings(suppress_health_check=SLOW)
@given(batch=batches(), emitted_at=st.integers(0, 2**40))
def test_rec_ids_are_the_contract_ids(batch: PushBatch, emitted_at: int) -> None:
    values = [orjson.loads(value) for _, value in encode_pushes(batch, emitted_at)]
    assert [v["rec_id"] for v in values] == [rec_id(batch.trigger_id, u) for u in batch.user_ids]


# Contract ids: non-empty, at most 128 characters (the schema's bounds).
contract_id = st.text(st.characters(codec="utf-8"), min_size=1, max_size=128)


@settings(suppress_health_check=SLOW)
@given(batch=batches(contract_id), emitted_at=st.integers(0, 2**63 - 1))
def test_values_validate_against_the_recommendation_schema(
    batch: PushBatch, emitted_at: int
) -> None:
    batch.trigger = batch.trigger if batch.trigger in ("showcase", "enter") else "enter"
    # attention and propensity are probabilities; score is any number
    batch.attention = np.clip(np.abs(batch.attention), 0.0, 1.0)
    batch.propensity = np.clip(np.abs(batch.propensity), 0.0, 1.0)
    validator = jsonschema.Draft202012Validator(load("recommendation"))
    for _, value in encode_pushes(batch, emitted_at):
        push = orjson.loads(value)
        validator.validate(push)
        assert ("why" in push) == bool(push["items"])


def _batch(n: int, k: int, **changes: Any) -> PushBatch:
    fields: dict[str, Any] = {
        "room_id": "r-7",
        "trigger": "showcase",
        "trigger_id": "e-2",
        "ts": 1764331201000,
        "user_ids": [f"u-{v}" for v in range(n)],
        "arms": ["attention"] * n,
        "item_ids": ["sku-1", "sku-2", "sku-3"],
        "top": np.tile(np.arange(k), (n, 1)),
        "score": np.full((n, k), 0.25, np.float32),
        "attention": np.full((n, k), 1 / 3, np.float32),
        "propensity": np.full((n, k), 0.75, np.float32),
        "why": np.zeros(n, np.int8),
    }
    return PushBatch(**{**fields, **changes})


def test_a_push_as_the_contract_shows_it() -> None:
    [(key, value)] = encode_pushes(_batch(1, 2), emitted_at=1764331201005)
    assert key == b"u-0"
    assert value == (
        b'{"rec_id":"' + rec_id("e-2", "u-0").encode() + b'","room_id":"r-7","user_id":"u-0",'
        b'"trigger":"showcase","trigger_id":"e-2","ts":1764331201000,"emitted_at":1764331201005,'
        b'"arm":"attention","items":['
        b'{"item_id":"sku-1","rank":1,"score":0.25,"attention":0.333333,"propensity":0.75},'
        b'{"item_id":"sku-2","rank":2,"score":0.25,"attention":0.333333,"propensity":0.75}],'
        b'"why":"on stage now"}'
    )


def test_no_items_means_no_why_and_no_viewers_no_pushes() -> None:
    [(_, value)] = encode_pushes(_batch(1, 0), emitted_at=0)
    assert orjson.loads(value)["items"] == []
    assert b"why" not in value
    assert encode_pushes(_batch(0, 3), emitted_at=0) == []


@pytest.mark.parametrize(
    "changes",
    [
        {"arms": ["attention"]},
        {"score": np.zeros((3, 1), np.float32)},
        {"attention": np.zeros(2, np.float32)},
        {"why": np.zeros(1, np.int8)},
        {"top": np.zeros((2, 2), np.int64)},
    ],
)
def test_misaligned_arrays_are_refused_not_truncated(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="PushBatch"):
        encode_pushes(_batch(3, 2, **changes), emitted_at=0)


@pytest.mark.parametrize("n", [1, messages.FRAGMENTS_FROM + 1])
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_a_push_never_carries_a_non_finite_number(n: int, bad: float) -> None:
    """Both encoders (dicts and fragments) write 0.0 for a NaN or infinite score, attention
    or propensity: JSON has no NaN, orjson writes null, and the schema says number."""
    k = 3
    batch = _batch(n, k, score=np.full((n, k), bad), attention=np.full((n, k), bad),
                   propensity=np.full((n, k), bad))  # fmt: skip
    validator = jsonschema.Draft202012Validator(load("recommendation"))
    for _, value in encode_pushes(batch, 1):
        push = orjson.loads(value)
        validator.validate(push)
        for item in push["items"]:
            assert (item["score"], item["attention"], item["propensity"]) == (0.0, 0.0, 0.0)
