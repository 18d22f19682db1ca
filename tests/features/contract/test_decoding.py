"""``decode_event`` against contract v1 (``features/contract/EVENTS.md``).

Valid messages decode field by field, every kind of invalid input becomes a dead letter whose
``error`` names what is wrong, and no input at all makes the decoder raise.
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.contract.decoding import MAX_ID_LEN, MAX_SHOWCASE_ITEMS, decode_event
from features.contract.events import (
    DEAD_LETTER_REASONS,
    ENGAGEMENT_TYPES,
    EVENT_TYPES,
    DeadLetter,
    Event,
    Origin,
    ShowcaseItem,
)
from features.contract.limits import MAX_MONEY, MAX_QTY, MAX_TS, MAX_WATCH_MS
from features.contract.messages import dead_letter_dict, encode_dead_letter

SLOW = [HealthCheck.too_slow]
ORIGIN = Origin("live.room-events", 3, 41)
TS = 1764331200000
COMMON = {"ts": TS, "room_id": "r-7"}


def _msg(event_id: str, etype: str, **fields: Any) -> dict[str, Any]:
    return {"event_id": event_id, "type": etype, **COMMON, **fields}


# One valid message per contract type (engagement types get an item-less and an item variant).
VALID: dict[str, dict[str, Any]] = {
    "enter": _msg("e-1", "enter", user_id="u-42", attrs={"spend_tier": 3, "city": "Lyon"}),
    "leave": _msg("e-2", "leave", user_id="u-42"),
    "heartbeat": _msg("e-3", "heartbeat", user_id="u-42", watch_ms=30000),
    **{t: _msg(f"e-{t}", t, user_id="u-42") for t in sorted(ENGAGEMENT_TYPES)},
    "item_click": _msg("e-4", "item_click", user_id="u-42", item_id="sku-2"),
    "add_to_cart": _msg("e-5", "add_to_cart", user_id="u-42", item_id="sku-2"),
    "purchase": _msg("e-6", "purchase", user_id="u-42", item_id="sku-2", amount=89.0),
    "push_open": _msg("e-7", "push_open", user_id="u-42", item_id="sku-2", rec_id="rec-1"),
    "showcase": _msg(
        "e-8",
        "showcase",
        spotlight="sku-2",
        items=[
            {"item_id": "sku-1", "price": 19.9, "category": "beauty"},
            {
                "item_id": "sku-2",
                "price": 89,
                "category": "beauty",
                "title": "Serum 30ml",
                "attrs": {"size_ml": 30, "brand": "x"},
            },
        ],
    ),
    "room_close": _msg("e-9", "room_close"),
}
assert set(VALID) == EVENT_TYPES

# Required fields per type beyond the common ones (from the contract's table).
REQUIRED: dict[str, tuple[str, ...]] = {
    "enter": ("user_id",),
    "leave": ("user_id",),
    "heartbeat": ("user_id", "watch_ms"),
    **{t: ("user_id",) for t in ENGAGEMENT_TYPES},
    "item_click": ("user_id", "item_id"),
    "add_to_cart": ("user_id", "item_id"),
    "purchase": ("user_id", "item_id", "amount"),
    "push_open": ("user_id", "item_id", "rec_id"),
    "showcase": ("items", "spotlight"),
    "room_close": (),
}
COMMON_FIELDS = ("event_id", "type", "ts", "room_id")


def encode(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def decode(obj: Any, max_bytes: int | None = None) -> Event | DeadLetter:
    raw = obj if isinstance(obj, bytes) else encode(obj)
    if max_bytes is None:
        return decode_event(raw, ORIGIN)
    return decode_event(raw, ORIGIN, max_bytes)


def fields_of(event: Event) -> dict[str, Any]:
    return {
        name: getattr(event, name)
        for name in Event.__slots__  # type: ignore[attr-defined]
        if name not in ("raw", "read_at")
    }


# -- valid messages ------------------------------------------------------------------------


@pytest.mark.parametrize("etype", sorted(VALID))
def test_every_valid_type_decodes_with_its_common_fields(etype: str) -> None:
    raw = encode(VALID[etype])
    event = decode_event(raw, ORIGIN)
    assert isinstance(event, Event), event
    assert event.type == etype
    assert event.event_id == VALID[etype]["event_id"]
    assert event.ts == TS and type(event.ts) is int
    assert event.room_id == "r-7"
    assert event.origin == ORIGIN
    assert event.raw == raw


def test_enter_fields() -> None:
    event = decode(VALID["enter"])
    assert isinstance(event, Event)
    assert event.user_id == "u-42"
    assert event.attrs == {"spend_tier": 3, "city": "Lyon"}
    assert event.item_id is None


def test_enter_without_attrs_has_empty_attrs() -> None:
    obj = dict(VALID["enter"])
    del obj["attrs"]
    event = decode(obj)
    assert isinstance(event, Event)
    assert event.attrs == {}


def test_leave_and_heartbeat_fields() -> None:
    leave = decode(VALID["leave"])
    assert isinstance(leave, Event) and leave.user_id == "u-42"
    beat = decode(VALID["heartbeat"])
    assert isinstance(beat, Event)
    assert (beat.user_id, beat.watch_ms) == ("u-42", 30000)
    zero = decode({**VALID["heartbeat"], "watch_ms": 0})
    assert isinstance(zero, Event) and zero.watch_ms == 0


@pytest.mark.parametrize("etype", sorted(ENGAGEMENT_TYPES))
def test_engagement_item_is_optional(etype: str) -> None:
    bare = decode(VALID[etype])
    assert isinstance(bare, Event)
    assert (bare.user_id, bare.item_id) == ("u-42", None)
    with_item = decode({**VALID[etype], "item_id": "sku-9"})
    assert isinstance(with_item, Event) and with_item.item_id == "sku-9"
    null_item = decode({**VALID[etype], "item_id": None})
    assert isinstance(null_item, Event) and null_item.item_id is None


@pytest.mark.parametrize("etype", ["item_click", "add_to_cart"])
def test_item_event_fields(etype: str) -> None:
    event = decode(VALID[etype])
    assert isinstance(event, Event)
    assert (event.user_id, event.item_id) == ("u-42", "sku-2")


def test_purchase_fields_and_qty_default() -> None:
    event = decode(VALID["purchase"])
    assert isinstance(event, Event)
    assert (event.user_id, event.item_id, event.amount, event.qty) == ("u-42", "sku-2", 89.0, 1)
    assert isinstance(event.amount, float)
    many = decode({**VALID["purchase"], "qty": 3, "amount": 0})
    assert isinstance(many, Event)
    assert (many.qty, many.amount) == (3, 0.0)


def test_push_open_fields() -> None:
    event = decode(VALID["push_open"])
    assert isinstance(event, Event)
    assert (event.user_id, event.item_id, event.rec_id) == ("u-42", "sku-2", "rec-1")


def test_showcase_fields() -> None:
    event = decode(VALID["showcase"])
    assert isinstance(event, Event)
    assert event.spotlight == "sku-2"
    assert event.items == (
        ShowcaseItem("sku-1", 19.9, "beauty", None),
        ShowcaseItem("sku-2", 89.0, "beauty", "Serum 30ml"),
    )
    assert isinstance(event.items[1].price, float)


def test_showcase_null_spotlight_and_empty_items() -> None:
    event = decode({**VALID["showcase"], "spotlight": None})
    assert isinstance(event, Event) and event.spotlight is None and len(event.items) == 2
    empty = decode({**VALID["showcase"], "items": [], "spotlight": None})
    assert isinstance(empty, Event) and empty.items == ()


def test_showcase_of_exactly_the_maximum_size_is_valid() -> None:
    items = [
        {"item_id": f"sku-{n}", "price": 1, "category": "c"} for n in range(MAX_SHOWCASE_ITEMS)
    ]
    event = decode({**VALID["showcase"], "items": items, "spotlight": "sku-499"})
    assert isinstance(event, Event)
    assert len(event.items) == MAX_SHOWCASE_ITEMS


def test_ids_of_exactly_max_length_are_valid() -> None:
    long = "x" * MAX_ID_LEN
    obj = {**VALID["push_open"], "event_id": long, "room_id": long, "user_id": long}
    obj.update(item_id=long, rec_id=long)
    event = decode(obj)
    assert isinstance(event, Event)
    assert event.event_id == event.room_id == event.user_id == event.item_id == long


def test_contract_examples_decode() -> None:
    lines = [
        b'{"event_id":"e-1","type":"enter","ts":1764331200000,"room_id":"r-7","user_id":"u-42"}',
        b'{"event_id":"e-2","type":"showcase","ts":1764331201000,"room_id":"r-7",'
        b'"spotlight":"sku-2","items":[{"item_id":"sku-1","price":19.9,"category":"beauty"},'
        b'{"item_id":"sku-2","price":89.0,"category":"beauty","title":"Serum 30ml"}]}',
        b'{"event_id":"e-3","type":"heartbeat","ts":1764331230000,"room_id":"r-7",'
        b'"user_id":"u-42","watch_ms":30000}',
        b'{"event_id":"e-4","type":"item_click","ts":1764331231000,"room_id":"r-7",'
        b'"user_id":"u-42","item_id":"sku-2"}',
        b'{"event_id":"e-5","type":"purchase","ts":1764331290000,"room_id":"r-7",'
        b'"user_id":"u-42","item_id":"sku-2","amount":89.0}',
    ]
    events = [decode_event(line, Origin("in.jsonl", 0, n + 1)) for n, line in enumerate(lines)]
    assert all(isinstance(e, Event) for e in events), events
    assert [e.type for e in events] == [  # type: ignore[union-attr]
        "enter", "showcase", "heartbeat", "item_click", "purchase",
    ]  # fmt: skip


@pytest.mark.parametrize("etype", sorted(VALID))
def test_unknown_extra_fields_are_ignored(etype: str) -> None:
    plain = decode(VALID[etype])
    extra = copy.deepcopy(VALID[etype])
    extra.update(v=2, future={"nested": [1, {"x": None}]}, flag=True, note="hi")
    if etype == "showcase":
        extra["items"][0]["colour"] = {"rgb": [1, 2, 3]}
    decoded = decode(extra)
    assert isinstance(plain, Event) and isinstance(decoded, Event), decoded
    assert fields_of(decoded) == fields_of(plain)


# -- invalid messages ----------------------------------------------------------------------


def _without(etype: str, name: str) -> dict[str, Any]:
    obj = copy.deepcopy(VALID[etype])
    del obj[name]
    return obj


def _with(etype: str, **fields: Any) -> dict[str, Any]:
    obj = copy.deepcopy(VALID[etype])
    obj.update(fields)
    return obj


def _item(n: int, **fields: Any) -> dict[str, Any]:
    obj = copy.deepcopy(VALID["showcase"])
    obj["items"][n].update(fields)
    return obj


def _item_without(n: int, name: str) -> dict[str, Any]:
    obj = copy.deepcopy(VALID["showcase"])
    del obj["items"][n][name]
    return obj


LONG = "y" * (MAX_ID_LEN + 1)
ANY_REASON = "unknown_type|invalid"  # either label is fine; the error must name 'type'

# (case id, input object or raw bytes, expected reason, words the error must contain)
MISSING = [
    (f"{etype}-missing-{name}", _without(etype, name), "invalid", [name])
    for etype in sorted(VALID)
    for name in (*COMMON_FIELDS, *REQUIRED[etype])
]

INVALID = [
    # wrong types, including bool where an integer or number is wanted
    ("ts-string", _with("leave", ts="1764331200000"), "invalid", ["ts"]),
    ("ts-bool", _with("leave", ts=True), "invalid", ["ts"]),
    ("ts-float", _with("leave", ts=1.5), "invalid", ["ts"]),
    ("ts-null", _with("leave", ts=None), "invalid", ["ts"]),
    ("event_id-int", _with("leave", event_id=7), "invalid", ["event_id"]),
    ("room_id-null", _with("leave", room_id=None), "invalid", ["room_id"]),
    ("user_id-int", _with("leave", user_id=42), "invalid", ["user_id"]),
    ("user_id-list", _with("enter", user_id=["u"]), "invalid", ["user_id"]),
    ("item_id-null-click", _with("item_click", item_id=None), "invalid", ["item_id"]),
    ("item_id-int-like", _with("like", item_id=5), "invalid", ["item_id"]),
    ("watch_ms-bool", _with("heartbeat", watch_ms=False), "invalid", ["watch_ms"]),
    ("watch_ms-string", _with("heartbeat", watch_ms="30000"), "invalid", ["watch_ms"]),
    ("watch_ms-float", _with("heartbeat", watch_ms=30000.5), "invalid", ["watch_ms"]),
    ("watch_ms-negative", _with("heartbeat", watch_ms=-1), "invalid", ["watch_ms", ">= 0"]),
    ("amount-negative", _with("purchase", amount=-0.01), "invalid", ["amount", ">= 0"]),
    ("amount-bool", _with("purchase", amount=True), "invalid", ["amount"]),
    ("amount-string", _with("purchase", amount="89.0"), "invalid", ["amount"]),
    ("amount-null", _with("purchase", amount=None), "invalid", ["amount"]),
    ("qty-zero", _with("purchase", qty=0), "invalid", ["qty", ">= 1"]),
    ("qty-negative", _with("purchase", qty=-2), "invalid", ["qty"]),
    ("qty-bool", _with("purchase", qty=True), "invalid", ["qty"]),
    ("qty-float", _with("purchase", qty=1.5), "invalid", ["qty"]),
    ("rec_id-int", _with("push_open", rec_id=1), "invalid", ["rec_id"]),
    # ids: empty and one character too long, in every id field
    ("event_id-empty", _with("leave", event_id=""), "invalid", ["event_id"]),
    ("event_id-129", _with("leave", event_id=LONG), "invalid", ["event_id", "128"]),
    ("room_id-empty", _with("leave", room_id=""), "invalid", ["room_id"]),
    ("room_id-129", _with("leave", room_id=LONG), "invalid", ["room_id", "128"]),
    ("user_id-empty", _with("leave", user_id=""), "invalid", ["user_id"]),
    ("user_id-129", _with("heartbeat", user_id=LONG), "invalid", ["user_id", "128"]),
    ("item_id-empty", _with("add_to_cart", item_id=""), "invalid", ["item_id"]),
    ("item_id-129", _with("purchase", item_id=LONG), "invalid", ["item_id", "128"]),
    ("rec_id-empty", _with("push_open", rec_id=""), "invalid", ["rec_id"]),
    ("rec_id-129", _with("push_open", rec_id=LONG), "invalid", ["rec_id", "128"]),
    ("engagement-item_id-129", _with("gift", item_id=LONG), "invalid", ["item_id"]),
    ("showcase-item_id-empty", _item(0, item_id=""), "invalid", ["items[0].item_id"]),
    ("showcase-item_id-129", _item(1, item_id=LONG), "invalid", ["items[1].item_id"]),
    ("spotlight-empty", _with("showcase", spotlight=""), "invalid", ["spotlight"]),
    ("spotlight-int", _with("showcase", spotlight=2), "invalid", ["spotlight"]),
    # type
    ("unknown-type", _with("leave", type="teleport"), "unknown_type", ["teleport"]),
    ("type-wrong-case", _with("leave", type="Leave"), "unknown_type", ["Leave"]),
    ("type-int", _with("leave", type=3), "unknown_type", ["type"]),
    ("type-null", _with("leave", type=None), "unknown_type", ["type"]),
    ("type-list", _with("leave", type=["leave"]), ANY_REASON, ["type"]),
    ("type-object", _with("leave", type={"name": "leave"}), ANY_REASON, ["type"]),
    # showcase structure
    ("spotlight-not-in-items", _with("showcase", spotlight="sku-404"), "invalid",
     ["spotlight", "sku-404"]),
    ("duplicate-item-ids", _item(1, item_id="sku-1"), "invalid", ["sku-1", "items"]),
    ("too-many-items", _with("showcase", spotlight=None, items=[
        {"item_id": f"s{n}", "price": 1, "category": "c"} for n in range(MAX_SHOWCASE_ITEMS + 1)
    ]), "invalid", ["items", str(MAX_SHOWCASE_ITEMS)]),
    ("items-object", _with("showcase", items={"sku-1": {}}), "invalid", ["items"]),
    ("item-not-object", _with("showcase", spotlight=None, items=["sku-1"]), "invalid",
     ["items[0]"]),
    ("item-missing-item_id", _item_without(0, "item_id"), "invalid", ["items[0].item_id"]),
    ("item-missing-price", _item_without(0, "price"), "invalid", ["items[0].price"]),
    ("item-missing-category", _item_without(1, "category"), "invalid", ["items[1].category"]),
    ("item-price-negative", _item(0, price=-1), "invalid", ["items[0].price"]),
    ("item-price-bool", _item(0, price=False), "invalid", ["items[0].price"]),
    ("item-price-string", _item(0, price="19.9"), "invalid", ["items[0].price"]),
    ("item-category-int", _item(0, category=4), "invalid", ["items[0].category"]),
    ("item-title-int", _item(1, title=12), "invalid", ["items[1].title"]),
    ("item-attrs-nested", _item(1, attrs={"size": {"ml": 30}}), "invalid",
     ["items[1].attrs.size"]),
    # attrs
    ("attrs-nested-object", _with("enter", attrs={"geo": {"city": "Lyon"}}), "invalid",
     ["attrs.geo"]),
    ("attrs-list-value", _with("enter", attrs={"tags": ["a"]}), "invalid", ["attrs.tags"]),
    ("attrs-bool-value", _with("enter", attrs={"vip": True}), "invalid", ["attrs.vip"]),
    ("attrs-null-value", _with("enter", attrs={"vip": None}), "invalid", ["attrs.vip"]),
    ("attrs-not-object", _with("enter", attrs=["spend_tier", 3]), "invalid", ["attrs"]),
    ("attrs-string", _with("enter", attrs="spend_tier=3"), "invalid", ["attrs"]),
    # not an event object at all
    ("not-json", b'{"event_id": "e-1", "type": ', "not_json", ["JSON"]),
    ("not-json-text", b"hello world", "not_json", ["JSON"]),
    ("not-utf8", b'{"event_id": "\xff\xfe", "type": "leave"}', "not_json", ["UTF-8"]),
    ("latin1", '{"event_id":"é"}'.encode("latin-1"), "not_json", ["UTF-8"]),
    ("json-array", b'[{"event_id": "e-1"}]', "invalid", ["object"]),
    ("json-string", b'"leave"', "invalid", ["object"]),
    ("json-number", b"42", "invalid", ["object"]),
    ("json-null", b"null", "invalid", ["object"]),
    ("empty-bytes", b"", "not_json", ["JSON"]),
]  # fmt: skip


def _check_dead_letter(result: Event | DeadLetter, raw: bytes, reason: str, words: list[str]):
    assert isinstance(result, DeadLetter), f"expected a dead letter, got {result!r}"
    assert result.reason in DEAD_LETTER_REASONS
    assert result.reason in reason.split("|"), result
    for word in words:
        assert word in result.error, f"{word!r} not in error {result.error!r}"
    assert "could not be decoded" not in result.error  # the decoder-bug fallback
    assert result.origin == ORIGIN
    assert result.raw == raw


@pytest.mark.parametrize(
    ("obj", "reason", "words"),
    [pytest.param(obj, reason, words, id=name) for name, obj, reason, words in MISSING],
)
def test_missing_required_field_is_a_dead_letter(obj: Any, reason: str, words: list[str]) -> None:
    raw = encode(obj)
    result = decode_event(raw, ORIGIN)
    _check_dead_letter(result, raw, reason, words)
    assert "missing" in result.error  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("obj", "reason", "words"),
    [pytest.param(obj, reason, words, id=name) for name, obj, reason, words in INVALID],
)
def test_invalid_input_is_a_dead_letter_naming_the_problem(
    obj: Any, reason: str, words: list[str]
) -> None:
    raw = obj if isinstance(obj, bytes) else encode(obj)
    _check_dead_letter(decode_event(raw, ORIGIN), raw, reason, words)


def test_oversized_message_is_too_large_even_if_valid() -> None:
    raw = encode(VALID["showcase"])
    assert isinstance(decode_event(raw, ORIGIN, max_bytes=len(raw)), Event)
    result = decode_event(raw, ORIGIN, max_bytes=len(raw) - 1)
    _check_dead_letter(result, raw, "too_large", [str(len(raw)), str(len(raw) - 1), "bytes"])


def test_oversized_garbage_is_too_large_not_parsed() -> None:
    raw = b"\xff" * 2000
    _check_dead_letter(decode_event(raw, ORIGIN, max_bytes=1000), raw, "too_large", ["2000"])


def test_every_dead_letter_reason_is_declared() -> None:
    reasons = {r for _, _, rs, _ in INVALID for r in rs.split("|")} | {"too_large"}
    assert reasons <= set(DEAD_LETTER_REASONS)


# -- dead-letter encoding ---------------------------------------------------------------------


def check_encoded_dead_letter(letter: DeadLetter) -> None:
    key, value = encode_dead_letter(letter)
    message = orjson.loads(value)
    assert set(message) == {"topic", "partition", "offset", "error", "raw"}
    assert message == dead_letter_dict(letter)
    assert message["topic"] == letter.origin.topic
    assert message["partition"] == letter.origin.partition
    assert message["offset"] == letter.origin.offset
    assert isinstance(message["error"], str) and message["error"]
    assert key == f"{letter.origin.topic}:{letter.origin.partition}:{letter.origin.offset}".encode()
    text = message["raw"]
    assert isinstance(text, str)
    try:
        expected = letter.raw.decode("utf-8")
    except UnicodeDecodeError:
        assert base64.b64decode(text, validate=True) == letter.raw
    else:
        assert text == expected
        assert text.encode("utf-8") == letter.raw


def test_dead_letter_raw_is_text_or_base64() -> None:
    text_raw = '{"type":"leave","note":"café"}'.encode()
    letter = decode_event(text_raw, ORIGIN)
    assert isinstance(letter, DeadLetter)
    assert dead_letter_dict(letter)["raw"] == '{"type":"leave","note":"café"}'
    binary = b"\x00\xff\xfe{"
    letter = decode_event(binary, ORIGIN)
    assert isinstance(letter, DeadLetter)
    assert dead_letter_dict(letter)["raw"] == base64.b64encode(binary).decode()
    check_encoded_dead_letter(letter)


# -- properties: never raise ----------------------------------------------------------------

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


_BASE = {"event_id": "e", "ts": 1, "room_id": "r", "user_id": "u"}
_ITEM = {"item_id": "s", "price": 1.0, "category": "c"}


@pytest.mark.parametrize(
    ("obj", "field"),
    [
        ({**_BASE, "type": "leave", "ts": 2**63}, "ts"),
        ({**_BASE, "type": "leave", "ts": 2**64 - 1}, "ts"),
        ({**_BASE, "type": "leave", "ts": MAX_TS + 1}, "ts"),
        ({**_BASE, "type": "heartbeat", "watch_ms": MAX_WATCH_MS + 1}, "watch_ms"),
        ({**_BASE, "type": "purchase", "item_id": "s", "amount": 1e39}, "amount"),
        ({**_BASE, "type": "purchase", "item_id": "s", "amount": 1, "qty": 2**63}, "qty"),
        ({**_BASE, "type": "enter", "attrs": {"x": 1e39}}, "attrs.x"),
        ({**_BASE, "type": "enter", "attrs": {"x": -(10**31)}}, "attrs.x"),
        ({**_BASE, "type": "showcase", "spotlight": None, "items": [{**_ITEM, "price": 1e39}]},
         "items[0].price"),
        ({**_BASE, "type": "showcase", "spotlight": None,
          "items": [{**_ITEM, "attrs": {"w": 1e39}}]}, "items[0].attrs.w"),
    ],
)  # fmt: skip
def test_numbers_out_of_the_contract_range_are_dead_letters_naming_the_field(
    obj: dict[str, Any], field: str
) -> None:
    """A ts past 2^63 crashed presence; 1e39 overflowed float32 weights into NaN for good."""
    letter = decode_event(json.dumps(obj).encode(), ORIGIN)
    assert isinstance(letter, DeadLetter), letter
    assert letter.reason == "invalid"
    assert f"'{field}'" in letter.error and "range" in letter.error, letter.error


def test_numbers_at_the_edge_of_the_contract_range_are_valid() -> None:
    obj = {**_BASE, "type": "purchase", "item_id": "s", "ts": MAX_TS, "amount": MAX_MONEY,
           "qty": MAX_QTY}  # fmt: skip
    assert isinstance(decode_event(orjson.dumps(obj), ORIGIN), Event)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"event_id":"e","type":"leave","ts":1,"room_id":"r","user_id":"u","room_id":"other"}',
        b'{"event_id":"e","type":"leave","ts":1,"room_id" :"r","user_id":"u","room_id":"x"}',
        b'{"event_id":"e","type":"enter","ts":1,"room_id":"r","user_id":"u","attrs":{"a":1,"a":2}}',
    ],
)
def test_a_key_written_twice_is_a_dead_letter_naming_it(raw: bytes) -> None:
    """orjson keeps the last room_id: the event silently moved to another room."""
    letter = decode_event(raw, ORIGIN)
    assert isinstance(letter, DeadLetter), letter
    assert letter.reason == "invalid" and "twice" in letter.error
    assert "'room_id'" in letter.error or "'a'" in letter.error


def test_a_colon_inside_a_string_is_not_a_duplicate() -> None:
    raw = b'{"event_id":"e\\":","type":"leave","ts":1,"room_id":"r","user_id":"u : v"}'
    assert isinstance(decode_event(raw, ORIGIN), Event)


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b'{"event_id":"\xff","type":"leave"}', "invalid UTF-8 at byte 13"),
        (b'{"event_id":"\xed\xa0\x80"}', "invalid UTF-8 at byte 13"),  # a surrogate
        (b'\xef\xbb\xbf{"event_id":"e"}', "byte order mark"),
    ],
)
def test_odd_encodings_have_a_clear_error(raw: bytes, words: str) -> None:
    letter = decode_event(raw, ORIGIN)
    assert isinstance(letter, DeadLetter) and letter.reason == "not_json"
    assert words in letter.error, letter.error
    assert "surrogates not allowed" not in letter.error
