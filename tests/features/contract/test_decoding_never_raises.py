"""``decode_event`` never raises: any bytes or JSON give an Event or a well-formed dead letter."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.contract.decoding import MAX_ID_LEN, decode_event
from features.contract.events import DEAD_LETTER_REASONS, EVENT_TYPES, DeadLetter, Event
from tests.features.contract.helpers import COMMON_FIELDS, ORIGIN, VALID, check_encoded_dead_letter

SLOW = [HealthCheck.too_slow]


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["", "x" * (MAX_ID_LEN + 1), "sku-1", "sku-2", "u-1", "leave"])
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
field_names = st.sampled_from(
    [*COMMON_FIELDS, "user_id", "item_id", "watch_ms", "amount", "qty", "rec_id", "items",
     "spotlight", "attrs", "title", "price", "category"]
)  # fmt: skip


@st.composite
def mutated_events(draw: st.DrawFn) -> dict[str, Any]:
    """A valid message with some fields deleted or replaced by arbitrary JSON values."""
    obj = copy.deepcopy(VALID[draw(st.sampled_from(sorted(VALID)))])
    for _ in range(draw(st.integers(0, 3))):
        name = draw(field_names)
        if draw(st.booleans()):
            obj.pop(name, None)
        else:
            obj[name] = draw(json_values)
    if isinstance(obj.get("items"), list) and obj["items"] and draw(st.booleans()):
        n = draw(st.integers(0, len(obj["items"]) - 1))
        if isinstance(obj["items"][n], dict):
            obj["items"][n][draw(field_names)] = draw(json_values)
    return obj


json_objects = (
    mutated_events() | st.dictionaries(field_names, json_values, max_size=8) | json_values
)


def check_result(result: object, raw: bytes) -> None:
    assert isinstance(result, Event | DeadLetter)
    if isinstance(result, DeadLetter):
        assert result.reason in DEAD_LETTER_REASONS
        assert isinstance(result.error, str) and result.error
        assert result.raw == raw
        check_encoded_dead_letter(result)
    else:
        assert result.type in EVENT_TYPES
        for value in (result.event_id, result.room_id):
            assert isinstance(value, str) and 0 < len(value) <= MAX_ID_LEN
        assert type(result.ts) is int and result.ts >= 0
        assert result.raw == raw


@settings(max_examples=200, deadline=None, database=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    check_result(decode_event(raw, ORIGIN), raw)


@settings(max_examples=120, deadline=None, database=None, suppress_health_check=SLOW)
@given(json_objects)
def test_arbitrary_json_never_raises(obj: Any) -> None:
    raw = json.dumps(obj).encode()
    check_result(decode_event(raw, ORIGIN), raw)
    check_result(decode_event(raw, ORIGIN, max_bytes=64), raw)


@settings(max_examples=120, deadline=None, database=None, suppress_health_check=SLOW)
@given(mutated_events())
def test_mutated_events_dead_letters_name_a_problem(obj: dict[str, Any]) -> None:
    """A rejected near-valid message never falls back to the anonymous decoder-bug error."""
    raw = json.dumps(obj).encode()
    result = decode_event(raw, ORIGIN)
    check_result(result, raw)
    if isinstance(result, DeadLetter):
        assert "could not be decoded" not in result.error, (obj, result.error)
