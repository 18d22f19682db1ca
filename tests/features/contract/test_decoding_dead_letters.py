"""``decode_event``: each kind of invalid input is a dead letter whose error names the problem."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from features.contract.decoding import MAX_ID_LEN, MAX_SHOWCASE_ITEMS, decode_event
from features.contract.events import DEAD_LETTER_REASONS, ENGAGEMENT_TYPES, DeadLetter, Event
from features.contract.messages import dead_letter_dict
from tests.features.contract.helpers import (
    COMMON_FIELDS,
    ORIGIN,
    VALID,
    check_encoded_dead_letter,
    encode,
)

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


def test_dead_letter_raw_is_text_or_base64() -> None:
    text_raw = '{"type":"leave","note":"café"}'.encode()
    letter = decode_event(text_raw, ORIGIN)
    assert isinstance(letter, DeadLetter)
    assert dead_letter_dict(letter)["raw"] == '{"type":"leave","note":"café"}'
    assert "base64" not in str(dead_letter_dict(letter)["error"])
    binary = b"\x00\xff\xfe{"
    letter = decode_event(binary, ORIGIN)
    assert isinstance(letter, DeadLetter)
    assert dead_letter_dict(letter)["raw"] == base64.b64encode(binary).decode()
    check_encoded_dead_letter(letter)
    # Red team 10: the text "/w==" and the byte 0xFF give the same raw; the error tells them
    text, byte = (dead_letter_dict(decode_event(raw, ORIGIN))  # type: ignore[arg-type]
                  for raw in (b"/w==", b"\xff"))
    assert text["raw"] == byte["raw"] == "/w=="
    assert "base64" in str(byte["error"]) and "base64" not in str(text["error"])


@pytest.mark.parametrize(
    ("raw", "says"),
    [(b"null", "got null"), (b"[1,2]", "got an array"), (b'"just a string"', "got a string"),
     (b'{"event_id":"e","type":"leave","ts":true,"room_id":"r","user_id":"u"}', "got true"),
     (b'{"event_id":"e","type":"leave","ts":1,"room_id":"r","user_id":null}', "got null"),
     (b'{"event_id":"e","type":"enter","ts":1,"room_id":"r","user_id":"u","attrs":[]}',
      "got []")],
)
def test_errors_name_what_the_producer_wrote_in_json_words(raw: bytes, says: str) -> None:
    """Red team 10: the errors said ``NoneType``, ``list``, ``True``, ``None``: Python's
    words, not those of the JSON the producer wrote."""
    letter = decode_event(raw, ORIGIN)
    assert isinstance(letter, DeadLetter)
    assert letter.error.endswith(says) or f"{says}:" in letter.error or f"{says} " in letter.error
    assert not any(word in letter.error for word in ("NoneType", "None", "True", "list"))
