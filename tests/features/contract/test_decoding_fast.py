"""``decode_event``'s fast path against its readable twin ``validation.validate_event``.

The fast path only decides "valid" and builds the Event; everything else goes to the careful
field-by-field validation. So the two must agree exactly: the same Event field values (types
included: ``89`` is stored as ``89.0``, ``-0.0`` stays ``-0.0``) for every valid message, the
same dead letter (reason and error text, byte for byte) for every invalid one, and valid
messages must really take the fast path (or the comparison would prove nothing).
"""

from __future__ import annotations

import copy
import json
from typing import Any
from unittest import mock

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import features.contract.decoding as decoding
import features.contract.validation as validation
from features.contract.decoding import MAX_ID_LEN, MAX_SHOWCASE_ITEMS, decode_event
from features.contract.duplicates import surely_unique
from features.contract.events import (
    ENGAGEMENT_TYPES,
    EVENT_TYPES,
    CutMessage,
    DeadLetter,
    Event,
    Origin,
)
from features.contract.limits import MAX_ATTR, MAX_MONEY, MAX_QTY, MAX_TS, MAX_WATCH_MS
from features.contract.validation import validate_event

ORIGIN = Origin("live.room-events", 1, 7)
SLOW = [HealthCheck.too_slow, HealthCheck.data_too_large]
U64 = 2**64 - 1  # orjson's largest int; larger integers become floats
KNOWN = {"event_id", "type", "ts", "room_id", "user_id", "item_id", "watch_ms", "amount", "qty",
         "rec_id", "items", "spotlight", "attrs"}  # fmt: skip
ITEM_FIELDS = ["item_id", "price", "category", "title", "attrs"]


def snapshot(result: Event | DeadLetter) -> tuple[Any, ...]:
    """Everything about a result, with the types and reprs of the values (0 vs 0.0 vs -0.0)."""
    if isinstance(result, DeadLetter):
        return ("dead", result.origin, result.reason, result.error, result.raw)
    return (
        "event",
        *(
            (name, type(getattr(result, name)), repr(getattr(result, name)))
            for name in Event.__slots__
        ),
    )


def assert_same(raw: bytes, max_bytes: int = decoding.DEFAULT_MAX_BYTES) -> Event | DeadLetter:
    fast = decode_event(raw, ORIGIN, max_bytes)
    careful = validate_event(raw, ORIGIN, max_bytes)
    assert type(fast) is type(careful), (raw, fast, careful)
    assert fast == careful, (raw, fast, careful)
    assert snapshot(fast) == snapshot(careful), raw
    assert fast.raw is raw
    return fast


# -- valid messages ------------------------------------------------------------------------

ids = st.text(min_size=1, max_size=10) | st.sampled_from(
    ["x" * MAX_ID_LEN, "é" * MAX_ID_LEN, "u-1", "sku-1", "0", " "]
)
timestamps = st.integers(0, 5) | st.integers(0, MAX_TS)
watch_times = st.integers(0, 5) | st.integers(0, MAX_WATCH_MS)
numbers = (
    st.integers(0, 5)
    | st.integers(0, int(MAX_MONEY))
    | st.floats(min_value=0, max_value=MAX_MONEY)
    | st.sampled_from([0.0, -0.0, MAX_MONEY, 5e-324])
)
attr_values = (
    st.text(max_size=6)
    | st.integers(-(2**63), 2**63)
    | st.floats(min_value=-MAX_ATTR, max_value=MAX_ATTR)
)
attr_dicts = st.dictionaries(st.text(max_size=6), attr_values, max_size=4)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=6,
)
MISSING = object()  # an optional field left out


def put(obj: dict[str, Any], name: str, value: Any) -> None:
    if value is not MISSING:
        obj[name] = value


@st.composite
def showcase_items(draw: st.DrawFn) -> list[dict[str, Any]]:
    items = []
    for item_id in draw(st.lists(ids, unique=True, max_size=6)):
        item: dict[str, Any] = {"item_id": item_id, "price": draw(numbers)}
        item["category"] = draw(st.text(max_size=6))
        put(item, "title", draw(st.just(MISSING) | st.none() | st.text(max_size=6)))
        put(item, "attrs", draw(st.just(MISSING) | st.none() | attr_dicts))
        put(item, "colour", draw(st.just(MISSING) | json_values))  # unknown: ignored
        items.append(dict(draw(st.permutations(list(item.items())))))
    return items


@st.composite
def valid_events(draw: st.DrawFn) -> dict[str, Any]:
    etype = draw(st.sampled_from(sorted(EVENT_TYPES)))
    obj: dict[str, Any] = {"event_id": draw(ids), "type": etype, "ts": draw(timestamps)}
    obj["room_id"] = draw(ids)
    if etype not in ("showcase", "room_close"):
        obj["user_id"] = draw(ids)
    if etype == "enter":
        put(obj, "attrs", draw(st.just(MISSING) | st.none() | attr_dicts))
    elif etype == "heartbeat":
        obj["watch_ms"] = draw(watch_times)
    elif etype in ENGAGEMENT_TYPES:
        put(obj, "item_id", draw(st.just(MISSING) | st.none() | ids))
    elif etype in ("item_click", "add_to_cart", "purchase", "push_open"):
        obj["item_id"] = draw(ids)
    if etype == "purchase":
        obj["amount"] = draw(numbers)
        put(obj, "qty", draw(st.just(MISSING) | st.none() | st.integers(1, MAX_QTY)))
    elif etype == "push_open":
        obj["rec_id"] = draw(ids)
    elif etype == "showcase":
        obj["items"] = items = draw(showcase_items())
        obj["spotlight"] = draw(st.sampled_from([None, *(item["item_id"] for item in items)]))
    extras = draw(st.dictionaries(st.text(max_size=6), json_values, max_size=2))
    obj.update({k: v for k, v in extras.items() if k not in obj and k not in KNOWN})
    return dict(draw(st.permutations(list(obj.items()))))


def encode(obj: Any) -> bytes:
    """UTF-8 JSON as a producer would write it (orjson cannot write integers past 64 bits)."""
    return json.dumps(obj, ensure_ascii=False).encode()


def _no_fallback(*args: Any) -> Event | DeadLetter:
    raise AssertionError(f"a valid message took the careful path: {args[0]!r}")


@settings(max_examples=400, deadline=None, database=None, suppress_health_check=SLOW)
@given(valid_events())
def test_valid_events_take_the_fast_path_and_match(obj: dict[str, Any]) -> None:
    raw = encode(obj)
    careful = validate_event(raw, ORIGIN)
    assert isinstance(careful, Event), careful  # the generator makes only valid messages
    if not surely_unique(raw, orjson.loads(raw)):  # '":' or ' :' inside a string: the
        assert_same(raw)  # duplicate-key check parses it again, on the careful path
        return
    with mock.patch.object(validation, "validate_event", _no_fallback):
        fast = decode_event(raw, ORIGIN)
    assert snapshot(fast) == snapshot(careful)
    assert_same(raw)
    assert_same(raw, max_bytes=len(raw))


def test_largest_showcase_takes_the_fast_path() -> None:
    items = [{"item_id": f"s{n}", "price": n, "category": "c"} for n in range(MAX_SHOWCASE_ITEMS)]
    obj = {"event_id": "e", "type": "showcase", "ts": 0, "room_id": "r", "items": items,
           "spotlight": "s499"}  # fmt: skip
    raw = orjson.dumps(obj)
    with mock.patch.object(validation, "validate_event", _no_fallback):
        fast = decode_event(raw, ORIGIN)
    assert isinstance(fast, Event) and len(fast.items) == MAX_SHOWCASE_ITEMS
    assert_same(raw)
    items.append({"item_id": "s500", "price": 1, "category": "c"})
    assert isinstance(assert_same(orjson.dumps(obj)), DeadLetter)


# -- invalid and near-valid messages ---------------------------------------------------------

# Values next to the edge of what each kind of field accepts, and values of every wrong type.
OTHER_TYPES = [None, True, False, 1, 1.5, "1", [], {}, ["u"], {"a": 1}]
WRONG: dict[str, list[Any]] = {
    "id": ["", "x" * (MAX_ID_LEN + 1), "é" * (MAX_ID_LEN + 1), "x" * MAX_ID_LEN, "sku-404", 0],
    "int": [-1, 0, 1, 2, -0.0, 0.0, 1.0, U64, U64 + 1, -(2**63), -(2**63) - 1, 10**30],
    "number": [-1, -1e-300, -0.0, 0, 1e308, U64 + 1, -(2**63) - 1, 10**400, float("nan"),
               float("inf"), float("-inf")],
    "string": ["", "x"],
    "type": [*sorted(EVENT_TYPES), "Leave", "teleport", ""],
}  # fmt: skip
KIND = {"event_id": "id", "room_id": "id", "user_id": "id", "item_id": "id", "rec_id": "id",
        "spotlight": "id", "ts": "int", "watch_ms": "int", "qty": "int", "amount": "number",
        "price": "number", "category": "string", "title": "string", "type": "type"}  # fmt: skip
OPTIONAL = ["item_id", "attrs", "qty", "title"]  # also tried where absent
ITEM_PATHS: list[tuple[Any, ...]] = [
    *(("items", n, name) for n in range(3) for name in ITEM_FIELDS),
    ("items", 0),
]


def wrong_for(name: str) -> st.SearchStrategy[Any]:
    edge = WRONG.get(KIND.get(name, ""), [])
    others = st.sampled_from(OTHER_TYPES) | json_values
    return st.sampled_from(edge) | others if edge else others


@st.composite
def mutated_events(draw: st.DrawFn) -> dict[str, Any]:
    """A valid message with one to three fields (at the top, in an item or in attrs) dropped
    or set to a value next to the edge of what the field accepts or of another type."""
    obj = draw(valid_events())
    for _ in range(draw(st.sampled_from([1, 1, 1, 2, 3]))):
        # the message's own fields (also extras), optional ones, and any field of the contract
        paths: list[tuple[Any, ...]] = [*((name,) for name in obj)]
        paths += [(name,) for name in OPTIONAL]
        paths.append((draw(st.sampled_from(sorted(KNOWN))),))
        items = obj.get("items")
        if not isinstance(items, list):
            items = []
        else:
            paths += ITEM_PATHS + [("items", "dup")] * 3
        for target in (obj, *items):
            if isinstance(target, dict) and isinstance(target.get("attrs"), dict):
                paths += [("attrs value", target)] * 4
        path = draw(st.sampled_from(paths))
        if path[0] == "attrs value":
            value: Any = draw(st.sampled_from([None, True, [], {}, float("nan"), float("inf")]))
            path[1]["attrs"][draw(st.text(max_size=2))] = value
            continue
        parent: Any = obj
        if path[0] == "items" and len(path) > 1:
            if path[1] == "dup":
                if items:
                    items.append(items[draw(st.integers(0, len(items) - 1))])
                continue
            if path[1] >= len(items):
                continue
            if len(path) == 2:  # the item itself
                items[path[1]] = draw(wrong_for("item"))
                continue
            parent = items[path[1]]
            if not isinstance(parent, dict):
                continue
        name = path[-1]
        if draw(st.integers(0, 3)) == 0:
            parent.pop(name, None)
        else:
            parent[name] = draw(wrong_for(name))
    return obj


@settings(max_examples=400, deadline=None, database=None, suppress_health_check=SLOW)
@given(mutated_events(), st.integers(-2, 2))
def test_mutated_events_give_the_same_result(obj: dict[str, Any], slack: int) -> None:
    raw = json.dumps(obj).encode()  # json writes NaN/Infinity, which orjson rejects
    assert_same(raw)
    assert_same(raw, max_bytes=len(raw) + slack)


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


raw_messages = (
    st.binary(max_size=200)
    | valid_events().map(encode).map(lambda raw: raw[: len(raw) // 2])
    | valid_events().map(encode).map(lambda raw: raw.replace(b'"', b'"\xff', 1))
    | valid_events().map(encode).map(lambda raw: raw.replace(b"{", b'{"ts":1,', 1))
    | valid_events().map(lambda obj: _json([obj]))
    | json_values.map(_json)
    | st.dictionaries(st.sampled_from(sorted(KNOWN)), wrong_for("any"), max_size=6).map(_json)
)


@settings(max_examples=500, deadline=None, database=None, suppress_health_check=SLOW)
@given(raw_messages)
def test_any_bytes_give_the_same_result(raw: bytes) -> None:
    assert_same(raw)
    assert_same(raw, max_bytes=max(0, len(raw) - 1))


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=SLOW)
@given(raw_messages, st.integers(0, 10**9))
def test_a_cut_line_gives_the_same_result_and_its_own_size(raw: bytes, more: int) -> None:
    """A line the file reader cut (``CutMessage``): both paths make the same too_large dead
    letter, which gives the line's size and how much of it ``raw`` holds."""
    cut = CutMessage(raw, len(raw) + more)
    letter = assert_same(cut, max_bytes=max(0, len(raw) - 1))
    if raw:
        assert isinstance(letter, DeadLetter) and letter.reason == "too_large"
        assert letter.error.startswith(
            f"message is {len(raw) + more} bytes; the job accepts at most {len(raw) - 1} bytes"
            f" (--max-message-bytes); raw holds its first {len(raw)} bytes"
        ), letter.error


def test_a_line_cut_inside_a_character_says_why_its_raw_is_base64() -> None:
    # found by a red team: raw silently switched to base64
    cut = CutMessage('{"event_id":"é'.encode()[:-1], 500)
    letter = assert_same(cut, max_bytes=4)
    assert isinstance(letter, DeadLetter)
    assert letter.error.endswith("(base64: the cut fell inside a UTF-8 character)")


# One valid message per type, with every optional field present (the engagement types also
# without ``item_id``, the enter without ``attrs``), for the field-by-field mutations below.
BASE = {"event_id": "e-1", "ts": 1764331200000, "room_id": "r-7"}
EXAMPLES: list[dict[str, Any]] = [
    {**BASE, "type": "enter", "user_id": "u", "attrs": {"a": 1, "b": "x", "c": 1.5, "d": -2}},
    {**BASE, "type": "enter", "user_id": "u"},
    {**BASE, "type": "leave", "user_id": "u"},
    {**BASE, "type": "heartbeat", "user_id": "u", "watch_ms": 30000},
    *({**BASE, "type": t, "user_id": "u", "item_id": "i"} for t in sorted(ENGAGEMENT_TYPES)),
    *({**BASE, "type": t, "user_id": "u"} for t in sorted(ENGAGEMENT_TYPES)),
    {**BASE, "type": "item_click", "user_id": "u", "item_id": "i"},
    {**BASE, "type": "add_to_cart", "user_id": "u", "item_id": "i"},
    {**BASE, "type": "purchase", "user_id": "u", "item_id": "i", "amount": 89.5, "qty": 2},
    {**BASE, "type": "purchase", "user_id": "u", "item_id": "i", "amount": 89},
    {**BASE, "type": "push_open", "user_id": "u", "item_id": "i", "rec_id": "x"},
    {**BASE, "type": "showcase", "spotlight": "s2", "items": [
        {"item_id": "s1", "price": 19.9, "category": "beauty"},
        {"item_id": "s2", "price": 89, "category": "beauty", "title": "Serum",
         "attrs": {"size_ml": 30, "brand": "x", "w": 0.5}},
    ]},
    {**BASE, "type": "room_close"},
]  # fmt: skip


def test_every_example_takes_the_fast_path() -> None:
    assert {obj["type"] for obj in EXAMPLES} == EVENT_TYPES
    for obj in EXAMPLES:
        raw = encode(obj)
        with mock.patch.object(validation, "validate_event", _no_fallback):
            assert isinstance(decode_event(raw, ORIGIN), Event), obj
        assert_same(raw)


def _variants(obj: dict[str, Any]) -> Any:
    """Every single-field change of ``obj``: each field (at the top, of the first two items,
    and each attrs value) dropped, or set to each edge value of its kind and each other type."""
    for target in [None, *range(min(2, len(obj.get("items", []))))]:
        parent = obj if target is None else obj["items"][target]
        for name in sorted({*parent, *OPTIONAL}):
            values = [*WRONG.get(KIND.get(name, ""), []), *OTHER_TYPES]
            if name == "attrs" and isinstance(parent.get(name), dict):
                for key in [*parent[name], "new"]:
                    for value in [*OTHER_TYPES, float("nan"), float("inf"), -0.0, U64 + 1]:
                        yield _changed(obj, target, name, {**parent[name], key: value})
            for value in [MISSING, *values]:
                yield _changed(obj, target, name, value)
    if obj.get("items"):
        yield {**obj, "items": [*obj["items"], obj["items"][0]]}  # a duplicate item_id
        yield {**obj, "items": [*obj["items"], *OTHER_TYPES]}
        yield {**obj, "spotlight": obj["items"][0]["item_id"] + "x"}


def _changed(obj: dict[str, Any], target: int | None, name: str, value: Any) -> Any:
    new = copy.deepcopy(obj)
    parent = new if target is None else new["items"][target]
    parent.pop(name, None)
    put(parent, name, value)
    return new


def test_every_single_field_change_gives_the_same_result() -> None:
    """Exhaustive over EXAMPLES x fields x edge values; complements the random tests above,
    which would rarely hit one exact edge (watch_ms -1, qty 0, a bool in attrs, ...)."""
    seen = rejected = 0
    for obj in EXAMPLES:
        for variant in _variants(obj):
            raw = json.dumps(variant).encode()
            for max_bytes in (len(raw), len(raw) - 1):
                rejected += isinstance(assert_same(raw, max_bytes), DeadLetter)
                seen += 1
    assert seen > 5000 and rejected > seen // 2, (seen, rejected)


def test_arguments_of_other_types_give_the_same_result() -> None:
    """Off the annotations, but the decoder must still never raise: a ``raw`` without a
    length or a ``max_bytes`` that does not compare is a dead letter, as it always was."""
    valid = encode(EXAMPLES[2])
    for raw in [None, 5, valid.decode(), bytearray(valid), memoryview(valid), b"", "{"]:
        for max_bytes in [decoding.DEFAULT_MAX_BYTES, None, -1, 1.5, "1"]:
            assert_same(raw, max_bytes)  # type: ignore[arg-type]
